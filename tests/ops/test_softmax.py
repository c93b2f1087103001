"""Tests of softmax, log-softmax and the losses against the float64 references.

Ops are called eagerly on shapes drawn from small palettes: each new shape
compiles its primitives once, so a few shapes with freely drawn values, infinities
and masks keep the 200-example CI profile fast.
"""

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from jax.test_util import check_grads

from jaxcnn.ops import (
    log_softmax,
    sigmoid_binary_cross_entropy,
    softmax,
    softmax_cross_entropy,
)
from jaxcnn.reference import softmax as ref
from tests.tolerances import assert_close, tol

DTYPES = (jnp.float32, jnp.bfloat16)
INF = np.inf


def _finite(tree):
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree))


# (shape, axis) layouts drawn by the properties: a small palette, because every
# new shape or axis compiles its primitives again (about a second each on a
# loaded 2-core machine); values, -inf entries and masks vary freely.
LAYOUTS = (
    ((5,), -1),
    ((3, 4), -1),
    ((3, 4), 0),
    ((2, 3, 2), 1),
    ((2, 3, 2), (0, 2)),
)


@st.composite
def softmax_cases(draw, dtypes=DTYPES, masks=True, neg_inf=True):
    """(x, axis, where): values in [-8, 8], a few -inf entries, maybe a mask."""
    shape, axis = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-8, 8, shape).astype(np.float32)
    if neg_inf and draw(st.booleans()):
        x[rng.random(shape) < draw(st.sampled_from([0.3, 0.9]))] = -INF
    where = None
    if masks and draw(st.booleans()):
        where = jnp.asarray(rng.random(shape) < draw(st.floats(0.0, 1.0)))
    return jnp.asarray(x, dtype), axis, where


def _has_live_entry(x, axis, where):
    """Per-row flag: some selected entry is finite (the row is well defined)."""
    live = jnp.isfinite(x) if where is None else jnp.isfinite(x) & where
    return jnp.any(live, axis=axis, keepdims=True)


@given(softmax_cases())
def test_softmax_matches_reference(case):
    """Any shape, axis or axes, dtype, -inf entries and masks (fully masked too)."""
    x, axis, where = case
    got = softmax(x, axis, where=where)
    assert got.dtype == x.dtype and got.shape == x.shape
    want = ref.softmax(x, axis, where)
    live = np.broadcast_to(_has_live_entry(x, axis, where), x.shape)
    if where is None:  # rows of only -inf are NaN (as jax.nn); compare the rest
        assert np.all(np.isnan(np.asarray(got, np.float64)[~live]))
        got, want = np.asarray(got, np.float64)[live], want[live]
    assert_close(got, want, x.dtype)


@given(softmax_cases())
def test_log_softmax_matches_reference(case):
    x, axis, where = case
    got = log_softmax(x, axis, where=where)
    assert got.dtype == x.dtype and got.shape == x.shape
    want = ref.log_softmax(x, axis, where)
    live = np.broadcast_to(_has_live_entry(x, axis, where), x.shape)
    got = np.asarray(got, np.float64)
    if where is None:
        assert np.all(np.isnan(got[~live]))
        got, want = got[live], want[live]
    assert_close(got, want, x.dtype)


@given(softmax_cases(dtypes=(jnp.float32,)))
def test_exp_log_softmax_is_softmax(case):
    """exp(log_softmax) == softmax in every row, fully masked rows included."""
    x, axis, where = case
    live = _has_live_entry(x, axis, where)
    p = jnp.where(live, softmax(x, axis, where=where), 0.0)
    q = jnp.where(live, jnp.exp(log_softmax(x, axis, where=where)), 0.0)
    assert_close(q, p)


@given(softmax_cases(dtypes=(jnp.float32,)))
def test_softmax_rows_sum_to_one_or_zero(case):
    """Rows with a finite selected entry sum to 1, fully masked rows to 0."""
    x, axis, where = case
    total = jnp.sum(softmax(x, axis, where=where), axis=axis, keepdims=True)
    live = _has_live_entry(x, axis, where)
    if where is not None:
        assert_close(total, jnp.where(live, 1.0, 0.0))
    else:
        assert_close(total[jnp.broadcast_to(live, total.shape)], 1.0)
    p = softmax(x, axis, where=where)
    assert bool(jnp.all(jnp.isnan(p) | (p >= 0)))


@given(softmax_cases(dtypes=(jnp.float32,), neg_inf=False), st.integers(-1000, 1000))
def test_softmax_ignores_a_constant_shift(case, shift):
    """softmax(x + c) == softmax(x) exactly, for x on a 1/8 grid and integer c.

    On that grid ``x + c`` and ``x - max`` are exact in float32, so the two
    calls see identical shifted values.
    """
    x, axis, where = case
    x = jnp.round(x * 8) / 8
    for fn in (softmax, log_softmax):
        shifted = fn(x + jnp.float32(shift), axis, where=where)
        np.testing.assert_array_equal(shifted, fn(x, axis, where=where))


@given(softmax_cases(dtypes=(jnp.float32,)))
def test_gradients_are_finite_with_inf_and_masks(case):
    """No NaN in any gradient: -inf entries, partly and fully masked rows."""
    x, axis, where = case
    weights = jnp.linspace(-1.0, 1.0, x.size).reshape(x.shape)
    for fn in (softmax, log_softmax):

        def loss(x, fn=fn):
            out = fn(x, axis, where=where)
            # Weight only the finite outputs: -inf outputs times 0 would be NaN.
            return jnp.sum(jnp.where(jnp.isfinite(out), out * weights, 0.0))

        grad = jax.grad(loss)(x)
        live = jnp.broadcast_to(_has_live_entry(x, axis, where), x.shape)
        if where is not None:
            assert _finite(grad)
        else:
            assert _finite(grad[live])


@given(softmax_cases(dtypes=(jnp.float32,)))
def test_jit_equals_eager(case):
    x, axis, where = case
    for fn in (softmax, log_softmax):
        jitted = jax.jit(functools.partial(fn, axis=axis))
        np.testing.assert_allclose(
            jitted(x, where=where), fn(x, axis, where=where), **tol(jnp.float32)
        )


@given(softmax_cases(dtypes=(jnp.float32,), masks=False), st.integers(1, 3))
def test_vmap_equals_loop(case, reps):
    x, axis, _ = case
    xs = jnp.stack([x * (i + 1) for i in range(reps)])
    for fn in (softmax, log_softmax):
        batched = jax.vmap(lambda xi, fn=fn: fn(xi, axis))(xs)
        looped = jnp.stack([fn(xi, axis) for xi in xs])
        np.testing.assert_allclose(batched, looped, **tol(jnp.float32))


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_check_grads(fn, masked):
    x = jnp.asarray(np.random.default_rng(0).uniform(-2, 2, (3, 4)), jnp.float32)
    where = jnp.array([[True, False, True, True], [False] * 4, [True] * 4])
    where = where if masked else None

    def f(x):
        out = fn(x, where=where)
        return jnp.where(jnp.isfinite(out), out, 0.0)

    check_grads(f, (x,), order=2, modes=("fwd", "rev"), atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: finite differences in float32 with check_grads' eps.


# --- cross-entropy -----------------------------------------------------------


# (batch shape, K): a small palette to keep compilations few (see LAYOUTS).
CE_SHAPES = (((), 1), ((), 5), ((4,), 3), ((2, 3), 4))


@st.composite
def ce_cases(draw, dtypes=DTYPES):
    """(logits, labels, label_smoothing): integer ids or probabilities."""
    batch, k = draw(st.sampled_from(CE_SHAPES))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = jnp.asarray(rng.uniform(-10, 10, (*batch, k)).astype(np.float32), dtype)
    if draw(st.booleans()):
        labels = jnp.asarray(rng.integers(0, k, batch), jnp.int32)
    else:
        p = rng.random((*batch, k)) * (rng.random((*batch, k)) < 0.7)
        p[..., 0] += 1e-3  # keep every row non-zero
        labels = jnp.asarray(p / p.sum(-1, keepdims=True), dtype)
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, draw(st.floats(0, 1))]))
    return logits, labels, smoothing


@given(ce_cases())
def test_cross_entropy_matches_reference(case):
    logits, labels, eps = case
    got = softmax_cross_entropy(logits, labels, label_smoothing=eps)
    assert got.shape == logits.shape[:-1] and got.dtype == logits.dtype
    want = ref.softmax_cross_entropy(logits, labels, eps)
    # The loss is a difference of terms up to ~20 in size; bfloat16 labels and
    # logits round once more inside, so allow the dtype's ulp at that scale.
    atol = 20 * tol(logits.dtype)["atol"]
    assert_close(got, want, logits.dtype, atol=atol)


@given(ce_cases(dtypes=(jnp.float32,)), st.floats(1e4, 1e6))
def test_cross_entropy_is_stable_for_huge_logits(case, scale):
    """|logits| >= 1e4: finite value and gradient, equal to the float64 answer."""
    logits, labels, eps = case
    big = logits / 10 * jnp.float32(scale)
    loss_fn = functools.partial(softmax_cross_entropy, label_smoothing=eps)
    got = loss_fn(big, labels)
    assert _finite(got) and _finite(jax.grad(lambda z: loss_fn(z, labels).sum())(big))
    # atol: the log-sum-exp is rounded at the scale of the largest logit, a few
    # ulps of |z| (float32 ulp of 1e6 is 0.0625).
    atol = 4 * float(jnp.max(jnp.abs(big))) * 2.0**-23
    assert_close(got, ref.softmax_cross_entropy(big, np.asarray(labels), eps), atol=atol)


@given(ce_cases(dtypes=(jnp.float32,)))
def test_cross_entropy_with_neg_inf_logits_where_target_is_zero(case):
    """A -inf logit with target 0 adds 0 to the loss; no NaN/inf anywhere."""
    logits, labels, _ = case
    k = logits.shape[-1]
    if labels.dtype == jnp.int32:
        target = jax.nn.one_hot(labels, k, dtype=jnp.float32)
    else:
        target = labels
    kill = (target == 0) & (jnp.arange(k) % 2 == 0)
    masked = jnp.where(kill, -jnp.inf, logits)
    loss = softmax_cross_entropy(masked, labels)
    grad = jax.grad(lambda z: softmax_cross_entropy(z, labels).sum())(masked)
    assert _finite(loss) and _finite(grad)
    assert bool(jnp.all(jnp.where(kill, grad, 0.0) == 0))
    want = ref.softmax_cross_entropy(np.asarray(masked), np.asarray(labels))
    assert_close(loss, want, atol=1e-4)  # loss terms up to ~20 in float32


@given(ce_cases(dtypes=(jnp.float32,)))
def test_cross_entropy_jit_and_vmap(case):
    logits, labels, eps = case
    fn = functools.partial(softmax_cross_entropy, label_smoothing=eps)
    np.testing.assert_allclose(jax.jit(fn)(logits, labels), fn(logits, labels), 1e-6)
    batched = jax.vmap(fn)(jnp.stack([logits, -logits]), jnp.stack([labels] * 2))
    looped = jnp.stack([fn(logits, labels), fn(-logits, labels)])
    np.testing.assert_allclose(batched, looped, **tol(jnp.float32))


def test_cross_entropy_check_grads():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(2, 4)), jnp.float32)
    probs = jnp.asarray([[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 0.0]], jnp.float32)
    ids = jnp.array([3, 0])
    for labels, eps in ((ids, 0.0), (ids, 0.2), (probs, 0.0), (probs, 0.3)):
        f = functools.partial(softmax_cross_entropy, labels=labels, label_smoothing=eps)
        check_grads(f, (logits,), order=2, atol=1e-2, rtol=1e-2)
        # atol/rtol 1e-2: float32 finite differences.


def test_label_smoothing_matches_explicit_targets():
    """Smoothing ids equals passing the smoothed one-hot probabilities."""
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    ids = jnp.array([0, 2])
    smoothed = 0.8 * jax.nn.one_hot(ids, 3) + 0.2 / 3
    assert_close(
        softmax_cross_entropy(logits, ids, label_smoothing=0.2),
        softmax_cross_entropy(logits, smoothed),
    )


def test_out_of_range_class_ids_give_nan():
    logits = jnp.zeros((3, 4))
    for eps in (0.0, 0.1):
        loss = softmax_cross_entropy(logits, jnp.array([4, -1, 2]), label_smoothing=eps)
        assert np.isnan(loss[0]) and np.isnan(loss[1]) and np.isfinite(loss[2])


# --- sigmoid binary cross-entropy --------------------------------------------


@st.composite
def bce_cases(draw, dtypes=DTYPES, scale=10.0):
    shape = draw(st.sampled_from([(), (4,), (2, 3)]))  # few shapes: see LAYOUTS
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = jnp.asarray(rng.uniform(-scale, scale, shape).astype(np.float32), dtype)
    labels = rng.random(shape)
    if draw(st.booleans()):
        labels = np.round(labels)
    return logits, jnp.asarray(labels, dtype)


@given(bce_cases())
def test_binary_cross_entropy_matches_reference(case):
    logits, labels = case
    got = sigmoid_binary_cross_entropy(logits, labels)
    assert got.shape == logits.shape and got.dtype == logits.dtype
    want = ref.sigmoid_binary_cross_entropy(logits, labels)
    assert_close(got, want, logits.dtype, atol=10 * tol(logits.dtype)["atol"])
    # atol x10: the loss is up to ~10 in size.


@given(bce_cases(dtypes=(jnp.float32,), scale=1e6))
def test_binary_cross_entropy_is_stable_for_huge_logits(case):
    logits, labels = case
    logits = jnp.where(jnp.abs(logits) < 1e4, 1e4, logits)
    got = sigmoid_binary_cross_entropy(logits, labels)
    grads = jax.grad(
        lambda z, y: sigmoid_binary_cross_entropy(z, y).sum(), argnums=(0, 1)
    )(logits, labels)
    assert _finite(got) and _finite(grads)
    atol = 4 * float(jnp.max(jnp.abs(logits), initial=0)) * 2.0**-23
    assert_close(got, ref.sigmoid_binary_cross_entropy(logits, labels), atol=atol)


def test_binary_cross_entropy_infinite_logits():
    """A term of weight 0 contributes 0 even when its log is -inf."""
    z = jnp.array([-INF, INF, -INF, INF])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    loss = sigmoid_binary_cross_entropy(z, y)
    np.testing.assert_array_equal(loss, [0.0, 0.0, INF, INF])
    grad = jax.grad(lambda z: sigmoid_binary_cross_entropy(z, y)[:2].sum())(z)
    assert _finite(grad)


def test_binary_cross_entropy_check_grads():
    z = jnp.array([-3.0, -0.5, 0.0, 2.0])
    y = jnp.array([0.0, 0.3, 1.0, 0.9])
    check_grads(sigmoid_binary_cross_entropy, (z, y), order=2, atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: float32 finite differences.


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_bad_input(fn):
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        fn(jnp.arange(3))
    with pytest.raises(ValueError, match=r"x must have rank >= 1"):
        fn(jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\).*got 2"):
        fn(jnp.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="axis must not repeat"):
        fn(jnp.zeros((2, 3)), axis=(1, -1))
    with pytest.raises(TypeError, match="axis must be an int"):
        fn(jnp.zeros((2, 3)), axis=1.0)
    with pytest.raises(ValueError, match=r"where must have the shape of x, \(2, 3\)"):
        fn(jnp.zeros((2, 3)), where=jnp.ones((3,), bool))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        fn(jnp.zeros((2, 3)), where=jnp.ones((2, 3)))


def test_cross_entropy_bad_input():
    z = jnp.zeros((2, 3))
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        softmax_cross_entropy(jnp.zeros((2, 3), jnp.int32), jnp.array([0, 1]))
    with pytest.raises(ValueError, match=r"class ids must have shape .*\(2,\); got \(3,\)"):
        softmax_cross_entropy(z, jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"probabilities must have the shape of logits"):
        softmax_cross_entropy(z, jnp.zeros((2, 1)))
    with pytest.raises(TypeError, match="labels must be integer class ids or floating"):
        softmax_cross_entropy(z, jnp.array([True, False]))
    with pytest.raises(ValueError, match=r"logits must have rank >= 1"):
        softmax_cross_entropy(jnp.float32(0), jnp.int32(0))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
            softmax_cross_entropy(z, jnp.array([0, 1]), label_smoothing=bad)
    with pytest.raises(TypeError, match="label_smoothing must be a"):
        softmax_cross_entropy(z, jnp.array([0, 1]), label_smoothing="0.1")
    with pytest.raises(TypeError, match="label_smoothing must be a concrete number"):
        jax.jit(lambda e: softmax_cross_entropy(z, jnp.array([0, 1]), label_smoothing=e))(
            0.1
        )


def test_binary_cross_entropy_bad_input():
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        sigmoid_binary_cross_entropy(jnp.array([1, 2]), jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must have the shape of logits, \(2,\)"):
        sigmoid_binary_cross_entropy(jnp.zeros(2), jnp.zeros((2, 1)))
