"""Tests of softmax, log-softmax and the losses against the float64 references.

Speed: shapes come from small palettes and the ops under test are jitted once
at import (``SOFTMAX`` etc. below), so each (shape, axis, dtype, mask) layout
compiles a single program; values, infinities and masks vary freely. Eager
calls compile every primitive separately (about 0.1 s each on a loaded 2-core
machine), so they are checked against the jitted ops in their own tests.
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

SOFTMAX = jax.jit(softmax, static_argnames="axis")
LOG_SOFTMAX = jax.jit(log_softmax, static_argnames="axis")
JITTED = {softmax: SOFTMAX, log_softmax: LOG_SOFTMAX}
CE = jax.jit(softmax_cross_entropy, static_argnames="label_smoothing")
BCE = jax.jit(sigmoid_binary_cross_entropy)


DTYPES = (jnp.float32, jnp.bfloat16)
INF = np.inf


def _finite(tree):
    """All leaves finite (checked in NumPy: no extra XLA compilations)."""
    leaves = jax.tree.leaves(tree)
    return all(np.all(np.isfinite(np.asarray(v, np.float64))) for v in leaves)


def _np(x):
    return np.asarray(x, np.float64)


F32, BF16 = jnp.float32, jnp.bfloat16
# (shape, axis, dtype, masked) configurations drawn by the properties. A short
# curated list rather than a product: each one compiles one program per op
# (about 0.2 s of CPU each), while values, -inf entries and masks vary freely.
CONFIGS = (
    ((5,), -1, F32, False),
    ((5,), -1, BF16, True),
    ((3, 4), -1, F32, True),
    ((3, 4), 0, F32, False),
    ((3, 4), 0, BF16, False),
    ((2, 3, 2), 1, F32, True),
    ((2, 3, 2), (0, 2), F32, False),
    ((2, 3, 2), (0, 2), BF16, True),
)


@st.composite
def softmax_cases(draw, dtypes=DTYPES, masks=(False, True), neg_inf=True, every=1):
    """(x, axis, where): values in [-8, 8], a few -inf entries, maybe a mask.

    ``every`` thins the configurations (tests of the eager path use fewer).
    """
    configs = [c for c in CONFIGS if c[2] in dtypes and c[3] in masks][::every]
    shape, axis, dtype, masked = draw(st.sampled_from(configs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-8, 8, shape).astype(np.float32)
    if neg_inf and draw(st.booleans()):
        x[rng.random(shape) < draw(st.sampled_from([0.3, 0.9]))] = -INF
    where = None
    if masked:
        where = jnp.asarray(rng.random(shape) < draw(st.floats(0.0, 1.0)))
    return jnp.asarray(x, dtype), axis, where


def _has_live_entry(x, axis, where):
    """Per-row flag (NumPy): some selected entry is finite (row well defined)."""
    live = np.isfinite(_np(x))
    if where is not None:
        live &= np.asarray(where)
    return np.broadcast_to(np.any(live, axis=axis, keepdims=True), live.shape)


@given(softmax_cases())
def test_softmax_matches_reference(case):
    """Any shape, axis or axes, dtype, -inf entries and masks (fully masked too)."""
    x, axis, where = case
    got = SOFTMAX(x, axis=axis, where=where)
    assert got.dtype == x.dtype and got.shape == x.shape
    got, want = _np(got), ref.softmax(x, axis, where)
    live = _has_live_entry(x, axis, where)
    if where is None:  # rows of only -inf are NaN (as jax.nn); compare the rest
        assert np.all(np.isnan(got[~live]))
        got, want = got[live], want[live]
    assert_close(got, want, x.dtype)


@given(softmax_cases())
def test_log_softmax_matches_reference(case):
    x, axis, where = case
    got = LOG_SOFTMAX(x, axis=axis, where=where)
    assert got.dtype == x.dtype and got.shape == x.shape
    got, want = _np(got), ref.log_softmax(x, axis, where)
    live = _has_live_entry(x, axis, where)
    if where is None:
        assert np.all(np.isnan(got[~live]))
        got, want = got[live], want[live]
    assert_close(got, want, x.dtype)


@given(softmax_cases(dtypes=(F32,)))
def test_exp_log_softmax_is_softmax_and_rows_sum_to_one_or_zero(case):
    """exp(log_softmax) == softmax >= 0 in every row, fully masked rows included.

    Rows with a finite selected entry sum to 1; with a mask, the other rows are
    all 0 (without one they are NaN, checked in the reference tests).
    """
    x, axis, where = case
    live = _has_live_entry(x, axis, where)
    p = _np(SOFTMAX(x, axis=axis, where=where))
    q = np.exp(_np(LOG_SOFTMAX(x, axis=axis, where=where)))
    assert_close(q[live], p[live], jnp.float32)
    assert np.all(p[live] >= 0)
    total = np.broadcast_to(np.sum(p, axis=axis, keepdims=True), p.shape)
    assert_close(total[live], 1.0, jnp.float32)
    if where is not None:
        np.testing.assert_array_equal(p[~live], 0.0)
        np.testing.assert_array_equal(q[~live], 0.0)


@given(softmax_cases(dtypes=(F32,), neg_inf=False), st.integers(-1000, 1000))
def test_softmax_ignores_a_constant_shift(case, shift):
    """softmax(x + c) == softmax(x) exactly, for x on a 1/8 grid and integer c.

    On that grid ``x + c`` and ``x - max`` are exact in float32, so the two
    calls see identical shifted values.
    """
    x, axis, where = case
    x = np.round(np.asarray(x) * 8) / 8
    for fn in (SOFTMAX, LOG_SOFTMAX):
        shifted = fn(jnp.asarray(x + np.float32(shift)), axis=axis, where=where)
        np.testing.assert_array_equal(
            shifted, fn(jnp.asarray(x), axis=axis, where=where)
        )


def _weighted_sum(x, weights, axis, where, log):
    out = (log_softmax if log else softmax)(x, axis, where=where)
    # Weight only the finite outputs: -inf outputs times a weight would be NaN.
    return jnp.sum(jnp.where(jnp.isfinite(out), out * weights, 0.0))


GRAD = jax.jit(jax.grad(_weighted_sum), static_argnames=("axis", "log"))


@given(softmax_cases(dtypes=(F32,)))
def test_gradients_are_finite_with_inf_and_masks(case):
    """No NaN in any gradient: -inf entries, partly and fully masked rows."""
    x, axis, where = case
    weights = jnp.asarray(np.linspace(-1, 1, x.size, dtype=np.float32).reshape(x.shape))
    live = _has_live_entry(x, axis, where)
    for log in (False, True):
        grad = _np(GRAD(x, weights, axis=axis, where=where, log=log))
        assert _finite(grad if where is not None else grad[live])


@given(softmax_cases(dtypes=(F32,), every=2))
def test_jit_equals_eager(case):
    """The eager path agrees with the jitted one (fewer layouts: eager calls
    compile one program per primitive)."""
    x, axis, where = case
    for fn in (softmax, log_softmax):
        np.testing.assert_allclose(
            fn(x, axis, where=where),
            JITTED[fn](x, axis=axis, where=where),
            **tol(jnp.float32),
        )


@given(softmax_cases(dtypes=(F32,), masks=(False,)))
def test_vmap_equals_loop(case):
    x, axis, _ = case
    xs = jnp.asarray(np.stack([np.asarray(x) * (i + 1) for i in range(3)]))
    for fn in JITTED.values():
        batched = jax.vmap(functools.partial(fn, axis=axis))(xs)
        looped = np.stack([fn(xi, axis=axis) for xi in np.asarray(xs)])
        np.testing.assert_allclose(batched, looped, **tol(jnp.float32))


@pytest.mark.parametrize(("fn", "masked"), [(softmax, False), (log_softmax, True)])
def test_check_grads(fn, masked):
    x = jnp.asarray(np.random.default_rng(0).uniform(-2, 2, (3, 4)), jnp.float32)
    where = jnp.array([[True, False, True, True], [False] * 4, [True] * 4])
    where = where if masked else None

    @jax.jit  # one compilation per derivative order instead of one per primitive
    def f(x):
        out = fn(x, where=where)
        return jnp.where(jnp.isfinite(out), out, 0.0)

    check_grads(f, (x,), order=2, modes=("fwd", "rev"), atol=1e-2, rtol=1e-2)
    # atol/rtol 1e-2: finite differences in float32 with check_grads' eps.


# --- cross-entropy -----------------------------------------------------------


# (batch shape, K, integer labels, label_smoothing, dtype): a curated list, as
# CONFIGS above; label_smoothing is static, so each value compiles again.
CE_CONFIGS = (
    ((), 5, True, 0.0, F32),
    ((4,), 3, False, 0.0, F32),
    ((2, 3), 4, True, 0.3, F32),
    ((2, 3), 4, False, 1.0, F32),
    ((), 1, False, 0.1, F32),
    ((4,), 3, False, 0.3, BF16),
    ((4,), 3, True, 0.0, BF16),
)


@st.composite
def ce_cases(draw, dtypes=DTYPES, every=1):
    """(logits, labels, label_smoothing): integer ids or probabilities."""
    configs = [c for c in CE_CONFIGS if c[4] in dtypes][::every]
    batch, k, integer, eps, dtype = draw(st.sampled_from(configs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = jnp.asarray(rng.uniform(-10, 10, (*batch, k)).astype(np.float32), dtype)
    if integer:
        labels = jnp.asarray(rng.integers(0, k, batch), jnp.int32)
    else:
        p = rng.random((*batch, k)) * (rng.random((*batch, k)) < 0.7)
        p[..., 0] += 1e-3  # keep every row non-zero
        labels = jnp.asarray(p / p.sum(-1, keepdims=True), dtype)
    return logits, labels, eps


@given(ce_cases())
def test_cross_entropy_matches_reference(case):
    logits, labels, eps = case
    got = CE(logits, labels, label_smoothing=eps)
    assert got.shape == logits.shape[:-1] and got.dtype == logits.dtype
    want = ref.softmax_cross_entropy(logits, labels, eps)
    # The loss is a difference of terms up to ~20 in size; bfloat16 labels and
    # logits round once more inside, so allow the dtype's ulp at that scale.
    atol = 20 * tol(logits.dtype)["atol"]
    assert_close(got, want, logits.dtype, atol=atol)


def _ce_sum(logits, labels, label_smoothing):
    return jnp.sum(
        softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing)
    )


CE_GRAD = jax.jit(jax.grad(_ce_sum), static_argnames="label_smoothing")


@given(ce_cases(dtypes=(F32,)), st.floats(1e4, 1e6))
def test_cross_entropy_is_stable_for_huge_logits(case, scale):
    """|logits| >= 1e4: finite value and gradient, equal to the float64 answer."""
    logits, labels, eps = case
    big = jnp.asarray(np.asarray(logits) / 10 * np.float32(scale))
    got = CE(big, labels, label_smoothing=eps)
    assert _finite(got) and _finite(CE_GRAD(big, labels, label_smoothing=eps))
    # atol: the log-sum-exp is rounded at the scale of the largest logit, a few
    # ulps of |z| (float32 ulp of 1e6 is 0.0625).
    atol = 4 * float(np.max(np.abs(big))) * 2.0**-23
    assert_close(got, ref.softmax_cross_entropy(big, labels, eps), atol=atol)


@given(ce_cases(dtypes=(F32,)))
def test_cross_entropy_with_neg_inf_logits_where_target_is_zero(case):
    """A -inf logit with target 0 adds 0 to the loss; no NaN/inf anywhere."""
    logits, labels, _ = case
    k = logits.shape[-1]
    if labels.dtype == jnp.int32:
        target = np.eye(k)[np.asarray(labels)]
    else:
        target = np.asarray(labels)
    kill = (target == 0) & (np.arange(k) % 2 == 0)
    masked = jnp.asarray(np.where(kill, -INF, np.asarray(logits)).astype(np.float32))
    loss = CE(masked, labels, label_smoothing=0.0)
    grad = _np(CE_GRAD(masked, labels, label_smoothing=0.0))
    assert _finite(loss) and _finite(grad)
    np.testing.assert_array_equal(grad[kill], 0.0)
    want = ref.softmax_cross_entropy(masked, labels)
    assert_close(loss, want, atol=1e-4)  # loss terms up to ~20 in float32


@given(ce_cases((F32,), every=2))
def test_cross_entropy_eager_equals_jit_and_vmap_equals_loop(case):
    """Fewer configurations: eager calls compile once per primitive."""
    logits, labels, eps = case
    jitted = CE(logits, labels, label_smoothing=eps)
    eager = softmax_cross_entropy(logits, labels, label_smoothing=eps)
    np.testing.assert_allclose(eager, jitted, **tol(jnp.float32))
    fn = functools.partial(CE, label_smoothing=eps)
    logits2 = jnp.asarray(np.stack([np.asarray(logits), -np.asarray(logits)]))
    batched = jax.vmap(fn)(logits2, jnp.asarray(np.stack([np.asarray(labels)] * 2)))
    looped = np.stack([fn(z, labels) for z in np.asarray(logits2)])
    np.testing.assert_allclose(batched, looped, **tol(jnp.float32))


def test_cross_entropy_check_grads():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(2, 4)), jnp.float32)
    probs = jnp.asarray([[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 0.0]], jnp.float32)
    ids = jnp.array([3, 0])
    for labels, eps in ((ids, 0.0), (ids, 0.2), (probs, 0.0), (probs, 0.3)):
        f = jax.jit(functools.partial(CE, labels=labels, label_smoothing=eps))
        check_grads(f, (logits,), order=1, atol=1e-2, rtol=1e-2)
        # atol/rtol 1e-2: float32 finite differences.


def test_label_smoothing_matches_explicit_targets():
    """Smoothing ids equals passing the smoothed one-hot probabilities."""
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    ids = jnp.array([0, 2])
    smoothed = jnp.asarray(0.8 * np.eye(3)[[0, 2]] + 0.2 / 3, jnp.float32)
    assert_close(
        CE(logits, ids, label_smoothing=0.2), CE(logits, smoothed, label_smoothing=0.0)
    )


def test_out_of_range_class_ids_give_nan():
    logits = jnp.zeros((3, 4))
    for eps in (0.0, 0.1):
        loss = CE(logits, jnp.array([4, -1, 2]), label_smoothing=eps)
        assert np.isnan(loss[0]) and np.isnan(loss[1]) and np.isfinite(loss[2])


# --- sigmoid binary cross-entropy --------------------------------------------


@st.composite
def bce_cases(draw, dtypes=DTYPES, scale=10.0):
    shape = draw(st.sampled_from([(), (4,), (2, 3)]))  # few shapes: see CONFIGS
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = rng.uniform(-scale, scale, shape).astype(np.float32)
    if scale > 1e4:
        logits = np.where(np.abs(logits) < 1e4, np.float32(1e4), logits)
    labels = rng.random(shape)
    if draw(st.booleans()):
        labels = np.round(labels)
    return jnp.asarray(logits, dtype), jnp.asarray(labels, dtype)


@given(bce_cases())
def test_binary_cross_entropy_matches_reference(case):
    logits, labels = case
    got = BCE(logits, labels)
    assert got.shape == logits.shape and got.dtype == logits.dtype
    want = ref.sigmoid_binary_cross_entropy(logits, labels)
    assert_close(got, want, logits.dtype, atol=10 * tol(logits.dtype)["atol"])
    # atol x10: the loss is up to ~10 in size.


BCE_GRADS = jax.jit(
    jax.grad(lambda z, y: jnp.sum(sigmoid_binary_cross_entropy(z, y)), argnums=(0, 1))
)


@given(bce_cases(dtypes=(F32,), scale=1e6))
def test_binary_cross_entropy_is_stable_for_huge_logits(case):
    """|logits| >= 1e4: finite value and gradients, equal to the float64 answer."""
    logits, labels = case
    got = BCE(logits, labels)
    assert _finite(got) and _finite(BCE_GRADS(logits, labels))
    atol = 4 * float(np.max(np.abs(logits), initial=0)) * 2.0**-23
    assert_close(got, ref.sigmoid_binary_cross_entropy(logits, labels), atol=atol)


@given(bce_cases(dtypes=(F32,)))
def test_binary_cross_entropy_eager_equals_jit(case):
    logits, labels = case
    np.testing.assert_allclose(
        sigmoid_binary_cross_entropy(logits, labels),
        BCE(logits, labels),
        **tol(jnp.float32),
    )


def test_binary_cross_entropy_infinite_logits():
    """A term of weight 0 contributes 0 even when its log is -inf."""
    z = jnp.array([-INF, INF, -INF, INF])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(BCE(z, y), [0.0, 0.0, INF, INF])
    grads = BCE_GRADS(z[:2], y[:2])
    assert _finite(grads)


def test_binary_cross_entropy_check_grads():
    z = jnp.array([-3.0, -0.5, 0.0, 2.0])
    y = jnp.array([0.0, 0.3, 1.0, 0.9])
    check_grads(BCE, (z, y), order=1, atol=1e-2, rtol=1e-2)
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
    with pytest.raises(
        ValueError, match=r"class ids must have shape .*\(2,\); got \(3,\)"
    ):
        softmax_cross_entropy(z, jnp.array([0, 1, 2]))
    with pytest.raises(
        ValueError, match=r"probabilities must have the shape of logits"
    ):
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
    with pytest.raises(
        TypeError, match=r"label_smoothing must be a number in \[0, 1\] \(concrete\)"
    ):
        jax.jit(
            lambda e: softmax_cross_entropy(z, jnp.array([0, 1]), label_smoothing=e)
        )(0.1)


def test_binary_cross_entropy_bad_input():
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        sigmoid_binary_cross_entropy(jnp.array([1, 2]), jnp.array([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"labels must have the shape of logits, \(2,\)"
    ):
        sigmoid_binary_cross_entropy(jnp.zeros(2), jnp.zeros((2, 1)))
