"""The lecture's classic filters, and how to apply them.

Small fixed 2-D kernels (blur, sharpen, edge and line detectors) returned as
float32 arrays of shape ``(kH, kW)``, :func:`filter2d` to run one of them over
every channel of an image, and the 1-D weighted moving average
:func:`smooth1d` with :func:`exponential_weights`.

Orientation: row index ``i`` grows downwards (the image's y, axis 0) and column
index ``j`` grows to the right (x, axis 1). ``filter2d`` computes a
cross-correlation, like every CNN layer: the kernel is *not* flipped, so
``sobel('x')`` is positive where brightness increases to the right. Flip a
kernel with ``k[::-1, ::-1]`` for a true convolution (the symmetric kernels
here are unaffected).
"""

import math

import jax.numpy as jnp
import numpy as np

from jaxcnn._checks import check_floating, check_rank, dtype_of, shape_of
from jaxcnn.ops.conv import conv

LINE_ANGLES = (0, 45, 90, 135)
"""Angles (degrees, counter-clockwise from horizontal as seen) for :func:`line`."""

_AXES = {0: 0, 1: 1, "y": 0, "x": 1}

# Derivative kernels along x (axis 1): a smoothing column times a central
# difference row [-1, 0, 1]. Transposed for y. Sobel (1968), Prewitt (1970),
# Scharr (2000, "Optimale Operatoren in der digitalen Bildverarbeitung").
_DIFF = np.array([-1.0, 0.0, 1.0])
_SMOOTH = {
    "sobel": np.array([1.0, 2.0, 1.0]),
    "prewitt": np.array([1.0, 1.0, 1.0]),
    "scharr": np.array([3.0, 10.0, 3.0]),
}

# Line detectors: a line of 2s through the centre on a ground of -1s (sum 0).
_LINES = {
    0: [[-1, -1, -1], [2, 2, 2], [-1, -1, -1]],
    45: [[-1, -1, 2], [-1, 2, -1], [2, -1, -1]],
    90: [[-1, 2, -1], [-1, 2, -1], [-1, 2, -1]],
    135: [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]],
}


def _as_kernel(values) -> jnp.ndarray:
    return jnp.asarray(np.asarray(values, dtype=np.float64), dtype=jnp.float32)


def _check_odd_size(size, name: str = "size") -> int:
    if not isinstance(size, int | np.integer) or isinstance(size, bool):
        raise TypeError(f"{name} must be a positive odd int; got {size!r}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"{name} must be a positive odd int; got {size!r}")
    return int(size)


def _axis_index(axis) -> int:
    valid_type = isinstance(axis, int | np.integer | str) and not isinstance(axis, bool)
    if not valid_type or axis not in _AXES:
        raise ValueError(
            f"axis must be 0 or 'y' (along rows), 1 or 'x' (along columns); "
            f"got {axis!r}"
        )
    return _AXES[axis]


def box_blur(size=3):
    """Box (mean) filter: a ``(size, size)`` kernel of ``1 / size**2``.

    Args:
      size: positive odd int (odd so the kernel has a centre pixel).

    Returns:
      float32 ``(size, size)``, summing to 1.
    """
    size = _check_odd_size(size)
    return jnp.full((size, size), 1.0 / size**2, jnp.float32)


def gaussian(sigma, size=None):
    r"""Normalised Gaussian blur kernel.

    .. math:: k_{ij} \propto \exp\left(-\frac{i^2 + j^2}{2\sigma^2}\right),
       \quad i, j \in \{-r, \dots, r\},\ r = (\text{size} - 1) / 2

    Args:
      sigma: standard deviation in pixels, finite and > 0.
      size: positive odd int; default ``2 * ceil(3 * sigma) + 1`` (covers
        three standard deviations each side).

    Returns:
      float32 ``(size, size)``, summing to 1, symmetric under flips and
      transposition.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, int | float | np.number):
        raise TypeError(f"sigma must be a positive number; got {sigma!r}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0; got {sigma!r}")
    if size is None:
        size = 2 * math.ceil(3 * sigma) + 1
    size = _check_odd_size(size)
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r**2) / (2.0 * float(sigma) ** 2))
    k = np.outer(g, g)
    return _as_kernel(k / k.sum())


def sharpen():
    """Sharpen: the centre pixel against its four neighbours (sums to 1)."""
    return _as_kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def laplacian():
    """Discrete Laplacian (4-neighbour), responds to edges in any direction."""
    return _as_kernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]])


def _derivative(kind: str, axis) -> jnp.ndarray:
    k = np.outer(_SMOOTH[kind], _DIFF)  # differentiates along x (columns)
    return _as_kernel(k if _axis_index(axis) == 1 else k.T)


def sobel(axis):
    """Sobel derivative kernel, 3x3.

    Args:
      axis: ``1`` or ``'x'``: derivative along columns (responds to vertical
        edges), ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``; ``0`` or ``'y'``: along
        rows (horizontal edges), its transpose.

    Returns:
      float32 ``(3, 3)``, summing to 0.
    """
    return _derivative("sobel", axis)


def prewitt(axis):
    """Prewitt derivative kernel, 3x3; ``axis`` as in :func:`sobel`."""
    return _derivative("prewitt", axis)


def scharr(axis):
    """Scharr derivative kernel (3-10-3 smoothing), 3x3; ``axis`` as in ``sobel``."""
    return _derivative("scharr", axis)


def line(angle):
    """Line detector: a line of 2s through the centre on -1s (sums to 0).

    Args:
      angle: orientation of the line in degrees, one of ``0`` (horizontal),
        ``45`` (rising to the right on screen), ``90`` (vertical) and ``135``.

    Returns:
      float32 ``(3, 3)``.
    """
    if isinstance(angle, bool) or angle not in LINE_ANGLES:
        raise ValueError(f"angle must be one of {LINE_ANGLES} degrees; got {angle!r}")
    return _as_kernel(_LINES[int(angle)])


def filter2d(image, kernel, *, padding="SAME", padding_mode="zeros"):
    r"""Applies one 2-D kernel to every channel of an image (depthwise conv).

    .. math:: y_{n,i,j,c} = \sum_{u,v} x_{n,\,i+u-p_h,\,j+v-p_w,\,c}\; k_{u,v}

    This is a **cross-correlation** (the kernel is not flipped), which is what
    CNN "convolution" layers compute; pass ``kernel[::-1, ::-1]`` for the
    textbook convolution. Runs :func:`jaxcnn.ops.conv` once with
    ``feature_group_count = C``.

    Args:
      image: floating ``(H, W, C)`` or ``(N, H, W, C)``. Convert ``uint8``
        images first, e.g. ``image.astype(jnp.float32) / 255``.
      kernel: floating ``(kH, kW)``; cast to ``image.dtype``.
      padding: any padding :func:`jaxcnn.ops.conv` accepts; the default
        ``'SAME'`` keeps the spatial size (extra pad of even kernels on the
        high side).
      padding_mode: ``'zeros'``, ``'reflect'``, ``'edge'`` or ``'circular'``.

    Returns:
      Same rank, batch and channels as ``image``, ``image.dtype``.

    Raises:
      TypeError: on non-floating ``image`` or ``kernel``.
      ValueError: on a wrong rank or a kernel larger than the padded image.
    """
    check_rank(image, "image", (3, 4), "(H, W, C) or (N, H, W, C)")
    check_floating(image, "image")
    check_rank(kernel, "kernel", 2, "(kH, kW)")
    check_floating(kernel, "kernel")
    if shape_of(image)[-1] == 0:
        raise ValueError(f"image must have C >= 1 channels; got {shape_of(image)}")
    image = jnp.asarray(image)
    channels = image.shape[-1]
    k = jnp.asarray(kernel).astype(image.dtype)
    k = jnp.broadcast_to(k[:, :, None, None], (*k.shape, 1, channels))
    batch = image if image.ndim == 4 else image[None]
    out = conv(
        batch,
        k,
        padding=padding,
        feature_group_count=channels,
        padding_mode=padding_mode,
    )
    return out if image.ndim == 4 else out[0]


def smooth1d(signal, weights):
    r"""Causal weighted moving average, the 'valid' part.

    .. math:: s(t) = \sum_{a=0}^{L-1} x(t - a)\, w(a)

    ``w(0)`` weighs the newest sample, ``w(L-1)`` the oldest. Only times with a
    full history are returned: output index ``j`` is time ``t = j + L - 1``, so
    the result has ``T - L + 1`` samples. This is the lecture's example of
    noisy laser measurements of a spaceship's position, where recent
    measurements count more (see :func:`exponential_weights`); with weights
    summing to 1 a constant signal stays constant. Computed as one 1-D
    :func:`jaxcnn.ops.conv` with the weights reversed.

    Args:
      signal: floating ``(T,)`` or ``(..., T)``; time is the last axis.
      weights: floating ``(L,)`` with ``1 <= L <= T``; cast to ``signal.dtype``.

    Returns:
      ``(..., T - L + 1)`` in ``signal.dtype``.

    Raises:
      TypeError: on non-floating arrays.
      ValueError: on a rank-0 signal, weights that are not 1-D or longer than
        the signal.

    Example:
      >>> smooth1d(jnp.array([1.0, 2.0, 4.0]), jnp.array([0.5, 0.5]))
      Array([1.5, 3. ], dtype=float32)
    """
    check_floating(signal, "signal")
    check_floating(weights, "weights")
    shape = shape_of(signal)
    if not shape:
        raise ValueError("signal must have rank >= 1 (..., T); got shape ()")
    check_rank(weights, "weights", 1, "(L,)")
    (taps,) = shape_of(weights)
    if not 1 <= taps <= shape[-1]:
        raise ValueError(
            f"weights must have 1 <= length <= the signal length {shape[-1]}; got "
            f"length {taps}"
        )
    signal = jnp.asarray(signal)
    w = jnp.asarray(weights).astype(dtype_of(signal))
    x = signal.reshape(-1, shape[-1], 1)
    out = conv(x, w[::-1].reshape(taps, 1, 1))
    return out.reshape(*shape[:-1], shape[-1] - taps + 1)


def exponential_weights(n, decay):
    r"""Weights that fall geometrically with age and sum to 1.

    .. math:: w(a) = \frac{\text{decay}^a}{\sum_{b=0}^{n-1} \text{decay}^b},
       \quad a = 0, \dots, n - 1

    Args:
      n: number of weights, a positive int.
      decay: ratio between the weights of consecutive ages, in ``(0, 1]``;
        ``1`` gives the plain moving average.

    Returns:
      float32 ``(n,)``, non-increasing, for :func:`smooth1d`.
    """
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise TypeError(f"n must be a positive int; got {n!r}")
    if n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    if isinstance(decay, bool) or not isinstance(decay, int | float | np.number):
        raise TypeError(f"decay must be a number in (0, 1]; got {decay!r}")
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must be in (0, 1]; got {decay!r}")
    w = float(decay) ** np.arange(n, dtype=np.float64)
    return _as_kernel(w / w.sum())
