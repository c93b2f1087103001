"""Activation references in NumPy float64, written from their definitions.

Each takes an array-like, returns a float64 array, and says nothing about
gradients (tests pin those separately). The formulas are the textbook ones,
written out directly rather than in the numerically careful forms of
:mod:`jaxcnn.ops.activations`, so keep inputs moderate (``|x| < 30``).
"""

import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017, eq. 14
SELU_SCALE = 1.0507009873554804934193349852946


def _f64(x):
    return np.asarray(x, np.float64)


def relu(x):
    """max(x, 0)."""
    x = _f64(x)
    return np.where(x > 0, x, 0.0)


def relu6(x):
    """min(max(x, 0), 6)."""
    return np.minimum(relu(x), 6.0)


def leaky_relu(x, negative_slope=0.01):
    """Identity for x >= 0, else negative_slope * x."""
    x = _f64(x)
    return np.where(x >= 0, x, negative_slope * x)


def prelu(x, alpha):
    """Identity for x >= 0, else alpha * x (alpha over the last axis)."""
    x = _f64(x)
    return np.where(x >= 0, x, _f64(alpha) * x)


def elu(x, alpha=1.0):
    """Identity for x > 0, else alpha (e^x - 1)."""
    x = _f64(x)
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0.0)) - 1.0))


def selu(x):
    """SELU_SCALE * elu(x, SELU_ALPHA)."""
    return SELU_SCALE * elu(x, SELU_ALPHA)


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""
    x = _f64(x)
    return np.maximum(x, 0.0) + np.minimum(0.0, alpha * (np.exp(x / alpha) - 1.0))


def sigmoid(x):
    """1 / (1 + e^-x)."""
    return 1.0 / (1.0 + np.exp(-_f64(x)))


def tanh(x):
    """(e^x - e^-x) / (e^x + e^-x)."""
    x = _f64(x)
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def gelu(x, approximate=False):
    """The product x Phi(x), Phi from math.erfc; or the tanh approximation."""
    x = _f64(x)
    if approximate:
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1.0 + np.tanh(inner))
    cdf = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2.0)))(x)
    return x * cdf


def silu(x):
    """The product x sigmoid(x)."""
    return _f64(x) * sigmoid(x)


def softplus(x):
    """log(1 + e^x)."""
    return np.log1p(np.exp(_f64(x)))


def mish(x):
    """The product x tanh(softplus(x))."""
    return _f64(x) * np.tanh(softplus(x))


def hard_sigmoid(x):
    """clip(x + 3, 0, 6) / 6."""
    x = _f64(x)
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def hard_swish(x):
    """The product x hard_sigmoid(x)."""
    return _f64(x) * hard_sigmoid(x)
