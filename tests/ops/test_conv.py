"""Tests of ``jaxcnn.ops.conv`` and ``conv_transpose`` against the NumPy reference.

Compiling dominates the cost: every new shape or geometry compiles an XLA
program (0.1-0.5 s on a loaded 2-core machine). So the reference comparisons
draw their static configuration from fixed pools (every rank x padding form x
padding mode for conv) and only the values from hypothesis; ops are called
eagerly, arrays are made with NumPy and ``device_put``, and the invariants run
fewer examples (see ``FEWER``).
"""

import functools
import itertools
from typing import NamedTuple

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from jax.test_util import check_grads

from jaxcnn.ops import conv, conv_transpose
from jaxcnn.reference import conv as ref
from tests.tolerances import assert_close

MODES = ("zeros", "reflect", "edge", "circular")
DTYPES = (jnp.float32, jnp.bfloat16)
# Largest per-axis input size above the smallest valid one, by rank (3-D is
# kept smaller: the reference loops over every output voxel).
EXTRA_SIZE = {1: 4, 2: 3, 3: 1}


def _dilated(k, d):
    return (k - 1) * d + 1


def _array(rng, shape, dtype):
    """Uniform [-1, 1) values, rounded to ``dtype`` (the reference sees the same)."""
    values = rng.uniform(-1, 1, size=shape).astype(np.float32)
    # Cast in NumPy and device_put: jnp.asarray compiles a program per shape.
    return jax.device_put(values.astype(jnp.dtype(dtype)))


PADDING_KINDS = ("VALID", "SAME", "SAME_LOWER", "int", "pairs")


class Config(NamedTuple):
    """The static part of a conv test case: everything that forces a compile."""

    x_shape: tuple
    k_shape: tuple
    dtype: object
    bias: bool
    kw: dict


def _padding(pick, kind, n_axes):
    """A padding argument of ``kind`` and its explicit pairs (None for SAME)."""
    if kind == "int":
        p = pick(0, 2)
        return p, [(p, p)] * n_axes
    if kind == "pairs":
        pairs = [(pick(0, 2), pick(0, 2)) for _ in range(n_axes)]
        return pairs, pairs
    if kind == "VALID":
        return kind, [(0, 0)] * n_axes
    return kind, None  # a SAME variant: the pads depend on the input size


def _min_size(k, d, pair, mode):
    """Smallest input size that fits the window (and reflect's pad < size)."""
    dk = _dilated(k, d)
    if pair is None:  # a SAME variant: pads stay below dk, so n >= dk is safe
        return dk if mode == "reflect" else 1
    lo, hi = pair
    low = max(1, dk - lo - hi)
    return max(low, lo + 1, hi + 1) if mode == "reflect" else low


def _conv_config(pick, nd, kind, mode, *, dtype, bias, max_stride=3, groups=2):
    """Builds a valid conv configuration; ``pick(lo, hi)`` draws an int."""
    ks = [pick(1, 3 if nd < 3 else 2) for _ in range(nd)]
    ds = [pick(1, 2) for _ in range(nd)]
    ss = [pick(1, max_stride) for _ in range(nd)]
    padding, pairs = _padding(pick, kind, nd)
    sizes = []
    for i in range(nd):
        low = _min_size(ks[i], ds[i], None if pairs is None else pairs[i], mode)
        sizes.append(pick(low, low + EXTRA_SIZE[nd]))
    g = pick(1, groups)
    cin, cout = g * pick(1, 2), g * pick(1, 2)
    kw = dict(
        strides=ss,
        padding=padding,
        dilation=ds,
        feature_group_count=g,
        padding_mode=mode,
    )
    return Config((pick(1, 2), *sizes, cin), (*ks, cin // g, cout), dtype, bias, kw)


def _pool():
    """One configuration per (rank, padding form, padding mode), 60 in all.

    The other knobs (kernel, stride, dilation, sizes, groups, channels, dtype,
    bias) come from a seeded generator. Property tests draw from this pool
    rather than from the whole space so that 200 examples compile at most 60
    programs (compiling dominates the cost, see ``FEWER``).
    """
    pool = []
    for i, (nd, kind, mode) in enumerate(
        itertools.product((1, 2, 3), PADDING_KINDS, MODES)
    ):
        rng = np.random.default_rng(i)

        def pick(lo, hi, rng=rng):
            return int(rng.integers(lo, hi + 1))

        dtype = DTYPES[pick(0, 1)]
        pool.append(_conv_config(pick, nd, kind, mode, dtype=dtype, bias=pick(0, 1)))
    return pool


CONV_POOL = _pool()


@st.composite
def conv_cases(draw, pool=CONV_POOL):
    """A valid call (x, kernel, bias, keyword args) from a pooled config."""
    cfg = draw(st.sampled_from(pool))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = _array(rng, cfg.x_shape, cfg.dtype)
    kernel = _array(rng, cfg.k_shape, cfg.dtype)
    bias = _array(rng, cfg.k_shape[-1:], cfg.dtype) if cfg.bias else None
    return x, kernel, bias, cfg.kw


F32_POOL = [c for c in CONV_POOL if c.dtype == jnp.float32]


@st.composite
def drawn_conv_configs(draw, modes=MODES, **kw):
    """A conv configuration drawn from the whole space (not the pool)."""
    nd = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(PADDING_KINDS))
    mode = draw(st.sampled_from(modes))

    def pick(lo, hi):
        return draw(st.integers(lo, hi))

    return _conv_config(pick, nd, kind, mode, **kw)


# Invariant properties run an eighth of the profile's examples (25 in CI):
# each example compiles new XLA programs, 0.1-0.5 s apiece on a loaded 2-core
# machine, and the ops themselves are covered by the 200-example comparisons
# with the references.
FEWER = settings(max_examples=max(10, settings.default.max_examples // 8))


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _f32(a):
    return jax.device_put(np.asarray(a, dtype=np.float32))


@given(conv_cases())
def test_conv_matches_reference(case):
    """Every rank, padding form, mode, stride, dilation, group count and dtype."""
    x, kernel, bias, kw = case
    got = conv(x, kernel, bias, **kw)
    want = ref.conv(x, kernel, bias, **kw)
    assert got.dtype == x.dtype
    assert got.shape == want.shape
    assert_close(got, want, x.dtype)


@given(conv_cases())
def test_matmul_lowering_matches_reference(case):
    """Tiles times filters gives the reference result for every configuration."""
    x, kernel, bias, kw = case
    got = conv(x, kernel, bias, lowering="matmul", **kw)
    want = ref.conv(x, kernel, bias, **kw)
    assert got.dtype == x.dtype
    assert got.shape == want.shape
    assert_close(got, want, x.dtype)


@FEWER
@given(conv_cases(F32_POOL))
def test_jit_equals_eager(case):
    x, kernel, bias, kw = case
    jitted = jax.jit(functools.partial(conv, **kw))
    assert_close(jitted(x, kernel, bias), conv(x, kernel, bias, **kw))


@FEWER
@given(conv_cases(F32_POOL), st.integers(1, 3))
def test_vmap_equals_loop(case, reps):
    x, kernel, bias, kw = case
    xs = _f32(np.stack([_f64(x) * (i + 1) for i in range(reps)]))  # (B, N, ..., C)
    batched = jax.vmap(lambda xi: conv(xi, kernel, bias, **kw))(xs)
    looped = np.stack([conv(xs[i], kernel, bias, **kw) for i in range(reps)])
    assert_close(batched, looped)


@FEWER
@given(conv_cases(F32_POOL), st.floats(-2, 2))
def test_conv_is_linear_in_x_and_kernel(case, a):
    """conv(a x1 + x2, k) = a conv(x1, k) + conv(x2, k); the same in k.

    Checked for every stride (stride 1 included), mode and padding form. The
    combinations are formed in NumPy, so that only conv compiles.
    """
    x, kernel, _, kw = case
    x1, k1 = _f64(x), _f64(kernel)
    x2, k2 = x1[::-1] * 0.5 - 0.25, k1 * -0.75 + 0.1
    stacked = conv(_f32(np.concatenate([x1, x2, a * x1 + x2])), kernel, **kw)
    y1, y2, y12 = np.split(_f64(stacked), 3)
    # atol 1e-4 instead of 1e-5: the two sides round sums of up to ~50 terms
    # of size <= 3 differently.
    assert_close(y12, a * y1 + y2, jnp.float32, atol=1e-4)
    z2 = conv(x, _f32(k2), **kw)
    z12 = conv(x, _f32(a * k1 + k2), **kw)
    assert_close(z12, a * y1 + _f64(z2), jnp.float32, atol=1e-4)


@st.composite
def same_stride1_cases(draw):
    """Stride-1 SAME convs (any dilation) with a drawn roll per axis.

    Sizes are at least the dilated kernel, so every padding mode is valid.
    """
    nd = draw(st.integers(1, 3))
    ks = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    ds = draw(st.lists(st.integers(1, 2), min_size=nd, max_size=nd))
    sizes = [
        draw(st.integers(_dilated(k, d), _dilated(k, d) + 2))
        for k, d in zip(ks, ds, strict=True)
    ]
    shifts = [draw(st.integers(-n, n)) for n in sizes]
    padding = draw(st.sampled_from(["SAME", "SAME_LOWER"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return sizes, ks, ds, padding, shifts, seed


@FEWER
@given(same_stride1_cases())
def test_circular_conv_is_translation_equivariant(case):
    """Rolling x rolls the output, when padding wraps around and stride is 1."""
    sizes, ks, ds, padding, shifts, seed = case
    rng = np.random.default_rng(seed)
    x = _array(rng, (1, *sizes, 2), jnp.float32)
    kernel = _array(rng, (*ks, 2, 3), jnp.float32)
    kw = dict(padding=padding, dilation=ds, padding_mode="circular")
    axes = tuple(range(1, x.ndim - 1))
    rolled = _f32(np.roll(_f64(x), shifts, axes))
    both = _f64(conv(_f32(np.concatenate([_f64(x), _f64(rolled)])), kernel, **kw))
    assert_close(both[1], np.roll(both[0], shifts, np.array(axes) - 1), jnp.float32)


@FEWER
@given(same_stride1_cases(), st.booleans(), st.sampled_from(MODES))
def test_delta_kernel_is_identity_under_same(case, depthwise, mode):
    """A kernel with a single 1 at the SAME anchor tap copies the input."""
    sizes, ks, _, padding, _, seed = case
    x = _array(np.random.default_rng(seed), (1, *sizes, 3), jnp.float32)
    channels = x.shape[-1]
    # SAME puts (k - 1) // 2 pads low; SAME_LOWER puts k // 2.
    tap = tuple((k - 1) // 2 if padding == "SAME" else k // 2 for k in ks)
    delta = np.zeros(ks, np.float32)
    delta[tap] = 1.0
    if depthwise:  # (*k, 1, C): one delta per channel, groups = C
        kernel, groups = delta[..., None, None] * np.ones((1, channels)), channels
    else:  # (*k, C, C): delta times the identity matrix
        kernel, groups = delta[..., None, None] * np.eye(channels), 1
    y = conv(
        x,
        _f32(kernel),
        padding=padding,
        feature_group_count=groups,
        padding_mode=mode,
    )
    np.testing.assert_array_equal(y, x)


def _transpose_config(pick, nd, kind, *, dtype, bias):
    """Builds a valid conv_transpose configuration; ``pick(lo, hi)`` draws."""
    sizes = [pick(1, 4 if nd < 3 else 2) for _ in range(nd)]
    ks = [pick(1, 3) for _ in range(nd)]
    ds = [pick(1, 2) for _ in range(nd)]
    ss = [pick(1, 3) for _ in range(nd)]
    padding = kind
    if kind == "pairs":  # crops that leave at least one output position
        padding = []
        for n, k, d, s in zip(sizes, ks, ds, ss, strict=True):
            room = ((n - 1) * s + _dilated(k, d) - 1) // 2
            padding.append((pick(0, room), pick(0, room)))
    cin, cout = pick(1, 2), pick(1, 3)
    kw = dict(strides=ss, padding=padding, dilation=ds)
    return Config((pick(1, 2), *sizes, cin), (*ks, cin, cout), dtype, bias, kw)


def _transpose_pool(variants=3):
    """``variants`` configurations per (rank, padding form): 36 in all."""
    pool = []
    kinds = ("VALID", "SAME", "SAME_LOWER", "pairs")
    for i, (nd, kind, _) in enumerate(
        itertools.product((1, 2, 3), kinds, range(variants))
    ):
        rng = np.random.default_rng(1000 + i)

        def pick(lo, hi, rng=rng):
            return int(rng.integers(lo, hi + 1))

        dtype = DTYPES[pick(0, 1)]
        pool.append(_transpose_config(pick, nd, kind, dtype=dtype, bias=pick(0, 1)))
    return pool


TRANSPOSE_POOL = _transpose_pool()


def _transpose_size(n, k, s, d, padding, axis):
    """VALID: (n - 1) s + dilated k; SAME: n s; pairs: VALID minus the crop."""
    if padding in ("SAME", "SAME_LOWER"):
        return n * s
    lo, hi = (0, 0) if padding == "VALID" else padding[axis]
    return (n - 1) * s + _dilated(k, d) - lo - hi


@given(conv_cases(TRANSPOSE_POOL))
def test_conv_transpose_matches_scatter_reference(case):
    x, kernel, bias, kw = case
    got = conv_transpose(x, kernel, bias, **kw)
    want = ref.conv_transpose(x, kernel, bias, **kw)
    assert got.dtype == x.dtype and got.shape == want.shape
    s, d, p = kw["strides"], kw["dilation"], kw["padding"]
    for i, n in enumerate(x.shape[1:-1]):
        assert got.shape[1 + i] == _transpose_size(n, kernel.shape[i], s[i], d[i], p, i)
    assert_close(got, want, x.dtype)


@FEWER
@given(
    drawn_conv_configs(modes=("zeros",), dtype=jnp.float32, bias=False, groups=1),
    st.integers(0, 2**32 - 1),
)
def test_conv_transpose_is_the_adjoint_of_conv(cfg, seed):
    """<conv(x), y> = <x, conv_transpose(y)> with the kernel's I and O swapped.

    The forward input size is chosen so that no input row is dropped by the
    stride (otherwise the transposed output is shorter, as in PyTorch without
    ``output_padding``). Tested for every padding form, not just VALID.
    """
    kw = {k: v for k, v in cfg.kw.items() if k in ("strides", "padding", "dilation")}
    rng = np.random.default_rng(seed)
    kernel = _array(rng, cfg.k_shape, jnp.float32)
    x = jax.ShapeDtypeStruct(cfg.x_shape, jnp.float32)
    y_shape = jax.eval_shape(lambda v: conv(v, kernel, **kw), x).shape
    sizes = _exact_input_sizes(y_shape[1:-1], kernel.shape, kw)
    x = _array(rng, (x.shape[0], *sizes, x.shape[-1]), jnp.float32)
    y = conv(x, kernel, **kw)
    assert y.shape == y_shape
    cotangent = _array(rng, y.shape, jnp.float32)
    transposed = _f32(np.swapaxes(_f64(kernel), -1, -2))  # NumPy: no compile
    back = conv_transpose(cotangent, transposed, **kw)
    assert back.shape == x.shape
    lhs = np.vdot(_f64(y), _f64(cotangent))
    assert_close(lhs, np.vdot(_f64(x), _f64(back)), jnp.float32)


def _exact_input_sizes(out_sizes, kshape, kw):
    """Input sizes whose conv gives ``out_sizes`` using every input row."""
    exact = []
    for i, m in enumerate(out_sizes):
        s, p = kw["strides"][i], kw["padding"]
        if p in ("SAME", "SAME_LOWER"):
            exact.append(m * s)
        else:
            dk = _dilated(kshape[i], kw["dilation"][i])
            lo, hi = (0, 0) if p == "VALID" else (p, p) if isinstance(p, int) else p[i]
            exact.append((m - 1) * s + dk - lo - hi)
    # Pads of at least the kernel extent can leave no input at all.
    assume(min(exact) >= 1)
    return exact


@pytest.mark.parametrize("padding", ["VALID", "SAME", [(1, 0), (2, 1)]])
def test_conv_transpose_equals_the_vjp_of_conv(padding):
    rng = np.random.default_rng(2)
    kernel = _array(rng, (3, 2, 2, 3), jnp.float32)  # (kH, kW, C, O) of conv
    kw = dict(strides=(2, 3), padding=padding, dilation=(1, 2))
    y = _array(rng, (2, 3, 4, 3), jnp.float32)
    x_like = conv_transpose(y, jnp.swapaxes(kernel, -1, -2), **kw)
    out, vjp = jax.vjp(lambda v: conv(v, kernel, **kw), x_like)
    assert out.shape == y.shape
    assert_close(conv_transpose(y, jnp.swapaxes(kernel, -1, -2), **kw), vjp(y)[0])


# check_grads compares autodiff with central differences. Conv is linear in
# each argument, so the difference quotient has no truncation error, only
# float32 rounding error of about ulp(|f|) / eps: with eps = 1e-2 that is ~1e-5
# relative, hence eps 1e-2 and tolerance 2e-3 (JAX's own float32 gradient
# tolerance) rather than the default eps 1e-4, which makes the rounding error
# ~1e-3 and fails by chance.
GRAD_KW = dict(order=1, modes=("fwd", "rev"), eps=1e-2, atol=2e-3, rtol=2e-3)
GRAD_CASES = [
    ((1, 7, 2), (3, 2, 4), dict(padding=[(1, 2)], strides=2)),
    (
        (1, 5, 6, 4),
        (2, 3, 2, 4),
        dict(padding=1, dilation=(2, 1), feature_group_count=2, padding_mode="reflect"),
    ),
    (
        (1, 4, 3, 3, 2),
        (2, 2, 2, 2, 2),
        dict(padding="SAME", dilation=(1, 2, 1), padding_mode="circular"),
    ),
]


@pytest.mark.parametrize("lowering", ["xla", "matmul"])
@pytest.mark.parametrize("x_shape, k_shape, kw", GRAD_CASES)
def test_conv_gradients(x_shape, k_shape, kw, lowering):
    rng = np.random.default_rng(0)
    x = _array(rng, x_shape, jnp.float32)
    kernel = _array(rng, k_shape, jnp.float32)
    bias = _array(rng, k_shape[-1:], jnp.float32)
    check_grads(
        lambda *a: conv(*a, lowering=lowering, **kw), (x, kernel, bias), **GRAD_KW
    )


@pytest.mark.parametrize("padding", ["VALID", [(1, 0), (0, 2)]])
def test_conv_transpose_gradients(padding):
    rng = np.random.default_rng(1)
    x = _array(rng, (1, 3, 4, 2), jnp.float32)
    kernel = _array(rng, (3, 2, 2, 3), jnp.float32)
    kw = dict(strides=(2, 1), padding=padding, dilation=(1, 2))
    check_grads(lambda *a: conv_transpose(*a, **kw), (x, kernel), **GRAD_KW)


def test_hand_computed_values():
    x = jnp.array([1.0, 2.0, 3.0], jnp.float32).reshape(1, 3, 1)
    k = jnp.array([1.0, 10.0, 100.0], jnp.float32).reshape(3, 1, 1)
    # Padded rows: reflect [2 1 2 3 2], edge [1 1 2 3 3], circular [3 1 2 3 1].
    expected = {
        "zeros": [210.0, 321.0, 32.0],
        "reflect": [212.0, 321.0, 232.0],
        "edge": [211.0, 321.0, 332.0],
        "circular": [213.0, 321.0, 132.0],
    }
    for mode, want in expected.items():
        got = conv(x, k, padding="SAME", padding_mode=mode)[0, :, 0]
        np.testing.assert_array_equal(got, want)
    # Stride 2, dilation 2 on [1..7]: taps at 0, 2, 4 of each window start 0, 2.
    x7 = jnp.arange(1.0, 8.0, dtype=jnp.float32).reshape(1, 7, 1)
    got = conv(x7, k, strides=2, dilation=2)[0, :, 0]
    np.testing.assert_array_equal(got, [1 + 30 + 500, 3 + 50 + 700])
    # SAME vs SAME_LOWER with a 2-tap kernel: the odd pad goes high or low.
    k2 = jnp.array([1.0, 10.0], jnp.float32).reshape(2, 1, 1)
    np.testing.assert_array_equal(conv(x, k2, padding="SAME")[0, :, 0], [21, 32, 3])
    lower = conv(x, k2, padding="SAME_LOWER")[0, :, 0]
    np.testing.assert_array_equal(lower, [10, 21, 32])


def _lowered(op, x_shape, k_shape, **kw):
    x = jax.ShapeDtypeStruct(x_shape, jnp.float32)
    k = jax.ShapeDtypeStruct(k_shape, jnp.float32)
    b = jax.ShapeDtypeStruct(k_shape[-1:], jnp.float32)
    return jax.jit(functools.partial(op, **kw)).lower(x, k, b)


HLO_CASES = [
    (conv, (2, 9, 3), (3, 3, 4), dict(padding="SAME", strides=2)),
    (
        conv,
        (2, 9, 8, 4),
        (3, 3, 2, 6),
        dict(padding=1, dilation=2, feature_group_count=2),
    ),
    (conv, (1, 5, 6, 7, 2), (2, 3, 2, 2, 4), dict(padding="SAME_LOWER")),
    (conv, (2, 5, 6, 3), (3, 3, 3, 4), dict(padding="SAME", padding_mode="reflect")),
    (conv_transpose, (2, 5, 6, 3), (3, 3, 3, 4), dict(strides=2, padding="SAME")),
]


@pytest.mark.parametrize("op, x_shape, k_shape, kw", HLO_CASES)
def test_lowered_program_is_one_convolution_without_transposes(
    op, x_shape, k_shape, kw
):
    """NHWC/HWIO dimension numbers: no layout shuffles around the convolution."""
    lowered = _lowered(op, x_shape, k_shape, **kw)
    text = lowered.as_text()
    assert text.count("stablehlo.convolution") == 1
    assert "stablehlo.transpose" not in text
    if jax.default_backend() == "cpu":  # layouts after compilation are per backend
        hlo = lowered.compile().as_text()
        assert hlo.count(" convolution(") == 1
        assert " transpose(" not in hlo and " copy(" not in hlo


def _good():
    x = jnp.zeros((1, 5, 5, 4), jnp.float32)
    k = jnp.zeros((3, 3, 2, 6), jnp.float32)
    return x, k


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(x=jnp.zeros((5, 4))), ValueError, r"x must have rank 3 or 4 or 5"),
        (
            dict(kernel=jnp.zeros((3, 2, 6))),
            ValueError,
            "kernel must have the same rank",
        ),
        (dict(kernel=jnp.zeros((1,) * 6)), ValueError, "kernel must have rank"),
        (dict(kernel=jnp.zeros((3, 3, 4, 6))), ValueError, r"x has 4 input channels"),
        (dict(kernel=jnp.zeros((3, 3, 1, 5))), ValueError, r"output channels O"),
        (dict(feature_group_count=3), ValueError, r"\(3\) must divide the input"),
        (dict(feature_group_count=0), ValueError, "feature_group_count must be pos"),
        (dict(strides=0), ValueError, r"strides must be positive; got \(0, 0\)"),
        (dict(strides=(1, 1, 1)), ValueError, "strides must be an int or a sequence"),
        (dict(dilation=(1, -1)), ValueError, "dilation must be positive"),
        (dict(dilation=3), ValueError, r"kernel window .*\(7, 7\).* larger than"),
        (dict(padding="FULL"), ValueError, "padding .*unknown string 'FULL'"),
        (dict(padding=-1), ValueError, "padding must be non-negative"),
        (dict(padding=[(1, 1)]), ValueError, "padding must have one"),
        (dict(padding_mode="mirror"), ValueError, "padding_mode must be one of"),
        (dict(lowering="im2col"), ValueError, "lowering must be one of"),
        (dict(padding=5, padding_mode="reflect"), ValueError, "pad < the input"),
        (dict(x=jnp.zeros((1, 5, 5, 4), jnp.int32)), TypeError, "x must have a float"),
        (dict(kernel=jnp.zeros((3, 3, 2, 6), jnp.int32)), TypeError, "kernel must"),
        (
            dict(kernel=jnp.zeros((3, 3, 2, 6), jnp.bfloat16)),
            TypeError,
            "same dtype; got x float32 and kernel bfloat16",
        ),
        (
            dict(bias=jnp.zeros((4,))),
            ValueError,
            r"bias must have shape \(O,\) = \(6,\)",
        ),
        (
            dict(bias=jnp.zeros((6,), jnp.bfloat16)),
            TypeError,
            "bias must have the dtype",
        ),
    ],
)
def test_conv_rejects_bad_input(change, error, match):
    x, kernel = _good()
    args = dict(x=x, kernel=kernel, feature_group_count=2)
    assert conv(**args).shape == (1, 3, 3, 6)  # the unchanged call is valid
    args |= change
    with pytest.raises(error, match=match):
        conv(**args)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(kernel=jnp.zeros((3, 3, 2, 6))), ValueError, "x has 4 channels"),
        (dict(padding="FULL"), ValueError, "padding"),
        (dict(padding=[(3, 4), (0, 0)]), ValueError, "crops the whole"),
        (dict(strides=(0, 1)), ValueError, "strides must be positive"),
        (dict(x=jnp.zeros((1, 5, 5, 4), jnp.int32)), TypeError, "x must have a float"),
        (dict(x=jnp.zeros((1, 0, 5, 4))), ValueError, "x spatial sizes"),
    ],
)
def test_conv_transpose_rejects_bad_input(change, error, match):
    args = dict(x=jnp.zeros((1, 2, 5, 4)), kernel=jnp.zeros((3, 3, 4, 6)))
    assert conv_transpose(**args).shape == (1, 4, 7, 6)  # the unchanged call
    args |= change
    with pytest.raises(error, match=match):
        conv_transpose(**args)
