"""Pooling references: explicit loops over windows in NumPy float64.

Independent of :mod:`jaxcnn.ops` on purpose: the padding strings are resolved
here, output positions are enumerated one window at a time rather than from a
size formula, and every window is classified cell by cell as input, explicit
padding, or a ceil-mode cell past the padded input. Slow; for tests only.

Conventions match :mod:`jaxcnn.ops.pooling`: inputs ``(N, *spatial, C)``;
``padding`` is ``'VALID'``, ``'SAME'`` (odd extra on the high side),
``'SAME_LOWER'``, an int or one ``(low, high)`` pair per spatial axis.
"""

import itertools
import math

import numpy as np


def explicit_pads(padding, in_sizes, window, strides):
    """One ``(low, high)`` pair per spatial axis for any ``padding`` form."""
    d = len(in_sizes)
    if isinstance(padding, str):
        pads = []
        for n, k, s in zip(in_sizes, window, strides, strict=True):
            if padding.upper() == "VALID":
                pads.append((0, 0))
                continue
            needed = (math.ceil(n / s) - 1) * s + k  # cells the windows span
            total = max(needed - n, 0)
            small, big = total // 2, total - total // 2
            pads.append(
                (big, small) if padding.upper() == "SAME_LOWER" else (small, big)
            )
        return pads
    if isinstance(padding, int):
        return [(padding, padding)] * d
    return [tuple(pair) for pair in padding]


def window_starts(n, lo, hi, k, s, ceil_mode):
    """Start of every window, in padded coordinates, by walking the axis.

    Floor mode keeps windows that fit inside the padded input. Ceil mode also
    keeps a window that sticks out past it, as long as it starts before the
    padded end minus ``k`` plus ``s`` and before the high padding begins.
    """
    padded = n + lo + hi
    starts, start = [], 0
    while True:
        fits = start + k <= padded
        partial = ceil_mode and start < padded - k + s and start < n + lo
        if not (fits or partial):
            return starts
        starts.append(start)
        start += s


def _cells(in_sizes, out_index, starts, window, pads):
    """Classifies the cells of one window.

    Returns:
      ``(inside, n_padding)``: the input indices inside the window in row-major
      window order, and how many cells fall in the explicit padding (ceil-mode
      cells past the padded input are not counted).
    """
    inside, n_padding = [], 0
    for offset in itertools.product(*(range(k) for k in window)):
        pos = tuple(
            st[i] + j - lo
            for i, j, st, (lo, _) in zip(out_index, offset, starts, pads, strict=True)
        )
        if all(0 <= p < n for p, n in zip(pos, in_sizes, strict=True)):
            inside.append(pos)
        elif all(p < n + hi for p, n, (_, hi) in zip(pos, in_sizes, pads, strict=True)):
            n_padding += 1
    return inside, n_padding


def _windows(in_sizes, window, strides, padding, ceil_mode):
    """Yields ``(output index, input cells, n_padding)`` for every window."""
    d = len(in_sizes)
    window = (window,) * d if isinstance(window, int) else tuple(window)
    strides = window if strides is None else strides
    strides = (strides,) * d if isinstance(strides, int) else tuple(strides)
    pads = explicit_pads(padding, in_sizes, window, strides)
    starts = [
        window_starts(n, lo, hi, k, s, ceil_mode)
        for n, (lo, hi), k, s in zip(in_sizes, pads, window, strides, strict=True)
    ]
    for oi in itertools.product(*(range(len(st)) for st in starts)):
        yield (oi, *_cells(in_sizes, oi, starts, window, pads))


def output_sizes(in_sizes, window, strides=None, padding="VALID", ceil_mode=False):
    """Spatial output sizes, counted by walking the windows."""
    indices = [
        oi for oi, _, _ in _windows(in_sizes, window, strides, padding, ceil_mode)
    ]
    return tuple(i + 1 for i in indices[-1])  # row-major: the last is the largest


def window_cell_counts(
    in_sizes, window, strides=None, padding="VALID", ceil_mode=False
):
    """How many input cells and explicit-padding cells each window covers.

    Returns:
      ``(inside, padding)``: two integer arrays of the spatial output shape.
    """
    sizes = output_sizes(in_sizes, window, strides, padding, ceil_mode)
    inside, pad = np.zeros(sizes, int), np.zeros(sizes, int)
    for oi, cells, n_padding in _windows(in_sizes, window, strides, padding, ceil_mode):
        inside[oi], pad[oi] = len(cells), n_padding
    return inside, pad


def _pool(x, window, strides, padding, ceil_mode, reduce):
    """Applies ``reduce(values, n_padding)`` to every window of every (n, c)."""
    x = np.asarray(x, np.float64)
    in_sizes = x.shape[1:-1]
    sizes = output_sizes(in_sizes, window, strides, padding, ceil_mode)
    out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
    for oi, cells, n_padding in _windows(in_sizes, window, strides, padding, ceil_mode):
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                vals = np.array([x[(b, *idx, c)] for idx in cells])
                out[(b, *oi, c)] = reduce(vals, n_padding)
    return out


def max_pool(x, window, strides=None, padding="VALID", ceil_mode=False):
    """Maximum over the input cells of each window (padding never wins)."""
    return _pool(x, window, strides, padding, ceil_mode, lambda v, _: v.max())


def min_pool(x, window, strides=None, padding="VALID", ceil_mode=False):
    """Minimum over the input cells of each window."""
    return _pool(x, window, strides, padding, ceil_mode, lambda v, _: v.min())


def avg_pool(
    x, window, strides=None, padding="VALID", ceil_mode=False, count_include_pad=False
):
    """Mean over each window; explicit padding counts as zeros if asked."""

    def mean(v, n_padding):
        count = len(v) + (n_padding if count_include_pad else 0)
        return v.sum() / count

    return _pool(x, window, strides, padding, ceil_mode, mean)


def lp_pool(x, window, strides=None, padding="VALID", ceil_mode=False, p=2.0):
    """``(sum |x|^p) ** (1/p)`` over the input cells of each window."""
    return _pool(
        x,
        window,
        strides,
        padding,
        ceil_mode,
        lambda v, _: (np.abs(v) ** p).sum() ** (1 / p),
    )


def first_max_index(values):
    """Index of the first maximum (or first NaN) in a 1-D sequence."""
    values = np.asarray(values, np.float64)
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        return int(nan[0])
    return int(np.flatnonzero(values == values.max())[0])


def max_pool_grad(x, cotangent, window, strides=None, padding="VALID", ceil_mode=False):
    """Gradient of ``sum(max_pool(x) * cotangent)`` with the first-max rule.

    Each output's cotangent goes to the first maximal input cell of its window
    in row-major window order.
    """
    x = np.asarray(x, np.float64)
    cotangent = np.asarray(cotangent, np.float64)
    grad = np.zeros_like(x)
    in_sizes = x.shape[1:-1]
    for oi, cells, _ in _windows(in_sizes, window, strides, padding, ceil_mode):
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                idx = cells[first_max_index([x[(b, *i, c)] for i in cells])]
                grad[(b, *idx, c)] += cotangent[(b, *oi, c)]
    return grad


def adaptive_bins(n, m):
    """PyTorch's adaptive bins ``[floor(i n / m), ceil((i + 1) n / m))``."""
    return [(math.floor(i * n / m), math.ceil((i + 1) * n / m)) for i in range(m)]


def _adaptive_windows(x, output_size):
    """Yields ``(output index, list of input indices in row-major order)``."""
    in_sizes = x.shape[1:-1]
    bins = [adaptive_bins(n, m) for n, m in zip(in_sizes, output_size, strict=True)]
    for oi in itertools.product(*(range(m) for m in output_size)):
        ranges = [range(*bins[a][i]) for a, i in enumerate(oi)]
        yield oi, list(itertools.product(*ranges))


def adaptive_pool(x, output_size, kind):
    """``kind`` = ``'avg'`` or ``'max'`` over PyTorch's adaptive bins."""
    x = np.asarray(x, np.float64)
    out = np.zeros((x.shape[0], *output_size, x.shape[-1]))
    for oi, cells in _adaptive_windows(x, output_size):
        vals = np.stack([x[:, *idx, :] for idx in cells])  # (cells, N, C)
        out[:, *oi, :] = vals.mean(0) if kind == "avg" else vals.max(0)
    return out


def adaptive_max_pool_grad(x, cotangent, output_size):
    """Gradient of ``sum(adaptive_max_pool(x) * cotangent)``, first-max rule."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for oi, cells in _adaptive_windows(x, output_size):
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                idx = cells[first_max_index([x[(b, *i, c)] for i in cells])]
                grad[(b, *idx, c)] += cotangent[(b, *oi, c)]
    return grad
