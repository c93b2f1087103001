"""MTCNN face detection (Zhang et al. 2016) with the released weights.

``detect`` finds faces, scores and five landmarks; ``load_params`` reads the
released weights; ``pnet_apply``, ``rnet_apply`` and ``onet_apply`` are the
three nets as pure functions; ``losses`` has the multi-task training loss.
"""

from jaxcnn.mtcnn.constants import DEFAULTS, MTCNNDefaults
from jaxcnn.mtcnn.nets import (
    count_params,
    init,
    normalize,
    onet_apply,
    pnet_apply,
    rnet_apply,
)
from jaxcnn.mtcnn.pipeline import Detections, detect, empty_detections, pyramid
from jaxcnn.mtcnn.weights import default_params, load_params, load_torch_params

__all__ = [
    "DEFAULTS",
    "Detections",
    "MTCNNDefaults",
    "count_params",
    "default_params",
    "detect",
    "empty_detections",
    "init",
    "load_params",
    "load_torch_params",
    "normalize",
    "onet_apply",
    "pnet_apply",
    "pyramid",
    "rnet_apply",
]
