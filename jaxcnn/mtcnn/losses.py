"""The MTCNN multi-task training loss ([paper] Sec. II-C, see constants).

A mini-batch mixes four sample types, each switching tasks on (beta = 1)
or off, with the labels of the common reimplementation (AITTSMD):

=============  =====  ===============================  ======================
type           label  rule (IoU with a true face)      tasks
=============  =====  ===============================  ======================
negative       0      IoU < 0.3                        classification
positive       1      IoU > 0.65                       classification, box
part face      -1     0.4 <= IoU <= 0.65               box
landmark face  -2     five labelled points             landmarks
=============  =====  ===============================  ======================

Total: alpha_det * L_det + alpha_box * L_box + alpha_landmark * L_landmark,
with alpha = (1, 0.5, 0.5) for P-Net and R-Net and (1, 0.5, 1) for O-Net.

* L_det: cross-entropy -[y log p + (1 - y) log(1 - p)] over the negatives and
  positives, with online hard sample mining: only the largest
  ceil(0.7 * n) of the n per-sample losses are averaged (the rest get no
  gradient).
* L_box: squared L2 distance over the 4 corner offsets, averaged over the
  positives and part faces.
* L_landmark: squared L2 distance over the 10 landmark values, averaged over
  the landmark faces.

A task with no sample in the batch contributes 0.
"""

# TODO: no training script or sample generator (WIDER FACE / CelebA crops,
# hard-example mining) yet; only the loss is implemented and tested.

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcnn import _checks
from jaxcnn.mtcnn import constants as C

NEGATIVE, POSITIVE, PART, LANDMARK = 0, 1, -1, -2


class LossParts(NamedTuple):
    """The weighted total and its three unweighted task losses (scalars)."""

    total: jax.Array
    classification: jax.Array
    box: jax.Array
    landmark: jax.Array


def _masked_mean(values, mask):
    count = jnp.sum(mask).astype(values.dtype)
    total = jnp.sum(jnp.where(mask, values, 0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), 0)


def classification_loss(logits, labels, keep: float = C.OHEM_KEEP) -> jax.Array:
    """Face/non-face cross-entropy with online hard sample mining.

    Args:
      logits: (N, 2) class scores (column 1 = face). Log-probabilities work too:
        ``jnp.log(probs)`` of the nets' softmax output.
      labels: (N,) int sample types; only 0 and 1 take part.
      keep: fraction of the valid samples kept, hardest first (0.7 in the paper).

    Returns:
      The mean cross-entropy of the ceil(keep * n) largest per-sample losses.
    """
    valid = (labels == NEGATIVE) | (labels == POSITIVE)
    log_p = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
    target = jnp.where(labels == POSITIVE, 1, 0)
    losses = -jnp.take_along_axis(log_p, target[:, None], axis=1)[:, 0]
    n_valid = jnp.sum(valid).astype(jnp.float32)
    n_keep = jnp.ceil(keep * n_valid).astype(jnp.int32)
    ranked = jnp.sort(jnp.where(valid, losses, -jnp.inf))[::-1]
    kept = jnp.arange(losses.shape[0]) < n_keep
    return _masked_mean(jnp.where(kept, ranked, 0), kept)


def box_loss(pred, target, labels) -> jax.Array:
    """Mean squared L2 over 4 offsets, over positives and part faces."""
    valid = (labels == POSITIVE) | (labels == PART)
    diff = jnp.asarray(pred, jnp.float32) - jnp.asarray(target, jnp.float32)
    return _masked_mean(jnp.sum(diff**2, axis=-1), valid)


def landmark_loss(pred, target, labels) -> jax.Array:
    """Mean squared L2 over the 10 landmark values, over landmark faces."""
    valid = labels == LANDMARK
    diff = jnp.asarray(pred, jnp.float32) - jnp.asarray(target, jnp.float32)
    return _masked_mean(jnp.sum(diff**2, axis=-1), valid)


def _check(logits, labels, box_pred, box_target, landmark_pred, landmark_target):
    _checks.check_rank(logits, "logits", 2, "(N, 2)")
    n = _checks.shape_of(logits)[0]
    if _checks.shape_of(logits) != (n, 2):
        raise ValueError(f"logits must be (N, 2); got {_checks.shape_of(logits)}")
    if _checks.shape_of(labels) != (n,):
        raise ValueError(f"labels must be ({n},); got {_checks.shape_of(labels)}")
    if not jnp.issubdtype(_checks.dtype_of(labels), jnp.integer):
        raise TypeError(f"labels must be integers; got {_checks.dtype_of(labels)}")
    for name, x, width in (
        ("box_pred", box_pred, 4),
        ("box_target", box_target, 4),
        ("landmark_pred", landmark_pred, 10),
        ("landmark_target", landmark_target, 10),
    ):
        if x is not None and _checks.shape_of(x) != (n, width):
            raise ValueError(
                f"{name} must be ({n}, {width}); got {_checks.shape_of(x)}"
            )


def multitask_loss(
    logits,
    labels,
    box_pred,
    box_target,
    landmark_pred=None,
    landmark_target=None,
    *,
    net: str = "pnet",
    keep: float = C.OHEM_KEEP,
) -> LossParts:
    """The weighted MTCNN loss of one mini-batch.

    Args:
      logits: (N, 2) class scores.
      labels: (N,) int sample types (0, 1, -1, -2; see the module docstring).
      box_pred: (N, 4) predicted corner offsets.
      box_target: (N, 4) target offsets.
      landmark_pred: (N, 10) predicted landmarks (x1..x5, y1..y5), or None.
      landmark_target: (N, 10) targets, or None (then L_landmark = 0).
      net: ``"pnet"``, ``"rnet"`` or ``"onet"``: selects the alpha weights.
      keep: OHEM fraction.

    Returns:
      ``LossParts(total, classification, box, landmark)``.
    """
    _checks.check_choice(net, "net", tuple(C.LOSS_WEIGHTS))
    _check(logits, labels, box_pred, box_target, landmark_pred, landmark_target)
    if (landmark_pred is None) != (landmark_target is None):
        raise ValueError("landmark_pred and landmark_target must be given together")
    a_det, a_box, a_mark = C.LOSS_WEIGHTS[net]
    cls = classification_loss(logits, labels, keep)
    box = box_loss(box_pred, box_target, labels)
    if landmark_pred is None:
        mark = jnp.zeros((), box.dtype)
    else:
        mark = landmark_loss(landmark_pred, landmark_target, labels)
    return LossParts(a_det * cls + a_box * box + a_mark * mark, cls, box, mark)
