import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxcnn import boxes as B
from jaxcnn.reference import boxes as ref
from tests.tolerances import assert_close

N_BOXES = 10  # fixed, so the compiled functions are reused across examples


@st.composite
def box_sets(draw):
    """Small integer grids, so duplicates, zero-area boxes and ties are common."""
    coord, side = st.integers(0, 12), st.integers(0, 8)
    rows = draw(
        st.lists(
            st.tuples(coord, coord, side, side), min_size=N_BOXES, max_size=N_BOXES
        )
    )
    rows = [(x, y, x + w, y + h) for x, y, w, h in rows]
    if draw(st.booleans()):
        rows[-1] = rows[0]  # an exact duplicate
    levels = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])
    scores = draw(st.lists(levels, min_size=N_BOXES, max_size=N_BOXES))
    return np.asarray(rows, np.float32), np.asarray(scores, np.float32)


def test_iou_example_continuous_coordinates():
    got = B.iou(np.array([[0.0, 0, 10, 10]]), np.array([[1.0, 1, 11, 11]]))
    assert_close(got, [[81 / 119]])


def test_iou_min_mode_and_zero_area():
    a = np.array([[0.0, 0, 10, 10], [3.0, 3, 3, 9]])
    b = np.array([[5.0, 0, 7, 10]])
    got = np.asarray(B.iou(a, b, mode="min"))
    assert_close(got, [[1.0], [0.0]])


@given(box_sets(), box_sets(), st.sampled_from(["union", "min"]))
def test_iou_matches_loop(a, b, mode):
    got = B.iou(a[0], b[0], mode=mode)
    assert got.shape == (len(a[0]), len(b[0]))
    assert_close(got, ref.iou(a[0], b[0], mode))


_nms_jit = jax.jit(B.nms, static_argnames=("mode", "max_output"))


@given(
    box_sets(), st.sampled_from([0.0, 0.3, 0.5, 0.7]), st.sampled_from(["union", "min"])
)
def test_nms_matches_loop_reference(data, threshold, mode):
    boxes, scores = data
    idx, valid = _nms_jit(boxes, scores, iou_threshold=threshold, mode=mode)
    want = ref.nms(boxes, scores, threshold, mode)
    assert idx.dtype == jnp.int32 and valid.dtype == jnp.bool_
    assert list(np.asarray(idx)[np.asarray(valid)]) == want
    assert not np.asarray(valid)[len(want) :].any()


@given(box_sets(), st.integers(0, 3))
def test_batched_nms_matches_loop_per_group(data, n_groups):
    boxes, scores = data
    groups = (np.arange(len(scores)) % max(n_groups, 1)).astype(np.int32)
    idx, valid = B.batched_nms(boxes, scores, groups, 0.5)
    want = ref.nms(boxes, scores, 0.5, "union", groups)
    assert sorted(np.asarray(idx)[np.asarray(valid)].tolist()) == sorted(want)
    got_scores = scores[np.asarray(idx)[np.asarray(valid)]]
    assert (np.diff(got_scores) <= 0).all()


def test_nms_fixed_size_under_jit_and_ties():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.9, 0.9, 0.8], np.float32)
    idx, valid = _nms_jit(boxes, scores, iou_threshold=0.5, max_output=5)
    assert idx.shape == (5,) and valid.shape == (5,)
    np.testing.assert_array_equal(idx, [0, 2, 0, 0, 0])
    np.testing.assert_array_equal(valid, [True, True, False, False, False])
    idx, valid = _nms_jit(boxes, scores, iou_threshold=0.5, max_output=1)
    np.testing.assert_array_equal(idx, [0])


def test_nms_keeps_overlap_equal_to_threshold():
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1]], np.float32)  # IoU = 1/3
    _, valid = B.nms(boxes, np.array([1.0, 0.5], np.float32), 1 / 3)
    assert np.asarray(valid).sum() == 2


def test_nms_empty():
    idx, valid = B.nms(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), 0.5)
    assert idx.shape == (0,) and valid.shape == (0,)


def test_clip_boxes_b15():
    got = B.clip_boxes(np.array([[-5.0, -25.0, 120.0, 90.0]]), height=100, width=100)
    np.testing.assert_array_equal(got, [[0, 0, 100, 90]])
    # xywh [-5, 10, 50, 40] is x1..x2 = -5..45: the right edge stays at 45
    xyxy = B.clip_boxes(np.array([[-5.0, 10.0, 45.0, 50.0]]), height=100, width=100)
    x1, y1, x2, y2 = np.asarray(xyxy)[0]
    np.testing.assert_array_equal([x1, y1, x2 - x1, y2 - y1], [0, 10, 45, 40])


def test_square_boxes():
    got = B.square_boxes(np.array([[10.0, 20.0, 14.0, 30.0]]))
    np.testing.assert_allclose(got, [[7.0, 20.0, 17.0, 30.0]])


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1, 1), (1, 16, 17, 3), (2, 17, 5, 1), (1, 63, 70, 3), (1, 257, 33, 2)],
)
def test_integral_image_equals_numpy_cumsum(shape):
    # lengths up to 16 are summed directly, longer ones in blocks of 4 with
    # recursive block totals (64 = 4 * 16 and 257 = 4 * 64 + 1 cross levels)
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, shape).astype(np.uint8)
    fractional = pixels + rng.integers(0, 16, shape) / 16  # exact in 1/16
    for images in (pixels, fractional.astype(np.float32)):
        want = np.zeros((shape[0], shape[1] + 1, shape[2] + 1, shape[3]), np.int64)
        fixed = np.round(images.astype(np.float64) * 16)
        want[:, 1:, 1:] = np.cumsum(np.cumsum(fixed, 1), 2)
        got = np.asarray(B.integral_image(images))
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


def test_crop_and_resize_b15_zero_fill_no_wrap():
    image = np.arange(100 * 100 * 3).reshape(100, 100, 3).astype(np.uint8)
    out = np.asarray(B.crop_and_resize(image, np.array([[-10.0, -10, 50, 50]]), 20))
    assert out.shape == (1, 20, 20, 3)
    assert (out[0, :3, :] == 0).all() and (out[0, :, :3] == 0).all()  # outside
    want = ref.area_resize(image, -10, -10, 50, 50, 20, 20)
    assert_close(out[0], want)


@given(
    st.integers(-6, 14),
    st.integers(-6, 14),
    st.integers(0, 20),
    st.integers(0, 20),
    st.sampled_from([3, 7, 12]),
)
def test_crop_and_resize_matches_loop(x1, y1, w, h, size):
    image = np.random.default_rng(0).integers(0, 256, (11, 9, 2)).astype(np.uint8)
    box = np.array([[x1, y1, x1 + w, y1 + h]], np.float32)
    out = B.crop_and_resize(image, box, size)
    assert_close(out[0], ref.area_resize(image, x1, y1, x1 + w, y1 + h, size, size))


@given(
    st.integers(-8, 12),
    st.integers(-8, 12),
    st.integers(0, 24),
    st.integers(0, 24),
    st.sampled_from([0.0, 127.5, -3.25]),
    st.sampled_from([None, (7, 5), (11, 9)]),
)
def test_area_crops_fill_matches_loop(x1, y1, w, h, fill, extent):
    # a 7x5 image zero-padded to 11x9 (as mtcnn.detect pads its batches): with
    # image_shape=(7, 5) the padding counts as outside and reads as fill
    image = np.zeros((11, 9, 2), np.uint8)
    image[:7, :5] = np.random.default_rng(1).integers(0, 256, (7, 5, 2))
    table = B.integral_image(image[None])
    box = np.array([[x1, y1, x1 + w, y1 + h]], np.int32)
    index = np.zeros(1, np.int32)
    for shape in (extent, None if extent is None else [extent]):  # (2,), (N, 2)
        out = B.area_crops(table, index, box, 6, 4, fill=fill, image_shape=shape)
        seen = image if extent is None else image[: extent[0], : extent[1]]
        want = ref.area_resize(seen, x1, y1, x1 + w, y1 + h, 6, 4, fill)
        assert_close(out[0], want)


def test_area_crops_image_shape_per_image_and_traced():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (2, 10, 12, 3)).astype(np.uint8)
    table = B.integral_image(images)
    boxes = np.array([[-3, -2, 9, 11], [4, 5, 15, 13]], np.int32)
    index = np.array([1, 0], np.int32)
    extent = np.array([[8, 6], [10, 7]], np.int32)  # image 0 is 8x6, image 1 10x7
    got = jax.jit(B.area_crops, static_argnums=(3, 4))(
        table, index, boxes, 5, 5, fill=jnp.float32(50.0), image_shape=extent
    )
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        h, w = extent[index[k]]
        seen = images[index[k], :h, :w]
        assert_close(got[k], ref.area_resize(seen, x1, y1, x2, y2, 5, 5, 50.0))


def test_area_crops_image_shape_beyond_int32_is_clamped_to_the_table():
    image = np.random.default_rng(4).integers(0, 256, (5, 6, 1)).astype(np.uint8)
    table = B.integral_image(image[None])
    box, index = np.array([[-1, -1, 7, 6]], np.int32), np.zeros(1, np.int32)
    want = ref.area_resize(image, -1, -1, 7, 6, 3, 3, 9.0)
    for big in (np.array([2**40, 2**40]), (2**33, 2**33), [2**32 + 3] * 2):
        out = B.area_crops(table, index, box, 3, 3, fill=9.0, image_shape=big)
        assert_close(out[0], want)


def test_area_crops_non_finite_fill_reaches_only_outside_pixels():
    # a NaN or infinite fill marks the output pixels that read outside the
    # image; the pixels wholly inside keep their mean (fill * 0 is NaN)
    image = np.random.default_rng(3).integers(0, 256, (6, 7, 2)).astype(np.uint8)
    table = B.integral_image(image[None])
    box, index = np.array([[-2, -3, 5, 4]], np.int32), np.zeros(1, np.int32)
    for fill in (np.nan, np.inf, -np.inf):
        out = np.asarray(B.area_crops(table, index, box, 7, 7, fill=fill))[0]
        want = ref.area_resize(image, -2, -3, 5, 4, 7, 7, fill)
        assert np.isfinite(out[3:, 2:]).all()
        assert_close(out, want)


def test_crop_and_resize_empty_and_float():
    assert B.crop_and_resize(np.zeros((8, 8, 3)), np.zeros((0, 4)), 5).shape == (
        0,
        5,
        5,
        3,
    )
    image = np.full((8, 8, 3), 0.5, np.float32)
    out = B.crop_and_resize(image, np.array([[0.0, 0, 8, 8]]), 4)
    assert_close(out, np.full((1, 4, 4, 3), 0.5))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: B.iou(np.zeros((3,)), np.zeros((1, 4))), "a must have shape"),
        (lambda: B.iou(np.zeros((1, 4)), np.zeros((1, 4)), mode="max"), "mode"),
        (lambda: B.nms(np.zeros((2, 4)), np.zeros((3,)), 0.5), "scores"),
        (
            lambda: B.nms(np.zeros((2, 4)), np.zeros((2,)), 0.5, max_output=-1),
            "max_output",
        ),
        (
            lambda: B.batched_nms(
                np.zeros((2, 4)), np.zeros((2,)), np.zeros((3,), int), 0.5
            ),
            "groups",
        ),
        (lambda: B.clip_boxes(np.zeros((2, 5)), 10, 10), "boxes"),
        (lambda: B.clip_boxes(np.zeros((2, 4)), -1, 10), "height"),
        (lambda: B.crop_and_resize(np.zeros((4, 4)), np.zeros((1, 4)), 3), "image"),
        (lambda: B.crop_and_resize(np.zeros((4, 4, 3)), np.zeros((1, 4)), 0), "size"),
        (
            lambda: B.area_crops(
                np.zeros((2, 5, 5, 3)),
                np.zeros(1, np.int32),
                np.zeros((1, 4), np.int32),
                3,
                3,
                image_shape=np.zeros((3, 2), np.int32),
            ),
            r"image_shape must be \(2,\) or \(N, 2\) = \(2, 2\).*\(3, 2\)",
        ),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_area_crops_bad_fill_and_image_shape_types():
    args = (np.zeros((1, 5, 5, 3)), np.zeros(1, np.int32), np.zeros((1, 4), np.int32))
    with pytest.raises(TypeError, match="fill"):
        B.area_crops(*args, 3, 3, fill="0")
    with pytest.raises(TypeError, match="image_shape"):
        B.area_crops(*args, 3, 3, image_shape=np.array([4.0, 4.0]))


def test_crop_and_resize_boxes_far_beyond_the_image():
    """Bin edges and pixel counts stay exact for boxes up to 2**24 px."""
    image = np.full((5, 6, 1), 100.0, np.float32)
    one = B.crop_and_resize(image, np.array([[0.0, 0, 40000, 40000]]), 1)
    assert_close(one, np.full((1, 1, 1, 1), 100 * 30 / 40000**2))
    # rows [0, 3) and [2, 5); columns [0, 5e6) and [5e6, 1e7)
    wide = B.crop_and_resize(image, np.array([[0.0, 0, 1e7, 5]]), 2)
    assert_close(wide[0, :, :, 0], [[100 * 18 / 15e6, 0], [100 * 18 / 15e6, 0]])
    left = B.crop_and_resize(image, np.array([[-1e7, 0, 6, 5]]), 2)
    assert_close(left[0, :, :, 0], [[0, 100 * 18 / 15e6], [0, 100 * 18 / 15e6]])


@pytest.mark.parametrize(
    "corner, match", [(np.nan, "finite"), (np.inf, "finite"), (2.0**31, "16777216")]
)
def test_crop_and_resize_refuses_unusable_corners(corner, match):
    boxes = np.array([[0.0, 0, corner, 5]])
    with pytest.raises(ValueError, match=f"boxes.*{match}"):
        B.crop_and_resize(np.zeros((5, 6, 1), np.float32), boxes, 2)


def test_crop_bounds_hold_for_the_most_negative_integer():
    """abs(INT64_MIN) is negative in int64: the bound must still catch it."""
    boxes = np.array([[np.iinfo(np.int64).min, 0, 2, 2]], np.int64)
    with pytest.raises(ValueError, match="boxes corners"):
        B.crop_and_resize(np.zeros((5, 6, 1), np.float32), boxes, 2)
    table = B.integral_image(np.ones((1, 4, 4, 1), np.float32))
    boxes32 = np.array([[np.iinfo(np.int32).min, 0, 2, 2]], np.int32)
    with pytest.raises(ValueError, match="boxes corners"):
        B.area_crops(table, np.zeros(1, np.int32), boxes32, 2, 2)


def test_area_crops_refuses_image_index_outside_the_table():
    table = B.integral_image(np.ones((2, 4, 4, 1), np.float32))
    boxes = np.array([[0, 0, 2, 2]], np.int32)
    for index in (7, -1):
        with pytest.raises(ValueError, match=r"image_index.*\[0, 2\)"):
            B.area_crops(table, np.array([index]), boxes, 2, 2)


def test_batched_nms_group_ids_beyond_int32_are_refused():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11]])
    scores = np.array([0.9, 0.8])
    with pytest.raises(ValueError, match="groups must fit in int32"):
        B.batched_nms(boxes, scores, np.array([2**32, 0]), 0.5)


def test_nms_threshold_nan_refused_and_numpy_max_output_taken():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11]])
    scores = np.array([0.9, 0.8])
    with pytest.raises(ValueError, match="iou_threshold"):
        B.nms(boxes, scores, np.nan)
    indices, valid = B.nms(boxes, scores, 0.5, max_output=np.int64(2))
    assert indices.tolist() == [0, 0] and valid.tolist() == [True, False]


def test_nms_bad_threshold_type():
    with pytest.raises(TypeError, match="iou_threshold"):
        B.nms(np.zeros((2, 4)), np.zeros((2,)), np.zeros(2))
    with pytest.raises(TypeError, match="iou_threshold"):
        B.nms(np.zeros((2, 4)), np.zeros((2,)), "0.5")
