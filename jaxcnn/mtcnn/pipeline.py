"""The MTCNN cascade: image pyramid, P-Net, R-Net, O-Net, NMS, landmarks.

Follows the reference ``detect_face.m`` (constants and the "+1" convention in
``jaxcnn.mtcnn.constants``) with facenet-pytorch's resampling, whose numbers
the conformance tests reproduce.

Compilation: everything runs under ``jax.jit`` with static shapes, padded to
buckets. Per batch shape (N, H, W) one program resamples the pyramid (no
nets). Each pyramid level is zero-padded to a side bucket (``side_bucket``:
64, then multiples of 32), levels of one bucket are stacked into one batch,
and P-Net runs on it with each level's valid size masked, so levels of
different images share P-Net programs. Candidate counts
are rounded up to buckets (16, 24, 32, 48, 64, ..., i.e. 2**k and 1.5 * 2**k)
for the crops and R-Net / O-Net; crops read a padded integral image whose
shape is bucketed too. An image size seen before never compiles again, and a
new size compiles one resampling program plus at most a few new buckets.
The data-dependent parts (thresholding, greedy NMS, box arithmetic) run in
vectorised NumPy on the host, between the compiled stages.
"""

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn import _checks
from jaxcnn import boxes as jboxes
from jaxcnn import images as jimages
from jaxcnn.mtcnn import constants as C
from jaxcnn.mtcnn import nets
from jaxcnn.mtcnn.weights import default_params

CROP_BORDERS = ("clip", "zero")


class Detections(NamedTuple):
    """Faces found in one image, sorted by decreasing score.

    Attributes:
      boxes: float32 (K, 4) boxes (x1, y1, x2, y2) in continuous pixel
        coordinates, clipped to the image: 0 <= x1 <= x2 <= W, same in y.
      scores: float32 (K,) O-Net face probabilities.
      landmarks: float32 (K, 5, 2) points (x, y): left eye, right eye, nose,
        left mouth corner, right mouth corner. Not clipped.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


def empty_detections() -> Detections:
    """No face: boxes (0, 4), scores (0,), landmarks (0, 5, 2), all float32."""
    return Detections(
        np.zeros((0, 4), np.float32),
        np.zeros((0,), np.float32),
        np.zeros((0, 5, 2), np.float32),
    )


# ---------------------------------------------------------------------------
# Settings and input checks
# ---------------------------------------------------------------------------


def _check_number(value, name: str, low: float, high: float, open_low=False):
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number; got {value!r}")
    bad_low = value <= low if open_low else value < low
    if bad_low or value > high or not np.isfinite(value):
        side = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {side}{low}, {high}]; got {value!r}")
    return float(value)


def _check_sequence(values, name: str, n: int) -> tuple[float, ...]:
    if not isinstance(values, Sequence) or len(values) != n:
        raise ValueError(f"{name} must be a sequence of {n} numbers; got {values!r}")
    return tuple(_check_number(v, f"{name}[{i}]", 0, 1) for i, v in enumerate(values))


class _Settings(NamedTuple):
    min_face_size: float
    scale_factor: float
    thresholds: tuple[float, float, float]
    nms_thresholds: tuple[float, float, float, float]


def _settings(min_face_size, scale_factor, thresholds, nms_thresholds) -> _Settings:
    return _Settings(
        _check_number(min_face_size, "min_face_size", 0, np.inf, open_low=True),
        _check_number(scale_factor, "scale_factor", 0, 0.99, open_low=True),
        _check_sequence(thresholds, "thresholds", 3),
        _check_sequence(nms_thresholds, "nms_thresholds", 4),
    )


def _check_params(params) -> dict:
    if params is None:
        return default_params()
    if not isinstance(params, dict) or set(params) != {"pnet", "rnet", "onet"}:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with pnet, rnet, onet; got {got}")
    return params


def _as_image_list(images) -> tuple[list[np.ndarray], bool]:
    """Returns (list of (H, W, 3) arrays, whether the input was a batch)."""
    if isinstance(images, (list, tuple)):
        out = [jimages.to_rgb(im, f"images[{i}]") for i, im in enumerate(images)]
        for i, im in enumerate(out):
            if im.ndim != 3:
                raise ValueError(
                    f"images[{i}] must be one image (H, W, 3); got shape {im.shape}"
                )
        return out, True
    rgb = jimages.to_rgb(images, "images")
    if rgb.ndim == 4:
        return list(rgb), True
    return [rgb], False


# ---------------------------------------------------------------------------
# Compiled stages
# ---------------------------------------------------------------------------


def pyramid(height: int, width: int, min_face_size: float, scale_factor: float):
    """Scales and level sizes of the image pyramid.

    Scale k is (12 / min_face_size) * factor**k while min(H, W) * scale >= 12
    ([matlab] detect_face.m); level sizes are int(side * scale + 1)
    ([facenet-pytorch]). May be empty for small images.

    Returns:
      a list of (scale, (level_height, level_width)).
    """
    scale = C.PNET_CELL / min_face_size
    side = min(height, width) * scale
    levels = []
    while side >= C.PNET_CELL:
        levels.append((scale, (int(height * scale + 1), int(width * scale + 1))))
        scale *= scale_factor
        side *= scale_factor
    return levels


def _whole_image_boxes(n: int, height: int, width: int):
    return jnp.tile(jnp.asarray([[0, 0, width, height]], jnp.int32), (n, 1))


def side_bucket(side: int) -> int:
    """Padded side of a pyramid level or image.

    64 up to 64 (small levels share one program), then multiples of 32.
    """
    return max(64, -(-side // 32) * 32)


def _level_groups(sizes) -> dict:
    """Level indices grouped by their padded (bucketed) shape."""
    groups = {}
    for i, (h, w) in enumerate(sizes):
        groups.setdefault((side_bucket(h), side_bucket(w)), []).append(i)
    return groups


@functools.partial(jax.jit, static_argnames=("sizes",))
def _pyramid_levels(images, sizes):
    """Integral image and normalised pyramid levels, padded to buckets.

    The only program compiled per image size: gathers and sums, no nets.
    Levels with the same padded shape are stacked along the batch axis, in
    the order of ``_level_groups``. The integral image is padded by repeating
    its last row and column, so crops reading past the image still see zeros,
    and its padded shape is shared among image sizes.
    """
    n, height, width, _ = images.shape
    table = jboxes.integral_image(images)
    index = jnp.arange(n, dtype=jnp.int32)
    whole = _whole_image_boxes(n, height, width)
    stacks = []
    for (hb, wb), members in _level_groups(sizes).items():
        padded = []
        for i in members:
            h, w = sizes[i]
            level = nets.normalize(jboxes.area_crops(table, index, whole, h, w))
            padded.append(jnp.pad(level, ((0, 0), (0, hb - h), (0, wb - w), (0, 0))))
        stacks.append(jnp.concatenate(padded))
    grow = side_bucket(height + 1) - height - 1, side_bucket(width + 1) - width - 1
    table = jnp.pad(table, ((0, 0), (0, grow[0]), (0, grow[1]), (0, 0)), mode="edge")
    return table, stacks


@jax.jit
def _pnet_level(pnet_params, level, valid_h, valid_w):
    out = nets.pnet_apply(pnet_params, level, valid_size=(valid_h, valid_w))
    return out.probs[..., 1], out.offsets


def _stage1(pnet_params, images, sizes):
    """Every pyramid level through P-Net; maps cropped to their valid part."""
    n = images.shape[0]
    table, stacks = _pyramid_levels(images, sizes)
    maps = [None] * len(sizes)
    for members, stack in zip(_level_groups(sizes).values(), stacks, strict=True):
        valid = np.repeat(np.asarray([sizes[i] for i in members], np.int32), n, 0)
        probs, offsets = _pnet_level(pnet_params, stack, valid[:, 0], valid[:, 1])
        probs, offsets = np.asarray(probs), np.asarray(offsets)
        for j, i in enumerate(members):
            h, w = sizes[i]
            mh, mw = -(-(h - 2) // 2) - 4, -(-(w - 2) // 2) - 4
            rows = slice(j * n, (j + 1) * n)
            maps[i] = (probs[rows, :mh, :mw], offsets[rows, :mh, :mw])
    return table, maps


@functools.partial(jax.jit, static_argnames=("size",))
def _crops(table, image_index, boxes, size):
    return nets.normalize(jboxes.area_crops(table, image_index, boxes, size, size))


_rnet = jax.jit(nets.rnet_apply)
_onet = jax.jit(nets.onet_apply)


def bucket(count: int, minimum: int = 16) -> int:
    """Smallest of 16, 24, 32, 48, 64, 96, ... (2**k or 1.5 * 2**k) >= count."""
    size = minimum
    while True:
        if size >= count:
            return size
        if size * 3 // 2 >= count:
            return size * 3 // 2
        size *= 2


def _pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    pad = np.zeros((rows - len(array), *array.shape[1:]), array.dtype)
    return np.concatenate([array, pad])


def _run_net(net, params, table, image_index, boxes, size):
    """Crops integer boxes (inclusive pixels, 1-based) and runs a net on them."""
    k = len(boxes)
    padded = bucket(k)
    # inclusive 1-based [x1 .. x2] is the continuous 0-based box [x1 - 1, x2)
    cont = boxes.astype(np.int64) - np.array([1, 1, 0, 0])
    crops = _crops(
        table,
        jnp.asarray(_pad_rows(image_index.astype(np.int32), padded)),
        jnp.asarray(_pad_rows(cont.astype(np.int32), padded)),
        size,
    )
    out = net(params, crops)
    return [np.asarray(a)[:k] for a in out]


# ---------------------------------------------------------------------------
# Box arithmetic on the host (reference conventions, see constants)
# ---------------------------------------------------------------------------


def _overlaps(b, areas, i, rest, mode: str):
    """Overlap of box i with boxes ``rest`` (continuous coordinates, 0 if 0/0)."""
    w = np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0])
    h = np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    if mode == "min":
        denom = np.minimum(areas[i], areas[rest])
    else:
        denom = areas[i] + areas[rest] - inter
    return np.where(denom > 0, inter / np.where(denom > 0, denom, 1), 0)


def _greedy(b, areas, order, threshold: float, mode: str) -> list:
    """Greedy suppression over ``order`` (best first); returns kept indices."""
    if len(order) <= 1024:  # one overlap matrix, then cheap row lookups
        overlap = _overlaps(b, areas, order[:, None], order[None, :], mode) > threshold
        alive = np.ones(len(order), bool)
        kept = []
        for pos in range(len(order)):
            if alive[pos]:
                kept.append(order[pos])
                alive &= ~overlap[pos]
        return kept
    kept = []
    while order.size:
        i, rest = order[0], order[1:]
        kept.append(i)
        order = rest[_overlaps(b, areas, i, rest, mode) <= threshold]
    return kept


def _nms_host(boxes, scores, groups, threshold: float, mode: str) -> np.ndarray:
    """Greedy NMS per group; returns kept indices by decreasing score.

    Same rule as ``jaxcnn.boxes.nms`` (ties: lower index first; suppress when
    overlap > threshold), on inclusive boxes when ``PLUS_ONE_NMS``.
    """
    b = boxes.astype(np.float64)
    if C.PLUS_ONE_NMS:
        b = b + np.array([0, 0, 1, 1])
    areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    keep = []
    for g in np.unique(groups):
        order = np.flatnonzero(groups == g)
        order = order[np.argsort(-scores[order], kind="stable")]
        keep.extend(_greedy(b, areas, order, threshold, mode))
    keep = np.asarray(keep, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


def _heatmap_boxes(probs, offsets, scale: float, threshold: float):
    """generateBoundingBox: cells with p >= t to inclusive boxes in the image."""
    n, r, c = np.nonzero(probs >= threshold)
    corner = np.stack([c, r], axis=1).astype(np.float32) * C.PNET_STRIDE
    scale32 = np.float32(scale)
    top_left = np.floor((corner + 1) / scale32)
    bottom_right = np.floor((corner + C.PNET_CELL) / scale32)
    boxes = np.concatenate([top_left, bottom_right], axis=1).astype(np.float64)
    return n, boxes, probs[n, r, c], offsets[n, r, c]


def _calibrate(boxes, offsets, plus_one: bool):
    """Box regression: corner += offset * side (side + 1 for R-/O-Net)."""
    w = boxes[:, 2] - boxes[:, 0] + plus_one
    h = boxes[:, 3] - boxes[:, 1] + plus_one
    return boxes + offsets * np.stack([w, h, w, h], axis=1)


def _square(boxes):
    """rerec: square of side max(w, h) around the same centre (no +1)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1, y1 = boxes[:, 0] + 0.5 * (w - side), boxes[:, 1] + 0.5 * (h - side)
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def _border(boxes, height: int, width: int, border: str):
    """Truncates boxes to integers; "clip" also clips them to the image."""
    boxes = np.trunc(boxes).astype(np.int64)
    if border == "clip":  # facenet-pytorch: crop only the part inside
        boxes = np.clip(boxes, 1, np.array([width, height, width, height]))
    return boxes


# ---------------------------------------------------------------------------
# The cascade on a batch of same-size images
# ---------------------------------------------------------------------------


class _Candidates(NamedTuple):
    image: np.ndarray  # (K,) image index
    boxes: np.ndarray  # (K, 4) inclusive 1-based boxes, float64
    scores: np.ndarray  # (K,)


def _stage1_candidates(params, batch, levels, s: _Settings):
    sizes = tuple(size for _, size in levels)
    # float32 for every input dtype: one resampling program per shape
    table, maps = _stage1(params["pnet"], jnp.asarray(batch, jnp.float32), sizes)
    found = []
    for (scale, _), (probs, offsets) in zip(levels, maps, strict=True):
        n, b, p, reg = _heatmap_boxes(probs, offsets, scale, s.thresholds[0])
        keep = _nms_host(b, p, n, s.nms_thresholds[0], "union")
        found.append((n[keep], b[keep], p[keep], reg[keep]))
    n, b, p, reg = (np.concatenate(parts) for parts in zip(*found, strict=True))
    keep = _nms_host(b, p, n, s.nms_thresholds[1], "union")
    boxes = _square(_calibrate(b[keep], reg[keep].astype(np.float64), False))
    return table, _Candidates(n[keep], boxes, p[keep])


def _stage2(params, table, cand: _Candidates, s: _Settings, shape, border):
    boxes = _border(cand.boxes, *shape, border)
    probs, offsets = _run_net(_rnet, params["rnet"], table, cand.image, boxes, 24)
    ok = probs[:, 1] > s.thresholds[1]
    image, score = cand.image[ok], probs[ok, 1]
    boxes, offsets = cand.boxes[ok], offsets[ok].astype(np.float64)
    keep = _nms_host(boxes, score, image, s.nms_thresholds[2], "union")
    boxes = _square(_calibrate(boxes[keep], offsets[keep], True))
    return _Candidates(image[keep], boxes, score[keep])


def _stage3(params, table, cand: _Candidates, s: _Settings, shape, border):
    boxes = cand.boxes
    crop_boxes = _border(boxes, *shape, border)
    probs, offsets, marks = _run_net(
        _onet, params["onet"], table, cand.image, crop_boxes, C.ONET_SIZE
    )
    ok = probs[:, 1] > s.thresholds[2]
    image, score, boxes = cand.image[ok], probs[ok, 1], boxes[ok]
    marks = marks[ok].astype(np.float64)
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    # landmarks relative to the O-Net input box, back to 0-based pixels
    xs = boxes[:, :1] + w * marks[:, :5] - 1
    ys = boxes[:, 1:2] + h * marks[:, 5:] - 1
    points = np.stack([xs, ys], axis=2)
    boxes = _calibrate(boxes, offsets[ok].astype(np.float64), True)
    keep = _nms_host(boxes, score, image, s.nms_thresholds[3], "min")
    return image[keep], boxes[keep], score[keep], points[keep]


def _finish(image, boxes, scores, points, n: int, shape) -> list[Detections]:
    height, width = shape
    # inclusive 1-based [x1 .. x2] -> continuous [x1 - 1, x2), then clip
    cont = boxes - np.array([1.0, 1.0, 0.0, 0.0])
    cont = np.clip(cont, 0, np.array([width, height, width, height], np.float64))
    out = []
    for i in range(n):
        sel = np.flatnonzero(image == i)
        sel = sel[np.argsort(-scores[sel], kind="stable")]
        out.append(
            Detections(
                cont[sel].astype(np.float32),
                scores[sel].astype(np.float32),
                points[sel].astype(np.float32),
            )
        )
    return out


def _detect_batch(params, batch: np.ndarray, s: _Settings, border: str):
    """Runs the cascade on (N, H, W, 3) same-size images; one Detections each."""
    n, height, width, _ = batch.shape
    levels = pyramid(height, width, s.min_face_size, s.scale_factor)
    if n == 0 or not levels:
        return [empty_detections() for _ in range(n)]
    table, cand = _stage1_candidates(params, batch, levels, s)
    if len(cand.scores):
        cand = _stage2(params, table, cand, s, (height, width), border)
    if not len(cand.scores):
        return [empty_detections() for _ in range(n)]
    found = _stage3(params, table, cand, s, (height, width), border)
    return _finish(*found, n, (height, width))


def _group_by_shape(images: list[np.ndarray]) -> dict:
    groups = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    return groups


def _stack(images: list[np.ndarray]) -> np.ndarray:
    if len({im.dtype for im in images}) > 1:
        images = [im.astype(np.float32) for im in images]
    return np.stack(images)


def detect(
    images,
    *,
    min_face_size: float = C.DEFAULTS.min_face_size,
    scale_factor: float = C.DEFAULTS.scale_factor,
    thresholds: Sequence[float] = C.DEFAULTS.thresholds,
    nms_thresholds: Sequence[float] = C.DEFAULTS.nms_thresholds,
    params: dict | None = None,
    crop_border: str = C.CROP_BORDER,
) -> Detections | list[Detections]:
    """Finds faces, their scores and five landmarks (MTCNN).

    Images of the same size are processed together as one batch.

    Args:
      images: one image (H, W, 3) RGB, or gray (H, W) / (H, W, 1), or RGBA
        (H, W, 4) (alpha dropped), uint8 or float in [0, 255]; or a list of
        such images (sizes may differ); or a batch (N, H, W, 3). Conversion
        and layout checks: ``jaxcnn.images.to_rgb``. Images with a zero side,
        or too small for one 12x12 P-Net window at ``min_face_size``, give
        empty detections.
      min_face_size: smallest face side searched for, in pixels (default 20).
      scale_factor: ratio between pyramid levels, in (0, 0.99] (default 0.709).
      thresholds: face-probability thresholds of P-, R- and O-Net
        (default (0.6, 0.7, 0.7); P-Net keeps p >= t, the others p > t).
      nms_thresholds: overlap thresholds of the NMS within a scale, across
        scales, after R-Net and after O-Net ("min" mode)
        (default (0.5, 0.7, 0.7, 0.7)).
      params: ``load_params()`` output; default: the shipped weights, cached.
      crop_border: how R-Net and O-Net crops treat the part of a box outside
        the image: ``"clip"`` (default, as facenet-pytorch: crop the part
        inside and stretch it) or ``"zero"`` (the reference ``pad.m``: fill
        with zeros). See ``jaxcnn.mtcnn.constants.CROP_BORDER``.

    Returns:
      A ``Detections`` for one image, a list of them for a list or a batch.

    Raises:
      ValueError: bad layout (message names the expected layout and the
        shape received) or a setting out of range.
      TypeError: non-numeric images or settings.
    """
    s = _settings(min_face_size, scale_factor, thresholds, nms_thresholds)
    _checks.check_choice(crop_border, "crop_border", CROP_BORDERS)
    image_list, many = _as_image_list(images)
    params = _check_params(params)
    results: list[Detections | None] = [None] * len(image_list)
    for idx in _group_by_shape(image_list).values():
        batch = _stack([image_list[i] for i in idx])
        found = _detect_batch(params, batch, s, crop_border)
        for i, det in zip(idx, found, strict=True):
            results[i] = det
    return results if many else results[0]
