"""Elementwise activation functions.

Every function takes a floating array of any shape and returns one of the same
shape and dtype (``TypeError`` for integer input). The smooth ones compute
16-bit inputs in float32 and round once at the end. NaN maps to NaN.

Piecewise functions are built with ``jnp.where`` so that the derivative at a
kink is the one PyTorch uses, the same under ``jit`` and eagerly:

==============  ===============================================================
function        derivative at the kinks
==============  ===============================================================
relu            0 at 0
relu6           0 at 0 and at 6
leaky_relu      ``negative_slope`` at 0
prelu           ``alpha`` at 0
elu             ``alpha`` at 0 (the left-hand limit; 1 by default)
celu            1 at 0 for every ``alpha``
selu            ``SELU_SCALE * SELU_ALPHA`` at 0 (the left-hand limit)
hard_sigmoid    0 at -3 and at 3
hard_swish      0 at -3 and 1 at 3 (the outer pieces' slopes)
==============  ===============================================================
"""

import math

import jax.numpy as jnp
from jax import lax

from jaxcnn._checks import check_floating, check_real_scalar, shape_of

# SELU constants, Klambauer et al., "Self-Normalizing Neural Networks" (2017),
# arXiv:1706.02515, eq. (14) (the values for zero mean and unit variance).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# tanh-approximation constant of GELU, Hendrycks and Gimpel, "Gaussian Error
# Linear Units (GELUs)" (2016), arXiv:1606.08415, section 2.
GELU_TANH_COEFF = 0.044715


def _float(x):
    """Checks that ``x`` is floating and returns it as a JAX array."""
    check_floating(x, "x")
    return jnp.asarray(x)


def _wide(x):
    """``x`` in float32 if it is a 16-bit float, else unchanged."""
    return x.astype(jnp.float32) if x.dtype.itemsize < 4 else x


def _zero(x):
    return jnp.zeros((), x.dtype)


def relu(x):
    """Rectified linear unit, ``max(x, 0)``, with derivative 0 at 0.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    return jnp.where(x <= 0, _zero(x), x)


def relu6(x):
    """``min(max(x, 0), 6)``, with derivative 0 at 0 and at 6.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    six = jnp.full((), 6, x.dtype)
    return jnp.where(x <= 0, _zero(x), jnp.where(x >= 6, six, x))


def leaky_relu(x, negative_slope=0.01):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    The derivative at 0 is ``negative_slope``, as in PyTorch.

    Args:
      x: floating array of any shape.
      negative_slope: the slope for ``x <= 0``, a real scalar. Default 0.01.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    check_real_scalar(negative_slope, "negative_slope")
    return jnp.where(x > 0, x, x * jnp.asarray(negative_slope, x.dtype))


def prelu(x, alpha):
    r"""Parametric ReLU with one learned slope per channel (last axis).

    .. math:: y = x \text{ if } x > 0 \text{ else } \alpha_c x

    He et al., "Delving Deep into Rectifiers" (2015), arXiv:1502.01852. The
    derivative at 0 is ``alpha`` (PyTorch). ``alpha`` is cast to ``x``'s dtype.

    Args:
      x: floating array ``(..., C)``.
      alpha: floating array ``(C,)``, the slopes for ``x <= 0``.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` or ``alpha`` is not floating.
      ValueError: naming ``alpha`` if its shape is not ``(C,)``.
    """
    x = _float(x)
    check_floating(alpha, "alpha")
    if x.ndim == 0:
        raise ValueError("x must have a channel axis (..., C) for prelu; got a scalar")
    channels = x.shape[-1]
    if shape_of(alpha) != (channels,):
        raise ValueError(
            f"alpha must have shape (C,) = ({channels},), one slope per channel "
            f"of x (shape {x.shape}); got shape {shape_of(alpha)}"
        )
    return jnp.where(x > 0, x, x * jnp.asarray(alpha).astype(x.dtype))


def _elu_core(x, alpha):
    """``x`` if positive else ``alpha * expm1(x)``, NaN-free in its gradient."""
    negative = jnp.where(x > 0, _zero(x), x)  # keeps exp from overflowing
    return jnp.where(x > 0, x, alpha * jnp.expm1(negative))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (e^x - 1)``.

    Clevert et al., "Fast and Accurate Deep Network Learning by Exponential
    Linear Units (ELUs)" (2015), arXiv:1511.07289.

    Args:
      x: floating array of any shape.
      alpha: the negative saturation value, a real scalar. Default 1.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    check_real_scalar(alpha, "alpha")
    w = _wide(x)
    return _elu_core(w, jnp.asarray(alpha, w.dtype)).astype(x.dtype)


def selu(x):
    """Scaled ELU, ``SELU_SCALE * elu(x, SELU_ALPHA)`` (Klambauer et al. 2017).

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    out = SELU_SCALE * _elu_core(w, jnp.asarray(SELU_ALPHA, w.dtype))
    return out.astype(x.dtype)


def celu(x, alpha=1.0):
    """Continuously differentiable ELU.

    ``x`` for ``x > 0``, else ``alpha * (e^(x / alpha) - 1)``.

    Barron, "Continuously Differentiable Exponential Linear Units" (2017),
    arXiv:1704.07483.

    Args:
      x: floating array of any shape.
      alpha: a non-zero real scalar. Default 1.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
      ValueError: naming ``alpha`` if it is 0.
    """
    x = _float(x)
    check_real_scalar(alpha, "alpha")
    if isinstance(alpha, (int, float)) and alpha == 0:
        raise ValueError(f"alpha must be non-zero for celu; got {alpha!r}")
    w = _wide(x)
    a = jnp.asarray(alpha, w.dtype)
    negative = jnp.where(w > 0, _zero(w), w)
    return jnp.where(w > 0, w, a * jnp.expm1(negative / a)).astype(x.dtype)


def gelu(x, approximate=False):
    r"""Gaussian error linear unit, ``x * Phi(x)`` (Hendrycks and Gimpel 2016).

    .. math::
        \text{exact: } \tfrac{x}{2}\big(1 + \operatorname{erf}(x / \sqrt 2)\big),
        \qquad \text{tanh: } \tfrac{x}{2}\big(1 + \tanh(\sqrt{2/\pi}
        (x + 0.044715 x^3))\big)

    Args:
      x: floating array of any shape.
      approximate: use the tanh approximation instead of ``erf``. Default False.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (w + GELU_TANH_COEFF * w**3)
        out = 0.5 * w * (1 + jnp.tanh(inner))
    else:
        out = 0.5 * w * (1 + lax.erf(w / math.sqrt(2)))
    return out.astype(x.dtype)


def sigmoid(x):
    """Logistic sigmoid, ``1 / (1 + e^-x)``.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    return lax.logistic(_wide(x)).astype(x.dtype)


def tanh(x):
    """Hyperbolic tangent.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    return jnp.tanh(_wide(x)).astype(x.dtype)


def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Elfwing et al., arXiv:1702.03118; Ramachandran et al., arXiv:1710.05941.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    return (w * lax.logistic(w)).astype(x.dtype)


def _softplus(w):
    return jnp.logaddexp(w, _zero(w))  # log(1 + e^x) without overflow


def softplus(x):
    """``log(1 + e^x)``, computed without overflow; derivative ``sigmoid(x)``.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    return _softplus(_wide(x)).astype(x.dtype)


def mish(x):
    """``x * tanh(softplus(x))`` (Misra 2019, arXiv:1908.08681).

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    return (w * jnp.tanh(_softplus(w))).astype(x.dtype)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6`` (PyTorch's definition); derivative 0 at -3 and 3.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    upper = jnp.where(w >= 3, jnp.ones((), w.dtype), (w + 3) / 6)
    return jnp.where(w <= -3, _zero(w), upper).astype(x.dtype)


def hard_swish(x):
    """``x * relu6(x + 3) / 6`` (Howard et al. 2019, arXiv:1905.02244).

    Derivatives at the kinks follow PyTorch: the middle piece ``x (x + 3) / 6``
    covers ``-3 < x < 3`` only, so they are 0 at -3 and 1 at 3.

    Args:
      x: floating array of any shape.

    Returns:
      An array like ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
    """
    x = _float(x)
    w = _wide(x)
    upper = jnp.where(w >= 3, w, w * (w + 3) / 6)
    return jnp.where(w <= -3, _zero(w), upper).astype(x.dtype)
