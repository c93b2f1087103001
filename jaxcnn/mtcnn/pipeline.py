"""The MTCNN cascade: image pyramid, P-Net, R-Net, O-Net, NMS, landmarks.

Follows the reference ``detect_face.m`` (constants and the "+1" convention in
``jaxcnn.mtcnn.constants``) with facenet-pytorch's resampling, whose numbers
the conformance tests reproduce.

Compilation: everything runs under ``jaxcnn.xla.jit`` (``jax.jit`` without
XLA's single-threaded YNNPACK fusion on CPU) with static shapes, padded to
buckets, so that an image size seen before never compiles again and a new
size compiles at most three programs, often none. Stage 1 is one program per
(batch size, padded image, padded canvas): the image is zero-padded to
``side_bucket`` sides, and all pyramid levels are packed on one canvas
(``canvas_bucket`` sides), area-resampled into it from the integral image by
one gather whose indices are computed on the host (``_plan``), and P-Net runs
once over the canvas with the gaps masked (``nets.pnet_canvas_apply``).
Stages 2 and 3 are one crop-and-net program each per (padded image, candidate
bucket: 2**k and 1.5 * 2**k from 4 for R-Net, with multiples of 32 from 64 to
256, and from 8 for O-Net; batches above 128 or 48 crops run in equal chunks,
see ``_LIMIT``). Host inputs go to the device with ``jax.device_put``
(``jnp.asarray`` would compile a copy per shape). The data-dependent parts
(thresholding, greedy NMS, box arithmetic) run in vectorised NumPy on the
host, between the compiled stages.
"""

import functools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import _checks, xla
from jaxcnn import boxes as jboxes
from jaxcnn import images as jimages
from jaxcnn.mtcnn import constants as C
from jaxcnn.mtcnn import nets
from jaxcnn.mtcnn.weights import default_params

CROP_BORDERS = ("zero", "black", "clip")


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
        end = ")" if high == np.inf else "]"
        raise ValueError(f"{name} must lie in {side}{low}, {high}{end}; got {value!r}")
    return float(value)


def _check_sequence(values, name: str, n: int) -> tuple[float, ...]:
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = values.tolist()
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
    for net, value in params.items():
        if not isinstance(value, Mapping):
            raise TypeError(
                f"params[{net!r}] must be a parameter dict (load_params() output); "
                f"got {type(value).__name__}"
            )
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

    Raises:
      TypeError, ValueError: for sizes that are not ints >= 0, a
        ``min_face_size`` not > 0 or so small that the image scaled by the
        first level's scale has a side above ``constants.MAX_IMAGE_SIDE``
        (the level itself is 1 px larger), or a ``scale_factor`` outside
        (0, 0.99].
    """
    height = _checks.check_int(height, "height", 0)
    width = _checks.check_int(width, "width", 0)
    min_face_size = _check_number(min_face_size, "min_face_size", 0, np.inf, True)
    scale_factor = _check_number(scale_factor, "scale_factor", 0, 0.99, True)
    scale = C.PNET_CELL / min_face_size
    side = min(height, width) * scale
    largest = max(height, width) * scale
    if side >= C.PNET_CELL and largest > C.MAX_IMAGE_SIDE:
        raise ValueError(
            f"min_face_size={min_face_size:g} scales a {height}x{width} image "
            f"up to a {largest:.6g}-px side, above the {C.MAX_IMAGE_SIDE}-px limit "
            f"(constants.MAX_IMAGE_SIDE); use min_face_size >= "
            f"{_round_up(C.PNET_CELL * max(height, width) / C.MAX_IMAGE_SIDE):g}"
        )
    levels = []
    while side >= C.PNET_CELL:
        levels.append((scale, (int(height * scale + 1), int(width * scale + 1))))
        scale *= scale_factor
        side *= scale_factor
    return levels


def _round_up(value: float, digits: int = 4) -> float:
    """``value`` rounded up to ``digits`` significant digits."""
    unit = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return math.ceil(value / unit) * unit


def _octave_bucket(side: int, steps: int) -> int:
    """Smallest 2**k * (1 + i / steps) >= side (i < steps), at least 64."""
    size = 64
    while True:
        for i in range(steps):
            if size * (steps + i) // steps >= side:
                return size * (steps + i) // steps
        size *= 2


def side_bucket(side: int) -> int:
    """Padded side of an image: 64, 80, 96, 112, 128, 160, ... >= side.

    2**k times 1, 1.25, 1.5 or 1.75: at most 25 % padding, four sizes per
    octave, so that many image sizes share their crop programs.
    """
    return _octave_bucket(side, 4)


def canvas_bucket(side: int) -> int:
    """Padded side of a P-Net canvas: 64, 72, 80, ..., 128, 144, ... >= side.

    Eight sizes per octave (at most 12.5 % padding): P-Net's time grows with
    the canvas area, so finer than ``side_bucket``.
    """
    return _octave_bucket(side, 8)


def _skyline(sizes, width: int):
    """Places rectangles (h, w) in order on a canvas ``width`` wide.

    Each goes where its top is lowest (then leftmost), at even rows and
    columns (units of 2 pixels). Returns (corners [(y, x)], height) or None
    when a rectangle is wider than the canvas.
    """
    sky = np.zeros(width // 2, np.int64)
    corners = []
    for h, w in sizes:
        w2 = -(-w // 2)
        if w2 > len(sky):
            return None
        tops = np.lib.stride_tricks.sliding_window_view(sky, w2).max(axis=1)
        x = int(np.argmin(tops))
        y = int(tops[x])
        sky[x : x + w2] = y + -(-h // 2)
        corners.append((2 * y, 2 * x))
    return corners, 2 * int(sky.max())


def _pack(sizes):
    """Canvas (bucketed height, width) and level corners of least area."""
    widest = max(w for _, w in sizes)
    best = None
    width = canvas_bucket(widest)
    while width <= max(2.5 * widest, 64):
        packed = _skyline(sizes, width)
        if packed is not None:
            area = width * canvas_bucket(packed[1])
            if best is None or area < best[0]:
                best = (area, (canvas_bucket(packed[1]), width), packed[0])
        width = canvas_bucket(width + 1)
    return best[1], best[2]


class _Plan(NamedTuple):
    """Stage-1 layout of one image size (host arrays and device inputs)."""

    scales: np.ndarray  # (L,) float32 level scales
    corners: np.ndarray  # (L, 2) even (row, column) of each level on canvas
    cells: np.ndarray  # (L, 2) P-Net map size of each level
    level_map: np.ndarray  # (Hc / 2 - 5, Wc / 2 - 5) level of a cell, -1 none
    image_shape: tuple  # (Hb, Wb) padded image
    gather: tuple  # device (4, Hc, Wc) int32 table indices, (Hc, Wc) divisor
    conv1_valid: jax.Array  # device bool (Hc - 2, Wc - 2)


def _bins(n_out: int, n_in: int):
    """Area-resampling bin edges [floor(i n_in / n_out), ceil(...)) (NumPy)."""
    i = np.arange(n_out, dtype=np.int64)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


# TODO: each entry holds ~21 bytes per canvas pixel on the device (about
# 200 MB for a 4000x3000 photo); no size-aware eviction yet.
@functools.lru_cache(maxsize=16)
def _plan(height: int, width: int, min_face_size: float, scale_factor: float):
    """Pyramid levels packed on one canvas, with the gathers that fill it.

    Levels are area-resampled from the integral image of the image padded to
    ``side_bucket`` sides: each canvas pixel reads four table entries. The
    compiled stage-1 program depends only on the padded image and canvas
    shapes, shared by many image sizes.
    """
    levels = pyramid(height, width, min_face_size, scale_factor)
    sizes = [size for _, size in levels]
    (hc, wc), corners = _pack(sizes)
    hb, wb = side_bucket(height), side_bucket(width)
    index = np.zeros((4, hc, wc), np.int32)
    divisor = np.ones((hc, wc), np.float32)
    valid = np.zeros((hc - 2, wc - 2), bool)
    level_map = np.full((hc // 2 - 5, wc // 2 - 5), -1, np.int32)
    cells = []
    for k, ((h, w), (y, x)) in enumerate(zip(sizes, corners, strict=True)):
        ylo, yhi = _bins(h, height)
        xlo, xhi = _bins(w, width)
        for j, (rows, cols) in enumerate(
            ((ylo, xlo), (ylo, xhi), (yhi, xlo), (yhi, xhi))
        ):
            index[j, y : y + h, x : x + w] = rows[:, None] * (wb + 1) + cols
        count = (yhi - ylo)[:, None] * (xhi - xlo)[None, :]
        divisor[y : y + h, x : x + w] = count * jboxes._FIXED_POINT
        valid[y : y + h - 2, x : x + w - 2] = True
        mh, mw = -(-(h - 2) // 2) - 4, -(-(w - 2) // 2) - 4
        level_map[y // 2 : y // 2 + mh, x // 2 : x // 2 + mw] = k
        cells.append((mh, mw))
    return _Plan(
        np.asarray([scale for scale, _ in levels], np.float32),
        np.asarray(corners, np.int64),
        np.asarray(cells, np.int64),
        level_map,
        (hb, wb),
        # device_put, not jnp.asarray: the latter compiles a copy per shape
        (jax.device_put(index), jax.device_put(divisor)),
        jax.device_put(valid),
    )


@xla.jit
def _stage1_program(pnet_params, images, gather, conv1_valid):
    """Integral image, pyramid canvas and P-Net on it, in one program.

    Args:
      pnet_params: P-Net parameters.
      images: float32 (N, Hb, Wb, 3), zero-padded images.
      gather: (4, Hc, Wc) int32 flat table indices of each canvas pixel's bin
        corners (top-left, top-right, bottom-left, bottom-right) and the
        (Hc, Wc) float32 divisor (16 * bin area, 1 off the levels).
      conv1_valid: see ``nets.pnet_canvas_apply``.

    Returns:
      the integral image (N, Hb + 1, Wb + 1, 3) (crops treat its padding
      beyond the image as outside: ``_crop_and_apply``'s ``extent``), face
      probabilities (N, h, w) and offsets (N, h, w, 4) over the canvas.
    """
    table = jboxes.integral_image(images)
    # Fused into P-Net's space-to-depth transpose, the gather ran 2.7x slower
    # (stage 1 of a 1024x768 photo on 2 CPU cores: 52.3 ms, 47.9 unfused).
    canvas = xla.unfused(_canvas, table, *gather)
    out = nets.pnet_canvas_apply(pnet_params, canvas, conv1_valid)
    return table, out.probs[..., 1], out.offsets


def _canvas(table, index, divisor):
    """Pyramid canvas (N, Hc, Wc, 3), normalised, from integral images."""
    flat = table.reshape(table.shape[0], -1, table.shape[3])
    total = flat[:, index[3]] - flat[:, index[1]] - flat[:, index[2]]
    total = total + flat[:, index[0]]
    return nets.normalize(total.astype(jnp.float32) / divisor[..., None])


def _pad_images(batch: np.ndarray, shape) -> np.ndarray:
    """Zero-pads (N, H, W, 3) to ``shape`` in float32, whatever the input dtype.

    One compiled program then serves uint8 and float images alike.
    """
    n, height, width, _ = batch.shape
    padded = np.empty((n, *shape, 3), np.float32)  # one pass, not zeros + copy
    padded[:, :height, :width] = batch
    padded[:, height:] = 0
    padded[:, :height, width:] = 0
    return padded


# Largest batch each net runs at once; bigger ones go through it in equal
# chunks of at most this many crops (``_chunks``). Measured on CPU (2 cores,
# jax 0.10, the net alone under xla.jit, median of 30 calls): 384 R-Net crops
# take 16.1 ms in chunks of 32, 12.5 in chunks of 96, 12.2 in chunks of 128
# and 26.7 in one batch, whose buffers pass glibc's mmap threshold so that
# every call maps and faults in fresh pages (13.5 ms with large
# MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_); 192 crops take 6.3 ms as
# two chunks of 96 and 6.8 in one. O-Net: 96 crops take 18.8 ms as two
# chunks of 48, 19.9 as six of 16, 32.3 in one batch.
_LIMIT = {C.RNET_SIZE: 128, C.ONET_SIZE: 48}
# Smallest candidate bucket. R-Net costs about 0.04 ms a crop (CPU) and
# photos without faces often leave a handful of candidates: 4 crops take
# 0.55 ms, 16 take 1.2. O-Net stays at 8 (2.6 ms; 2 crops take 1.0): photos
# of one size differ most in their few O-Net candidates, and finer buckets
# would make more of them compile a new crop program (0.6 s each).
_SMALLEST_BATCH = {C.RNET_SIZE: 4, C.ONET_SIZE: 8}
# R-Net's usual 64 to 256 candidates go to multiples of 32 (its time grows
# linearly, 33 us per crop): 153 candidates run as 160, not 192.
_RNET_FINE = (64, 256, 32)


def _candidate_bucket(count: int, size: int) -> int:
    """Padded candidate batch of the net taking ``size`` crops."""
    low, high, step = _RNET_FINE
    if size == C.RNET_SIZE and low < count <= high:
        return -(-count // step) * step
    return bucket(count, _SMALLEST_BATCH[size])


@functools.partial(xla.jit, static_argnames=("net", "size"))
def _crop_and_apply(net, params, table, image_index, boxes, size, extent, fill):
    """Crops boxes from integral images, resizes them to size, runs a net.

    ``extent`` is the (height, width) of the images inside ``table``; the
    pixels outside read as ``fill``.
    """
    # unfused as in stage 1 (O-Net on 24 crops: 7.0 -> 6.2 ms on 2 CPU cores)
    crop = functools.partial(_crops, size=size)
    crops = xla.unfused(crop, table, image_index, boxes, extent, fill)
    k = crops.shape[0]
    chunk = _chunks(k, _LIMIT[size])
    if chunk == k:
        return net(params, crops)
    out = lax.map(
        lambda x: net(params, x), crops.reshape(k // chunk, chunk, *crops.shape[1:])
    )
    return type(out)(*(a.reshape(k, *a.shape[2:]) for a in out))


def _chunks(count: int, limit: int) -> int:
    """Size of the equal chunks that a batch of ``count`` crops runs in.

    ``count`` itself up to ``limit``, else ``count / m`` for the smallest
    m >= count / limit that divides ``count``.
    """
    parts = -(-count // limit)
    while count % parts:
        parts += 1
    return count // parts


def _crops(table, image_index, boxes, extent, fill, size: int):
    """Normalised crops (K, size, size, 3) of integer boxes."""
    crops = jboxes.area_crops(
        table, image_index, boxes, size, size, fill=fill, image_shape=extent
    )
    return nets.normalize(crops)


def bucket(count: int, minimum: int = 16) -> int:
    """Smallest of ``minimum`` times 1, 1.5, 2, 3, 4, 6, ... that is >= count.

    With the default 16: 16, 24, 32, 48, 64, 96, ...; with 1: 1, 2, 3, 4, 6, 8.
    """
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


def _run_net(net, params, table, image_index, boxes, size, shape, border):
    """Crops integer boxes (inclusive pixels, 1-based) and runs a net on them.

    ``shape`` is the images' (height, width) inside ``table``; ``border``
    chooses the value of the pixels outside (``C.CROP_FILL``).
    """
    k = len(boxes)
    padded = _candidate_bucket(k, size)
    # inclusive 1-based [x1 .. x2] is the continuous 0-based box [x1 - 1, x2)
    cont = boxes.astype(np.int64) - np.array([1, 1, 0, 0])
    out = _crop_and_apply(
        net,
        params,
        table,
        _pad_rows(image_index.astype(np.int32), padded),
        _pad_rows(cont.astype(np.int32), padded),
        size,
        np.array(shape, np.int32),
        np.float32(C.CROP_FILL[border]),
    )
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


# Most box pairs whose overlaps _greedy computes at once (a few hundred MB of
# temporaries); past it, it suppresses box by box.
_MAX_PAIRS = 1 << 22


def _touching_pairs(b, groups=None):
    """Pairs (i, j), i < j, of boxes of one group whose x ranges overlap (NumPy).

    Boxes sorted by (group, x1) overlap in x only with the boxes after them
    in their group whose x1 is below their x2: a band found by
    ``searchsorted``, not all n**2 pairs. Coordinates are compared by rank
    (ties equal, NaN last), offset by group, so one search serves every
    group. Returns index arrays (first, second) with first < second, or None
    when there are more than ``_MAX_PAIRS``.
    """
    n = len(b)
    _, rank = np.unique(np.concatenate([b[:, 0], b[:, 2]]), return_inverse=True)
    start, end = rank[:n], rank[n:]
    if groups is not None:
        offset = np.unique(groups, return_inverse=True)[1] * (2 * n)
        start, end = start + offset, end + offset
    by_x = np.argsort(start, kind="stable")
    ends = np.searchsorted(start[by_x], end[by_x], side="left")
    counts = np.maximum(ends - np.arange(n) - 1, 0)
    total = int(counts.sum())
    if total > _MAX_PAIRS:
        return None
    rows = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    cols = rows + 1 + np.arange(total) - np.repeat(starts, counts)
    rows, cols = by_x[rows], by_x[cols]
    return np.minimum(rows, cols), np.maximum(rows, cols)


# Sweeps of ``_survivors`` before it falls back to one box at a time.
_MAX_SWEEPS = 32


def _survivors(first, second, n: int) -> np.ndarray:
    """Greedy NMS keep mask over n positions, given who suppresses whom.

    Position j is dropped iff some kept position i < j has a pair (i, j).
    Swept to a fixed point: position j is right from the sweep after all its
    suppressors are, so k sweeps settle every chain of suppressions shorter
    than k, and the fixed point is unique (the pairs point forward only).
    Longer chains finish in order, one position at a time.
    """
    alive = np.ones(n, bool)
    for _ in range(_MAX_SWEEPS):
        dropped = np.zeros(n, bool)
        dropped[second[alive[first]]] = True
        if np.array_equal(alive, ~dropped):
            return alive
        alive = ~dropped
    by_first = np.argsort(first, kind="stable")
    first, second = first[by_first], second[by_first]
    bounds = np.searchsorted(first, np.arange(n + 1)).tolist()
    alive[:] = True
    for pos in np.unique(first).tolist():
        if alive[pos]:
            alive[second[bounds[pos] : bounds[pos + 1]]] = False
    return alive


def _greedy(b, areas, order, threshold: float, mode: str, groups=None):
    """Greedy suppression over ``order`` (best first); returns kept indices.

    With ``groups`` (one per box), boxes suppress only boxes of their own
    group. Overlaps are computed only for pairs that touch in x
    (``_touching_pairs``): the others overlap by 0, which never exceeds a
    threshold >= 0.
    """
    pairs = _touching_pairs(b[order], None if groups is None else groups[order])
    if pairs is None:
        if groups is None:
            return np.asarray(_greedy_box_by_box(b, areas, order, threshold, mode))
        kept = np.concatenate(
            [
                _greedy_box_by_box(b, areas, order[groups[order] == g], threshold, mode)
                for g in np.unique(groups[order])
            ]
        ).astype(np.int64)
        position = np.zeros(len(b), np.int64)
        position[order] = np.arange(len(order))
        return kept[np.argsort(position[kept], kind="stable")]
    first, second = pairs
    hit = _overlaps(b, areas, order[first], order[second], mode) > threshold
    return order[_survivors(first[hit], second[hit], len(order))]


def _greedy_box_by_box(b, areas, order, threshold: float, mode: str) -> list:
    """``_greedy`` in O(n) memory: each kept box against all the rest.

    A NaN overlap (boxes with infinite areas) suppresses nothing, as in
    ``_greedy``.
    """
    kept = []
    while order.size:
        i, rest = order[0], order[1:]
        kept.append(i)
        order = rest[~(_overlaps(b, areas, i, rest, mode) > threshold)]
    return kept


def _nms_host(
    boxes, scores, groups, threshold: float, mode: str, plus_one: bool
) -> np.ndarray:
    """Greedy NMS per group; returns kept indices by decreasing score.

    Same rule as ``jaxcnn.boxes.nms`` (ties: lower index first; suppress when
    overlap > threshold), on inclusive boxes when ``plus_one`` (see
    ``constants.PLUS_ONE_NMS``).
    """
    b = boxes.astype(np.float64)
    if plus_one:
        b = b + np.array([0, 0, 1, 1])
    areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    # by group, then best first, then lower index first
    order = np.lexsort((-scores, groups))
    keep = _greedy(b, areas, order, threshold, mode, groups).astype(np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


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
    """Truncates boxes to integers; "clip" also clips them to the image.

    The other borders leave boxes as they are: their crops read the pixels
    outside the image as ``C.CROP_FILL[border]``.
    """
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


def _level_hits(plan: _Plan, probs, offsets, threshold: float):
    """Canvas cells with p >= threshold, grouped by level (NumPy).

    Returns (level, image, row, col in the level's map, prob, offsets), sorted
    by level, then in (image, row, col) order within a level.
    """
    n, r, c = np.nonzero(probs >= threshold)
    level = plan.level_map[r, c]
    on = level >= 0
    n, r, c, level = n[on], r[on], c[on], level[on]
    order = np.argsort(level, kind="stable")
    n, r, c, level = n[order], r[order], c[order], level[order]
    p, reg = probs[n, r, c], offsets[n, r, c]
    rl = r - plan.corners[level, 0] // 2
    cl = c - plan.corners[level, 1] // 2
    return level, n, rl, cl, p, reg


def _heatmap_boxes(rows, cols, scale):
    """generateBoundingBox: map cells to inclusive boxes in the image."""
    corner = np.stack([cols, rows], axis=1).astype(np.float32) * C.PNET_STRIDE
    scale = scale[:, None]
    top_left = np.floor((corner + 1) / scale)
    bottom_right = np.floor((corner + C.PNET_CELL) / scale)
    return np.concatenate([top_left, bottom_right], axis=1).astype(np.float64)


def _stage1_candidates(params, batch, levels, s: _Settings):
    height, width = batch.shape[1:3]
    plan = _plan(height, width, s.min_face_size, s.scale_factor)
    images = _pad_images(batch, plan.image_shape)
    table, probs, offsets = _stage1_program(
        params["pnet"], images, plan.gather, plan.conv1_valid
    )
    level, n, r, c, p, reg = _level_hits(
        plan, np.asarray(probs), np.asarray(offsets), s.thresholds[0]
    )
    b = _heatmap_boxes(r, c, plan.scales[level])
    # NMS within each (level, image), then level by level, best first
    group = level * len(batch) + n
    keep = _nms_host(b, p, group, s.nms_thresholds[0], "union", C.PLUS_ONE_NMS[0])
    keep = keep[np.argsort(level[keep], kind="stable")]
    n, b, p, reg = n[keep], b[keep], p[keep], reg[keep]
    keep = _nms_host(b, p, n, s.nms_thresholds[1], "union", C.PLUS_ONE_NMS[1])
    boxes = _square(_calibrate(b[keep], reg[keep].astype(np.float64), False))
    return table, _Candidates(n[keep], boxes, p[keep])


def _stage2(params, table, cand: _Candidates, s: _Settings, shape, border):
    boxes = _border(cand.boxes, *shape, border)
    probs, offsets = _run_net(
        nets.rnet_apply,
        params["rnet"],
        table,
        cand.image,
        boxes,
        C.RNET_SIZE,
        shape,
        border,
    )
    ok = probs[:, 1] > s.thresholds[1]
    image, score = cand.image[ok], probs[ok, 1]
    boxes, offsets = cand.boxes[ok], offsets[ok].astype(np.float64)
    keep = _nms_host(
        boxes, score, image, s.nms_thresholds[2], "union", C.PLUS_ONE_NMS[2]
    )
    boxes = _square(_calibrate(boxes[keep], offsets[keep], True))
    return _Candidates(image[keep], boxes, score[keep])


def _stage3(params, table, cand: _Candidates, s: _Settings, shape, border):
    boxes = cand.boxes
    crop_boxes = _border(boxes, *shape, border)
    probs, offsets, marks = _run_net(
        nets.onet_apply,
        params["onet"],
        table,
        cand.image,
        crop_boxes,
        C.ONET_SIZE,
        shape,
        border,
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
    keep = _nms_host(boxes, score, image, s.nms_thresholds[3], "min", C.PLUS_ONE_NMS[3])
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


def _pad_batch(batch: np.ndarray) -> np.ndarray:
    """Pads N with blank images to ``bucket(N, 1)`` (1, 2, 3, 4, 6, 8, 12, ...).

    Batch sizes then share compiled programs, as image sizes do.
    """
    return _pad_rows(batch, bucket(len(batch), minimum=1))


def _detect_batch(params, batch: np.ndarray, s: _Settings, border: str):
    """Runs the cascade on (N, H, W, 3) same-size images; one Detections each."""
    n, height, width, _ = batch.shape
    levels = pyramid(height, width, s.min_face_size, s.scale_factor)
    if n == 0 or not levels:
        return [empty_detections() for _ in range(n)]
    table, cand = _stage1_candidates(params, _pad_batch(batch), levels, s)
    real = cand.image < n  # drop candidates found in the blank padding images
    cand = _Candidates(cand.image[real], cand.boxes[real], cand.scores[real])
    if len(cand.scores):
        cand = _stage2(params, table, cand, s, (height, width), border)
    if not len(cand.scores):
        return [empty_detections() for _ in range(n)]
    found = _stage3(params, table, cand, s, (height, width), border)
    return _finish(*found, n, (height, width))


def _check_sides(images: list[np.ndarray], many: bool) -> None:
    for i, image in enumerate(images):
        if max(image.shape[:2]) > C.MAX_IMAGE_SIDE:
            name = f"images[{i}]" if many else "images"
            raise ValueError(
                f"{name} must have sides of at most {C.MAX_IMAGE_SIDE} pixels "
                f"(the integral image's fixed-point sums would overflow); got "
                f"{image.shape[0]}x{image.shape[1]}: downscale it first"
            )


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
        the image: ``"zero"`` (default: zero-padded as the nets see them,
        i.e. after normalisation, as the ``mtcnn`` package), ``"black"``
        (pixel value 0 before normalisation, as the Matlab ``pad.m``) or
        ``"clip"`` (as facenet-pytorch: crop the part inside and stretch
        it). See ``jaxcnn.mtcnn.constants.CROP_BORDER``.

    Returns:
      A ``Detections`` for one image, a list of them for a list or a batch.

    Raises:
      ValueError: bad layout (message names the expected layout and the
        shape received), a side above ``constants.MAX_IMAGE_SIDE`` (8192)
        or a setting out of range.
      TypeError: non-numeric images or settings.
    """
    s = _settings(min_face_size, scale_factor, thresholds, nms_thresholds)
    _checks.check_choice(crop_border, "crop_border", CROP_BORDERS)
    image_list, many = _as_image_list(images)
    _check_sides(image_list, many)
    params = _check_params(params)
    results: list[Detections | None] = [None] * len(image_list)
    for idx in _group_by_shape(image_list).values():
        batch = _stack([image_list[i] for i in idx])
        found = _detect_batch(params, batch, s, crop_border)
        for i, det in zip(idx, found, strict=True):
            results[i] = det
    return results if many else results[0]
