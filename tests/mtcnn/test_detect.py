import flax
import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import data

from jaxcnn import boxes as B
from jaxcnn import mtcnn
from jaxcnn.mtcnn import pipeline
from tests.tolerances import assert_close

PHOTOS = ("astronaut", "camera", "chelsea", "coffee")


def _photo(name):
    image = getattr(data, name)()
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image


def _assert_empty(det):
    assert isinstance(det, mtcnn.Detections)
    assert det.boxes.shape == (0, 4) and det.boxes.dtype == np.float32
    assert det.scores.shape == (0,) and det.scores.dtype == np.float32
    assert det.landmarks.shape == (0, 5, 2) and det.landmarks.dtype == np.float32


def _assert_valid(det, height, width):
    k = len(det.scores)
    assert det.boxes.shape == (k, 4) and det.landmarks.shape == (k, 5, 2)
    assert det.boxes.dtype == det.scores.dtype == det.landmarks.dtype == np.float32
    x1, y1, x2, y2 = det.boxes.T
    assert (0 <= x1).all() and (x1 <= x2).all() and (x2 <= width).all()
    assert (0 <= y1).all() and (y1 <= y2).all() and (y2 <= height).all()
    assert (np.diff(det.scores) <= 0).all()


@pytest.fixture(scope="module")
def photo_detections(params):
    images = [_photo(name) for name in PHOTOS]
    return dict(zip(PHOTOS, mtcnn.detect(images, params=params), strict=True))


def _assert_matches(det, want, unshifted_too=True):
    """``det`` against one facenet-pytorch anchor: same count, IoU >= 0.95,
    landmarks within 2 px, probabilities within 0.01. ``unshifted_too``: the
    IoU bound holds before the 1-px convention shift too (large faces only)."""
    _assert_valid(det, *want["shape_hwc"][:2])
    assert len(det.scores) == want["num_faces"]
    if not want["num_faces"]:
        return
    ref_boxes = np.asarray(want["boxes_x1y1x2y2"], np.float32)
    # facenet-pytorch reports Matlab's 1-based inclusive boxes; ours are
    # continuous 0-based: [x1 - 1, x2) (see jaxcnn.mtcnn.constants)
    shifted = ref_boxes - np.array([1, 1, 0, 0], np.float32)
    for reference in (ref_boxes, shifted) if unshifted_too else (shifted,):
        overlap = np.asarray(B.iou(det.boxes, reference))
        match = overlap.argmax(axis=1)
        assert (overlap.max(axis=1) >= 0.95).all()
        assert len(set(match.tolist())) == len(match)
    overlap = np.asarray(B.iou(det.boxes, shifted))
    match = overlap.argmax(axis=1)
    marks = np.asarray(want["landmarks_5x_xy"], np.float32)[match]
    assert np.abs(det.landmarks - marks).max() <= 2.0
    probs = np.asarray(want["probs"], np.float32)[match]
    np.testing.assert_allclose(det.scores, probs, atol=0.01)


@pytest.mark.parametrize("name", PHOTOS)
def test_matches_facenet_pytorch(photo_detections, photo_reference, name):
    want = next(r for r in photo_reference["results"] if r["image"] == name)
    _assert_matches(photo_detections[name], want)


def _convention_image(name):
    """The images of facenet_pytorch_nms_convention_reference.json."""
    a = data.astronaut()
    if name == "astronaut_and_mirror":
        return np.concatenate([a, a[:, ::-1]], axis=1)
    k = int(name[-1])  # astronaut_block_mean_<k>: mean of k x k pixel blocks
    n = 512 // k
    blocks = a[: n * k, : n * k].reshape(n, k, n, k, 3).mean(axis=(1, 3))
    return blocks.round().astype(np.uint8)


@pytest.mark.parametrize(
    "name",
    ["astronaut_and_mirror", "astronaut_block_mean_4", "astronaut_block_mean_3"],
)
def test_nms_convention_matches_facenet_pytorch(params, nms_reference, name):
    """Images whose boxes move with the NMS overlap convention: with the +1 of
    the Matlab code in every NMS, the first two give IoU 0.93 and 0.81 against
    facenet-pytorch (constants.PLUS_ONE_NMS)."""
    want = next(r for r in nms_reference["results"] if r["image"] == name)
    image = _convention_image(name)
    assert list(image.shape) == want["shape_hwc"]
    # faces of 25 to 30 px: the 1-px shift alone costs more than 5 % of IoU
    _assert_matches(mtcnn.detect(image, params=params), want, unshifted_too=False)


def _lfw_upscaled():
    faces = data.lfw_subset().astype(np.float32) * 255
    big = jax.image.resize(
        jnp.asarray(faces), (200, 100, 100), "linear", antialias=False
    )
    big = np.clip(np.round(np.asarray(big)), 0, 255).astype(np.uint8)
    return np.repeat(big[..., None], 3, axis=-1)


@pytest.mark.parametrize("border", ["zero", "clip"])
def test_lfw_subset_full_cascade(params, lfw_reference, border):
    # Same-size images: one batch through every stage (fast). Most boxes leave
    # these images, so crops depend on the border; both find the same faces
    # as facenet-pytorch (97/100, none in a non-face), and its own border
    # ("clip") also its probabilities.
    found = mtcnn.detect(_lfw_upscaled(), params=params, crop_border=border)
    counts = np.array([len(d.scores) for d in found])
    assert (counts[:100] > 0).sum() >= 97
    assert (counts[100:] == 0).all()
    ref = lfw_reference["a_full_mtcnn"]
    want = np.array(ref["num_boxes_per_image"])
    np.testing.assert_array_equal(counts, want)
    if border == "clip":
        got_p = np.array([d.scores.max() for d in found[:100] if len(d.scores)])
        want_p = [p for p in ref["max_prob_per_image"][:100] if p is not None]
        np.testing.assert_allclose(got_p, np.array(want_p), atol=0.01)


def test_lfw_subset_black_border_misses_more_faces(params):
    # the Matlab pad.m border (pixel 0 outside) loses three more faces: the
    # reason it is not the default (see constants.CROP_BORDER)
    found = mtcnn.detect(_lfw_upscaled()[:100], params=params, crop_border="black")
    missed = [i for i, d in enumerate(found) if not len(d.scores)]
    assert missed == [9, 28, 30, 32, 83, 86]


@pytest.mark.parametrize(
    "image",
    [np.zeros((64, 64, 3), np.uint8), np.full((160, 160, 3), 128, np.uint8)],
    ids=["black", "gray"],
)
def test_no_face_gives_empty(params, image):  # case B11
    _assert_empty(mtcnn.detect(image, params=params))


@pytest.mark.parametrize(
    "shape", [(10, 9, 3), (15, 800, 3), (1, 1, 3), (0, 5, 3), (5, 0, 3)]
)
def test_too_small_gives_empty(params, shape):  # case B12; zero-size: empty too
    _assert_empty(mtcnn.detect(np.zeros(shape, np.uint8), params=params))


def test_layouts(params, photo_detections):  # case B14
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*\(1, 3, 64, 64\)"):
        mtcnn.detect(np.zeros((1, 3, 64, 64), np.float32), params=params)
    astronaut = data.astronaut()
    rgba = np.concatenate([astronaut, np.zeros_like(astronaut[..., :1])], axis=-1)
    want = photo_detections["astronaut"]
    for image in (rgba, astronaut.astype(np.float64)):
        got = mtcnn.detect(image, params=params)
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-3)
    camera = data.camera()
    want = photo_detections["camera"]
    for gray in (camera, camera[..., None]):
        got = mtcnn.detect(gray, params=params)
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-3)
    _assert_empty(mtcnn.detect(np.zeros((64, 64, 3), np.float64), params=params))


def test_face_at_border_is_clipped(params):  # case B15
    # the face's top cut off, padded back to 512x512 (a size compiled already)
    image = np.pad(data.astronaut()[90:], ((0, 90), (0, 0), (0, 0)))
    for border in pipeline.CROP_BORDERS:
        det = mtcnn.detect(image, params=params, crop_border=border)
        assert len(det.scores) >= 1
        _assert_valid(det, *image.shape[:2])
        assert det.boxes[0, 1] == 0  # its unclipped box starts above the image


def test_list_and_batch_inputs(params, photo_detections):
    astronaut, coffee = data.astronaut(), data.coffee()
    found = mtcnn.detect([astronaut, coffee, astronaut[:, ::-1]], params=params)
    assert isinstance(found, list) and len(found) == 3
    np.testing.assert_allclose(found[0].boxes, photo_detections["astronaut"].boxes)
    _assert_empty(found[1])
    mirrored = found[2].boxes[0]
    np.testing.assert_allclose(
        mirrored[[2, 0]], 512 - found[0].boxes[0, [0, 2]], atol=3
    )
    batch = mtcnn.detect(np.stack([astronaut, astronaut]), params=params)
    assert len(batch) == 2
    for det in batch:
        np.testing.assert_allclose(
            det.boxes, photo_detections["astronaut"].boxes, atol=1e-4
        )
    assert mtcnn.detect([], params=params) == []


class _CompileCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


def _count_compiles(calls):
    counter = _CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    try:
        for call in calls:
            call()
    finally:
        jax.monitoring.unregister_event_duration_listener(counter)
    return counter.count


def test_seen_size_never_compiles_again(params):
    image = data.astronaut()[30:190, 150:300]  # 160x150, one face
    noise = np.random.default_rng(0).integers(0, 256, image.shape, np.uint8)
    mtcnn.detect(image, params=params)
    again = [
        lambda im=im: mtcnn.detect(im, params=params) for im in (image, image[:, ::-1])
    ]
    assert _count_compiles(again) == 0
    # other content of the same size: at most new candidate buckets (one
    # crop-and-net program per stage), then nothing more for that content
    assert _count_compiles([lambda: mtcnn.detect(noise, params=params)]) <= 2
    assert _count_compiles([lambda: mtcnn.detect(noise, params=params)]) == 0
    # a new size: at most one stage-1 program (shared by all sizes with the
    # same padded image and canvas) plus new candidate buckets
    taller = data.astronaut()[30:191, 150:300]
    assert _count_compiles([lambda: mtcnn.detect(taller, params=params)]) <= 3
    wider = np.pad(image, ((0, 0), (0, 90), (0, 0)))  # a new canvas bucket
    assert 1 <= _count_compiles([lambda: mtcnn.detect(wider, params=params)]) <= 3


def test_seen_batch_size_never_compiles_again(params):
    image = data.astronaut()[30:190, 150:300]  # 160x150, one face
    mtcnn.detect([image] * 6, params=params)
    stage1_programs = pipeline._stage1_program._cache_size()
    # N = 5 was never seen: it shares the stage-1 program of its bucket, 6, and
    # compiles at most new candidate buckets (one crop-and-net program per stage)
    five = [lambda: mtcnn.detect([image] * 5, params=params)]
    assert _count_compiles(five) <= 2
    assert pipeline._stage1_program._cache_size() == stage1_programs
    assert _count_compiles(five) == 0
    # the same image in a padded batch: the same detections as alone
    alone = mtcnn.detect(image, params=params)
    # (to float rounding: a batch may round sums differently)
    for found in mtcnn.detect([image] * 5, params=params):
        np.testing.assert_allclose(found.boxes, alone.boxes, atol=1e-3)
        np.testing.assert_allclose(found.landmarks, alone.landmarks, atol=1e-3)
        np.testing.assert_allclose(found.scores, alone.scores, atol=1e-5)
    assert [pipeline.bucket(n, minimum=1) for n in range(1, 10)] == [
        1, 2, 3, 4, 6, 6, 8, 8, 12,
    ]  # fmt: skip


def test_image_side_limit(params):
    """Sides above MAX_IMAGE_SIDE would overflow the fixed-point sums: refused
    with the limit and the size; at the limit the image is processed."""
    limit = mtcnn.constants.MAX_IMAGE_SIDE
    with pytest.raises(ValueError, match=rf"at most {limit} pixels.*{limit + 1}x16"):
        mtcnn.detect(np.zeros((limit + 1, 16, 3), np.uint8), params=params)
    with pytest.raises(ValueError, match=r"images\[1\] must have sides"):
        mtcnn.detect([np.zeros((8, 8, 3)), np.zeros((8, limit + 1))], params=params)
    _assert_empty(mtcnn.detect(np.zeros((16, limit, 3), np.uint8), params=params))


def test_bucket():
    assert [pipeline.bucket(k) for k in (1, 16, 17, 25, 33, 49, 100)] == [
        16,
        16,
        24,
        32,
        48,
        64,
        128,
    ]


def test_large_candidate_batches_run_in_chunks_with_the_same_results(params):
    for size, net, name in (
        (24, mtcnn.rnet_apply, "rnet"),
        (48, mtcnn.onet_apply, "onet"),
    ):
        limit = pipeline._LIMIT[size]
        # every bucket splits into equal chunks of at most the limit, and
        # never into more than twice the pieces that the limit requires
        for k in range(1, 40 * limit):
            padded = pipeline._candidate_bucket(k, size)
            chunk = pipeline._chunks(padded, limit)
            assert padded % chunk == 0 and chunk <= limit
            assert padded // chunk <= 2 * -(-padded // limit)
        k = pipeline._candidate_bucket(limit + 1, size)
        assert pipeline._chunks(k, limit) < k  # the test runs the chunked path
        rng = np.random.default_rng(size)
        table = B.integral_image(rng.integers(0, 256, (2, 90, 70, 3), np.uint8))
        corner = rng.integers(-10, 60, (k, 2))
        side = rng.integers(5, 40, (k, 1))
        boxes = np.concatenate([corner, corner + side], axis=1).astype(np.int32)
        image = rng.integers(0, 2, k).astype(np.int32)
        extent, fill = np.array([80, 64], np.int32), np.float32(127.5)
        got = pipeline._crop_and_apply(
            net, params[name], table, image, boxes, size, extent, fill
        )
        crops = B.area_crops(
            table, image, boxes, size, size, fill=fill, image_shape=extent
        )
        want = net(params[name], mtcnn.normalize(crops))
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            assert_close(g, w)


def test_pyramid_constants():
    levels = mtcnn.pyramid(100, 100, 20, 0.709)
    assert levels[0] == (0.6, (61, 61))
    assert len(levels) == 5  # 60, 42.5, 30.2, 21.4, 15.2 >= 12 > 10.8
    assert mtcnn.pyramid(15, 800, 20, 0.709) == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(thresholds=(0.6, 0.7)), ValueError, "thresholds"),
        (dict(thresholds=(0.6, 0.7, 1.5)), ValueError, "thresholds"),
        (dict(nms_thresholds=(0.5, 0.7, 0.7)), ValueError, "nms_thresholds"),
        (dict(scale_factor=1.2), ValueError, "scale_factor"),
        (dict(min_face_size=0), ValueError, "min_face_size"),
        (dict(min_face_size="20"), TypeError, "min_face_size"),
        (dict(crop_border="wrap"), ValueError, "crop_border"),
        (dict(params={"pnet": {}}), ValueError, "params"),
        (dict(params={"pnet": 1, "rnet": 1, "onet": 1}), TypeError, "params"),
        (dict(min_face_size=np.inf), ValueError, r"min_face_size.*\(0, inf\)"),
        # the first level would be 64 * 12 / 0.05 = 15,360 px on a side
        (dict(min_face_size=0.05), ValueError, r"min_face_size.*>= 0\.09375$"),
        (dict(min_face_size=1e-300), ValueError, "min_face_size"),
    ],
)
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        mtcnn.detect(np.zeros((64, 64, 3), np.uint8), **kwargs)


def test_settings_accept_numpy_sequences():
    image = np.zeros((64, 64, 3), np.uint8)
    found = mtcnn.detect(image, thresholds=np.array([0.6, 0.7, 0.7]))
    assert found.boxes.shape == (0, 4)


def test_pyramid_limit_on_the_scaled_image():
    # the smallest min_face_size the error above suggests is accepted: the
    # image scaled to 8192 px, the level 1 px more (int(side * scale + 1))
    assert mtcnn.pyramid(64, 64, 0.09375, 0.709)[0][1] == (8193, 8193)
    # and no image the limit allows is refused at min_face_size 12
    assert mtcnn.pyramid(100, 8192, 12, 0.709)[0] == (1.0, (101, 8193))
    with pytest.raises(ValueError, match=r"8192\.68-px side.*>= 12$"):
        mtcnn.pyramid(100, 8192, 11.999, 0.709)


def test_params_may_be_any_mapping():
    frozen = {net: flax.core.freeze(p) for net, p in mtcnn.load_params().items()}
    found = mtcnn.detect(data.astronaut(), params=frozen)
    assert len(found.scores) == 1


@pytest.mark.parametrize("plus_one", [False, True])
@pytest.mark.parametrize("mode", ["union", "min"])
def test_host_nms_matches_loop_reference(mode, plus_one):
    from jaxcnn.reference import boxes as ref

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(0, 30))
        xy = rng.integers(0, 20, (n, 2))
        wh = rng.integers(0, 8, (n, 2))  # zero-area boxes included
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float64)
        scores = rng.choice([0.1, 0.5, 0.9], n)  # ties
        groups = rng.integers(0, 2, n)
        got = pipeline._nms_host(boxes, scores, groups, 0.5, mode, plus_one)
        # inclusive pixel boxes are the continuous boxes with x2 + 1, y2 + 1
        shift = [0, 0, 1, 1] if plus_one else [0, 0, 0, 0]
        want = ref.nms(boxes + shift, scores, 0.5, mode, groups)
        assert sorted(got.tolist()) == sorted(want)


def test_host_nms_order_with_score_ties_across_groups():
    # kept boxes come best first; equal scores by group, then by index
    from jaxcnn.reference import boxes as ref

    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        xy = rng.integers(0, 30, (n, 2))
        boxes = np.concatenate([xy, xy + rng.integers(1, 12, (n, 2))], axis=1)
        boxes = boxes.astype(np.float64)
        scores = rng.integers(0, 3, n) / 2  # many ties
        groups = rng.choice([-4, 2, 9], n)
        got = pipeline._nms_host(boxes, scores, groups, 0.5, "union", False)
        kept = ref.nms(boxes, scores, 0.5, "union", groups)
        want = sorted(kept, key=lambda i: (-scores[i], groups[i], i))
        assert got.tolist() == want


def _all_pairs_greedy(b, areas, order, threshold, mode):
    """Greedy NMS over ``order`` with every pair's overlap (the definition)."""
    overlap = pipeline._overlaps(b, areas, order[:, None], order[None, :], mode)
    alive, kept = np.ones(len(order), bool), []
    for pos in range(len(order)):
        if alive[pos]:
            kept.append(int(order[pos]))
            alive &= ~(overlap[pos] > threshold)
    return kept


@pytest.mark.parametrize("mode", ["union", "min"])
def test_banded_greedy_equals_all_pairs_greedy(mode, monkeypatch):
    # _greedy skips pairs that do not touch in x; it must keep exactly the
    # boxes of the plain all-pairs greedy, also with fractional, inverted,
    # duplicate and NaN boxes, and when it falls back past _MAX_PAIRS
    rng = np.random.default_rng(1)
    for trial in range(60):
        n = int(rng.integers(1, 250))
        xy = rng.integers(0, 60, (n, 2)) + rng.random((n, 2)) * (trial % 2)
        wh = rng.integers(-2, 20, (n, 2)) + rng.random((n, 2)) * (trial % 3 == 0)
        b = np.concatenate([xy, xy + wh], axis=1).astype(np.float64)
        b[rng.random(n) < 0.1] = b[0]
        if trial % 5 == 0:
            b[rng.random(n) < 0.05, int(rng.integers(0, 4))] = np.nan
        areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
        order = rng.permutation(n)
        for threshold in (0.0, 0.5, 0.7, 1.0):
            want = _all_pairs_greedy(b, areas, order, threshold, mode)
            got = pipeline._greedy(b, areas, order, threshold, mode)
            assert [int(i) for i in got] == want
            fallback = pipeline._greedy_box_by_box(b, areas, order, threshold, mode)
            assert [int(i) for i in fallback] == want
    monkeypatch.setattr(pipeline, "_MAX_PAIRS", 10)
    assert pipeline._touching_pairs(b) is None
    got = pipeline._greedy(b, areas, order, 0.5, mode)
    assert [int(i) for i in got] == _all_pairs_greedy(b, areas, order, 0.5, mode)


@pytest.mark.parametrize("sweeps", [32, 1])
def test_grouped_greedy_equals_greedy_per_group(sweeps, monkeypatch):
    # one _greedy call over several groups keeps, in each group, the boxes of
    # the all-pairs greedy over that group alone; with one sweep every chain
    # of suppressions finishes box by box
    monkeypatch.setattr(pipeline, "_MAX_SWEEPS", sweeps)
    rng = np.random.default_rng(2)
    for trial in range(40):
        n = int(rng.integers(1, 200))
        xy = rng.integers(0, 40, (n, 2)) + rng.random((n, 2)) * (trial % 2)
        b = np.concatenate([xy, xy + rng.integers(1, 15, (n, 2))], axis=1)
        b = b.astype(np.float64)
        areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        groups = rng.integers(0, 1 + trial % 4, n) * 7  # not 0..G-1
        order = np.lexsort((rng.random(n), groups))
        for mode in ("union", "min"):
            got = pipeline._greedy(b, areas, order, 0.3, mode, groups)
            want = [
                i
                for g in np.unique(groups)
                for i in _all_pairs_greedy(
                    b, areas, order[groups[order] == g], 0.3, mode
                )
            ]
            assert [int(i) for i in got] == want


def test_greedy_long_chain_of_suppressions():
    # each box overlaps the next by 0.82 (IoU 0.7): keep, drop, keep, ...
    # a chain of 300 boxes, far past the sweeps, finished box by box
    x = np.arange(300) * 0.1
    b = np.stack([x, np.zeros(300), x + 1, np.ones(300)], axis=1)
    areas = np.ones(300)
    order = np.arange(300)
    want = _all_pairs_greedy(b, areas, order, 0.6, "union")
    assert len(want) > 30
    assert [int(i) for i in pipeline._greedy(b, areas, order, 0.6, "union")] == want


def test_greedy_box_by_box_keeps_boxes_whose_overlap_is_nan():
    # infinite areas give NaN overlaps (inf / inf), which exceed no threshold:
    # the fallback past _MAX_PAIRS must keep both boxes, as the banded greedy
    b = np.array([[0, 0, np.inf, 1], [0, 0, np.inf, 1], [0, 0, 1, 1]], np.float64)
    areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    order = np.arange(3)
    with np.errstate(invalid="ignore"):
        want = pipeline._greedy(b, areas, order, 0.5, "min")
        got = pipeline._greedy_box_by_box(b, areas, order, 0.5, "min")
    assert [int(i) for i in want] == [0, 1]  # box 2 lies inside both
    assert [int(i) for i in got] == [0, 1]


def test_zero_border_crops_are_zero_as_the_nets_see_them():
    # "zero" pads the normalised crop (what R-/O-Net read) with 0, "black"
    # pads the pixels with 0, which normalise to -127.5 / 128
    table = B.integral_image(np.full((1, 30, 30, 3), 200, np.uint8))
    boxes = np.array([[-24, -24, 0, 0], [15, 15, 39, 39]], np.int32)
    index, extent = np.zeros(2, np.int32), np.array([30, 30], np.int32)
    inside = (200 - 127.5) / 128
    for border, outside in (("zero", 0.0), ("black", -127.5 / 128)):
        fill = mtcnn.constants.CROP_FILL[border]
        crops = np.asarray(pipeline._crops(table, index, boxes, extent, fill, 24))
        np.testing.assert_allclose(crops[0], outside, atol=1e-6)
        np.testing.assert_allclose(crops[1, :15, :15], inside, atol=1e-6)
        np.testing.assert_allclose(crops[1, 15:, 15:], outside, atol=1e-6)


def test_bucket_padding_reads_as_outside_the_image(params, monkeypatch):
    # a 100x130 image, zero-padded to 112x160 inside detect, whose face is cut
    # by the bottom and right edges: crops must read the padding as outside
    # the image (fill), as they would without padding. Read as pixel 0, the
    # padding loses the face with the default "zero" border.
    canvas = np.full((300, 300, 3), 90, np.uint8)
    canvas[86:214, 86:214] = _convention_image("astronaut_block_mean_4")
    image = canvas[23:123, 15:145]  # the face's box is about (130, 101, 153, 130)
    assert pipeline.side_bucket(100) > 100 and pipeline.side_bucket(130) > 130
    padded = {
        b: mtcnn.detect(image, params=params, crop_border=b)
        for b in pipeline.CROP_BORDERS
    }
    assert len(padded["zero"].scores) == 1
    monkeypatch.setattr(pipeline, "side_bucket", lambda side: side)
    fresh_plans = pipeline.functools.lru_cache(maxsize=16)(pipeline._plan.__wrapped__)
    monkeypatch.setattr(pipeline, "_plan", fresh_plans)  # plans hold padded sizes
    for border, want in padded.items():
        got = mtcnn.detect(image, params=params, crop_border=border)
        assert len(got.scores) == len(want.scores)
        for g, w in zip(got, want, strict=True):
            assert_close(g, w, atol=1e-4)
