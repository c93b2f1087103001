"""The last layer of every FaceNet network and the input standardisations.

See ``jaxcnn`` for the shape legend.
"""

import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks

#: Fixed image standardisation (x - 127.5) / 128 used by the 2018
#: davidsandberg/facenet models and facenet-pytorch (SPECS B6).
FIXED_MEAN = 127.5
FIXED_SCALE = 128.0

#: Default floor on the norm in :func:`l2_normalize`, as ``torch.nn.functional
#: .normalize`` (facenet-pytorch's last step).
L2_EPS = 1e-12


def l2_normalize(x, axis: int = -1, eps: float = L2_EPS):
    """Scales ``x`` to unit L2 norm along ``axis``: ``x / max(||x||, eps)``.

    The norm is computed as ``rsqrt(max(sum(x^2), eps^2))``, so the zero vector
    maps to the zero vector and its gradient is finite (``I / eps``), never NaN.
    Low-precision inputs are normalised in float32 and cast back.

    Args:
      x: floating array of any rank >= 1.
      axis: the axis to normalise.
      eps: floor on the norm, > 0.

    Returns:
      An array of the shape and dtype of ``x``.

    Raises:
      TypeError: if ``x`` is not floating.
      ValueError: if ``eps`` is not positive or ``axis`` is out of range.
    """
    _checks.check_floating(x, "x")
    ndim = len(_checks.shape_of(x))
    axis = _checks.check_int(axis, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [{-ndim}, {ndim}); got {axis}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    x = jnp.asarray(x)
    wide = x.astype(jnp.float32) if jnp.finfo(x.dtype).bits < 32 else x
    sum_sq = jnp.sum(wide * wide, axis=axis, keepdims=True)
    inv_norm = lax.rsqrt(jnp.maximum(sum_sq, jnp.asarray(eps * eps, wide.dtype)))
    return (wide * inv_norm).astype(x.dtype)


def fixed_standardize(images):
    """Maps pixel values in [0, 255] to about [-1, 1]: ``(x - 127.5) / 128``.

    The input standardisation of facenet-pytorch's ``InceptionResnetV1`` and the
    2018 davidsandberg/facenet models (SPECS B6).

    Args:
      images: ``(N, H, W, 3)`` or ``(H, W, 3)`` array, uint8 or float in [0, 255].

    Returns:
      A float32 array of the same shape.
    """
    _checks.check_rank(images, "images", (3, 4), "(H, W, 3) or (N, H, W, 3)")
    _checks.check_real_array(images, "images", kinds="uif")
    x = jnp.asarray(images).astype(jnp.float32)
    return (x - FIXED_MEAN) / FIXED_SCALE


def prewhiten(images):
    """Per-image standardisation: ``(x - mean) / max(std, 1 / sqrt(n))``.

    The input standardisation of the 2017 davidsandberg/facenet models, equal to
    ``tf.image.per_image_standardization`` (SPECS B6); ``n`` is the number of
    values per image.

    Args:
      images: ``(N, H, W, C)`` array.

    Returns:
      A float32 array of the same shape.
    """
    _checks.check_rank(images, "images", 4, "(N, H, W, C)")
    _checks.check_real_array(images, "images", kinds="uif")
    if min(_checks.shape_of(images)[1:]) == 0:
        raise ValueError(
            f"images must have H, W, C >= 1; got shape {_checks.shape_of(images)}"
        )
    x = jnp.asarray(images).astype(jnp.float32)
    n = x.shape[1] * x.shape[2] * x.shape[3]
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    std = jnp.std(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) / jnp.maximum(std, 1.0 / n**0.5)
