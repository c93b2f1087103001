"""Tests of the lecture's kernels, ``filter2d`` and ``smooth1d``.

``filter2d`` and ``smooth1d`` are compared against pixel-loop / double-loop
float64 references; images are tiny and calls eager to keep CI fast.
"""

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from jax.test_util import check_grads

from jaxcnn import kernels
from jaxcnn.reference import kernels as ref
from tests.tolerances import assert_close, tol

DTYPES = (jnp.float32, jnp.bfloat16)
# Jitted once at import: each (shape, padding) configuration compiles a single
# program (the eager path is checked against these in its own test).
FILTER = jax.jit(kernels.filter2d, static_argnames=("padding", "padding_mode"))
SMOOTH = jax.jit(kernels.smooth1d)


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _array(rng, shape, dtype, low=-1.0, high=1.0):
    return jnp.asarray(rng.uniform(low, high, shape).astype(np.float32), dtype)


NAMED = {
    "box3": lambda: kernels.box_blur(3),
    "gauss": lambda: kernels.gaussian(1.0, 3),
    "sharpen": kernels.sharpen,
    "sobel_x": lambda: kernels.sobel("x"),
    "sobel_y": lambda: kernels.sobel(0),
    "scharr": lambda: kernels.scharr(1),
    "prewitt": lambda: kernels.prewitt("y"),
    "laplacian": kernels.laplacian,
    "line45": lambda: kernels.line(45),
    "line135": lambda: kernels.line(135),
}


# (image shape, kernel shape, padding) triples: a small palette, because every
# new combination compiles again (about a second on a loaded 2-core machine);
# kernel values, image values, named kernels and dtypes vary freely.
FILTER_LAYOUTS = (
    ((5, 6, 2), (3, 3), "SAME"),
    ((5, 6, 2), (3, 3), "VALID"),
    ((1, 4, 4, 1), (2, 3), "SAME"),
    ((2, 3, 5, 3), (4, 2), 1),
    ((2, 3, 5, 3), (1, 1), "VALID"),
    ((1, 1, 2), (3, 3), "SAME"),
)


def _explicit_pads(padding):
    if padding == "SAME":
        return None
    p = 0 if padding == "VALID" else padding
    return ((p, p), (p, p))


@st.composite
def filter_cases(draw, dtypes=DTYPES):
    """(image, kernel, padding, explicit pads for the reference or None=SAME)."""
    shape, (kh, kw), padding = draw(st.sampled_from(FILTER_LAYOUTS))
    rng = _rng(draw)
    dtype = draw(st.sampled_from(dtypes))
    if (kh, kw) == (3, 3) and draw(st.booleans()):
        kernel = NAMED[draw(st.sampled_from(sorted(NAMED)))]()
    else:
        kernel = _array(rng, (kh, kw), jnp.float32)
    image = _array(rng, shape, dtype)
    return image, kernel, padding, _explicit_pads(padding)


@given(filter_cases())
def test_filter2d_matches_reference(case):
    """Any kernel (odd or even, named or random), padding, batch and dtype."""
    image, kernel, padding, pads = case
    got = FILTER(image, kernel, padding=padding)
    want = ref.filter2d(image, jnp.asarray(kernel, image.dtype), pads)
    assert got.dtype == image.dtype and got.shape == want.shape
    # atol: taps up to 10 (Scharr) times pixels up to 1, summed over <= 16 taps.
    atol = 20 * tol(image.dtype)["atol"]
    assert_close(got, want, image.dtype, atol=atol)


@given(filter_cases(dtypes=(jnp.float32,)))
def test_filter2d_jit_vmap_and_linearity(case):
    image, kernel, padding, _ = case
    fn = functools.partial(FILTER, padding=padding)
    out = fn(image, kernel)
    eager = kernels.filter2d(image, kernel, padding=padding)
    np.testing.assert_allclose(eager, out, **tol(jnp.float32))
    image = np.asarray(image)
    images = np.stack([image, 2 * image - 0.5])
    batched = jax.vmap(lambda im: fn(im, kernel))(images)
    looped = np.stack([fn(im, kernel) for im in images])
    np.testing.assert_allclose(batched, looped, **tol(jnp.float32))
    assert_close(fn(3 * image, kernel), 3 * np.asarray(out), atol=1e-4)
    # atol 1e-4: sums of up to 16 taps of size <= 10 rounded differently.


def test_filter2d_check_grads():
    rng = np.random.default_rng(0)
    image = _array(rng, (4, 5, 2), jnp.float32)
    kernel = _array(rng, (3, 2), jnp.float32)
    check_grads(FILTER, (image, kernel), order=1, atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: float32 finite differences.


# ((H, W), kernel size): few combinations, see FILTER_LAYOUTS.
SIZES = (((1, 1), 3), ((3, 4), 3), ((6, 5), 5), ((6, 5), 1))


@given(st.sampled_from(SIZES), st.floats(-5, 5))
def test_box_blur_keeps_a_constant_image_constant(sizes, value):
    (h, w), size = sizes
    image = np.full((h, w, 2), value, np.float32)
    for mode in ("edge", "reflect", "circular"):
        if mode == "reflect" and min(h, w) <= size // 2:
            continue  # reflect needs pads smaller than the image
        out = FILTER(image, kernels.box_blur(size), padding_mode=mode)
        assert_close(out, image, atol=1e-5 * (1 + abs(value)))
    if h >= size and w >= size:
        out = FILTER(image, kernels.box_blur(size), padding="VALID")
        assert_close(out, np.full(out.shape, value), atol=1e-5 * (1 + abs(value)))


@given(st.sampled_from(SIZES), st.data())
def test_delta_kernel_is_the_identity(sizes, data):
    (h, w), size = sizes
    rng = _rng(data.draw)
    image = _array(rng, (2, h, w, 3), jnp.float32)
    delta = np.zeros((size, size), np.float32)
    delta[size // 2, size // 2] = 1.0
    np.testing.assert_array_equal(FILTER(image, jnp.asarray(delta)), image)


@given(
    st.sampled_from(["sobel", "prewitt", "scharr"]), st.sampled_from([0, 1, "x", "y"])
)
def test_derivatives_of_a_constant_are_zero(name, axis):
    image = jnp.full((5, 6, 2), 0.7, jnp.float32)
    k = getattr(kernels, name)(axis)
    assert float(jnp.sum(k)) == 0.0
    out = FILTER(image, k, padding_mode="edge")
    np.testing.assert_allclose(out, 0.0, atol=1e-5)


def test_sobel_x_is_positive_on_a_rising_ramp():
    """Cross-correlation: brightness growing to the right gives +8 per unit step."""
    ramp = jnp.tile(jnp.arange(6, dtype=jnp.float32), (5, 1))[..., None]
    gx = kernels.filter2d(ramp, kernels.sobel("x"), padding="VALID")
    gy = kernels.filter2d(ramp, kernels.sobel("y"), padding="VALID")
    np.testing.assert_array_equal(gx, 8.0)
    np.testing.assert_array_equal(gy, 0.0)


def test_hand_kernels():
    np.testing.assert_array_equal(
        kernels.sobel("x"), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    )
    np.testing.assert_array_equal(kernels.sobel("y"), kernels.sobel("x").T)
    np.testing.assert_array_equal(kernels.prewitt(1), [[-1, 0, 1]] * 3)
    np.testing.assert_array_equal(kernels.scharr(0)[:, 1], [-10, 0, 10])
    np.testing.assert_array_equal(
        kernels.laplacian(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    )
    assert float(kernels.sharpen().sum()) == 1.0
    np.testing.assert_allclose(kernels.box_blur(5), np.full((5, 5), 0.04), rtol=1e-6)
    lines = {a: np.asarray(kernels.line(a)) for a in kernels.LINE_ANGLES}
    np.testing.assert_array_equal(lines[0][1], [2, 2, 2])
    np.testing.assert_array_equal(lines[90], lines[0].T)
    np.testing.assert_array_equal(lines[135], lines[45][:, ::-1])
    np.testing.assert_array_equal(np.diag(lines[45][::-1]), [2, 2, 2])  # bottom-left up
    for k in lines.values():
        assert k.sum() == 0 and (k == 2).sum() == 3 and (k == -1).sum() == 6


@pytest.mark.parametrize("angle", kernels.LINE_ANGLES)
def test_line_kernel_responds_most_to_its_own_line(angle):
    """A one-pixel line at each angle: the matching kernel gives the top response."""
    canvas = np.zeros((7, 7), np.float32)
    for t in range(-3, 4):
        r, c = {0: (0, t), 45: (-t, t), 90: (t, 0), 135: (t, t)}[angle]
        canvas[3 + r, 3 + c] = 1.0
    image = jnp.asarray(canvas)[..., None]
    centre = {
        a: float(kernels.filter2d(image, kernels.line(a))[3, 3, 0])
        for a in kernels.LINE_ANGLES
    }
    assert max(centre, key=centre.get) == angle and centre[angle] == 6.0


@given(st.floats(0.1, 5.0), st.sampled_from([None, 1, 3, 5, 7]), st.integers(0, 1))
def test_gaussian_sums_to_one_and_is_symmetric(sigma, size, _):
    k = np.asarray(kernels.gaussian(sigma, size), np.float64)
    n = size if size is not None else 2 * int(np.ceil(3 * sigma)) + 1
    assert k.shape == (n, n)
    np.testing.assert_allclose(k.sum(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(k, k[::-1])
    np.testing.assert_array_equal(k, k[:, ::-1])
    np.testing.assert_array_equal(k, k.T)
    assert k[n // 2, n // 2] == k.max()
    # The ratio of neighbouring taps on the centre row is exp(-(2r+1)/(2 sigma^2)).
    if n >= 3:
        ratio = k[n // 2, n // 2 + 1] / k[n // 2, n // 2]
        np.testing.assert_allclose(ratio, np.exp(-1 / (2 * sigma**2)), rtol=1e-5)


# --- smooth1d ------------------------------------------------------------------


@st.composite
def smooth_cases(draw, dtypes=DTYPES):
    # A few (lead, T, L) layouts, as for FILTER_LAYOUTS.
    lead, length, taps = draw(
        st.sampled_from([((), 1, 1), ((), 12, 4), ((3,), 7, 7), ((2, 2), 9, 2)])
    )
    dtype = draw(st.sampled_from(dtypes))
    rng = _rng(draw)
    signal = _array(rng, (*lead, length), dtype, -5, 5)
    weights = _array(rng, (taps,), jnp.float32, 0, 1)
    return signal, weights


@given(smooth_cases())
def test_smooth1d_matches_reference(case):
    signal, weights = case
    got = SMOOTH(signal, weights)
    want = ref.smooth1d(signal, jnp.asarray(weights, signal.dtype))
    assert got.dtype == signal.dtype and got.shape == want.shape
    assert_close(got, want, signal.dtype, atol=20 * tol(signal.dtype)["atol"])
    # atol x20: sums of up to 12 terms of size <= 5.


@given(smooth_cases(dtypes=(jnp.float32,)))
def test_smooth1d_jit_and_vmap(case):
    signal, weights = case
    out = SMOOTH(signal, weights)
    np.testing.assert_allclose(kernels.smooth1d(signal, weights), out, 1e-6)
    signals = np.stack([np.asarray(signal), -np.asarray(signal)])
    batched = jax.vmap(lambda s: SMOOTH(s, weights))(signals)
    out = np.asarray(out)
    np.testing.assert_allclose(batched, np.stack([out, -out]), **tol(jnp.float32))


@given(
    st.sampled_from([1, 3, 8]),
    st.floats(0.05, 1.0),
    st.floats(-100, 100),
    st.sampled_from([0, 4]),
)
def test_smoothing_a_constant_gives_the_constant(n, decay, value, extra):
    w = kernels.exponential_weights(n, decay)
    signal = np.full((n + extra,), value, np.float32)
    out = SMOOTH(signal, w)
    assert out.shape == (extra + 1,)
    assert_close(out, np.full(out.shape, value), atol=1e-5 * (1 + abs(value)))


@given(st.integers(1, 12), st.floats(0.01, 1.0))
def test_exponential_weights_sum_to_one_and_decrease(n, decay):
    w = np.asarray(kernels.exponential_weights(n, decay), np.float64)
    assert w.shape == (n,)
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-6)
    assert np.all(np.diff(w) <= 0)
    if n > 1:
        np.testing.assert_allclose(w[1:] / w[:-1], decay, rtol=1e-5)


def test_smooth1d_weighs_the_newest_sample_with_w0():
    """s(t) = 0.7 x(t) + 0.3 x(t-1): a step shows w(0) multiplies the newest."""
    out = kernels.smooth1d(jnp.array([0.0, 0.0, 1.0, 1.0]), jnp.array([0.7, 0.3]))
    np.testing.assert_allclose(out, [0.0, 0.7, 1.0], rtol=1e-6)


def test_smoothing_noisy_spaceship_positions_reduces_the_error():
    """The lecture's example: a spaceship at constant speed, noisy laser readings.

    An exponentially weighted average over 8 readings lags a linear track by a
    known amount (sum_a a w(a) times the speed); after removing that lag, the
    error is far below the measurement noise.
    """
    rng = np.random.default_rng(42)
    t = np.arange(200, dtype=np.float64)
    speed, noise = 2.0, 5.0
    truth = 100.0 + speed * t
    readings = jnp.asarray(truth + rng.normal(0, noise, t.shape), jnp.float32)
    w = kernels.exponential_weights(8, 0.8)
    smooth = np.asarray(kernels.smooth1d(readings, w), np.float64)
    lag = speed * float(np.sum(np.arange(8) * np.asarray(w, np.float64)))
    err = smooth - (truth[7:] - lag)
    raw = np.asarray(readings, np.float64) - truth
    assert np.std(err) < 0.6 * np.std(raw)


# --- bad input ---------------------------------------------------------------


def test_kernel_constructor_bad_input():
    for bad in (0, 2, -3):
        with pytest.raises(ValueError, match="size must be a positive odd int"):
            kernels.box_blur(bad)
    with pytest.raises(TypeError, match="size must be a positive odd int"):
        kernels.box_blur(3.0)
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        kernels.gaussian(0.0, 3)
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        kernels.gaussian(float("inf"))
    with pytest.raises(ValueError, match="size must be a positive odd int"):
        kernels.gaussian(1.0, 4)
    with pytest.raises(ValueError, match=r"angle must be one of \(0, 45, 90, 135\)"):
        kernels.line(30)
    for fn in (kernels.sobel, kernels.prewitt, kernels.scharr):
        for bad in (2, "z", True, [0]):
            with pytest.raises(ValueError, match="axis must be 0 or 'y'"):
                fn(bad)
    with pytest.raises(ValueError, match="n must be a positive int"):
        kernels.exponential_weights(0, 0.5)
    for bad in (0.0, 1.5, -0.5):
        with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
            kernels.exponential_weights(3, bad)


def test_filter2d_and_smooth1d_bad_input():
    k = kernels.box_blur(3)
    with pytest.raises(ValueError, match=r"image must have rank 3 or 4 \(H, W, C\)"):
        kernels.filter2d(jnp.zeros((4, 4)), k)
    with pytest.raises(TypeError, match="image must have a floating dtype"):
        kernels.filter2d(jnp.zeros((4, 4, 3), jnp.uint8), k)
    with pytest.raises(ValueError, match=r"kernel must have rank 2 \(kH, kW\)"):
        kernels.filter2d(jnp.zeros((4, 4, 3)), jnp.zeros((3, 3, 1)))
    with pytest.raises(TypeError, match="kernel must have a floating dtype"):
        kernels.filter2d(jnp.zeros((4, 4, 3)), jnp.ones((3, 3), jnp.int32))
    with pytest.raises(ValueError, match="padding"):
        kernels.filter2d(jnp.zeros((4, 4, 3)), k, padding="FULL")
    with pytest.raises(ValueError, match="weights must have 1 <= length <= the signal"):
        kernels.smooth1d(jnp.zeros(3), jnp.ones(4))
    with pytest.raises(ValueError, match=r"weights must have rank 1 \(L,\)"):
        kernels.smooth1d(jnp.zeros(3), jnp.ones((1, 1)))
    with pytest.raises(TypeError, match="signal must have a floating dtype"):
        kernels.smooth1d(jnp.arange(3), jnp.ones(2))
    with pytest.raises(ValueError, match="signal must have rank >= 1"):
        kernels.smooth1d(jnp.float32(1), jnp.ones(1))
