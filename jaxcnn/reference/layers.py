"""Naive float64 NumPy references for ``jaxcnn.ops.layers`` (test oracles only).

Built differently from the JAX ops: ``dense`` loops over output and input
units; ``batch_norm`` and ``layer_norm`` gather each group of values with
explicit loops and compute the mean and variance as plain sums divided by
counts.
"""

import numpy as np


def dense(x, kernel, bias=None):
    """``y[..., o] = sum_i x[..., i] * kernel[i, o] (+ bias[o])`` by loops."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    n_in, n_out = kernel.shape
    y = np.zeros(x.shape[:-1] + (n_out,))
    for o in range(n_out):
        acc = np.zeros(x.shape[:-1])
        for i in range(n_in):
            acc = acc + x[..., i] * kernel[i, o]
        y[..., o] = acc + (0.0 if bias is None else float(bias[o]))
    return y


def _mean_var(values):
    n = len(values)
    mean = sum(values) / n
    return mean, sum((v - mean) ** 2 for v in values) / n


def batch_norm(x, scale, bias, mean, var, training, momentum=0.9, eps=1e-5, axis=-1):
    """Per-channel loops; running variance uses ``n / (n - 1)`` times the batch one."""
    x = np.asarray(x, np.float64)
    axis %= x.ndim
    y = np.zeros(x.shape)
    new_mean = np.array(mean, np.float64)
    new_var = np.array(var, np.float64)
    for c in range(x.shape[axis]):
        channel = np.take(x, c, axis=axis)
        values = [float(v) for v in channel.ravel()]
        if training:
            mu, sigma2 = _mean_var(values)
            n = len(values)
            new_mean[c] = momentum * mean[c] + (1 - momentum) * mu
            new_var[c] = momentum * var[c] + (1 - momentum) * sigma2 * n / (n - 1)
        else:
            mu, sigma2 = float(mean[c]), float(var[c])
        g = 1.0 if scale is None else float(scale[c])
        b = 0.0 if bias is None else float(bias[c])
        out = (channel - mu) / np.sqrt(sigma2 + eps) * g + b
        index = [slice(None)] * x.ndim
        index[axis] = c
        y[tuple(index)] = out
    return y, (new_mean, new_var)


def layer_norm(x, scale=None, bias=None, eps=1e-5, axis=-1):
    """Per-example loops over the normalised axes (moved to the end)."""
    x = np.asarray(x, np.float64)
    axes = tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    keep = [a for a in range(x.ndim) if a not in axes]
    perm = keep + sorted(axes)
    moved = np.transpose(x, perm)
    inner = moved.shape[len(keep) :]
    rows = moved.reshape(-1, int(np.prod(inner, dtype=int)))
    g = np.ones(rows.shape[1]) if scale is None else np.ravel(scale).astype(float)
    b = np.zeros(rows.shape[1]) if bias is None else np.ravel(bias).astype(float)
    out = np.zeros(rows.shape)
    for r in range(rows.shape[0]):
        mu, sigma2 = _mean_var([float(v) for v in rows[r]])
        for j in range(rows.shape[1]):
            out[r, j] = (rows[r, j] - mu) / np.sqrt(sigma2 + eps) * g[j] + b[j]
    return np.transpose(out.reshape(moved.shape), np.argsort(perm))
