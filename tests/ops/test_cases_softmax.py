"""Cases B05 and B06 from the project's list of public bug reports.

B05: softmax / log_softmax with -inf entries and masks (pytorch#25110,
allennlp#890, jax#21495). B06: cross-entropy with very large logits
(NNlib.jl#68). The whole kind of each case is covered by the properties in
``test_softmax.py`` (-inf entries and fully masked rows drawn at random, logits
of size 1e4 to 1e6); these tests pin the exact values from the case list.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn.ops import log_softmax, softmax, softmax_cross_entropy

INF = np.inf


def _no_nan(x):
    return not np.any(np.isnan(np.asarray(x)))


def test_b05a_softmax_with_neg_inf_is_exact():
    np.testing.assert_array_equal(
        softmax(jnp.array([-INF, 0.0, -INF])), np.array([0.0, 1.0, 0.0])
    )


def test_b05b_log_softmax_with_neg_inf_and_its_gradient():
    x = jnp.array([-INF, 0.0, 1.0])
    out = np.asarray(log_softmax(x))
    assert out[0] == -INF and np.all(np.isfinite(out[1:]))
    np.testing.assert_allclose(
        out[1:], [-1.0 - np.log1p(np.e**-1), -np.log1p(np.e**-1)], rtol=1e-6
    )  # float32: rtol 1e-6 (default 1e-7 is below float32 resolution)
    grad = jax.grad(lambda x: log_softmax(x)[2])(x)
    assert _no_nan(grad)
    p = 1 / (1 + np.e**-1)  # softmax of [0, 1] at index 1
    np.testing.assert_allclose(grad, [0.0, -(1 - p), 1 - p], rtol=1e-6)


def test_b05c_all_neg_inf_row_without_mask_is_nan_like_jax_nn():
    """Documented: without a mask an all -inf row is 0/0, as in jax.nn.softmax."""
    row = jnp.array([[-INF, -INF, -INF]])
    assert np.all(np.isnan(softmax(row)))
    assert np.all(np.isnan(jax.nn.softmax(row)))


def test_b05c_fully_masked_row_gives_zeros_and_no_nan():
    """Decision P3: a fully masked row is all zeros (softmax), all -inf (log)."""
    x = jnp.array([[-INF, -INF, -INF], [1.0, 2.0, 3.0], [0.5, -INF, 9.0]])
    where = jnp.array([[True] * 3, [False] * 3, [True, True, False]])
    p = softmax(x, where=where)
    np.testing.assert_array_equal(p[:2], 0.0)
    np.testing.assert_array_equal(p[2], [1.0, 0.0, 0.0])
    logp = log_softmax(x, where=where)
    np.testing.assert_array_equal(logp[:2], -INF)
    np.testing.assert_array_equal(logp[2], [0.0, -INF, -INF])
    for fn in (softmax, log_softmax):

        def loss(x, fn=fn):
            out = fn(x, where=where)
            return jnp.sum(jnp.where(jnp.isfinite(out), out, 0.0))

        assert _no_nan(loss(x))
        grad = jax.grad(loss)(x)
        assert _no_nan(grad)
        np.testing.assert_array_equal(grad[:2], 0.0)


def test_b06_cross_entropy_with_large_logits():
    logits = jnp.array([-431.0, 279.0, 427.0], jnp.float32)
    label = jnp.array(0)
    loss = softmax_cross_entropy(logits, label)
    np.testing.assert_allclose(loss, 858.0, rtol=1e-6)
    grad = jax.grad(softmax_cross_entropy)(logits, label)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [-1.0, 0.0, 1.0], atol=1e-6)
    # The same with probabilities and under jit.
    onehot = jnp.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(jax.jit(softmax_cross_entropy)(logits, onehot), 858.0)


def test_b06_softmax_and_log_softmax_of_pm_1000():
    x = jnp.array([1000.0, 0.0, -1000.0], jnp.float32)
    np.testing.assert_array_equal(softmax(x), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(log_softmax(x), [0.0, -1000.0, -2000.0])
