"""Tests of dense, flatten, dropout, batch_norm and layer_norm.

Values are compared against the loop-based float64 references. Ops are called
eagerly on shapes drawn from small palettes (each new shape or axis compiles
its primitives again, about a second each on a loaded 2-core machine), while
values, parameters and options vary freely.
"""

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from jax.test_util import check_grads

from jaxcnn.ops import batch_norm, dense, dropout, flatten, layer_norm
from jaxcnn.reference import layers as ref
from tests.tolerances import assert_close, tol

DTYPES = (jnp.float32, jnp.bfloat16)


def _array(rng, shape, dtype, low=-1.0, high=1.0):
    return jnp.asarray(rng.uniform(low, high, shape).astype(np.float32), dtype)


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


# --- dense and flatten -------------------------------------------------------


@st.composite
def dense_cases(draw, dtypes=DTYPES):
    lead, n_in, n_out = draw(
        st.sampled_from([((), 3, 2), ((4,), 5, 3), ((2, 3), 1, 4)])
    )
    dtype = draw(st.sampled_from(dtypes))
    rng = _rng(draw)
    x = _array(rng, (*lead, n_in), dtype)
    kernel = _array(rng, (n_in, n_out), dtype)
    bias = _array(rng, (n_out,), dtype) if draw(st.booleans()) else None
    return x, kernel, bias


@given(dense_cases())
def test_dense_matches_reference(case):
    x, kernel, bias = case
    got = dense(x, kernel, bias)
    assert got.dtype == x.dtype and got.shape == (*x.shape[:-1], kernel.shape[1])
    assert_close(got, ref.dense(x, kernel, bias), x.dtype)


@given(dense_cases(dtypes=(jnp.float32,)), st.integers(1, 3))
def test_dense_jit_vmap(case, reps):
    x, kernel, bias = case
    np.testing.assert_allclose(
        jax.jit(dense)(x, kernel, bias), dense(x, kernel, bias), **tol(jnp.float32)
    )
    xs = jnp.stack([x + i for i in range(reps)])
    batched = jax.vmap(lambda xi: dense(xi, kernel, bias))(xs)
    looped = jnp.stack([dense(xi, kernel, bias) for xi in xs])
    np.testing.assert_allclose(batched, looped, **tol(jnp.float32))


def test_dense_check_grads():
    rng = np.random.default_rng(0)
    x, k, b = (_array(rng, s, jnp.float32) for s in ((2, 3), (3, 4), (4,)))
    check_grads(dense, (x, k, b), order=2, atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: float32 finite differences.


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_flatten_keeps_row_major_order(shape):
    x = jnp.arange(int(np.prod(shape)), dtype=jnp.float32).reshape(shape)
    y = flatten(x)
    assert y.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(y.ravel(), np.arange(x.size))
    np.testing.assert_array_equal(y[0], np.ravel(np.asarray(x)[0]))


# --- dropout -----------------------------------------------------------------


@st.composite
def dropout_cases(draw):
    shape = draw(st.sampled_from([(6,), (3, 4), (2, 2, 3)]))
    rate = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, draw(st.floats(0, 1))]))
    dtype = draw(st.sampled_from(DTYPES))
    rng = _rng(draw)
    x = _array(rng, shape, dtype, 0.5, 2.0)  # never 0, so drops are visible
    key = jax.random.key(draw(st.integers(0, 2**31 - 1)))
    return key, x, rate


@given(dropout_cases())
def test_dropout_zeroes_or_rescales_each_entry(case):
    """Each entry is 0 or x / (1 - rate); rate 0 is the identity, rate 1 zeros."""
    key, x, rate = case
    y = dropout(key, x, rate)
    assert y.shape == x.shape and y.dtype == x.dtype
    if rate == 1.0:
        np.testing.assert_array_equal(y, jnp.zeros_like(x))
        return
    kept = y != 0
    scaled = x / jnp.asarray(1.0 - rate, x.dtype)
    np.testing.assert_array_equal(jnp.where(kept, y, 0), jnp.where(kept, scaled, 0))
    if rate == 0.0:
        np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(dropout(key, x, rate), y)  # same key, same mask
    np.testing.assert_array_equal(dropout(key, x, rate, deterministic=True), x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expected_fraction_and_mean(rate):
    """Over 100k entries the kept fraction is within 5 sigma of 1 - rate."""
    x = jnp.ones((100_000,), jnp.float32)
    y = dropout(jax.random.key(7), x, rate)
    kept = float(jnp.mean(y != 0))
    sigma = np.sqrt(rate * (1 - rate) / x.size)
    assert abs(kept - (1 - rate)) < 5 * sigma
    assert abs(float(jnp.mean(y)) - 1.0) < 5 * sigma / (1 - rate)


def test_dropout_jit_vmap_and_grad():
    x = jnp.linspace(0.5, 1.5, 24, dtype=jnp.float32).reshape(4, 6)
    keys = jax.random.split(jax.random.key(3), 4)
    fn = functools.partial(dropout, rate=0.4)
    np.testing.assert_array_equal(jax.jit(fn)(keys[0], x), fn(keys[0], x))
    batched = jax.vmap(fn)(keys, x)
    np.testing.assert_array_equal(
        batched, jnp.stack([fn(k, r) for k, r in zip(keys, x, strict=True)])
    )
    grad = jax.grad(lambda x: fn(keys[0], x).sum())(x)
    np.testing.assert_allclose(grad, (fn(keys[0], x) != 0) / 0.6, rtol=1e-6)
    np.testing.assert_array_equal(
        jax.grad(lambda x: dropout(keys[0], x, 1.0).sum())(x), 0
    )
    legacy = jax.random.PRNGKey(0)
    assert dropout(legacy, x, 0.5).shape == x.shape


def test_dropout_bad_input():
    key, x = jax.random.key(0), jnp.ones((2, 2))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\]"):
            dropout(key, x, bad)
    with pytest.raises(TypeError, match="rate must be a"):
        dropout(key, x, "0.5")
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        dropout(key, jnp.ones((2,), jnp.int32), 0.5)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        dropout(jnp.zeros((3,)), x, 0.5)
    with pytest.raises(TypeError, match="deterministic must be a bool"):
        dropout(key, x, 0.5, deterministic=jnp.array(True))


# --- batch_norm and layer_norm -------------------------------------------------


NORM_SHAPES = ((5,), (4, 3), (2, 3, 2), (2, 1, 2, 3))


@st.composite
def norm_cases(draw, dtypes=DTYPES):
    shape = draw(st.sampled_from(NORM_SHAPES))
    dtype = draw(st.sampled_from(dtypes))
    rng = _rng(draw)
    x = _array(rng, shape, dtype, -3.0, 3.0)
    return x, rng


@given(norm_cases(), st.data())
def test_batch_norm_matches_reference(case, data):
    x, rng = case
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    c = x.shape[axis]
    training = data.draw(st.booleans()) and x.size // c >= 2
    momentum = data.draw(st.sampled_from([0.9, 0.0, 1.0, 0.5]))
    scale = _array(rng, (c,), x.dtype, 0.5, 2) if data.draw(st.booleans()) else None
    bias = _array(rng, (c,), x.dtype) if data.draw(st.booleans()) else None
    mean, var = _array(rng, (c,), jnp.float32), _array(rng, (c,), jnp.float32, 0.5, 2)
    kw = dict(training=training, momentum=momentum, axis=axis)
    y, (m, v) = batch_norm(x, scale, bias, mean, var, **kw)
    y_ref, (m_ref, v_ref) = ref.batch_norm(x, scale, bias, mean, var, **kw)
    assert y.dtype == x.dtype and m.dtype == v.dtype == jnp.float32
    # atol x20 for y: tiny batch variances (two nearly equal values) amplify the
    # input rounding by 1 / sqrt(var + eps), up to 1 / sqrt(eps) ~ 300.
    assert_close(y, y_ref, x.dtype, atol=20 * tol(x.dtype)["atol"])
    assert_close(m, m_ref, x.dtype)
    assert_close(v, v_ref, x.dtype)


@given(norm_cases(dtypes=(jnp.float32,)))
def test_batch_norm_training_output_is_standardised(case):
    """Per channel: mean 0 and (biased) variance var / (var + eps)."""
    x, _ = case
    x = x.reshape(-1, x.shape[-1])
    if x.shape[0] < 2:
        x = jnp.concatenate([x, -x + 1.0])
    c = x.shape[-1]
    y, _ = batch_norm(x, None, None, jnp.zeros(c), jnp.ones(c), training=True)
    var = jnp.var(x, axis=0)
    assert_close(jnp.mean(y, axis=0), 0.0, atol=1e-5)
    assert_close(jnp.var(y, axis=0), var / (var + 1e-5), atol=1e-4)
    # atol 1e-4: the variance of y squares values up to ~300 (see above).


def test_batch_norm_eval_returns_statistics_unchanged_and_jit_vmap():
    rng = np.random.default_rng(2)
    x = _array(rng, (2, 3, 3, 4), jnp.float32)
    mean, var = _array(rng, (4,), jnp.float32), _array(rng, (4,), jnp.float32, 0.5, 2)
    y, (m, v) = batch_norm(x, None, None, mean, var, training=False)
    np.testing.assert_array_equal(m, mean)
    np.testing.assert_array_equal(v, var)
    np.testing.assert_allclose(y, (x - mean) / jnp.sqrt(var + 1e-5), rtol=1e-5)
    fn = functools.partial(batch_norm, training=True)
    out = jax.jit(fn)(x, None, None, mean, var)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, **tol(jnp.float32)),
        out,
        fn(x, None, None, mean, var),
    )
    batched = jax.vmap(lambda xi: fn(xi, None, None, mean, var))(x)
    for i in range(2):
        one = fn(x[i], None, None, mean, var)
        np.testing.assert_allclose(batched[0][i], one[0], **tol(jnp.float32))
        np.testing.assert_allclose(batched[1][1][i], one[1][1], **tol(jnp.float32))


def test_batch_norm_check_grads():
    rng = np.random.default_rng(3)
    x = _array(rng, (4, 2, 3), jnp.float32)
    scale, bias = _array(rng, (3,), jnp.float32, 0.5, 2), _array(rng, (3,), jnp.float32)
    mean, var = jnp.zeros(3), jnp.ones(3)
    for training in (True, False):

        def f(x, scale, bias, training=training):
            return batch_norm(x, scale, bias, mean, var, training=training)[0]

        check_grads(f, (x, scale, bias), order=2, atol=2e-2, rtol=2e-2)
        # atol/rtol 2e-2: float32 finite differences through 1/sqrt(var).


@given(norm_cases(), st.data())
def test_layer_norm_matches_reference(case, data):
    x, rng = case
    nd = x.ndim
    choices = [(nd - 1,), (0,), tuple(range(1, nd)) or (0,), tuple(range(nd))]
    axes = data.draw(st.sampled_from(choices))
    axis = axes[0] - nd if len(axes) == 1 and data.draw(st.booleans()) else axes
    pshape = tuple(x.shape[a] for a in axes)
    scale = _array(rng, pshape, x.dtype, 0.5, 2) if data.draw(st.booleans()) else None
    bias = _array(rng, pshape, x.dtype) if data.draw(st.booleans()) else None
    y = layer_norm(x, scale, bias, axis=axis)
    assert y.dtype == x.dtype and y.shape == x.shape
    want = ref.layer_norm(x, scale, bias, axis=axes)
    assert_close(y, want, x.dtype, atol=20 * tol(x.dtype)["atol"])
    # atol x20: as for batch_norm, small variances amplify input rounding.


def test_layer_norm_jit_vmap_and_grads():
    rng = np.random.default_rng(4)
    x = _array(rng, (3, 5), jnp.float32)
    scale, bias = _array(rng, (5,), jnp.float32, 0.5, 2), _array(rng, (5,), jnp.float32)
    np.testing.assert_allclose(
        jax.jit(layer_norm)(x, scale, bias), layer_norm(x, scale, bias), rtol=1e-6
    )
    batched = jax.vmap(lambda r: layer_norm(r, scale, bias))(x)
    looped = jnp.stack([layer_norm(r, scale, bias) for r in x])
    np.testing.assert_allclose(batched, looped, **tol(jnp.float32))
    check_grads(layer_norm, (x, scale, bias), order=2, atol=2e-2, rtol=2e-2)
    # atol/rtol 2e-2: float32 finite differences through 1/sqrt(var).


def test_norm_bad_input():
    x, c = jnp.zeros((2, 3)), jnp.zeros(3)
    with pytest.raises(TypeError, match="training must be a bool"):
        batch_norm(x, c, c, c, c, training=1)
    with pytest.raises(ValueError, match=r"scale must have shape \(3,\); got \(2,\)"):
        batch_norm(x, jnp.zeros(2), c, c, c, training=False)
    with pytest.raises(TypeError, match="mean must be a"):
        batch_norm(x, c, c, None, c, training=False)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        batch_norm(jnp.zeros((2, 3), jnp.int32), c, c, c, c, training=False)
    with pytest.raises(ValueError, match="more than one value per channel"):
        batch_norm(jnp.zeros((1, 3)), c, c, c, c, training=True)
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\)"):
        batch_norm(x, c, c, c, c, training=False, axis=2)
    with pytest.raises(TypeError, match="axis must be a single int"):
        batch_norm(x, c, c, c, c, training=False, axis=(0, 1))
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        batch_norm(x, c, c, c, c, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        layer_norm(x, eps=0.0)
    with pytest.raises(ValueError, match=r"scale must have shape \(3,\)"):
        layer_norm(x, jnp.zeros(2))
    with pytest.raises(TypeError, match="scale must have the dtype of x"):
        layer_norm(x, jnp.zeros(3, jnp.bfloat16))


def test_dense_flatten_bad_input():
    with pytest.raises(ValueError, match=r"kernel must have rank 2 \(I, O\)"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3,)))
    with pytest.raises(
        ValueError, match="x's last axis must equal kernel's input size 4"
    ):
        dense(jnp.zeros((2, 3)), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3, 2)), jnp.zeros(3))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        dense(jnp.zeros((2, 3), jnp.int32), jnp.zeros((3, 2)))
    with pytest.raises(TypeError, match="kernel must have the dtype of x"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3, 2), jnp.bfloat16))
    with pytest.raises(ValueError, match=r"x must have rank >= 1"):
        flatten(jnp.float32(1))
