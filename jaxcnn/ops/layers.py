"""Dense, flatten, dropout and normalisation layers as pure functions.

Parameters and running statistics are plain arrays passed in and returned; no
function here holds state. See ``jaxcnn`` for the shape legend.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn._checks import (
    check_floating,
    check_rank,
    check_real_array,
    concrete_float,
    dtype_of,
    normalize_axes,
    shape_of,
)


def _check_same_dtype(x, name: str, ref, ref_name: str) -> None:
    if dtype_of(x) != dtype_of(ref):
        raise TypeError(
            f"{name} must have the dtype of {ref_name}, {dtype_of(ref)}; "
            f"got {dtype_of(x)}"
        )


def _check_vector(v, name: str, size: int, dtype) -> None:
    """Checks an optional per-feature parameter: shape ``(size,)``, given dtype."""
    if v is None:
        return
    check_floating(v, name)
    if shape_of(v) != (size,):
        raise ValueError(f"{name} must have shape ({size},); got {shape_of(v)}")
    if dtype_of(v) != dtype:
        raise TypeError(f"{name} must have dtype {dtype}; got {dtype_of(v)}")


def dense(x, kernel, bias=None):
    r"""Fully connected layer: ``y = x @ kernel + bias`` over the last axis.

    .. math:: y_{\dots o} = \sum_i x_{\dots i} W_{io} + b_o

    Args:
      x: floating input ``(..., I)`` with rank >= 1.
      kernel: weights ``(I, O)``, same dtype as ``x``.
      bias: optional ``(O,)``, same dtype as ``x``.

    Returns:
      ``(..., O)`` in ``x.dtype``.

    Raises:
      TypeError: on non-floating or mismatched dtypes.
      ValueError: on a rank-0 ``x``, a kernel that is not 2-D, ``x.shape[-1]``
        not equal to ``I``, or a bias that is not ``(O,)``.
    """
    check_floating(x, "x")
    check_floating(kernel, "kernel")
    check_rank(kernel, "kernel", 2, "(I, O)")
    if not shape_of(x):
        raise ValueError("x must have rank >= 1 (..., I); got shape () (rank 0)")
    _check_same_dtype(kernel, "kernel", x, "x")
    (in_features, out_features) = shape_of(kernel)
    if shape_of(x)[-1] != in_features:
        raise ValueError(
            f"x's last axis must equal kernel's input size {in_features} "
            f"(kernel shape {shape_of(kernel)}); got x shape {shape_of(x)}"
        )
    _check_vector(bias, "bias", out_features, dtype_of(x))
    y = jnp.matmul(jnp.asarray(x), jnp.asarray(kernel))
    return y if bias is None else y + jnp.asarray(bias)


def flatten(x):
    """Flattens every axis after the first: ``(N, ...)`` to ``(N, prod(...))``.

    A rank-1 ``(N,)`` input becomes ``(N, 1)``. The order is C (row-major), so an
    NHWC activation is read in ``(H, W, C)`` order.

    Args:
      x: array of rank >= 1, any dtype.

    Returns:
      ``(N, prod(x.shape[1:]))``, same dtype.

    Raises:
      ValueError: on a rank-0 ``x``.
    """
    check_real_array(x, "x", kinds="buifc")
    shape = shape_of(x)
    if not shape:
        raise ValueError("x must have rank >= 1 (N, ...); got shape () (rank 0)")
    return jnp.reshape(jnp.asarray(x), (shape[0], int(np.prod(shape[1:]))))


def _check_rate(rate) -> float:
    value = concrete_float(rate, "rate", "a drop probability in [0, 1]")
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"rate must be in [0, 1] (a drop probability); got {rate!r}")
    return value


def _check_key(key) -> None:
    dtype, shape = dtype_of(key), shape_of(key)
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(f"key must be a single PRNG key; got shape {shape}")
        return
    if dtype != np.uint32 or shape != (2,):
        raise TypeError(
            "key must be a PRNG key (jax.random.key or jax.random.PRNGKey); "
            f"got dtype {dtype} and shape {shape}"
        )


def dropout(key, x, rate, *, deterministic=False):
    r"""Inverted dropout: zero each entry with probability ``rate``.

    Kept entries are scaled by ``1 / (1 - rate)`` so the expectation is
    unchanged: :math:`y = x \cdot m / (1 - p)`, :math:`m \sim
    \mathrm{Bernoulli}(1 - p)` (Srivastava et al., 2014, JMLR 15).

    ``rate == 0`` or ``deterministic=True`` returns ``x`` unchanged.
    ``rate == 1`` drops everything and returns zeros (with zero gradient),
    as PyTorch and Flax do, rather than dividing by zero.

    Args:
      key: a PRNG key (``jax.random.key(...)`` or legacy ``PRNGKey``).
      x: floating array of any shape.
      rate: the drop probability, a concrete number in ``[0, 1]``.
      deterministic: if True (evaluation), return ``x``.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      TypeError: on a non-floating ``x``, a non-key ``key`` or a non-number
        ``rate``.
      ValueError: on ``rate`` outside ``[0, 1]``.
    """
    check_floating(x, "x")
    value = _check_rate(rate)
    if not isinstance(deterministic, bool):
        raise TypeError(f"deterministic must be a bool; got {deterministic!r}")
    x = jnp.asarray(x)
    if deterministic or value == 0.0:
        return x
    _check_key(key)
    if value == 1.0:
        return jnp.zeros_like(x)
    keep = jax.random.bernoulli(key, 1.0 - value, x.shape)
    return jnp.where(keep, x / jnp.asarray(1.0 - value, x.dtype), jnp.zeros_like(x))


def _check_eps(eps) -> None:
    if not concrete_float(eps, "eps", "a positive number") > 0.0:
        raise ValueError(f"eps must be > 0; got {eps!r}")


def _feature_axis(x, axis) -> int:
    if isinstance(axis, tuple | list):
        raise TypeError(f"axis must be a single int (the feature axis); got {axis!r}")
    (feature_axis,) = normalize_axes(axis, len(shape_of(x)))
    return feature_axis


def _stats_dtype(dtype):
    """Statistics run in at least float32 (bfloat16 sums lose too much)."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype).itemsize < 4 else dtype


def batch_norm(
    x,
    scale,
    bias,
    mean,
    var,
    *,
    training,
    momentum=0.9,
    eps=1e-5,
    axis=-1,
):
    r"""Batch normalisation (Ioffe and Szegedy, 2015, arXiv:1502.03167), pure.

    .. math:: y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta

    In training, :math:`\mu, \sigma^2` are the batch mean and the *biased*
    variance over every axis except ``axis``, and the running statistics are
    updated as ``new = momentum * old + (1 - momentum) * batch`` with the
    *unbiased* batch variance (times ``n / (n - 1)``), as PyTorch does. Note
    the momentum convention is Flax's: PyTorch's ``momentum=0.1`` is ours 0.9.
    In evaluation the given ``mean`` and ``var`` are used and returned
    unchanged. Statistics are computed in float32 at least.

    Args:
      x: floating input with rank >= 1, e.g. ``(N, H, W, C)``.
      scale: ``(C,)`` or None (no scaling); ``C = x.shape[axis]``.
      bias: ``(C,)`` or None (no offset).
      mean: running mean ``(C,)``.
      var: running variance ``(C,)``.
      training: keyword-only bool, no default: batch statistics or running ones.
      momentum: weight of the old running statistics, in ``[0, 1]``.
      eps: added to the variance, > 0.
      axis: the feature axis (int).

    Returns:
      ``(y, (new_mean, new_var))``: ``y`` of ``x``'s shape and dtype; the
      statistics in the dtypes of ``mean`` and ``var``.

    Raises:
      TypeError: on non-floating arrays, mismatched parameter dtypes or a
        non-bool ``training``.
      ValueError: on parameter shapes other than ``(C,)``, a bad ``axis``,
        ``momentum`` or ``eps``, or training with one value per channel.
    """
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool; got {training!r}")
    check_floating(x, "x")
    if not shape_of(x):
        raise ValueError("x must have rank >= 1; got shape () (rank 0)")
    feature_axis = _feature_axis(x, axis)
    channels = shape_of(x)[feature_axis]
    for name, v in (("scale", scale), ("bias", bias)):
        _check_vector(v, name, channels, dtype_of(x))
    for name, v in (("mean", mean), ("var", var)):
        if v is None:
            raise TypeError(f"{name} must be a ({channels},) floating array; got None")
        _check_vector(v, name, channels, dtype_of(v))
    _check_eps(eps)
    if not 0.0 <= concrete_float(momentum, "momentum", "a number") <= 1.0:
        raise ValueError(f"momentum must be in [0, 1]; got {momentum!r}")
    reduce_axes = tuple(a for a in range(len(shape_of(x))) if a != feature_axis)
    count = int(np.prod([shape_of(x)[a] for a in reduce_axes]))
    if training and count < 2:
        raise ValueError(
            f"x must hold more than one value per channel in training; got shape "
            f"{shape_of(x)} with feature axis {feature_axis}"
        )
    x = jnp.asarray(x)
    compute = _stats_dtype(x.dtype)
    xc = x.astype(compute)
    bshape = [1] * x.ndim
    bshape[feature_axis] = channels
    if training:
        batch_mean = jnp.mean(xc, axis=reduce_axes)
        batch_var = jnp.mean(
            jnp.square(xc - batch_mean.reshape(bshape)), axis=reduce_axes
        )
        use_mean, use_var = batch_mean, batch_var
        unbiased = batch_var * (count / (count - 1))
        new_mean = momentum * jnp.asarray(mean, compute) + (1 - momentum) * batch_mean
        new_var = momentum * jnp.asarray(var, compute) + (1 - momentum) * unbiased
        new_stats = (
            new_mean.astype(dtype_of(mean)),
            new_var.astype(dtype_of(var)),
        )
    else:
        use_mean, use_var = jnp.asarray(mean, compute), jnp.asarray(var, compute)
        new_stats = (jnp.asarray(mean), jnp.asarray(var))
    y = _normalize(xc, use_mean, use_var, scale, bias, eps, bshape)
    return y.astype(x.dtype), new_stats


def _normalize(xc, mean, var, scale, bias, eps, bshape):
    """``(x - mean) / sqrt(var + eps) * scale + bias`` with broadcast parameters."""
    compute = xc.dtype
    inv = jax.lax.rsqrt(var + jnp.asarray(eps, compute))
    if scale is not None:
        inv = inv * jnp.asarray(scale).astype(compute)
    y = (xc - mean.reshape(bshape)) * inv.reshape(bshape)
    if bias is not None:
        y = y + jnp.asarray(bias).astype(compute).reshape(bshape)
    return y


def layer_norm(x, scale=None, bias=None, *, eps=1e-5, axis=-1):
    r"""Layer normalisation (Ba, Kiros and Hinton, 2016, arXiv:1607.06450).

    .. math:: y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta

    with :math:`\mu, \sigma^2` the mean and biased variance of each example
    over ``axis``. Statistics are computed in float32 at least.

    Args:
      x: floating input with rank >= 1.
      scale: optional ``x.shape[a] for a in axis`` (for the default ``axis=-1``:
        ``(C,)``), same dtype as ``x``.
      bias: optional, shaped like ``scale``.
      eps: added to the variance, > 0.
      axis: the axis (int) or axes (tuple of ints) normalised over.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      TypeError: on non-floating arrays or mismatched dtypes.
      ValueError: on a bad ``axis``, ``eps``, or parameter shape.
    """
    check_floating(x, "x")
    shape = shape_of(x)
    if not shape:
        raise ValueError("x must have rank >= 1; got shape () (rank 0)")
    axes = normalize_axes(axis, len(shape))
    pshape = tuple(shape[a] for a in axes)
    for name, v in (("scale", scale), ("bias", bias)):
        if v is None:
            continue
        check_floating(v, name)
        if shape_of(v) != pshape:
            raise ValueError(f"{name} must have shape {pshape}; got {shape_of(v)}")
        _check_same_dtype(v, name, x, "x")
    _check_eps(eps)
    x = jnp.asarray(x)
    compute = _stats_dtype(x.dtype)
    xc = x.astype(compute)
    mu = jnp.mean(xc, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(xc - mu), axis=axes, keepdims=True)
    y = (xc - mu) * jax.lax.rsqrt(var + jnp.asarray(eps, compute))
    bshape = [shape[a] if a in axes else 1 for a in range(len(shape))]
    if scale is not None:
        y = y * jnp.asarray(scale).astype(compute).reshape(bshape)
    if bias is not None:
        y = y + jnp.asarray(bias).astype(compute).reshape(bshape)
    return y.astype(x.dtype)
