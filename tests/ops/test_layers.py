"""Tests of dense, flatten, dropout, batch_norm and layer_norm.

Values are compared against the loop-based float64 references. Speed: the ops
are jitted once at import (``DENSE`` etc.) and shapes come from short curated
lists, so each configuration compiles one program (about 0.2 s of CPU); values,
parameters and options vary freely. The eager path is checked against the
jitted one in its own tests.
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

F32, BF16 = jnp.float32, jnp.bfloat16
DENSE = jax.jit(dense)
DROPOUT = jax.jit(dropout, static_argnames=("rate", "deterministic"))
BATCH_NORM = jax.jit(
    batch_norm, static_argnames=("training", "momentum", "eps", "axis")
)
LAYER_NORM = jax.jit(layer_norm, static_argnames=("eps", "axis"))


def _array(rng, shape, dtype, low=-1.0, high=1.0):
    return jnp.asarray(rng.uniform(low, high, shape).astype(np.float32), dtype)


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


# --- dense and flatten -------------------------------------------------------

# (lead shape, I, O, dtype, with bias)
DENSE_CONFIGS = (
    ((), 3, 2, F32, True),
    ((4,), 5, 3, F32, False),
    ((2, 3), 1, 4, F32, True),
    ((4,), 5, 3, BF16, True),
)


@st.composite
def dense_cases(draw, dtypes=(F32, BF16)):
    configs = [c for c in DENSE_CONFIGS if c[3] in dtypes]
    lead, n_in, n_out, dtype, with_bias = draw(st.sampled_from(configs))
    rng = _rng(draw)
    x = _array(rng, (*lead, n_in), dtype)
    kernel = _array(rng, (n_in, n_out), dtype)
    bias = _array(rng, (n_out,), dtype) if with_bias else None
    return x, kernel, bias


@given(dense_cases())
def test_dense_matches_reference(case):
    x, kernel, bias = case
    got = DENSE(x, kernel, bias)
    assert got.dtype == x.dtype and got.shape == (*x.shape[:-1], kernel.shape[1])
    assert_close(got, ref.dense(x, kernel, bias), x.dtype)


@given(dense_cases(dtypes=(F32,)))
def test_dense_eager_equals_jit_and_vmap_equals_loop(case):
    x, kernel, bias = case
    np.testing.assert_allclose(
        dense(x, kernel, bias), DENSE(x, kernel, bias), **tol(F32)
    )
    xs = np.stack([np.asarray(x) + i for i in range(3)])
    batched = jax.vmap(lambda xi: DENSE(xi, kernel, bias))(xs)
    looped = np.stack([DENSE(xi, kernel, bias) for xi in xs])
    np.testing.assert_allclose(batched, looped, **tol(F32))


def test_dense_check_grads():
    rng = np.random.default_rng(0)
    x, k, b = (_array(rng, s, F32) for s in ((2, 3), (3, 4), (4,)))
    check_grads(DENSE, (x, k, b), order=2, atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: float32 finite differences.


@pytest.mark.parametrize("shape", [(3,), (2, 5), (2, 3, 4), (1, 2, 2, 3)])
def test_flatten_keeps_row_major_order(shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    y = flatten(jnp.asarray(x))
    assert y.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(y, x.reshape(shape[0], -1))
    np.testing.assert_array_equal(y[0], x[0].ravel())


# --- dropout -----------------------------------------------------------------


@st.composite
def dropout_cases(draw):
    shape, dtype = draw(st.sampled_from([((6,), F32), ((3, 4), F32), ((3, 4), BF16)]))
    rate = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))  # static: few values
    rng = _rng(draw)
    x = _array(rng, shape, dtype, 0.5, 2.0)  # never 0, so drops are visible
    key = jax.random.key(draw(st.integers(0, 2**31 - 1)))
    return key, x, rate


@given(dropout_cases())
def test_dropout_zeroes_or_rescales_each_entry(case):
    """Each entry is 0 or x / (1 - rate); rate 0 is the identity, rate 1 zeros."""
    key, x, rate = case
    y = DROPOUT(key, x, rate=rate)
    assert y.shape == x.shape and y.dtype == x.dtype
    y, x_np = np.asarray(y, np.float64), np.asarray(x, np.float64)
    if rate == 1.0:
        np.testing.assert_array_equal(y, 0.0)
        return
    kept = y != 0
    scaled = np.asarray(x / jnp.asarray(1.0 - rate, x.dtype), np.float64)
    np.testing.assert_array_equal(y[kept], scaled[kept])
    if rate == 0.0:
        np.testing.assert_array_equal(y, x_np)
    np.testing.assert_array_equal(DROPOUT(key, x, rate=rate), y)  # same key
    np.testing.assert_array_equal(DROPOUT(key, x, rate=rate, deterministic=True), x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expected_fraction_and_mean(rate):
    """Over 100k entries the kept fraction is within 5 sigma of 1 - rate."""
    x = jnp.ones((100_000,), F32)
    y = np.asarray(dropout(jax.random.key(7), x, rate))
    kept = float(np.mean(y != 0))
    sigma = np.sqrt(rate * (1 - rate) / x.size)
    assert abs(kept - (1 - rate)) < 5 * sigma
    assert abs(float(np.mean(y)) - 1.0) < 5 * sigma / (1 - rate)


def test_dropout_jit_vmap_and_grad():
    x = jnp.linspace(0.5, 1.5, 24, dtype=F32).reshape(4, 6)
    keys = jax.random.split(jax.random.key(3), 4)
    fn = functools.partial(dropout, rate=0.4)
    np.testing.assert_array_equal(DROPOUT(keys[0], x, rate=0.4), fn(keys[0], x))
    batched = jax.vmap(fn)(keys, x)
    looped = jnp.stack([fn(k, r) for k, r in zip(keys, x, strict=True)])
    np.testing.assert_array_equal(batched, looped)
    grad = jax.grad(lambda x: fn(keys[0], x).sum())(x)
    np.testing.assert_allclose(grad, (np.asarray(fn(keys[0], x)) != 0) / 0.6, rtol=1e-6)
    zero_grad = jax.grad(lambda x: dropout(keys[0], x, 1.0).sum())(x)
    np.testing.assert_array_equal(zero_grad, 0.0)
    assert dropout(jax.random.PRNGKey(0), x, 0.5).shape == x.shape  # legacy keys


def test_dropout_bad_input():
    key, x = jax.random.key(0), jnp.ones((2, 2))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\]"):
            dropout(key, x, bad)
    with pytest.raises(TypeError, match="rate must be a drop probability"):
        dropout(key, x, "0.5")
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        dropout(key, jnp.ones((2,), jnp.int32), 0.5)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        dropout(jnp.zeros((3,)), x, 0.5)
    with pytest.raises(TypeError, match="deterministic must be a bool"):
        dropout(key, x, 0.5, deterministic=jnp.array(True))


# --- batch_norm and layer_norm -------------------------------------------------

# (shape, feature axis, dtype, training, momentum, with scale and bias)
BN_CONFIGS = (
    ((5, 3), -1, F32, True, 0.9, True),
    ((5, 3), 0, F32, False, 0.9, False),
    ((2, 3, 2), 1, F32, True, 0.0, False),
    ((2, 1, 2, 3), -1, F32, True, 0.5, True),
    ((2, 1, 2, 3), 2, BF16, True, 1.0, True),
    ((4, 3), -1, BF16, False, 0.9, True),
)


@st.composite
def bn_cases(draw, configs=BN_CONFIGS):
    shape, axis, dtype, training, momentum, affine = draw(st.sampled_from(configs))
    rng = _rng(draw)
    x = _array(rng, shape, dtype, -3.0, 3.0)
    c = shape[axis]
    scale = _array(rng, (c,), dtype, 0.5, 2) if affine else None
    bias = _array(rng, (c,), dtype) if affine else None
    mean, var = _array(rng, (c,), F32), _array(rng, (c,), F32, 0.5, 2)
    kw = dict(training=training, momentum=momentum, axis=axis)
    return x, scale, bias, mean, var, kw


@given(bn_cases())
def test_batch_norm_matches_reference(case):
    x, scale, bias, mean, var, kw = case
    y, (m, v) = BATCH_NORM(x, scale, bias, mean, var, **kw)
    y_ref, (m_ref, v_ref) = ref.batch_norm(x, scale, bias, mean, var, **kw)
    assert y.dtype == x.dtype and m.dtype == v.dtype == F32
    # atol x20 for y: tiny batch variances (two nearly equal values) amplify the
    # input rounding by 1 / sqrt(var + eps), up to 1 / sqrt(eps) ~ 300.
    assert_close(y, y_ref, x.dtype, atol=20 * tol(x.dtype)["atol"])
    assert_close(m, m_ref, x.dtype)
    assert_close(v, v_ref, x.dtype)


@given(bn_cases(configs=[c for c in BN_CONFIGS if c[2] == F32 and c[3]]))
def test_batch_norm_training_output_is_standardised(case):
    """Per channel: mean 0 and (biased) variance var / (var + eps), no affine."""
    x, _, _, mean, var, kw = case
    y, _ = BATCH_NORM(x, None, None, mean, var, **kw)
    axis = kw["axis"] % x.ndim
    others = tuple(a for a in range(x.ndim) if a != axis)
    x_np, y_np = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x_var = np.var(x_np, axis=others)
    assert_close(np.mean(y_np, axis=others), 0.0, atol=1e-5)
    assert_close(np.var(y_np, axis=others), x_var / (x_var + 1e-5), atol=1e-4)
    # atol 1e-4: the variance of y squares values up to ~300 (see above).


@given(bn_cases(configs=BN_CONFIGS[:3]))
def test_batch_norm_eager_equals_jit_and_vmap_equals_loop(case):
    x, scale, bias, mean, var, kw = case
    eager = batch_norm(x, scale, bias, mean, var, **kw)
    jitted = BATCH_NORM(x, scale, bias, mean, var, **kw)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_allclose(a, b, **tol(F32))
    xs = np.stack([np.asarray(x), 2 * np.asarray(x) + 1])
    fn = functools.partial(BATCH_NORM, scale=scale, bias=bias, mean=mean, var=var)
    batched = jax.vmap(lambda xi: fn(xi, **kw))(xs)
    for i, xi in enumerate(xs):
        one = fn(xi, **kw)
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(a[i], b, **tol(F32))


def test_batch_norm_eval_uses_and_returns_the_running_statistics():
    rng = np.random.default_rng(2)
    x = _array(rng, (2, 3, 3, 4), F32)
    mean, var = _array(rng, (4,), F32), _array(rng, (4,), F32, 0.5, 2)
    y, (m, v) = batch_norm(x, None, None, mean, var, training=False)
    np.testing.assert_array_equal(m, mean)
    np.testing.assert_array_equal(v, var)
    np.testing.assert_allclose(y, (x - mean) / jnp.sqrt(var + 1e-5), rtol=1e-5)


def test_batch_norm_check_grads():
    rng = np.random.default_rng(3)
    x = _array(rng, (4, 2, 3), F32)
    scale, bias = _array(rng, (3,), F32, 0.5, 2), _array(rng, (3,), F32)
    mean, var = jnp.zeros(3), jnp.ones(3)
    for training in (True, False):

        @jax.jit  # one compilation per derivative, not one per primitive
        def f(x, scale, bias, training=training):
            return batch_norm(x, scale, bias, mean, var, training=training)[0]

        check_grads(f, (x, scale, bias), order=1, atol=2e-2, rtol=2e-2)
        # atol/rtol 2e-2: float32 finite differences through 1/sqrt(var).


# (shape, axis or axes, dtype, with scale and bias)
LN_CONFIGS = (
    ((5,), -1, F32, True),
    ((4, 3), -1, F32, False),
    ((4, 3), 0, BF16, True),
    ((2, 3, 2), (1, 2), F32, True),
    ((2, 1, 2, 3), (0, 1, 2, 3), F32, False),
    ((2, 3, 2), (1, 2), BF16, False),
)


@given(st.sampled_from(LN_CONFIGS), st.data())
def test_layer_norm_matches_reference(config, data):
    shape, axis, dtype, affine = config
    rng = _rng(data.draw)
    x = _array(rng, shape, dtype, -3.0, 3.0)
    axes = axis if isinstance(axis, tuple) else (axis % len(shape),)
    pshape = tuple(shape[a] for a in axes)
    scale = _array(rng, pshape, dtype, 0.5, 2) if affine else None
    bias = _array(rng, pshape, dtype) if affine else None
    y = LAYER_NORM(x, scale, bias, axis=axis)
    assert y.dtype == x.dtype and y.shape == x.shape
    want = ref.layer_norm(x, scale, bias, axis=axes)
    assert_close(y, want, x.dtype, atol=20 * tol(x.dtype)["atol"])
    # atol x20: as for batch_norm, small variances amplify input rounding.


def test_layer_norm_eager_jit_vmap_and_grads():
    rng = np.random.default_rng(4)
    x = _array(rng, (3, 5), F32)
    scale, bias = _array(rng, (5,), F32, 0.5, 2), _array(rng, (5,), F32)
    np.testing.assert_allclose(
        layer_norm(x, scale, bias), LAYER_NORM(x, scale, bias), **tol(F32)
    )
    batched = jax.vmap(lambda r: LAYER_NORM(r, scale, bias))(x)
    looped = np.stack([LAYER_NORM(r, scale, bias) for r in np.asarray(x)])
    np.testing.assert_allclose(batched, looped, **tol(F32))
    check_grads(LAYER_NORM, (x, scale, bias), order=1, atol=2e-2, rtol=2e-2)
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
        layer_norm(x, jnp.zeros(3, BF16))


def test_dense_flatten_bad_input():
    with pytest.raises(ValueError, match=r"kernel must have rank 2 \(I, O\)"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3,)))
    with pytest.raises(
        ValueError, match="x's last axis must equal kernel's input size"
    ):
        dense(jnp.zeros((2, 3)), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3, 2)), jnp.zeros(3))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        dense(jnp.zeros((2, 3), jnp.int32), jnp.zeros((3, 2)))
    with pytest.raises(TypeError, match="kernel must have the dtype of x"):
        dense(jnp.zeros((2, 3)), jnp.zeros((3, 2), BF16))
    with pytest.raises(ValueError, match=r"x must have rank >= 1"):
        flatten(jnp.float32(1))
