"""Tests of ``jaxcnn.ops`` pooling against the window-loop NumPy references.

Shapes are drawn small and ops are called eagerly (no fresh ``jit`` per
example), so the 200-example CI profile stays fast; every padding form,
``ceil_mode``, strides above and below the window, and ranks 3-5 are drawn.
"""

import dataclasses
import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax.test_util import check_grads

from jaxcnn.ops import (
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    global_avg_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    min_pool,
)
from jaxcnn.reference import pooling as ref
from tests.tolerances import assert_close

DTYPES = (jnp.float32, jnp.bfloat16)
# Largest spatial size per axis, by number of spatial axes (3-D kept small: the
# reference loops over every output voxel and every window cell).
MAX_SIZE = {1: 8, 2: 6, 3: 4}


@dataclasses.dataclass
class PoolCase:
    """One valid windowed-pool call: ``x`` and the geometry arguments."""

    x: np.ndarray  # float32 values, already representable in ``dtype``
    dtype: object
    window: tuple
    strides: tuple | None
    padding: object
    ceil_mode: bool

    @property
    def kwargs(self):
        return dict(
            window_shape=self.window,
            strides=self.strides,
            padding=self.padding,
            ceil_mode=self.ceil_mode,
        )

    @property
    def ref_kwargs(self):
        return dict(
            window=self.window,
            strides=self.strides,
            padding=self.padding,
            ceil_mode=self.ceil_mode,
        )

    @property
    def jx(self):
        return jnp.asarray(self.x, self.dtype)


@st.composite
def paddings(draw, window):
    """A padding argument in any accepted form, with pads below the window."""
    kind = draw(
        st.sampled_from(["VALID", "SAME", "SAME_LOWER", "same", "int", "pairs"])
    )
    if kind == "int":
        p = draw(st.integers(0, min(window) - 1))
        return p, [(p, p)] * len(window)
    if kind == "pairs":
        pairs = [
            (draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for k in window
        ]
        return pairs, pairs
    if kind == "VALID":
        return kind, [(0, 0)] * len(window)
    return kind, None  # SAME variants always fit


@st.composite
def pool_cases(draw, dtypes=DTYPES, values="normal", min_stride=1):
    """Draws a valid pooling call of rank 3, 4 or 5.

    ``values``: ``'normal'`` (continuous), ``'ties'`` (small integers, many
    equal maxima) or ``'distinct'`` (a shuffled grid, ties impossible).
    """
    nd = draw(st.integers(1, 3))
    window = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(min_stride, 3)) for _ in range(nd))
    if draw(st.booleans()) and min_stride == 1:
        strides = None  # the default: strides = window
    padding, pairs = draw(paddings(window))
    sizes = []
    for a, k in enumerate(window):
        low = 1 if pairs is None else max(1, k - sum(pairs[a]))
        sizes.append(draw(st.integers(low, max(low, MAX_SIZE[nd]))))
    shape = (draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(dtypes))
    if values == "ties":
        x = rng.integers(-2, 3, size=shape).astype(np.float32)
    elif values == "distinct":
        x = (rng.permutation(np.prod(shape)).reshape(shape) * 0.25 - 3).astype(
            np.float32
        )
    else:
        x = rng.standard_normal(shape).astype(np.float32)
    x = np.asarray(jnp.asarray(x, dtype).astype(jnp.float32))
    return PoolCase(x, dtype, window, strides, padding, draw(st.booleans()))


# --- forward values against the references ------------------------------------


@given(pool_cases())
def test_max_pool_matches_reference(case):
    """Padding acts as -inf: outputs are the max of real cells, never -inf."""
    out = max_pool(case.jx, **case.kwargs)
    expected = ref.max_pool(case.x, **case.ref_kwargs)
    assert out.dtype == case.dtype and out.shape == expected.shape
    assert np.isfinite(np.asarray(out, np.float32)).all()
    assert_close(out, expected, case.dtype)


@given(pool_cases())
def test_min_pool_matches_reference(case):
    out = min_pool(case.jx, **case.kwargs)
    expected = ref.min_pool(case.x, **case.ref_kwargs)
    assert out.dtype == case.dtype and out.shape == expected.shape
    assert_close(out, expected, case.dtype)


@given(pool_cases(), st.booleans())
def test_avg_pool_matches_reference(case, include):
    out = avg_pool(case.jx, **case.kwargs, count_include_pad=include)
    expected = ref.avg_pool(case.x, **case.ref_kwargs, count_include_pad=include)
    assert out.dtype == case.dtype and out.shape == expected.shape
    assert_close(out, expected, case.dtype)


@given(pool_cases(), st.sampled_from([1, 1.5, 2.0, 3]))
def test_lp_pool_matches_reference(case, p):
    out = lp_pool(case.jx, **case.kwargs, p=p)
    expected = ref.lp_pool(case.x, **case.ref_kwargs, p=p)
    assert out.dtype == case.dtype and out.shape == expected.shape
    assert_close(out, expected, case.dtype)


@st.composite
def global_cases(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(nd + 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    x = np.asarray(jnp.asarray(rng.standard_normal(shape), dtype).astype(jnp.float32))
    return x, dtype, draw(st.booleans())


@given(global_cases())
def test_global_avg_pool_matches_numpy(case):
    x, dtype, keepdims = case
    axes = tuple(range(1, x.ndim - 1))
    out = global_avg_pool(jnp.asarray(x, dtype), keepdims=keepdims)
    expected = np.mean(x.astype(np.float64), axis=axes, keepdims=keepdims)
    assert out.dtype == dtype and out.shape == expected.shape
    assert_close(out, expected, dtype)


@given(global_cases())
def test_global_max_pool_matches_numpy(case):
    x, dtype, keepdims = case
    axes = tuple(range(1, x.ndim - 1))
    out = global_max_pool(jnp.asarray(x, dtype), keepdims=keepdims)
    expected = np.max(x, axis=axes, keepdims=keepdims)
    assert out.dtype == dtype and out.shape == expected.shape
    assert_close(out, expected, dtype)


@st.composite
def adaptive_cases(draw, dtypes=DTYPES, ties=False):
    nd = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, MAX_SIZE[nd])) for _ in range(nd))
    out = tuple(draw(st.integers(1, MAX_SIZE[nd])) for _ in range(nd))
    shape = (draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(dtypes))
    x = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)
    x = np.asarray(jnp.asarray(x, dtype).astype(jnp.float32))
    return x, dtype, out


@given(adaptive_cases())
def test_adaptive_avg_pool_matches_reference(case):
    x, dtype, size = case
    out = adaptive_avg_pool(jnp.asarray(x, dtype), size)
    expected = ref.adaptive_pool(x, size, "avg")
    assert out.dtype == dtype and out.shape == expected.shape
    assert_close(out, expected, dtype)


@given(adaptive_cases())
def test_adaptive_max_pool_matches_reference(case):
    x, dtype, size = case
    out = adaptive_max_pool(jnp.asarray(x, dtype), size)
    expected = ref.adaptive_pool(x, size, "max")
    assert out.dtype == dtype and out.shape == expected.shape
    assert_close(out, expected, dtype)


# --- gradients -----------------------------------------------------------------


@given(pool_cases(dtypes=(jnp.float32,), values="ties"))
def test_max_pool_grad_goes_to_first_maximum(case):
    """Both code paths (tiles and reduce_window) give the whole cotangent of a
    window to its first maximal cell in row-major order, ties included."""
    x = case.jx
    y, vjp = jax.vjp(functools.partial(max_pool, **case.kwargs), x)
    ct = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
    (grad,) = vjp(jnp.asarray(ct))
    expected = ref.max_pool_grad(case.x, ct, **case.ref_kwargs)
    assert_close(grad, expected, jnp.float32)


@given(adaptive_cases(dtypes=(jnp.float32,), ties=True))
def test_adaptive_max_pool_grad_goes_to_first_maximum(case):
    x, _, size = case
    y, vjp = jax.vjp(lambda v: adaptive_max_pool(v, size), jnp.asarray(x))
    ct = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    (grad,) = vjp(jnp.asarray(ct))
    assert_close(grad, ref.adaptive_max_pool_grad(x, ct, size), jnp.float32)


def test_global_max_pool_grad_goes_to_first_maximum():
    x = jnp.array([[3.0, 1.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    grad = jax.grad(lambda v: global_max_pool(v).sum())(x)
    np.testing.assert_array_equal(grad[0, :, :, 0], [[1, 0], [0, 0]])


def test_max_pool_grad_with_nan_goes_to_first_nan():
    x = jnp.array([1.0, jnp.nan, 5.0, jnp.nan]).reshape(1, 4, 1)
    y, vjp = jax.vjp(lambda v: max_pool(v, 4), x)
    assert np.isnan(y).all()
    np.testing.assert_array_equal(vjp(jnp.ones_like(y))[0].ravel(), [0, 1, 0, 0])


POOLS = {
    "max": max_pool,
    "min": min_pool,
    "avg": avg_pool,
    "avg_include": functools.partial(avg_pool, count_include_pad=True),
    "lp": functools.partial(lp_pool, p=2.5),
}


# check_grads differentiates numerically in float64 several times per example;
# 30 tie-free examples per pool cover both max-pool paths and every padding form.
@settings(max_examples=30)
@given(
    pool_cases(dtypes=(jnp.float32,), values="distinct"), st.sampled_from(sorted(POOLS))
)
def test_pool_gradients_numerically(case, name):
    """Forward- and reverse-mode gradients agree with finite differences."""
    fn = functools.partial(POOLS[name], **case.kwargs)
    with jax.enable_x64(True):
        x = jnp.asarray(case.x, jnp.float64)
        check_grads(fn, (x,), order=1, modes=("fwd", "rev"), eps=1e-4)


@settings(max_examples=30)  # as above: numerical gradients in float64
@given(adaptive_cases(dtypes=(jnp.float32,)), st.booleans())
def test_adaptive_pool_gradients_numerically(case, use_max):
    x, _, size = case
    op = adaptive_max_pool if use_max else adaptive_avg_pool
    with jax.enable_x64(True):
        check_grads(lambda v: op(v, size), (jnp.asarray(x, jnp.float64),), order=1)


def test_lp_pool_gradient_is_zero_on_an_all_zero_window():
    grad = jax.grad(lambda v: lp_pool(v, 2, p=2).sum())(jnp.zeros((1, 4, 1)))
    np.testing.assert_array_equal(grad, 0.0)


# --- invariants ------------------------------------------------------------------


@given(pool_cases(dtypes=(jnp.float32,)))
def test_max_pool_bounds_avg_pool_bounds_min_pool(case):
    """With the same windows, max >= mean of the real cells >= min."""
    hi = np.asarray(max_pool(case.jx, **case.kwargs))
    mean = np.asarray(avg_pool(case.jx, **case.kwargs))
    lo = np.asarray(min_pool(case.jx, **case.kwargs))
    slack = 1e-6 * (1 + np.abs(mean))  # the mean is rounded once
    assert (hi >= mean - slack).all() and (mean >= lo - slack).all()


# A fresh jit per example compiles every time; 50 examples cover the forms.
@settings(max_examples=50)
@given(pool_cases(), st.sampled_from(sorted(POOLS)))
def test_jit_equals_eager(case, name):
    fn = functools.partial(POOLS[name], **case.kwargs)
    assert_close(jax.jit(fn)(case.jx), fn(case.jx), case.dtype)


@settings(max_examples=50)  # as above: vmap traces and compiles per example
@given(pool_cases(dtypes=(jnp.float32,)), st.sampled_from(sorted(POOLS)))
def test_vmap_equals_loop(case, name):
    fn = functools.partial(POOLS[name], **case.kwargs)
    stacked = jnp.stack([case.jx, -case.jx, 2 * case.jx])
    looped = jnp.stack([fn(v) for v in stacked])
    assert_close(jax.vmap(fn)(stacked), looped, jnp.float32)


def test_default_strides_equal_window():
    x = jnp.arange(36.0).reshape(1, 6, 6, 1)
    np.testing.assert_array_equal(max_pool(x, (2, 3)), max_pool(x, (2, 3), (2, 3)))


def test_ceil_mode_size_rule_drops_a_window_starting_in_the_padding():
    """PyTorch's rule: ceil((5 + 2 - 2) / 3) + 1 = 3, but window 3 would start
    at 6 >= 5 + 1, inside the high pad, so there are 2 outputs."""
    x = jnp.arange(5.0).reshape(1, 5, 1)
    out = max_pool(x, 2, 3, padding=1, ceil_mode=True)
    np.testing.assert_array_equal(out.ravel(), [0.0, 3.0])


# --- a peer: PyTorch ------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("size", [5, 6, 7, 12, 13])
@pytest.mark.parametrize(
    ("k", "s", "p"), [(2, 2, 0), (3, 2, 0), (3, 2, 1), (2, 1, 1), (3, 3, 1)]
)
def test_ceil_mode_matches_pytorch(size, k, s, p):
    """Output sizes and values of max / avg (include-pad) pooling in ceil mode."""
    torch = pytest.importorskip("torch")
    x = (
        np.random.default_rng(size)
        .standard_normal((2, size, size + 1, 3))
        .astype(np.float32)
    )
    tx = torch.from_numpy(x).permute(0, 3, 1, 2)
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=True)
    t_max = torch.nn.functional.max_pool2d(tx, **kw).permute(0, 2, 3, 1).numpy()
    t_avg = torch.nn.functional.avg_pool2d(tx, **kw).permute(0, 2, 3, 1).numpy()
    ours = dict(window_shape=k, strides=s, padding=p, ceil_mode=True)
    assert_close(max_pool(jnp.asarray(x), **ours), t_max)
    assert_close(avg_pool(jnp.asarray(x), **ours, count_include_pad=True), t_avg)


# --- bad input ------------------------------------------------------------------

X4 = jnp.zeros((1, 4, 4, 1))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: max_pool(jnp.zeros((4, 4)), 2),
            ValueError,
            "x must have rank 3, 4 or 5",
        ),
        (lambda: max_pool(jnp.zeros((1,) * 6), 1), ValueError, "x must have rank"),
        (
            lambda: max_pool(jnp.zeros((1, 0, 4, 1)), 1),
            ValueError,
            "x must have non-empty",
        ),
        (
            lambda: max_pool(jnp.zeros((1, 4, 4, 1), jnp.int32), 2),
            TypeError,
            "x must have a floating",
        ),
        (lambda: max_pool(X4, 0), ValueError, "window_shape must be positive"),
        (lambda: max_pool(X4, (2, -1)), ValueError, "window_shape must be positive"),
        (
            lambda: max_pool(X4, (2, 2, 2)),
            ValueError,
            "window_shape must be an int or a sequence of 2",
        ),
        (lambda: max_pool(X4, 2, 0), ValueError, "strides must be positive"),
        (lambda: avg_pool(X4, 2, (1, 0)), ValueError, "strides must be positive"),
        (
            lambda: max_pool(X4, 5),
            ValueError,
            "window_shape window .* larger than the padded",
        ),
        (
            lambda: avg_pool(X4, (1, 6), padding=1),
            ValueError,
            "window_shape window .* larger",
        ),
        (lambda: max_pool(X4, 2, padding="FULL"), ValueError, "padding must be one of"),
        (
            lambda: max_pool(X4, 2, padding=-1),
            ValueError,
            "padding must be non-negative",
        ),
        (
            lambda: max_pool(X4, 2, padding=2),
            ValueError,
            "padding must be smaller than window_shape",
        ),
        (
            lambda: min_pool(X4, 2, padding=((0, 0), (0, 2))),
            ValueError,
            "padding must be smaller",
        ),
        (
            lambda: max_pool(X4, 2, ceil_mode="yes"),
            TypeError,
            "ceil_mode must be a bool",
        ),
        (
            lambda: lp_pool(X4, 2, p=0.5),
            ValueError,
            "p must be a finite real number >= 1",
        ),
        (lambda: lp_pool(X4, 2, p=float("inf")), ValueError, "p must be"),
        (lambda: global_avg_pool(jnp.zeros((3, 3))), ValueError, "x must have rank"),
        (
            lambda: global_max_pool(X4.astype(jnp.int32)),
            TypeError,
            "x must have a floating",
        ),
        (lambda: global_max_pool(X4, keepdims=1), TypeError, "keepdims must be a bool"),
        (lambda: adaptive_avg_pool(X4, 0), ValueError, "output_size must be positive"),
        (
            lambda: adaptive_max_pool(X4, (2, 2, 2)),
            ValueError,
            "output_size must be an int or",
        ),
        (
            lambda: adaptive_max_pool(jnp.zeros((4, 4)), 2),
            ValueError,
            "x must have rank",
        ),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
