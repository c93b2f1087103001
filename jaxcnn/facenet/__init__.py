"""FaceNet: embedding networks, triplet loss with online mining, verification.

Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face
Recognition and Clustering", CVPR 2015 (arXiv 1503.03832). See ``jaxcnn`` for
the shape legend.

* Losses (:mod:`jaxcnn.facenet.losses`): :func:`pairwise_distances`,
  :func:`triplet_loss` (semi-hard, hard or all), :func:`contrastive_loss`,
  :func:`center_loss`.
* Networks: :class:`InceptionResnetV1` (facenet-pytorch / davidsandberg
  layout, 160x160 to 512-d), :class:`NN2` (the paper's Table 2, 224x224 to
  128-d), :class:`SmallEmbeddingNet` (CPU-sized), all ending in
  :func:`l2_normalize`; :mod:`jaxcnn.facenet.nets` creates and runs them.
* Weights (:mod:`jaxcnn.facenet.convert`): facenet-pytorch state dicts and
  ``.npz`` files.
* Evaluation (:mod:`jaxcnn.facenet.evaluation`): LFW ``pairs.txt`` and
  :func:`evaluate_pairs` (10-fold accuracy, VAL at FAR 1e-3, AUC).
"""

from jaxcnn.facenet.convert import from_facenet_pytorch, load_npz, save_npz
from jaxcnn.facenet.embedding import fixed_standardize, l2_normalize, prewhiten
from jaxcnn.facenet.evaluation import evaluate_pairs, parse_pairs, read_pairs
from jaxcnn.facenet.inception_resnet_v1 import InceptionResnetV1
from jaxcnn.facenet.losses import (
    center_loss,
    contrastive_loss,
    pairwise_distances,
    triplet_loss,
    triplet_loss_and_stats,
    update_centers,
)
from jaxcnn.facenet.nn2 import NN2
from jaxcnn.facenet.small import SmallEmbeddingNet

__all__ = [
    "NN2",
    "InceptionResnetV1",
    "SmallEmbeddingNet",
    "center_loss",
    "contrastive_loss",
    "evaluate_pairs",
    "fixed_standardize",
    "from_facenet_pytorch",
    "l2_normalize",
    "load_npz",
    "pairwise_distances",
    "parse_pairs",
    "prewhiten",
    "read_pairs",
    "save_npz",
    "triplet_loss",
    "triplet_loss_and_stats",
    "update_centers",
]
