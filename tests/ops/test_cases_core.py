"""Cases B01, B02, B04 and B09 of the shared cases file, as regression tests.

Each case's whole kind is also covered by a property in ``test_pooling.py``
(B01, B02, B04: every padding form and ``ceil_mode`` against the window-loop
reference, which pads max with -inf and counts only real cells) or
``test_activations.py`` (B09: the derivative at every kink of every activation,
eager and under ``jit``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn import ops


def _nhwc(rows):
    return jnp.asarray(rows, jnp.float32)[None, :, :, None]


# --- B01: max pooling pads with -inf, not 0 -------------------------------------


def test_b01_same_max_pool_pads_with_minus_inf():
    x = _nhwc([[1, -1, 0], [-1, 2, 1], [0, 2, -2]])
    out = ops.max_pool(x, (2, 2), (2, 2), "SAME")
    np.testing.assert_array_equal(out[0, :, :, 0], [[2, 1], [2, -2]])


def test_b01_all_negative_input_stays_negative():
    out = ops.max_pool(-5 * jnp.ones((1, 2, 2, 1)), (3, 3), (1, 1), "SAME")
    np.testing.assert_array_equal(out, -5 * np.ones((1, 2, 2, 1)))


def test_b01_a_window_of_padding_only_is_rejected():
    """Decision: a pad as large as the window raises, naming ``padding``."""
    x = _nhwc([[1, -1, 0], [-1, 2, 1], [0, 2, -2]])
    with pytest.raises(ValueError, match="padding must be smaller than window_shape"):
        ops.max_pool(x, (2, 2), (2, 2), ((2, 2), (2, 2)))


# --- B02: average pooling divisor -----------------------------------------------


def test_b02_1d_average_pool_divisor():
    x = jnp.array([1.0, 2.0]).reshape(1, 2, 1)
    exclude = ops.avg_pool(x, 2, 1, "SAME")  # the default, TensorFlow's
    include = ops.avg_pool(x, 2, 1, "SAME", count_include_pad=True)
    np.testing.assert_allclose(exclude.ravel(), [1.5, 2.0])
    np.testing.assert_allclose(include.ravel(), [1.5, 1.0])


def test_b02_2d_average_pool_divisor():
    x = _nhwc([[1, 2], [3, 4]])
    exclude = ops.avg_pool(x, (2, 2), (1, 1), "SAME")
    include = ops.avg_pool(x, (2, 2), (1, 1), "SAME", count_include_pad=True)
    np.testing.assert_allclose(exclude[0, :, :, 0], [[2.5, 3.0], [3.5, 4.0]])
    np.testing.assert_allclose(include[0, :, :, 0], [[2.5, 1.5], [1.75, 1.0]])


# --- B04: ceil-mode output size ---------------------------------------------------


def test_b04_ceil_mode_keeps_the_partial_last_window():
    x = jnp.array([1.0, 2.0, 3.0]).reshape(1, 1, 3, 1)
    ceil = ops.max_pool(x, (1, 2), (1, 2), "VALID", ceil_mode=True)
    floor = ops.max_pool(x, (1, 2), (1, 2), "VALID")
    np.testing.assert_array_equal(ceil[0, :, :, 0], [[2, 3]])
    np.testing.assert_array_equal(floor[0, :, :, 0], [[2]])


@pytest.mark.parametrize(("size", "expected"), [(12, 1), (13, 2), (100, 45)])
def test_b04_pnet_trunk_map_size(size, expected):
    """P-Net's trunk: conv3, 2x2/2 ceil max pool, conv3, conv3 (VALID convs)."""
    x = jnp.zeros((1, size, size, 3))

    def conv3(v, out_channels):
        return ops.conv(v, jnp.zeros((3, 3, v.shape[-1], out_channels)))

    h = conv3(x, 10)
    h = ops.max_pool(h, (2, 2), (2, 2), ceil_mode=True)
    h = conv3(conv3(h, 16), 32)
    assert h.shape == (1, expected, expected, 32)


@pytest.mark.parametrize(
    ("size", "window", "expected"),
    [(22, 3, 11), (9, 3, 4), (46, 3, 23), (21, 3, 10), (10, 2, 5), (112, 3, 56)],
)
def test_b04_rnet_onet_ceil_pool_sizes(size, window, expected):
    """The R-Net and O-Net pool sizes of the Caffe nets (stride 2, ceil mode).

    112 with k3 s2 and no padding gives 56 (55.5 rounded up); B04's 57 comes
    with pad 1, checked next.
    """
    x = jnp.zeros((1, size, size, 1))
    out = ops.max_pool(x, window, 2, ceil_mode=True)
    assert out.shape[1:3] == (expected, expected)


def test_b04_caffe_and_pytorch_disagree_only_in_rounding():
    x = jnp.zeros((1, 112, 112, 1))
    assert ops.max_pool(x, 3, 2, 1, ceil_mode=True).shape[1] == 57
    assert ops.max_pool(x, 3, 2, 1).shape[1] == 56


# --- B09: ReLU-family gradients at the kink -------------------------------------

B09 = [
    (ops.relu, 0.0, 0.0),
    (ops.relu6, 0.0, 0.0),
    (ops.relu6, 6.0, 0.0),
    (lambda x: ops.leaky_relu(x, negative_slope=0.1), 0.0, 0.1),
    (ops.elu, 0.0, 1.0),
]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize(("fn", "point", "expected"), B09)
def test_b09_gradient_at_the_kink(fn, point, expected, jit):
    grad = jax.jit(jax.grad(fn)) if jit else jax.grad(fn)
    assert float(grad(jnp.float32(point))) == pytest.approx(expected, rel=1e-6)


def test_b09_values_identical_under_jit():
    x = jnp.array([-6.0, -1.0, 0.0, 1e-7, 1.0, 6.0, 7.0])
    for fn in (ops.relu, ops.relu6, ops.leaky_relu, ops.elu):
        np.testing.assert_array_equal(jax.jit(fn)(x), fn(x))
