"""Loop references for ``jaxcnn.boxes`` (test oracles, float64, plain Python)."""

import numpy as np


def overlap(a, b, mode: str = "union") -> float:
    """Overlap of two boxes (x1, y1, x2, y2), continuous coordinates; 0 if 0/0."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    denom = area_a + area_b - inter if mode == "union" else min(area_a, area_b)
    return inter / denom if denom > 0 else 0.0


def iou(a, b, mode: str = "union") -> np.ndarray:
    """(K, M) overlaps by a double loop."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.array([[overlap(u, v, mode) for v in b] for u in a]).reshape(
        len(a), len(b)
    )


def nms(boxes, scores, threshold: float, mode: str = "union", groups=None) -> list[int]:
    """Greedy NMS: repeatedly take the best remaining box (lowest index on ties)."""
    boxes = np.asarray(boxes, np.float64)
    scores = [float(s) for s in scores]
    groups = [0] * len(scores) if groups is None else [int(g) for g in groups]
    remaining = list(range(len(scores)))
    kept = []
    while remaining:
        best = remaining[0]
        for i in remaining[1:]:
            if scores[i] > scores[best]:
                best = i
        kept.append(best)
        remaining = [
            i
            for i in remaining
            if i != best
            and (
                groups[i] != groups[best]
                or overlap(boxes[best], boxes[i], mode) <= threshold
            )
        ]
    return kept


def area_resize(
    image, x1: int, y1: int, x2: int, y2: int, out_h: int, out_w: int, fill=0.0
):
    """Area resampling of the integer box [x1, x2) x [y1, y2), ``fill`` outside.

    Output pixel (i, j) averages the box pixels in rows
    y1 + floor(i h / out_h) .. y1 + ceil((i + 1) h / out_h) - 1, and likewise
    in columns; pixels outside the image count as ``fill``.
    """
    image = np.asarray(image, np.float64)
    height, width, channels = image.shape
    out = np.zeros((out_h, out_w, channels))
    h, w = y2 - y1, x2 - x1
    for i in range(out_h):
        r0, r1 = y1 + (i * h) // out_h, y1 + -((-(i + 1) * h) // out_h)
        for j in range(out_w):
            c0, c1 = x1 + (j * w) // out_w, x1 + -((-(j + 1) * w) // out_w)
            total = np.zeros(channels)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    inside = 0 <= r < height and 0 <= c < width
                    total += image[r, c] if inside else fill
            count = (r1 - r0) * (c1 - c0)
            out[i, j] = total / count if count > 0 else 0.0
    return out
