import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.mtcnn import losses as L
from tests.tolerances import assert_close


def _batch():
    # 10 cls samples (5 neg, 5 pos), 2 part faces, 2 landmark faces
    labels = np.array([0] * 5 + [1] * 5 + [-1, -1, -2, -2], np.int32)
    p_face = np.array([0.1, 0.2, 0.3, 0.6, 0.9, 0.95, 0.85, 0.5, 0.4, 0.05] + [0.5] * 4)
    logits = np.log(np.stack([1 - p_face, p_face], axis=1)).astype(np.float32)
    box_pred = np.zeros((14, 4), np.float32)
    box_target = np.zeros((14, 4), np.float32)
    box_target[5] = [0.1, 0.0, 0.0, 0.0]  # a positive: 0.01
    box_target[10] = [0.2, 0.2, 0.0, 0.0]  # a part face: 0.08
    box_target[0] = [5.0, 5.0, 5.0, 5.0]  # a negative: ignored
    mark_pred = np.zeros((14, 10), np.float32)
    mark_target = np.zeros((14, 10), np.float32)
    mark_target[12, 0] = 0.3  # 0.09
    mark_target[1, :] = 9.0  # not a landmark sample: ignored
    return logits, labels, box_pred, box_target, mark_pred, mark_target


def test_hand_example():
    logits, labels, bp, bt, mp, mt = _batch()
    parts = L.multitask_loss(logits, labels, bp, bt, mp, mt, net="onet")
    # per-sample cross-entropies of the 10 neg/pos samples, hardest 7 averaged
    p_true = np.array([0.9, 0.8, 0.7, 0.4, 0.1, 0.95, 0.85, 0.5, 0.4, 0.05])
    ce = np.sort(-np.log(p_true))[::-1][:7].mean()
    assert_close(parts.classification, ce)
    assert_close(parts.box, (0.01 + 0.08) / 7)  # 5 positives + 2 part faces
    assert_close(parts.landmark, 0.09 / 2)
    assert_close(parts.total, ce + 0.5 * (0.09 / 7) + 1.0 * 0.045)
    pnet = L.multitask_loss(logits, labels, bp, bt, mp, mt, net="pnet")
    assert_close(pnet.total, ce + 0.5 * (0.09 / 7) + 0.5 * 0.045)


def test_ohem_only_hard_samples_get_gradient():
    logits, labels, *_ = _batch()
    grad = jax.grad(lambda z: L.classification_loss(z, jnp.asarray(labels)))(logits)
    easy = np.argsort(
        -np.log(np.array([0.9, 0.8, 0.7, 0.4, 0.1, 0.95, 0.85, 0.5, 0.4, 0.05]))
    )[:3]
    assert (np.abs(np.asarray(grad)[easy]) == 0).all()
    assert (np.abs(np.asarray(grad)[10:]) == 0).all()  # part / landmark rows
    assert np.isfinite(np.asarray(grad)).all()


def test_absent_tasks_give_zero_not_nan():
    labels = np.full((4,), -1, np.int32)  # only part faces
    z = np.zeros((4, 2), np.float32)
    parts = L.multitask_loss(z, labels, np.zeros((4, 4)), np.ones((4, 4)))
    assert float(parts.classification) == 0.0 and float(parts.landmark) == 0.0
    assert_close(parts.box, 4.0)
    g = jax.grad(
        lambda x: L.multitask_loss(x, labels, np.zeros((4, 4)), np.ones((4, 4))).total
    )(z)
    assert np.isfinite(np.asarray(g)).all()


def test_bad_input():
    logits, labels, bp, bt, *_ = _batch()
    with pytest.raises(ValueError, match="labels"):
        L.multitask_loss(logits, labels[:3], bp, bt)
    with pytest.raises(TypeError, match="labels"):
        L.multitask_loss(logits, labels.astype(np.float32), bp, bt)
    with pytest.raises(ValueError, match="net"):
        L.multitask_loss(logits, labels, bp, bt, net="xnet")
    with pytest.raises(ValueError, match="box_pred"):
        L.multitask_loss(logits, labels, bp[:, :3], bt)
