"""Tests of ``jaxcnn.ops`` pooling against the window-loop NumPy references.

Cost: every drawn geometry is a new XLA program, and compiling it (0.3-0.8 s
of CPU on the 2-core CI machine) dominates these tests. So each example
compiles one program that evaluates every op under test; the compile-bound
properties run fewer examples than the profile (each says why); and the
geometry itself (output sizes, ceil mode, divisors, padding rules) is checked
with the full example count without compiling anything.
"""

import dataclasses
import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
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
from jaxcnn.ops import pooling as pooling_module
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
    equal maxima), ``'mixed'`` (either, drawn) or ``'distinct'`` (a shuffled
    grid, ties impossible).
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
    if values == "mixed":
        values = draw(st.sampled_from(["ties", "normal"]))
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


# --- geometry, without compiling -----------------------------------------------


@given(pool_cases(), st.data())
def test_geometry_matches_the_window_walk(case, data):
    """Output sizes (floor and ceil mode, B04's kind) and the avg divisors
    (real cells only or with explicit padding, B02's kind) of every padding
    form equal the reference's window-by-window count. Pure Python: the full
    example count costs well under a second."""
    geo = pooling_module._geometry(case.x, **case.kwargs)
    in_sizes = case.x.shape[1:-1]
    inside, padding = ref.window_cell_counts(in_sizes, **case.ref_kwargs)
    assert geo.out == inside.shape
    exclude = pooling_module._window_counts(geo, count_include_pad=False)
    include = pooling_module._window_counts(geo, count_include_pad=True)
    np.testing.assert_array_equal(exclude.reshape(inside.shape), inside)
    np.testing.assert_array_equal(include.reshape(inside.shape), inside + padding)
    assert (inside > 0).all()  # no window of padding only (B01's kind)


# --- compiled once per example -------------------------------------------------
# Each example has its own geometry, so each compiles a new XLA program; XLA's
# compile time dominates these tests. One program per example evaluates every
# op under test, and the backend's LLVM optimisation is turned off for these
# test programs (it changes compile time, not the HLO or its numerics).
_jit = functools.partial(
    jax.jit, compiler_options={"xla_backend_optimization_level": 0}
)
GEOMETRY = ("window_shape", "strides", "padding", "ceil_mode")


@functools.partial(_jit, static_argnames=GEOMETRY)
def _windowed_pools(x, cotangent, **geometry):
    """Every windowed pool of ``x``, and the max-pool VJP of ``cotangent``."""
    y, vjp = jax.vjp(lambda v: max_pool(v, **geometry), x)
    return dict(
        max=y,
        max_grad=vjp(cotangent)[0],
        min=min_pool(x, **geometry),
        avg=avg_pool(x, **geometry),
        avg_include=avg_pool(x, **geometry, count_include_pad=True),
        lp1=lp_pool(x, **geometry, p=1),
        lp=lp_pool(x, **geometry, p=2.5),
    )


def _hashable(padding):
    return padding if isinstance(padding, str | int) else tuple(map(tuple, padding))


# Compile-bound (about 0.5 s of CPU per example for its 6 ops and a VJP), but
# this is each pool's comparison with its reference, so it keeps the profile's
# full count (200 in CI).
@given(pool_cases(values="mixed"))
def test_windowed_pools_match_references(case):
    """max, min, avg (both divisors), lp (p = 1, 2.5) and the max-pool gradient.

    Padding acts as -inf for max (outputs never -inf; B01's kind), avg divides
    by real cells or by the explicitly padded window (B02's kind), ceil-mode
    sizes follow PyTorch (B04's kind), and the gradient of every window goes to
    its first maximal cell in row-major order, ties included.
    """
    rk = case.ref_kwargs
    expected_max = ref.max_pool(case.x, **rk)
    ct = np.random.default_rng(0).standard_normal(expected_max.shape)
    ct = np.asarray(jnp.asarray(ct, case.dtype).astype(jnp.float32))
    kw = case.kwargs | dict(padding=_hashable(case.padding))
    got = _windowed_pools(case.jx, jnp.asarray(ct, case.dtype), **kw)
    expected = dict(
        max=expected_max,
        max_grad=ref.max_pool_grad(case.x, ct, **rk),
        min=ref.min_pool(case.x, **rk),
        avg=ref.avg_pool(case.x, **rk),
        avg_include=ref.avg_pool(case.x, **rk, count_include_pad=True),
        lp1=ref.lp_pool(case.x, **rk, p=1),
        lp=ref.lp_pool(case.x, **rk, p=2.5),
    )
    if case.dtype != jnp.float32:  # see test_adaptive_pools_match_reference
        del expected["max_grad"]
    for name, value in expected.items():
        assert got[name].dtype == case.dtype, name
        assert got[name].shape == value.shape, name
        assert_close(got[name], value, case.dtype, err_msg=name)
    assert np.isfinite(np.asarray(got["max"], np.float32)).all()
    # Invariant: max >= mean of the real cells >= min (up to output rounding).
    hi, mean, lo = (np.asarray(got[k], np.float64) for k in ("max", "avg", "min"))
    slack = 1e-2 * (1 + np.abs(mean)) if case.dtype == jnp.bfloat16 else 1e-6
    assert (hi >= mean - slack).all() and (mean >= lo - slack).all()


@_jit
def _global_pools(x):
    return dict(
        avg=global_avg_pool(x),
        max=global_max_pool(x),
        avg_keep=global_avg_pool(x, keepdims=True),
        max_keep=global_max_pool(x, keepdims=True),
    )


@st.composite
def global_cases(draw):
    """Sizes 1 or 3 only, so that examples share compiled programs."""
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.sampled_from([1, 3])) for _ in range(nd + 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    x = np.asarray(jnp.asarray(rng.standard_normal(shape), dtype).astype(jnp.float32))
    return x, dtype


@given(global_cases())
def test_global_pools_match_numpy(case):
    x, dtype = case
    axes = tuple(range(1, x.ndim - 1))
    got = _global_pools(jnp.asarray(x, dtype))
    for keep in (False, True):
        suffix = "_keep" if keep else ""
        expected = dict(
            avg=np.mean(x.astype(np.float64), axis=axes, keepdims=keep),
            max=np.max(x, axis=axes, keepdims=keep),
        )
        for name, want in expected.items():
            value = got[name + suffix]
            assert value.dtype == dtype and value.shape == want.shape
            assert_close(value, want, dtype)


@st.composite
def adaptive_cases(draw, dtypes=DTYPES):
    nd = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, MAX_SIZE[nd])) for _ in range(nd))
    out = tuple(draw(st.integers(1, MAX_SIZE[nd])) for _ in range(nd))
    shape = (draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(dtypes))
    ties = draw(st.booleans())
    x = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)
    x = np.asarray(jnp.asarray(x, dtype).astype(jnp.float32))
    return x, dtype, out


@functools.partial(_jit, static_argnames=("size",))
def _adaptive_pools(x, cotangent, size):
    y, vjp = jax.vjp(lambda v: adaptive_max_pool(v, size), x)
    return adaptive_avg_pool(x, size), y, vjp(cotangent)[0]


# Compile-bound (up to 0.8 s of CPU per example: one slice per bin and a VJP);
# the comparison with the reference keeps the profile's full count.
@given(adaptive_cases())
def test_adaptive_pools_match_reference(case):
    """PyTorch's bins (they overlap when sizes do not divide); the max's
    gradient goes to the first maximum of each bin, ties included."""
    x, dtype, size = case
    ct = np.random.default_rng(1).standard_normal((x.shape[0], *size, x.shape[-1]))
    ct = np.asarray(jnp.asarray(ct, dtype).astype(jnp.float32))
    avg, mx, grad = _adaptive_pools(jnp.asarray(x, dtype), jnp.asarray(ct, dtype), size)
    expected = (
        ref.adaptive_pool(x, size, "avg"),
        ref.adaptive_pool(x, size, "max"),
        ref.adaptive_max_pool_grad(x, ct, size),
    )
    # Gradients of overlapping bins sum several cotangents in the input dtype;
    # in bfloat16 that sum's rounding exceeds the table's tolerance, so the
    # gradient is compared in float32 only.
    checked = (avg, mx, grad) if dtype == jnp.float32 else (avg, mx)
    for got, want in zip(checked, expected, strict=False):
        assert got.dtype == dtype and got.shape == want.shape
        assert_close(got, want, dtype)


# --- gradients -------------------------------------------------------------------


def test_global_max_pool_grad_goes_to_first_maximum():
    x = jnp.array([[3.0, 1.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    grad = jax.jit(jax.grad(lambda v: global_max_pool(v).sum()))(x)
    np.testing.assert_array_equal(grad[0, :, :, 0], [[1, 0], [0, 0]])


def test_max_pool_grad_with_nan_goes_to_first_nan():
    x = jnp.array([1.0, jnp.nan, 5.0, jnp.nan]).reshape(1, 4, 1)
    y, grad = jax.jit(jax.value_and_grad(lambda v: max_pool(v, 4).sum()))(x)
    assert np.isnan(y)
    np.testing.assert_array_equal(grad.ravel(), [0, 1, 0, 0])


def test_max_pool_grad_never_reaches_padding_with_minus_inf_input():
    """A window of real -inf values and padding: the first real cell wins."""
    x = jnp.full((1, 3, 1), -jnp.inf)
    grad = jax.jit(jax.grad(lambda v: max_pool(v, 2, 2, padding=((1, 0),)).sum()))(x)
    np.testing.assert_array_equal(grad.ravel(), [1, 1, 0])


POOLS = {
    "max": max_pool,
    "min": min_pool,
    "avg": avg_pool,
    "avg_include": functools.partial(avg_pool, count_include_pad=True),
    "lp": functools.partial(lp_pool, p=2.5),
}
# Fixed geometries for the costlier checks: disjoint and overlapping windows,
# every padding form, ceil mode, ranks 3-5.
GEOMETRIES = [
    ((2, 5, 3), dict(window_shape=2, padding="VALID", ceil_mode=True)),
    ((1, 5, 6, 2), dict(window_shape=(2, 3), padding="SAME")),
    ((1, 5, 5, 1), dict(window_shape=3, strides=2, padding=1, ceil_mode=True)),
    ((1, 4, 6, 2), dict(window_shape=(3, 2), strides=(1, 3), padding="SAME_LOWER")),
    ((1, 3, 4, 3, 1), dict(window_shape=2, strides=(1, 2, 2), padding=((1, 0),) * 3)),
]


def _distinct(shape, seed=0):
    """Values spaced 0.25 apart in random order: no ties, no kinks nearby."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(np.prod(shape)).reshape(shape) * 0.25 - 2.0).astype(
        np.float64
    )


# Each pool with one geometry, max_pool (two code paths) with all five.
GRAD_CASES = [
    (name, *GEOMETRIES[j])
    for i, name in enumerate(sorted(POOLS))
    for j in (range(len(GEOMETRIES)) if name == "max" else (i,))
]


@pytest.mark.parametrize(("name", "shape", "geometry"), GRAD_CASES)
def test_pool_gradients_numerically(name, shape, geometry):
    """Forward and reverse mode agree with finite differences (float64)."""
    with jax.enable_x64(True):
        fn = jax.jit(functools.partial(POOLS[name], **geometry))
        check_grads(fn, (jnp.asarray(_distinct(shape)),), order=1, eps=1e-4)


@pytest.mark.parametrize("op", [adaptive_avg_pool, adaptive_max_pool])
@pytest.mark.parametrize(("shape", "size"), [((1, 5, 2), (3,)), ((2, 4, 5, 1), (3, 2))])
def test_adaptive_pool_gradients_numerically(op, shape, size):
    with jax.enable_x64(True):
        fn = jax.jit(functools.partial(op, output_size=size))
        check_grads(fn, (jnp.asarray(_distinct(shape)),), order=1, eps=1e-4)


def test_lp_pool_gradient_is_zero_on_an_all_zero_window():
    grad = jax.jit(jax.grad(lambda v: lp_pool(v, 2, p=2).sum()))(jnp.zeros((1, 4, 1)))
    np.testing.assert_array_equal(grad, 0.0)


# --- transformations ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize(("shape", "geometry"), GEOMETRIES[:3])
def test_jit_equals_eager(shape, geometry, name):
    fn = functools.partial(POOLS[name], **geometry)
    x = jnp.asarray(_distinct(shape, seed=3), jnp.float32)
    assert_close(jax.jit(fn)(x), fn(x), jnp.float32)


@pytest.mark.parametrize(("shape", "geometry"), GEOMETRIES[:2])
def test_max_pool_grad_jit_equals_eager(shape, geometry):
    grad = jax.grad(lambda v: jnp.sum(max_pool(v, **geometry) ** 2))
    x = jnp.asarray(_distinct(shape, seed=5), jnp.float32)
    assert_close(jax.jit(grad)(x), grad(x), jnp.float32)


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize(("shape", "geometry"), GEOMETRIES[1:4])
def test_vmap_equals_loop(shape, geometry, name):
    fn = functools.partial(POOLS[name], **geometry)
    x = jnp.asarray(_distinct(shape, seed=4), jnp.float32)
    stacked = jnp.stack([x, -x, 2 * x])
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
@pytest.mark.parametrize("size", [6, 7, 13])
@pytest.mark.parametrize(("k", "s", "p"), [(2, 2, 0), (3, 2, 0), (3, 2, 1), (3, 3, 1)])
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
            "x must have rank 3 or 4 or 5",
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
            lambda: avg_pool(X4, (1, 7), padding=((0, 0), (1, 1))),
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
