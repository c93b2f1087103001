"""Naive float64 NumPy references for ``jaxcnn.kernels`` (test oracles only).

Built differently from the JAX code: ``filter2d`` loops over every output pixel
and kernel tap and reads the image directly, treating out-of-range positions
as zero (no padded copy, no convolution call); ``smooth1d`` is the explicit
double loop over times and ages of its defining sum.
"""

import numpy as np


def same_pads(k: int) -> tuple[int, int]:
    """TensorFlow SAME pads at stride 1: total ``k - 1``, odd extra on the high side."""
    total = k - 1
    return total // 2, total - total // 2


def filter2d(image, kernel, pads=None):
    """Cross-correlates every channel of ``(H, W, C)`` / ``(N, H, W, C)`` by loops.

    Args:
      image: the image.
      kernel: ``(kH, kW)``.
      pads: ``((top, bottom), (left, right))``; default SAME.
    """
    x = np.asarray(image, np.float64)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    k = np.asarray(kernel, np.float64)
    n, h, w, c = x.shape
    kh, kw = k.shape
    if pads is None:
        pads = (same_pads(kh), same_pads(kw))
    (top, bottom), (left, right) = pads
    oh, ow = h + top + bottom - kh + 1, w + left + right - kw + 1
    out = np.zeros((n, oh, ow, c))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    acc = 0.0
                    for u in range(kh):
                        for v in range(kw):
                            r, s = i + u - top, j + v - left
                            if 0 <= r < h and 0 <= s < w:
                                acc += x[b, r, s, ch] * k[u, v]
                    out[b, i, j, ch] = acc
    return out[0] if squeeze else out


def smooth1d(signal, weights):
    """``s(t) = sum_a x(t - a) w(a)`` for ``t = L-1 .. T-1`` by a double loop."""
    x = np.asarray(signal, np.float64)
    w = np.asarray(weights, np.float64)
    length, taps = x.shape[-1], len(w)
    out = np.zeros(x.shape[:-1] + (length - taps + 1,))
    for t in range(taps - 1, length):
        acc = np.zeros(x.shape[:-1])
        for a in range(taps):
            acc = acc + x[..., t - a] * w[a]
        out[..., t - taps + 1] = acc
    return out
