"""A stand-in for the two torchvision functions facenet-pytorch imports.

facenet-pytorch 2.6.0's ``models/utils/detect_face.py`` imports
``torchvision.ops.boxes.batched_nms`` (used by ``MTCNN.detect``) and
``torchvision.transforms.functional.to_tensor`` (used only by
``extract_face``). torchvision's CPU build cannot be installed next to torch
2.13.0 here, so :func:`install` registers a minimal ``torchvision`` package in
``sys.modules`` with those two functions, written from their documented
behaviour:

* ``batched_nms(boxes, scores, idxs, iou_threshold)``: greedy NMS run
  separately per value of ``idxs``; boxes ``(x1, y1, x2, y2)``, IoU without a
  "+1" pixel, a box is dropped when its IoU with a kept, higher-scoring box
  of the same index is ``> iou_threshold``; returns the kept indices by
  decreasing score (int64).
* ``to_tensor(pic)``: ``(H, W, C)`` array or PIL image to a ``(C, H, W)``
  float tensor, ``uint8`` scaled to [0, 1].

torchvision's NMS is a C++ loop; this one is NumPy, so it may be slower. The
benchmark times every call (:data:`NMS_SECONDS`) and reports facenet-pytorch
both with and without that time.
"""

import sys
import time
import types

import numpy as np
import torch

# Seconds spent inside batched_nms since the last reset (the benchmark reads
# and resets it).
NMS_SECONDS = [0.0]


def batched_nms(boxes, scores, idxs, iou_threshold):
    """Greedy NMS per group; returns kept indices by decreasing score."""
    start = time.perf_counter()
    b = boxes.detach().cpu().numpy().astype(np.float64)
    s = scores.detach().cpu().numpy().astype(np.float64)
    g = idxs.detach().cpu().numpy()
    if len(b):
        # Shift each group far apart so boxes of different groups never overlap.
        b = b + (g.astype(np.float64) * (b.max() + 1.0))[:, None]
    keep = _greedy(b, s, float(iou_threshold))
    NMS_SECONDS[0] += time.perf_counter() - start
    return torch.as_tensor(keep, dtype=torch.int64, device=boxes.device)


def _greedy(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(
            boxes[i, 0], boxes[rest, 0]
        )
        h = np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(
            boxes[i, 1], boxes[rest, 1]
        )
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        iou = inter / (area[i] + area[rest] - inter)
        order = rest[~(iou > threshold)]
    return np.asarray(keep, dtype=np.int64)


def to_tensor(pic):
    """(H, W, C) array or PIL image -> (C, H, W) float tensor; uint8 / 255."""
    array = np.asarray(pic)
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    if array.dtype == np.uint8:
        return tensor.float().div(255.0)
    return tensor.float()


def install() -> None:
    """Registers the stand-in unless a real torchvision is importable."""
    try:
        import torchvision  # noqa: F401

        return
    except ImportError:
        pass
    root = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    boxes.batched_nms = ops.batched_nms = batched_nms
    functional.to_tensor = to_tensor
    root.ops, ops.boxes = ops, boxes
    root.transforms, transforms.functional = transforms, functional
    root.__jaxcnn_standin__ = True
    for module in (root, ops, boxes, transforms, functional):
        sys.modules[module.__name__] = module
