"""Pooling over the spatial axes of channels-last arrays.

Inputs are ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)`` (see the
shape legend in :mod:`jaxcnn`); windows slide over the spatial axes only, every
channel and batch element separately. All pools take floating inputs.

Geometry, shared by the windowed pools (``max_pool``, ``min_pool``,
``avg_pool``, ``lp_pool``). Per spatial axis with input size ``n``, window
``k``, stride ``s`` and pads ``(lo, hi)`` resolved from ``padding`` by
:func:`jaxcnn.ops.padding.resolve_padding` (``'VALID'``, ``'SAME'`` with the odd
extra pad on the high side as in TensorFlow, ``'SAME_LOWER'``, an int, or one
``(low, high)`` pair per spatial axis), with ``P = n + lo + hi``:

* floor mode (default): ``out = floor((P - k) / s) + 1``;
* ``ceil_mode=True`` (PyTorch's and Caffe's rule): ``out = ceil((P - k) / s) + 1``,
  minus one if the last window would start in the high padding, i.e. at or
  beyond ``n + lo``. The missing cells of the last window are an extra pad on
  the high side, ``max((out - 1) * s + k - P, 0)``.

Padding never wins a max or a min: it acts as ``-inf`` for ``max_pool`` and
``+inf`` for ``min_pool``. To make sure that no window consists of padding
alone, every pad must be smaller than the window (``lo < k`` and ``hi < k``);
larger pads raise a ``ValueError`` naming ``padding``. (PyTorch's stricter rule
is ``pad <= k / 2``; TensorFlow's ``'SAME'`` pads always satisfy ``pad < k``.)

Gradient of ``max_pool`` (and ``min_pool``, ``global_max_pool``,
``adaptive_max_pool``): each output's gradient goes to a single input, the
*first* maximal element of its window in row-major window order (PyTorch's CPU
rule; with NaN in a window the output is NaN and the gradient goes to its first
NaN). Non-overlapping windows (stride >= window on every axis) are computed by
reshaping the input into tiles, with a custom JVP that selects that element
with a comparison mask: no scatter, so it is deterministic on every backend,
and on CPU it is several times faster than differentiating
``lax.reduce_window`` (see ``benchmarks/ops.py``). Overlapping windows fall
back to ``lax.reduce_window``, whose gradient (XLA's select-and-scatter) picks
the first maximum as well on CPU; its determinism on accelerators is XLA's.
"""

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn._checks import (
    as_tuple,
    check_floating,
    check_positive,
    check_rank,
    shape_of,
)
from jaxcnn.ops.padding import check_window_fits, resolve_padding

_RANKS = (3, 4, 5)
_LAYOUT = "(N, W, C), (N, H, W, C) or (N, D, H, W, C)"


@dataclasses.dataclass(frozen=True)
class _Geometry:
    """Per-spatial-axis window geometry of one pooling call.

    Attributes:
      in_sizes: spatial input sizes ``n``.
      window: window sizes ``k``.
      strides: strides ``s``.
      pads: the explicit ``(lo, hi)`` pads resolved from ``padding``.
      extra: the ceil-mode pad added after ``hi`` (0 in floor mode).
      out: the spatial output sizes.
    """

    in_sizes: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    extra: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def full_pads(self) -> tuple[tuple[int, int], ...]:
        """The pads actually applied: explicit pads plus the ceil-mode extra."""
        return tuple(
            (lo, hi + e) for (lo, hi), e in zip(self.pads, self.extra, strict=True)
        )


def _check_input(x, name: str = "x") -> int:
    """Checks a pooling input and returns its number of spatial axes."""
    check_rank(x, name, _RANKS, _LAYOUT)
    check_floating(x, name)
    spatial = shape_of(x)[1:-1]
    if any(n < 1 for n in spatial):
        raise ValueError(
            f"{name} must have non-empty spatial axes; got shape {shape_of(x)}"
        )
    return len(spatial)


def _out_size(n: int, lo: int, hi: int, k: int, s: int, ceil_mode: bool) -> int:
    """Output size of one axis (see the module docstring)."""
    span = n + lo + hi - k
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + lo:  # the last window would start in the high pad
        out -= 1
    return out


def _geometry(x, window_shape, strides, padding, ceil_mode) -> _Geometry:
    """Validates the pooling arguments and works out the window geometry."""
    n_spatial = _check_input(x)
    window = as_tuple(window_shape, n_spatial, "window_shape")
    check_positive(window, "window_shape")
    strides = window if strides is None else as_tuple(strides, n_spatial, "strides")
    check_positive(strides, "strides")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool; got {ceil_mode!r}")
    in_sizes = shape_of(x)[1:-1]
    ones = (1,) * n_spatial
    pads = resolve_padding(padding, in_sizes, window, strides, ones)
    check_window_fits(in_sizes, pads, window, ones, "window_shape")
    if any(lo >= k or hi >= k for (lo, hi), k in zip(pads, window, strict=True)):
        raise ValueError(
            "padding must be smaller than window_shape on both sides of every "
            f"axis, so that no window holds only padding; got pads {pads} for "
            f"window_shape {window} (from padding {padding!r})"
        )
    out = tuple(
        _out_size(n, lo, hi, k, s, bool(ceil_mode))
        for n, (lo, hi), k, s in zip(in_sizes, pads, window, strides, strict=True)
    )
    extra = tuple(
        max((o - 1) * s + k - (n + lo + hi), 0)
        for o, n, (lo, hi), k, s in zip(
            out, in_sizes, pads, window, strides, strict=True
        )
    )
    return _Geometry(in_sizes, window, strides, pads, extra, out)


def _acc_dtype(dtype):
    """Accumulation dtype for sums: float32 for 16-bit floats, else ``dtype``."""
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else jnp.dtype(dtype)


# --- max with the first-maximum gradient ---------------------------------------


# Windows with at most this many cells get their first-maximum mask from an
# unrolled scan over the cells (fast on CPU); larger ones from a min-reduction
# over the cells' row-major positions.
_UNROLL_MAX = 16


def _window_order(shape: Sequence[int], axes: tuple[int, ...]) -> np.ndarray:
    """Row-major position of each element within its window, broadcastable."""
    order = np.zeros([shape[a] if a in axes else 1 for a in range(len(shape))])
    for a in axes:
        view = [-1 if b == a else 1 for b in range(len(shape))]
        order = order * shape[a] + np.arange(shape[a]).reshape(view)
    return order.astype(np.int32)


def _cell(x, offsets, axes):
    """The slice of ``x`` at one offset on each window axis (axes removed)."""
    for j, a in sorted(zip(offsets, axes, strict=True), key=lambda p: -p[1]):
        x = lax.index_in_dim(x, j, a, keepdims=False)
    return x


def _stack_cells(cells, sizes, axes):
    """Inverse of :func:`_cell` over all offsets given in row-major order."""
    for i in reversed(range(len(axes))):  # innermost window axis first
        k = sizes[i]
        cells = [
            jnp.stack(cells[j : j + k], axis=axes[i] - i)
            for j in range(0, len(cells), k)
        ]
    return cells[0]


def _first_max_mask(x, y, valid, axes):
    """True at the first maximal (or first NaN) valid element of each window.

    Args:
      x: the array, each window laid out along ``axes``.
      y: ``x.max(axis=axes)``.
      valid: ``None`` or a boolean array broadcastable to ``x``; False marks
        padding, which is never selected.
      axes: the window axes, a tuple of ints.
    """
    sizes = tuple(x.shape[a] for a in axes)
    if math.prod(sizes) > _UNROLL_MAX:
        y = jnp.expand_dims(y, axes)
        hit = (x == y) | jnp.isnan(x)
        if valid is not None:
            hit = hit & valid
        order = _window_order(x.shape, axes)
        big = np.int32(np.iinfo(np.int32).max)
        first = jnp.min(jnp.where(hit, order, big), axis=axes, keepdims=True)
        return order == first
    found = jnp.zeros(y.shape, bool)
    firsts = []
    for offsets in itertools.product(*(range(k) for k in sizes)):
        cell = _cell(x, offsets, axes)
        hit = ((cell == y) | jnp.isnan(cell)) & ~found
        if valid is not None:
            hit = hit & _cell(valid, offsets, axes)
        found = found | hit
        firsts.append(hit)
    return _stack_cells(firsts, sizes, axes)


def _select_first_max(x, y, t, valid, axes):
    """Tangent of ``max`` over ``axes``: ``t`` at each window's first maximum."""
    mask = _first_max_mask(x, y, valid, axes)
    return jnp.sum(jnp.where(mask, t, jnp.zeros((), t.dtype)), axis=axes)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _first_max(x, valid, axes):
    """``max`` over ``axes`` whose derivative picks the first maximal element.

    Args:
      x: the array, each window laid out along ``axes``.
      valid: ``None`` or a boolean array broadcastable to ``x``; False marks
        padding, which never receives gradient.
      axes: the reduced (window) axes, a tuple of ints.

    Returns:
      ``x.max(axis=axes)``.
    """
    del valid
    return jnp.max(x, axis=axes)


@_first_max.defjvp
def _first_max_jvp(axes, primals, tangents):
    x, valid = primals
    y = jnp.max(x, axis=axes)
    return y, _select_first_max(x, y, tangents[0], valid, axes)


def _tiles_valid(geo: _Geometry):
    """Mask of real (non-padding) cells in the tiled layout, None if all real.

    The tiled layout is ``(1, o_1, k_1, ..., o_d, k_d, 1)``: output position
    ``o`` and offset ``j`` within the window on every spatial axis.
    """
    n_spatial = len(geo.window)
    mask = np.ones((1,) * (2 + 2 * n_spatial), bool)
    for a, (n, (lo, _), s, k, o) in enumerate(
        zip(geo.in_sizes, geo.full_pads, geo.strides, geo.window, geo.out, strict=True)
    ):
        pos = np.arange(o)[:, None] * s + np.arange(k)[None, :] - lo
        shape = [1] * (2 + 2 * n_spatial)
        shape[1 + 2 * a : 3 + 2 * a] = [o, k]
        mask = mask & ((pos >= 0) & (pos < n)).reshape(shape)
    return None if mask.all() else mask


def _tiles(x, geo: _Geometry, fill):
    """Lays non-overlapping windows out as ``(N, o_1, k_1, ..., o_d, k_d, C)``.

    Every axis is padded with ``fill`` (or cropped) to ``out * stride``, split
    into ``(out, stride)``, and cut to ``(out, window)``.
    """
    lows = tuple(lo for lo, _ in geo.full_pads)
    highs = tuple(
        o * s - n - lo
        for o, s, n, lo in zip(geo.out, geo.strides, geo.in_sizes, lows, strict=True)
    )
    config = [(0, 0, 0), *((lo, hi, 0) for lo, hi in zip(lows, highs, strict=True))]
    x = lax.pad(x, np.array(fill, x.dtype), [*config, (0, 0, 0)])
    n_batch, n_chan = x.shape[0], x.shape[-1]
    pairs = zip(geo.out, geo.strides, strict=True)
    tiled = (n_batch, *(d for pair in pairs for d in pair), n_chan)
    pairs = zip(geo.out, geo.window, strict=True)
    limits = (n_batch, *(d for pair in pairs for d in pair), n_chan)
    x = x.reshape(tiled)
    if limits != tiled:  # stride > window: drop the gap after each window
        x = lax.slice(x, (0,) * len(tiled), limits)
    return x


def _reduce_window_max(x, geo: _Geometry):
    return lax.reduce_window(
        x,
        np.array(-np.inf, x.dtype),  # a constant: lax picks the max monoid
        lax.max,
        (1, *geo.window, 1),
        (1, *geo.strides, 1),
        ((0, 0), *geo.full_pads, (0, 0)),
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _max_pool_disjoint(x, geo: _Geometry):
    """Max pool for stride >= window on every axis, with a mask-based JVP.

    The value is XLA's ``reduce_window``; the JVP (and so the gradient, its
    transpose) lays the windows out as tiles and keeps each window's first
    maximum with a comparison mask: no select-and-scatter.
    """
    return _reduce_window_max(x, geo)


@_max_pool_disjoint.defjvp
def _max_pool_disjoint_jvp(geo, primals, tangents):
    (x,), (t,) = primals, tangents
    y = _reduce_window_max(x, geo)
    valid = _tiles_valid(geo)
    axes = tuple(2 + 2 * a for a in range(len(geo.window)))
    xt, tt = _tiles(x, geo, -jnp.inf), _tiles(t, geo, 0)
    return y, _select_first_max(xt, y, tt, valid, axes)


def _max_pool(x, geo: _Geometry):
    """Max pool of a validated input (see the module docstring)."""
    if all(s >= k for s, k in zip(geo.strides, geo.window, strict=True)):
        return _max_pool_disjoint(x, geo)
    return _reduce_window_max(x, geo)


def _window_sum(x, geo: _Geometry):
    """Sum over every window, padding counted as zero."""
    return lax.reduce_window(
        x,
        np.array(0, x.dtype),
        lax.add,
        (1, *geo.window, 1),
        (1, *geo.strides, 1),
        ((0, 0), *geo.full_pads, (0, 0)),
    )


def _window_counts(geo: _Geometry, count_include_pad: bool) -> np.ndarray:
    """Number of cells each window averages over, shape ``(1, *out, 1)``.

    Real input cells always count; the explicit pads count only with
    ``count_include_pad``; the ceil-mode extra cells never count (PyTorch).
    """
    counts = np.ones((1,) * (len(geo.window) + 2))
    for a, (n, (lo, hi), s, k, o) in enumerate(
        zip(geo.in_sizes, geo.pads, geo.strides, geo.window, geo.out, strict=True)
    ):
        start = np.arange(o) * s - lo  # window start in input coordinates
        first, last = (-lo, n + hi) if count_include_pad else (0, n)
        per_axis = np.minimum(start + k, last) - np.maximum(start, first)
        shape = [1] * (len(geo.window) + 2)
        shape[1 + a] = o
        counts = counts * per_axis.reshape(shape)
    return counts


# --- public windowed pools -----------------------------------------------------


def max_pool(x, window_shape, strides=None, padding="VALID", *, ceil_mode=False):
    r"""Maximum over each window; padding acts as ``-inf``.

    .. math:: y[n, i, c] = \max_{j \in \text{window}(i)} x[n, j, c]

    The gradient of each output goes to the first maximal element of its
    window in row-major order (see the module docstring).

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      window_shape: window size, an int or one int per spatial axis, >= 1.
      strides: window strides, an int or one int per spatial axis, >= 1;
        default ``window_shape`` (non-overlapping windows).
      padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'``, an int, or
        one ``(low, high)`` pair per spatial axis; each pad smaller than the
        window.
      ceil_mode: round the output size up instead of down (PyTorch's rule,
        see the module docstring). Default False.

    Returns:
      ``(N, *out, C)`` with ``out`` from the module docstring's formula.

    Raises:
      ValueError: naming ``x`` (rank not 3-5, empty spatial axis),
        ``window_shape`` or ``strides`` (wrong length, not positive, window
        larger than the padded input) or ``padding`` (unknown form, negative,
        not smaller than the window).
      TypeError: if ``x`` is not floating or ``ceil_mode`` is not a bool.

    Example:
      >>> x = jnp.array([1.0, 2.0, 3.0]).reshape(1, 1, 3, 1)
      >>> max_pool(x, (1, 2), ceil_mode=True)[0, :, :, 0]
      Array([[2., 3.]], dtype=float32)
    """
    geo = _geometry(x, window_shape, strides, padding, ceil_mode)
    return _max_pool(jnp.asarray(x), geo)


def min_pool(x, window_shape, strides=None, padding="VALID", *, ceil_mode=False):
    """Minimum over each window; padding acts as ``+inf``.

    Computed as ``-max_pool(-x)``, so the gradient goes to the first minimal
    element of each window.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      window_shape: window size, an int or one int per spatial axis, >= 1.
      strides: window strides, an int or one int per spatial axis, >= 1;
        default ``window_shape`` (non-overlapping windows).
      padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'``, an int, or
        one ``(low, high)`` pair per spatial axis; each pad smaller than the
        window.
      ceil_mode: round the output size up instead of down (PyTorch's rule,
        see the module docstring). Default False.

    Returns:
      ``(N, *out, C)``.

    Raises:
      ValueError: naming ``x`` (rank not 3-5, empty spatial axis),
        ``window_shape`` or ``strides`` (wrong length, not positive, window
        larger than the padded input) or ``padding`` (unknown form, negative,
        not smaller than the window).
      TypeError: if ``x`` is not floating or ``ceil_mode`` is not a bool.
    """
    geo = _geometry(x, window_shape, strides, padding, ceil_mode)
    return -_max_pool(-jnp.asarray(x), geo)


def avg_pool(
    x,
    window_shape,
    strides=None,
    padding="VALID",
    *,
    ceil_mode=False,
    count_include_pad=False,
):
    r"""Mean over each window.

    .. math:: y[n, i, c] = \frac{1}{|w(i)|} \sum_{j \in w(i)} x[n, j, c]

    where ``w(i)`` holds the window's input cells only (the default,
    ``count_include_pad=False``, TensorFlow's convention) or also its explicit
    padding (``count_include_pad=True``, PyTorch's default). Cells added by
    ``ceil_mode`` never count. Sums of 16-bit floats accumulate in float32.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      window_shape: window size, an int or one int per spatial axis, >= 1.
      strides: window strides, an int or one int per spatial axis, >= 1;
        default ``window_shape`` (non-overlapping windows).
      padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'``, an int, or
        one ``(low, high)`` pair per spatial axis; each pad smaller than the
        window.
      ceil_mode: round the output size up instead of down (PyTorch's rule,
        see the module docstring). Default False.
      count_include_pad: divide by the window cells inside the explicitly
        padded input instead of the real input cells only. Default False.

    Returns:
      ``(N, *out, C)`` in the dtype of ``x``.

    Raises:
      ValueError: naming ``x`` (rank not 3-5, empty spatial axis),
        ``window_shape`` or ``strides`` (wrong length, not positive, window
        larger than the padded input) or ``padding`` (unknown form, negative,
        not smaller than the window).
      TypeError: if ``x`` is not floating or ``ceil_mode`` is not a bool.

    Example:
      >>> x = jnp.array([1.0, 2.0]).reshape(1, 2, 1)
      >>> avg_pool(x, 2, 1, "SAME")[0, :, 0]
      Array([1.5, 2. ], dtype=float32)
      >>> avg_pool(x, 2, 1, "SAME", count_include_pad=True)[0, :, 0]
      Array([1.5, 1. ], dtype=float32)
    """
    geo = _geometry(x, window_shape, strides, padding, ceil_mode)
    x = jnp.asarray(x)
    acc = _acc_dtype(x.dtype)
    total = _window_sum(x.astype(acc), geo)
    counts = _window_counts(geo, bool(count_include_pad))
    return (total / jnp.asarray(counts, acc)).astype(x.dtype)


def lp_pool(x, window_shape, strides=None, padding="VALID", *, p=2.0, ceil_mode=False):
    r"""The p-norm of each window, padding counted as zero.

    .. math:: y[n, i, c] = \Big(\sum_{j \in w(i)} |x[n, j, c]|^p\Big)^{1/p}

    Unlike PyTorch's ``LPPool``, which raises ``x`` itself to the power ``p``,
    this takes ``|x|``, so it is a norm for every input; the two agree on
    non-negative inputs. The gradient where a window is all zeros is 0.
    Sums of 16-bit floats accumulate in float32.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      window_shape: window size, an int or one int per spatial axis, >= 1.
      strides: window strides, an int or one int per spatial axis, >= 1;
        default ``window_shape`` (non-overlapping windows).
      padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'``, an int, or
        one ``(low, high)`` pair per spatial axis; each pad smaller than the
        window.
      ceil_mode: round the output size up instead of down (PyTorch's rule,
        see the module docstring). Default False.
      p: the norm's order, a finite real number >= 1. Default 2.

    Returns:
      ``(N, *out, C)`` in the dtype of ``x``.

    Raises:
      ValueError: naming ``x`` (rank not 3-5, empty spatial axis),
        ``window_shape`` or ``strides`` (wrong length, not positive, window
        larger than the padded input) or ``padding`` (unknown form, negative,
        not smaller than the window).
      TypeError: if ``x`` is not floating or ``ceil_mode`` is not a bool.
      ValueError: naming ``p`` if it is not a finite number >= 1.
    """
    geo = _geometry(x, window_shape, strides, padding, ceil_mode)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ValueError(f"p must be a finite real number >= 1; got {p!r}")
    if not (math.isfinite(p) and p >= 1):
        raise ValueError(f"p must be a finite real number >= 1; got {p!r}")
    x = jnp.asarray(x)
    acc = _acc_dtype(x.dtype)
    total = _window_sum(jnp.abs(x.astype(acc)) ** float(p), geo)
    positive = total > 0
    safe = jnp.where(positive, total, jnp.ones((), acc))  # no inf * 0 gradient at 0
    norm = jnp.where(positive, safe ** (1.0 / float(p)), jnp.zeros((), acc))
    return norm.astype(x.dtype)


# --- global and adaptive pools -------------------------------------------------


def _check_keepdims(keepdims) -> bool:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"keepdims must be a bool; got {keepdims!r}")
    return bool(keepdims)


def global_avg_pool(x, *, keepdims=False):
    """Mean over all spatial axes.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      keepdims: keep the spatial axes with size 1. Default False.

    Returns:
      ``(N, C)``, or ``(N, 1, ..., 1, C)`` with ``keepdims``; dtype of ``x``
      (16-bit floats accumulate in float32).

    Raises:
      ValueError: naming ``x`` for a rank other than 3-5.
      TypeError: if ``x`` is not floating or ``keepdims`` is not a bool.
    """
    n_spatial = _check_input(x)
    keepdims = _check_keepdims(keepdims)
    x = jnp.asarray(x)
    axes = tuple(range(1, 1 + n_spatial))
    mean = jnp.mean(x.astype(_acc_dtype(x.dtype)), axis=axes, keepdims=keepdims)
    return mean.astype(x.dtype)


def global_max_pool(x, *, keepdims=False):
    """Maximum over all spatial axes.

    The gradient goes to the first maximal element in row-major order.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      keepdims: keep the spatial axes with size 1. Default False.

    Returns:
      ``(N, C)``, or ``(N, 1, ..., 1, C)`` with ``keepdims``.

    Raises:
      ValueError: naming ``x`` for a rank other than 3-5.
      TypeError: if ``x`` is not floating or ``keepdims`` is not a bool.
    """
    n_spatial = _check_input(x)
    keepdims = _check_keepdims(keepdims)
    axes = tuple(range(1, 1 + n_spatial))
    y = _first_max(jnp.asarray(x), None, axes)
    return jnp.expand_dims(y, axes) if keepdims else y


def _adaptive_bins(n: int, m: int) -> list[tuple[int, int]]:
    """PyTorch's bins: ``[floor(i * n / m), ceil((i + 1) * n / m))``."""
    return [((i * n) // m, -(-((i + 1) * n) // m)) for i in range(m)]


def _adaptive(x, output_size, reduce_axis):
    """Reduces each spatial axis into ``output_size`` bins, innermost first.

    ``reduce_axis(x, axis)`` reduces one axis keeping it with size 1.
    Reducing the innermost axis first makes the max's first-maximum gradient
    rule row-major over the whole bin.
    """
    n_spatial = _check_input(x)
    sizes = as_tuple(output_size, n_spatial, "output_size")
    check_positive(sizes, "output_size")
    x = jnp.asarray(x)
    for axis in reversed(range(1, 1 + n_spatial)):
        n, m = x.shape[axis], sizes[axis - 1]
        if n % m == 0:  # equal bins: view them as a new axis
            shape = (*x.shape[:axis], m, n // m, *x.shape[axis + 1 :])
            x = jnp.squeeze(reduce_axis(x.reshape(shape), axis + 1), axis + 1)
            continue
        pieces = [
            reduce_axis(lax.slice_in_dim(x, lo, hi, axis=axis), axis)
            for lo, hi in _adaptive_bins(n, m)
        ]
        x = jnp.concatenate(pieces, axis=axis)
    return x


def adaptive_avg_pool(x, output_size):
    """Mean over PyTorch's adaptive bins, giving a fixed spatial output size.

    Output index ``i`` of an axis of size ``n`` averages input cells
    ``floor(i * n / m) <= j < ceil((i + 1) * n / m)`` where ``m`` is that
    axis's output size; bins may overlap and ``m`` may exceed ``n``.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      output_size: the spatial output size, an int or one int per axis, >= 1.

    Returns:
      ``(N, *output_size, C)`` in the dtype of ``x`` (16-bit floats accumulate
      in float32).

    Raises:
      ValueError: naming ``x`` (rank) or ``output_size`` (length, not positive).
      TypeError: if ``x`` is not floating.
    """
    _check_input(x)
    x = jnp.asarray(x)

    def mean(v, axis):
        return jnp.mean(v, axis=axis, keepdims=True)

    return _adaptive(x.astype(_acc_dtype(x.dtype)), output_size, mean).astype(x.dtype)


def adaptive_max_pool(x, output_size):
    """Maximum over PyTorch's adaptive bins (see :func:`adaptive_avg_pool`).

    The gradient goes to the first maximal element of each bin in row-major
    order.

    Args:
      x: ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      output_size: the spatial output size, an int or one int per axis, >= 1.

    Returns:
      ``(N, *output_size, C)``.

    Raises:
      ValueError: naming ``x`` (rank) or ``output_size`` (length, not positive).
      TypeError: if ``x`` is not floating.
    """

    def first_max(v, axis):
        return jnp.expand_dims(_first_max(v, None, (axis,)), axis)

    return _adaptive(x, output_size, first_max)
