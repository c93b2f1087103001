"""Plain NumPy forward passes of P-Net, R-Net and O-Net (test oracles).

Built independently of ``jaxcnn.ops``: convolution as a sum over kernel
offsets of shifted image slices, Caffe's ceil-mode max pooling as a loop over
output cells with the window clipped at the border, everything in float64.
Parameters are the dicts of ``jaxcnn.mtcnn.nets``.
"""

import math

import numpy as np


def _conv(x, kernel, bias):
    kh, kw, _, o = kernel.shape
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, o))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + h - kh + 1, j : j + w - kw + 1, :]
            out += patch @ kernel[i, j]
    return out + bias


def _prelu(x, alpha):
    return np.maximum(x, 0) + alpha * np.minimum(x, 0)


def _pool_ceil(x, k):
    n, h, w, c = x.shape
    oh, ow = math.ceil((h - k) / 2) + 1, math.ceil((w - k) / 2) + 1
    out = np.empty((n, oh, ow, c))
    for r in range(oh):
        for s in range(ow):
            window = x[:, 2 * r : 2 * r + k, 2 * s : 2 * s + k, :]
            out[:, r, s, :] = window.max(axis=(1, 2))
    return out


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _f64(params):
    return {
        k: {n: np.asarray(v, np.float64) for n, v in d.items()}
        for k, d in params.items()
    }


def _block(p, x, i):
    return _prelu(
        _conv(x, p[f"conv{i}"]["kernel"], p[f"conv{i}"]["bias"]),
        p[f"prelu{i}"]["alpha"],
    )


def _fc(p, x, name):
    return x @ p[name]["kernel"] + p[name]["bias"]


def _flatten_whc(x):
    n, h, w, c = x.shape
    out = np.empty((n, w * h * c))
    for col in range(w):  # column-major over (W, H): matches the shipped weights
        for row in range(h):
            start = (col * h + row) * c
            out[:, start : start + c] = x[:, row, col, :]
    return out


def pnet(params, x):
    """Returns (probs (N, h, w, 2), offsets (N, h, w, 4)) in float64."""
    p = _f64(params)
    x = _pool_ceil(_block(p, np.asarray(x, np.float64), 1), 2)
    x = _block(p, _block(p, x, 2), 3)
    logits = _conv(x, p["conv4_1"]["kernel"], p["conv4_1"]["bias"])
    return _softmax(logits), _conv(x, p["conv4_2"]["kernel"], p["conv4_2"]["bias"])


def rnet(params, x):
    """Returns (probs (N, 2), offsets (N, 4)) in float64."""
    p = _f64(params)
    x = _pool_ceil(_block(p, np.asarray(x, np.float64), 1), 3)
    x = _flatten_whc(_block(p, _pool_ceil(_block(p, x, 2), 3), 3))
    h = _prelu(_fc(p, x, "dense4"), p["prelu4"]["alpha"])
    return _softmax(_fc(p, h, "dense5_1")), _fc(p, h, "dense5_2")


def onet(params, x):
    """Returns (probs (N, 2), offsets (N, 4), landmarks (N, 10)) in float64."""
    p = _f64(params)
    x = _pool_ceil(_block(p, np.asarray(x, np.float64), 1), 3)
    x = _pool_ceil(_block(p, x, 2), 3)
    x = _flatten_whc(_block(p, _pool_ceil(_block(p, x, 3), 2), 4))
    h = _prelu(_fc(p, x, "dense5"), p["prelu5"]["alpha"])
    return (
        _softmax(_fc(p, h, "dense6_1")),
        _fc(p, h, "dense6_2"),
        _fc(p, h, "dense6_3"),
    )
