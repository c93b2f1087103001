"""The last layer of every FaceNet network and the input standardisations.

See ``jaxcnn`` for the shape legend.
"""

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import _checks

#: Fixed image standardisation (x - 127.5) / 128 used by the 2018
#: davidsandberg/facenet models and facenet-pytorch (SPECS B6).
FIXED_MEAN = 127.5
FIXED_SCALE = 128.0

#: Default floor on the norm in :func:`l2_normalize`, as ``torch.nn.functional
#: .normalize`` (facenet-pytorch's last step). Raised to :func:`min_l2_eps` of
#: the input dtype where that is larger (float16: 2**-14).
L2_EPS = 1e-12


def min_l2_eps(dtype) -> float:
    """Smallest ``eps`` :func:`l2_normalize` accepts for inputs of ``dtype``.

    Two bounds, the larger one applies:

    * ``finfo(dtype).tiny``, the smallest normal number of the input dtype:
      the gradient at the zero vector is ``I / eps`` and ``1 / tiny`` is
      finite (about ``max / 4`` for IEEE formats). float16: ``2**-14``
      (``6.1e-5``, gradient ``16384``); the default 1e-12 would give
      ``1e12``, inf in float16.
    * ``2 * sqrt(finfo(wide).tiny)`` for the dtype ``wide`` the norm is
      computed in (float32 for 16-bit inputs): ``eps**2`` must be a normal
      number, since XLA may flush subnormals to 0 and ``rsqrt(0)`` would
      turn the zero vector into NaN. float32: about ``2.2e-19``.

    Args:
      dtype: a floating dtype.

    Returns:
      The bound, a Python float.
    """
    finfo = jnp.finfo(dtype)
    wide = jnp.finfo(jnp.float32 if finfo.bits < 32 else dtype)
    return max(float(finfo.tiny), 2.0 * float(wide.tiny) ** 0.5)


def l2_normalize(x, axis: int = -1, eps: float | None = None):
    """Scales ``x`` to unit L2 norm along ``axis``: ``x / max(||x||, eps)``.

    The norm is computed as ``rsqrt(max(sum(x^2), eps^2))``, so the zero vector
    maps to the zero vector and its gradient is ``I / eps``: finite, never NaN
    or inf, in every floating dtype (``eps`` is at least :func:`min_l2_eps`).
    Low-precision inputs are normalised in float32 and cast back.

    Near the zero vector the Jacobian is ``(I - u u^T) / max(||x||, eps)`` for
    the direction ``u``, so in float16 (``1 / eps = 16384``) a gradient can
    still overflow when the incoming gradient is large (entries above about 4
    at ``x = 0``); no floor can rule that out for every cotangent.

    Args:
      x: floating array of any rank >= 1.
      axis: the axis to normalise.
      eps: floor on the norm, >= ``min_l2_eps(x.dtype)``. Default (None):
        ``max(L2_EPS, min_l2_eps(x.dtype))``, which is ``L2_EPS = 1e-12`` for
        float32, float64 and bfloat16 and ``2**-14`` for float16 (so float16
        vectors with a norm below ``6.1e-5`` come out shorter than 1).

    Returns:
      An array of the shape and dtype of ``x``.

    Raises:
      TypeError: if ``x`` is not floating or ``eps`` is not a real scalar.
      ValueError: if ``eps`` is below :func:`min_l2_eps` of ``x``'s dtype
        (or not positive) or ``axis`` is out of range.
    """
    _checks.check_floating(x, "x")
    ndim = len(_checks.shape_of(x))
    axis = _checks.check_int(axis, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [{-ndim}, {ndim}); got {axis}")
    x = jnp.asarray(x)  # float64 becomes float32 unless x64 is enabled
    dtype = x.dtype
    floor = min_l2_eps(dtype)
    if eps is None:
        eps = max(L2_EPS, floor)
    else:
        _checks.check_real_scalar(eps, "eps")
        if not eps >= floor:  # also rejects NaN
            raise ValueError(
                f"eps must be >= {floor:.3g} for {np.dtype(dtype).name} inputs "
                "(a smaller floor makes the gradient at the zero vector inf or "
                f"its value NaN); got {eps!r}"
            )
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
