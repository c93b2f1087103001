"""Naive float64 NumPy references for ``jaxcnn.ops.conv`` (test oracles only).

Built differently from the JAX ops on purpose:

* padding is resolved here by search (the smallest total pad that gives
  ``ceil(in / stride)`` windows), not by the closed form of
  :mod:`jaxcnn.ops.padding`;
* every padding mode fills the padded array by per-axis index arithmetic, not
  ``np.pad``;
* convolution cuts the dilated tile for each output position out of the padded
  input and loops over groups and filters;
* the transposed convolution scatters each input pixel times the kernel into
  the output, then crops.

Shapes follow the package legend (see ``jaxcnn``). Slow; use tiny inputs.
"""

import itertools

import numpy as np


def _dilated(k: int, d: int) -> int:
    return (k - 1) * d + 1


def _same_pair(n: int, k: int, s: int, d: int, lower: bool) -> tuple[int, int]:
    """Smallest total pad that yields ceil(n / s) windows, split TF-style."""
    want = -(-n // s)
    total = 0
    while (n + total - _dilated(k, d)) // s + 1 < want or n + total < _dilated(k, d):
        total += 1
    half = total // 2
    return (total - half, half) if lower else (half, total - half)


def pads_for(padding, in_sizes, k_sizes, strides, dilations):
    """Returns ``(low, high)`` per axis for a string, an int or explicit pairs."""
    if isinstance(padding, str):
        name = padding.upper()
        if name == "VALID":
            return [(0, 0)] * len(in_sizes)
        return [
            _same_pair(n, k, s, d, lower=name == "SAME_LOWER")
            for n, k, s, d in zip(in_sizes, k_sizes, strides, dilations, strict=True)
        ]
    if isinstance(padding, int):
        return [(padding, padding)] * len(in_sizes)
    return [tuple(p) for p in padding]


def _source_index(t: int, n: int, mode: str) -> int | None:
    """Index into an axis of length ``n`` that padded position ``t`` copies.

    ``t`` counts from the first real element (negative inside the low pad);
    ``None`` means the position holds a zero.
    """
    if 0 <= t < n:
        return t
    if mode == "zeros":
        return None
    if mode == "edge":
        return 0 if t < 0 else n - 1
    if mode == "circular":
        return t % n
    if mode == "reflect":
        period = 2 * (n - 1)
        if period == 0:
            return 0
        t = abs(t) % period
        return t if t < n else period - t
    raise ValueError(f"unknown padding mode {mode!r}")


def pad(x, pads, mode: str = "zeros") -> np.ndarray:
    """Pads the spatial axes of ``(N, *spatial, C)`` by index arithmetic.

    Args:
      x: array ``(N, *spatial, C)``.
      pads: one ``(low, high)`` per spatial axis.
      mode: ``'zeros'``, ``'reflect'`` (mirror, edge not repeated), ``'edge'``
        or ``'circular'``.
    """
    out = np.asarray(x, dtype=np.float64)
    for axis, (lo, hi) in enumerate(pads, start=1):
        n = out.shape[axis]
        sources = [_source_index(t, n, mode) for t in range(-lo, n + hi)]
        shape = list(out.shape)
        shape[axis] = len(sources)
        padded = np.zeros(shape)
        for dst, src in enumerate(sources):
            if src is not None:
                dst_idx = [slice(None)] * out.ndim
                src_idx = [slice(None)] * out.ndim
                dst_idx[axis], src_idx[axis] = dst, src
                padded[tuple(dst_idx)] = out[tuple(src_idx)]
        out = padded
    return out


def conv(
    x,
    kernel,
    bias=None,
    *,
    strides=1,
    padding="VALID",
    dilation=1,
    feature_group_count=1,
    padding_mode="zeros",
) -> np.ndarray:
    """Reference of ``jaxcnn.ops.conv``: tiles times filters, in float64."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    nsp = x.ndim - 2
    strides = (strides,) * nsp if isinstance(strides, int) else tuple(strides)
    dilation = (dilation,) * nsp if isinstance(dilation, int) else tuple(dilation)
    k_sizes = kernel.shape[:nsp]
    pads = pads_for(padding, x.shape[1:-1], k_sizes, strides, dilation)
    xp = pad(x, pads, padding_mode)
    out_sizes = [
        (n - _dilated(k, d)) // s + 1
        for n, k, s, d in zip(xp.shape[1:-1], k_sizes, strides, dilation, strict=True)
    ]
    groups, cin_g, n_out = feature_group_count, kernel.shape[-2], kernel.shape[-1]
    cout_g = n_out // groups
    y = np.zeros((x.shape[0], *out_sizes, n_out))
    for pos in itertools.product(*(range(m) for m in out_sizes)):
        rows = [
            p * s + np.arange(k) * d
            for p, s, k, d in zip(pos, strides, k_sizes, dilation, strict=True)
        ]
        tile = xp[(slice(None), *np.ix_(*rows), slice(None))]  # (N, *k, C)
        for g in range(groups):
            part = tile[..., g * cin_g : (g + 1) * cin_g]
            for o in range(g * cout_g, (g + 1) * cout_g):
                w = kernel[..., o]  # (*k, I)
                y[(slice(None), *pos, o)] = (part * w).reshape(len(part), -1).sum(1)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)
    return y


def conv_transpose(
    x, kernel, bias=None, *, strides=1, padding="VALID", dilation=1
) -> np.ndarray:
    """Reference of ``jaxcnn.ops.conv_transpose``: scatter, then crop."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)  # (*k, I, O)
    nsp = x.ndim - 2
    strides = (strides,) * nsp if isinstance(strides, int) else tuple(strides)
    dilation = (dilation,) * nsp if isinstance(dilation, int) else tuple(dilation)
    in_sizes, k_sizes = x.shape[1:-1], kernel.shape[:nsp]
    full = [
        (n - 1) * s + _dilated(k, d)
        for n, s, k, d in zip(in_sizes, strides, k_sizes, dilation, strict=True)
    ]
    z = np.zeros((x.shape[0], *full, kernel.shape[-1]))
    for pos in itertools.product(*(range(n) for n in in_sizes)):
        pixel = x[(slice(None), *pos)]  # (N, I)
        for tap in itertools.product(*(range(k) for k in k_sizes)):
            dst = tuple(
                p * s + t * d
                for p, s, t, d in zip(pos, strides, tap, dilation, strict=True)
            )
            z[(slice(None), *dst)] += pixel @ kernel[tap]
    z = _crop(z, padding, in_sizes, k_sizes, strides, dilation)
    if bias is not None:
        z += np.asarray(bias, dtype=np.float64)
    return z


def _crop(z, padding, in_sizes, k_sizes, strides, dilation):
    """Crops the full scatter output as ``padding`` says (see the op's docs)."""
    same = isinstance(padding, str) and padding.upper() != "VALID"
    if same:
        fwd = [n * s for n, s in zip(in_sizes, strides, strict=True)]
        pads = pads_for(padding, fwd, k_sizes, strides, dilation)
        # Append zeros so the crop below always has room for in * s positions.
        sizes = z.shape[1:-1]
        z = pad(z, [(0, max(f - w, 0)) for f, w in zip(fwd, sizes, strict=True)])
        index = [slice(lo, lo + f) for (lo, _), f in zip(pads, fwd, strict=True)]
    else:
        pads = pads_for(padding, in_sizes, k_sizes, strides, dilation)
        sizes = z.shape[1:-1]
        index = [slice(lo, w - hi) for (lo, hi), w in zip(pads, sizes, strict=True)]
    return z[(slice(None), *index, slice(None))]
