"""Softmax, log-softmax and the classification losses built on them.

All functions are pure and numerically stable: the softmax family subtracts the
maximum before exponentiating, so logits of any finite size (``|x| >= 1e4``
included) give finite results in float32 and bfloat16.

Conventions for infinities (case B05 in the project's bug-report cases):

* An entry equal to ``-inf`` gets probability exactly 0 and log-probability
  ``-inf``; the other entries of its row are exact and every gradient is
  finite.
* Without a mask, a row whose entries are all ``-inf`` gives NaN, as
  ``jax.nn.softmax`` does (0/0; the same holds for ``+inf`` entries).
* With ``where=``, entries outside the mask are ignored. A row with no
  finite selected entry (fully masked, or selected entries all ``-inf``) gives
  probabilities of 0 and log-probabilities of ``-inf`` (so that
  ``exp(log_softmax) == softmax`` holds for every row), with no NaN in the
  value or in the gradient.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn._checks import (
    check_floating,
    check_real_array,
    concrete_float,
    dtype_of,
    normalize_axes,
    shape_of,
)


def _check_softmax_args(x, axis, where) -> tuple[int, ...]:
    check_floating(x, "x")
    shape = shape_of(x)
    if not shape:
        raise ValueError(f"x must have rank >= 1; got shape {shape} (rank 0)")
    axes = normalize_axes(axis, len(shape))
    if where is not None:
        if dtype_of(where) != np.bool_:
            raise TypeError(f"where must be a boolean array; got {dtype_of(where)}")
        if shape_of(where) != shape:
            raise ValueError(
                f"where must have the shape of x, {shape}; got {shape_of(where)}"
            )
    return axes


def _masked_shift(x, axes, where):
    """Returns ``(x - max, where)`` with masked entries set to 0 before the shift.

    The maximum runs over the selected entries only; a row with no finite
    selected maximum (fully masked, or all ``-inf``) is shifted by 0 instead.
    Masked entries are replaced *before* any arithmetic, so they receive an
    exactly zero gradient whatever their value (inf and NaN included).
    """
    x_safe = jnp.where(where, x, jnp.zeros_like(x))
    x_max = jnp.max(x, axis=axes, keepdims=True, where=where, initial=-jnp.inf)
    x_max = jnp.where(x_max == -jnp.inf, jnp.zeros_like(x_max), x_max)
    return x_safe - jax.lax.stop_gradient(x_max)


def softmax(x, axis=-1, *, where=None):
    r"""Softmax along ``axis``: non-negative values that sum to 1.

    .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
       \quad m = \max_j x_j .

    Args:
      x: floating array of any shape with rank >= 1.
      axis: the axis (int) or axes (tuple of ints) to normalise over.
      where: optional boolean mask of ``x``'s shape; ``False`` entries are left
        out of the sum and get probability 0. A row with no ``True`` entry gives
        all zeros (no NaN in the value or the gradient).

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      TypeError: if ``x`` is not floating or ``where`` not boolean.
      ValueError: on a rank-0 ``x``, a bad ``axis`` or a mis-shaped ``where``.

    Example:
      >>> softmax(jnp.array([-jnp.inf, 0.0, -jnp.inf]))
      Array([0., 1., 0.], dtype=float32)
    """
    axes = _check_softmax_args(x, axis, where)
    x = jnp.asarray(x)
    if where is None:
        shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axes, keepdims=True))
        unnormalized = jnp.exp(shifted)
        return unnormalized / jnp.sum(unnormalized, axis=axes, keepdims=True)
    where = jnp.asarray(where)
    shifted = _masked_shift(x, axes, where)
    unnormalized = jnp.where(where, jnp.exp(shifted), jnp.zeros_like(shifted))
    total = jnp.sum(unnormalized, axis=axes, keepdims=True)
    return unnormalized / jnp.where(total > 0, total, jnp.ones_like(total))


def log_softmax(x, axis=-1, *, where=None):
    r"""Log of the softmax along ``axis``, computed without forming the softmax.

    .. math:: \log\mathrm{softmax}(x)_i = (x_i - m) - \log\sum_j e^{x_j - m},
       \quad m = \max_j x_j .

    Args:
      x: floating array of any shape with rank >= 1.
      axis: the axis (int) or axes (tuple of ints) to normalise over.
      where: optional boolean mask of ``x``'s shape. ``False`` entries are left
        out and get ``-inf`` (log of probability 0). A fully masked row is all
        ``-inf``, so ``exp(log_softmax(x, where=m)) == softmax(x, where=m)`` for
        every row; its gradient is zero, never NaN. Multiply such outputs by
        zero weights with ``jnp.where``, not ``*`` (``0 * -inf`` is NaN).

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      TypeError: if ``x`` is not floating or ``where`` not boolean.
      ValueError: on a rank-0 ``x``, a bad ``axis`` or a mis-shaped ``where``.
    """
    axes = _check_softmax_args(x, axis, where)
    x = jnp.asarray(x)
    if where is None:
        shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axes, keepdims=True))
        total = jnp.sum(jnp.exp(shifted), axis=axes, keepdims=True)
        return shifted - jnp.log(total)
    where = jnp.asarray(where)
    shifted = _masked_shift(x, axes, where)
    exps = jnp.where(where, jnp.exp(shifted), jnp.zeros_like(shifted))
    total = jnp.sum(exps, axis=axes, keepdims=True)
    log_total = jnp.log(jnp.where(total > 0, total, jnp.ones_like(total)))
    return jnp.where(where, shifted - log_total, jnp.full_like(shifted, -jnp.inf))


def _check_label_smoothing(label_smoothing) -> float:
    value = concrete_float(label_smoothing, "label_smoothing", "a number in [0, 1]")
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    return value


def _check_ce_args(logits, labels) -> bool:
    """Validates the cross-entropy inputs; returns True for integer labels."""
    check_floating(logits, "logits")
    shape, label_shape = shape_of(logits), shape_of(labels)
    if not shape:
        raise ValueError(f"logits must have rank >= 1 (..., K); got shape {shape}")
    label_dtype = dtype_of(labels)
    if jnp.issubdtype(label_dtype, jnp.integer) and label_dtype != np.bool_:
        if label_shape != shape[:-1]:
            raise ValueError(
                f"labels holding class ids must have shape logits.shape[:-1] = "
                f"{shape[:-1]}; got {label_shape}"
            )
        return True
    if not jnp.issubdtype(label_dtype, jnp.floating):
        raise TypeError(
            "labels must be integer class ids or floating probabilities; "
            f"got dtype {label_dtype}"
        )
    if label_shape != shape:
        raise ValueError(
            f"labels holding probabilities must have the shape of logits, {shape}; "
            f"got {label_shape}"
        )
    return False


def softmax_cross_entropy(logits, labels, *, label_smoothing=0.0):
    r"""Cross-entropy between ``softmax(logits)`` and target distributions.

    .. math:: \ell = -\sum_k t_k \log\mathrm{softmax}(z)_k, \qquad
       t \leftarrow (1 - \varepsilon)\, t + \varepsilon / K .

    Terms with target ``t_k = 0`` contribute exactly 0 (the convention
    ``0 \log 0 = 0``), so a ``-inf`` logit whose target is 0 gives a finite loss
    and a finite gradient with respect to the logits. A ``-inf`` logit with a
    positive target gives a loss of ``+inf``. The loss is stable for logits of
    any finite size (``|z| >= 1e4`` included).

    Built on optax: ``softmax_cross_entropy_with_integer_labels`` for class ids
    without smoothing, ``safe_softmax_cross_entropy`` (which implements
    ``0 \log 0 = 0``) otherwise. Plain ``optax.softmax_cross_entropy`` is not
    used because it returns NaN for ``0 * -inf``.

    Args:
      logits: floating array ``(..., K)`` of unnormalised log-probabilities.
      labels: either integer class ids of shape ``(...)`` (``logits.shape[:-1]``)
        with values in ``[0, K)``, or floating target probabilities of shape
        ``(..., K)`` (cast to ``logits.dtype``). An id outside ``[0, K)`` gives
        a NaN loss for that example (ids are not checked eagerly because they
        may be traced).
      label_smoothing: ``\varepsilon`` in ``[0, 1]``, a concrete Python number;
        the target becomes ``(1 - \varepsilon)\, t + \varepsilon / K``.

    Returns:
      The per-example loss, shape ``(...)`` = ``logits.shape[:-1]``, in
      ``logits.dtype``. No reduction: take the mean yourself.

    Raises:
      TypeError: on non-floating logits or labels that are neither integer nor
        floating, or a non-numeric ``label_smoothing``.
      ValueError: on a rank-0 ``logits``, a label shape that fits neither form,
        or ``label_smoothing`` outside ``[0, 1]``.

    Example:
      >>> z = jnp.array([-431.0, 279.0, 427.0])
      >>> softmax_cross_entropy(z, jnp.array(0))
      Array(858., dtype=float32)
    """
    integer_labels = _check_ce_args(logits, labels)
    eps = _check_label_smoothing(label_smoothing)
    if shape_of(logits)[-1] == 0:
        raise ValueError(
            f"logits must have at least one class (K >= 1); got shape "
            f"{shape_of(logits)}"
        )
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    num_classes = logits.shape[-1]
    if integer_labels:
        valid = (labels >= 0) & (labels < num_classes)
        if eps == 0.0:
            loss = optax.losses.softmax_cross_entropy_with_integer_labels(
                logits, labels
            )
            return jnp.where(valid, loss, jnp.full_like(loss, jnp.nan))
        labels = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype)
    else:
        valid = None
        labels = labels.astype(logits.dtype)
    if eps > 0.0:
        labels = (1.0 - eps) * labels + eps / num_classes
        labels = labels.astype(logits.dtype)
    loss = optax.losses.safe_softmax_cross_entropy(logits, labels)
    if valid is not None:
        loss = jnp.where(valid, loss, jnp.full_like(loss, jnp.nan))
    return loss


def sigmoid_binary_cross_entropy(logits, labels):
    r"""Element-wise binary cross-entropy between ``sigmoid(logits)`` and labels.

    .. math:: \ell = -y \log\sigma(z) - (1 - y) \log(1 - \sigma(z)),

    computed with ``log_sigmoid`` (``\log(1 - \sigma(z)) = \log\sigma(-z)``), so
    it is finite for ``|z| >= 1e4``. A term whose weight (``y`` or ``1 - y``) is
    0 contributes exactly 0: ``z = -inf`` with ``y = 0`` (or ``+inf`` with
    ``y = 1``) gives a loss of 0 and finite gradients, never NaN.

    Args:
      logits: floating array of any shape.
      labels: array of the same shape holding targets in ``[0, 1]`` (floats,
        ints or bools; cast to ``logits.dtype``). Shapes must match exactly: no
        broadcasting, which silently hides layout mistakes.

    Returns:
      The element-wise loss, ``logits``' shape and dtype. No reduction.

    Raises:
      TypeError: on non-floating ``logits``.
      ValueError: if ``labels`` has another shape.
    """
    check_floating(logits, "logits")
    check_real_array(labels, "labels")
    if shape_of(labels) != shape_of(logits):
        raise ValueError(
            f"labels must have the shape of logits, {shape_of(logits)}; "
            f"got {shape_of(labels)}"
        )
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels).astype(logits.dtype)
    zero = jnp.zeros_like(logits)
    # Drop only the infinite log terms that have weight 0: this keeps 0 * -inf
    # out of the value and the gradients, and leaves finite terms (and so the
    # gradient with respect to the labels) exact.
    drop_p = (labels == 0) & (logits == -jnp.inf)
    drop_not_p = (labels == 1) & (logits == jnp.inf)
    log_p = jnp.where(drop_p, zero, jax.nn.log_sigmoid(logits))
    log_not_p = jnp.where(drop_not_p, zero, jax.nn.log_sigmoid(-logits))
    return -labels * log_p - (1 - labels) * log_not_p
