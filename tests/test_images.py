"""Tests for jaxcnn.images: loading files, array layouts, drawing, face crops."""

import io
import os
import sys
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFile

from jaxcnn import images

# EXIF tag 0x0112 (Orientation). Value 6: the stored pixels must be rotated
# 90 degrees clockwise to display upright (EXIF 2.3, Table 4).
ORIENTATION = 0x0112


def _asymmetric(height=24, width=40) -> np.ndarray:
    """An RGB image whose every orientation is different."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _save(path, array, fmt="PNG", **kw):
    Image.fromarray(array).save(path, format=fmt, **kw)
    return str(path)


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------


def test_load_png_roundtrip(tmp_path):
    array = _asymmetric()
    loaded = images.load(_save(tmp_path / "a.png", array))
    assert loaded.dtype == np.uint8 and loaded.shape == (24, 40, 3)
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (1, lambda a: a),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),  # rotate 90 degrees clockwise
        (8, lambda a: np.rot90(a, 1)),
        (2, lambda a: a[:, ::-1]),
    ],
)
def test_load_applies_exif_orientation(tmp_path, fmt, tag, expected):
    array = np.kron(_asymmetric(6, 10), np.ones((8, 8, 1), np.uint8))
    exif = Image.Exif()
    exif[ORIENTATION] = tag
    kw = {"quality": 95} if fmt == "JPEG" else {}
    path = _save(tmp_path / f"o.{fmt.lower()}", array, fmt, exif=exif, **kw)
    loaded = images.load(path)
    # The stored pixels (JPEG: as decoded, lossy) turned the way the tag says.
    stored = np.asarray(Image.open(path).convert("RGB"))
    want = expected(stored)
    assert loaded.shape == want.shape
    np.testing.assert_array_equal(loaded, want)
    if tag != 1:
        assert loaded.shape != array.shape or not np.array_equal(loaded, stored)


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda a: Image.fromarray(a[..., 0])),
        ("LA", lambda a: Image.fromarray(a[..., 0]).convert("LA")),
        ("P", lambda a: Image.fromarray(a).convert("P")),
        ("RGBA", lambda a: Image.fromarray(np.dstack([a, a[..., :1]]))),
        ("1", lambda a: Image.fromarray(a[..., 0] > 127)),
    ],
)
def test_load_converts_modes_to_rgb(tmp_path, mode, make):
    pil = make(_asymmetric())
    assert pil.mode == mode
    path = tmp_path / "m.png"
    pil.save(path)
    loaded = images.load(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (24, 40, 3)
    np.testing.assert_array_equal(loaded, np.asarray(pil.convert("RGB")))


def test_load_rgba_drops_alpha_keeps_colour(tmp_path):
    rgb = _asymmetric()
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])  # fully transparent
    loaded = images.load(_save(tmp_path / "t.png", rgba))
    np.testing.assert_array_equal(loaded, rgb)


def test_load_sixteen_bit_gray_scaled(tmp_path):
    gray = np.array([[0, 257, 65535], [32896, 1000, 514]], np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(gray).save(path)
    loaded = images.load(path)
    np.testing.assert_array_equal(loaded[..., 0], [[0, 1, 255], [128, 4, 2]])
    np.testing.assert_array_equal(loaded[..., 0], loaded[..., 2])


def test_load_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        images.load(path)


def test_load_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        images.load(tmp_path)


def test_load_non_image_and_empty_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    with pytest.raises(ValueError, match="notes.txt"):
        images.load(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.png.*empty"):
        images.load(empty)


def test_load_bad_path_type():
    with pytest.raises(TypeError, match="path"):
        images.load(3)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads everything"
)
def test_load_unreadable_file(tmp_path):
    path = _save(tmp_path / "secret.png", _asymmetric())
    os.chmod(path, 0)
    try:
        with pytest.raises(PermissionError, match="secret.png"):
            images.load(path)
    finally:
        os.chmod(path, 0o600)


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_asymmetric(64, 64)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.3, 0.9, -12, -2, -1])
@pytest.mark.parametrize("lenient_pillow", [False, True])
def test_load_truncated_raises(tmp_path, monkeypatch, fmt, keep, lenient_pillow):
    # Even when someone else switched Pillow to accept truncated files, load
    # must refuse them (a PNG missing only IEND decodes fine in Pillow).
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_pillow)
    data = _encoded(fmt)
    cut = data[: int(len(data) * keep)] if keep > 0 else data[:keep]
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(cut)
    with pytest.raises(ValueError, match="cut.*truncated"):
        images.load(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is lenient_pillow  # left untouched


_PNG, _JPEG = _encoded("PNG"), _encoded("JPEG")


@given(fmt=st.sampled_from(["PNG", "JPEG"]), fraction=st.floats(0, 1, exclude_max=True))
def test_load_any_truncation_raises(tmp_path_factory, fmt, fraction):
    data = _PNG if fmt == "PNG" else _JPEG
    path = tmp_path_factory.mktemp("cut") / "cut.img"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match="cut.img"):
        images.load(path)


@given(data=st.binary(max_size=64))
def test_load_random_bytes_only_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("junk") / "junk.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="junk.bin"):
        images.load(path)


def test_load_jpeg_markers_in_earlier_segments_and_trailers(tmp_path):
    # A comment segment holding SOS/EOI bytes (as an EXIF thumbnail would) must
    # not hide a truncated scan; bytes after the end marker (phone trailers)
    # are fine.
    data = _encoded("JPEG")
    payload = b"thumb \xff\xda \xff\xd9"
    comment = b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload
    data = data[:2] + comment + data[2:]
    path = tmp_path / "thumb.jpg"
    path.write_bytes(data + b"\x00trailer")
    assert images.load(path).shape == (64, 64, 3)
    path.write_bytes(data[:-40])
    with pytest.raises(ValueError, match="truncated"):
        images.load(path)


def test_load_zero_size_rejected(tmp_path, monkeypatch):
    # No encoder writes a 0-pixel image, so fake the decoded size.
    path = _save(tmp_path / "z.png", _asymmetric())
    empty = Image.new("RGB", (0, 0))
    monkeypatch.setattr(images, "_decode", lambda data: empty)
    with pytest.raises(ValueError, match="z.png.*zero size"):
        images.load(path)


# --------------------------------------------------------------------------
# to_rgb (case B14 and its kind)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(1, 3, 64, 64), (3, 64, 64), (64, 64, 2), (64, 64, 5), (1, 1, 8, 8, 3)]
)
def test_to_rgb_bad_layout_names_expected_and_received(shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)") as info:
        images.to_rgb(np.zeros(shape, np.float32))
    message = str(info.value)
    assert "(N, H, W, 3)" in message and str(shape) in message


@pytest.mark.parametrize("shape", [(5,), ()])
def test_to_rgb_bad_rank(shape):
    with pytest.raises(ValueError, match="got shape"):
        images.to_rgb(np.zeros(shape, np.uint8))


def test_to_rgb_nchw_hint():
    with pytest.raises(ValueError, match="channels-first"):
        images.to_rgb(np.zeros((1, 3, 64, 64), np.float32))


@pytest.mark.parametrize("shape", [(64, 64), (64, 64, 1), (2, 64, 64, 1)])
def test_to_rgb_gray_replicated(shape):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, shape, dtype=np.uint8)
    rgb = images.to_rgb(gray)
    base = gray if gray.shape[-1] != 1 else gray[..., 0]
    assert rgb.shape == base.shape + (3,) and rgb.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], base)


@pytest.mark.parametrize("shape", [(64, 64, 4), (3, 64, 64, 4)])
def test_to_rgb_rgba_drops_alpha(shape):
    rgba = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(images.to_rgb(rgba), rgba[..., :3])


@pytest.mark.parametrize(
    ("dtype", "out"),
    [
        (np.uint8, np.uint8),
        (np.int64, np.uint8),
        (np.uint16, np.uint8),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float32),
        (jnp.bfloat16, np.float32),
    ],
)
def test_to_rgb_dtypes(dtype, out):
    values = np.array([[0, 1, 128], [200, 254, 255]], np.float64)
    image = np.repeat(values[..., None], 3, -1).astype(dtype)
    rgb = images.to_rgb(image)
    assert rgb.dtype == out and rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb[..., 1], values)


def test_to_rgb_accepts_jax_arrays_and_pil():
    rgb = _asymmetric()
    np.testing.assert_array_equal(images.to_rgb(jnp.asarray(rgb)), rgb)
    np.testing.assert_array_equal(
        images.to_rgb(Image.fromarray(rgb[..., 0])), rgb[..., [0, 0, 0]]
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_to_rgb_non_finite(bad):
    image = np.zeros((8, 8, 3), np.float32)
    image[3, 4, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        images.to_rgb(image)


@pytest.mark.parametrize(
    "image",
    [np.full((4, 4, 3), -1.0), np.full((4, 4, 3), 255.5), np.full((4, 4, 3), 300)],
)
def test_to_rgb_out_of_range(image):
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        images.to_rgb(image)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((4, 4, 3), bool),
        np.zeros((4, 4, 3), np.complex64),
        np.array([["a", "b"]]),
        np.empty((4, 4, 3), object),
        "astronaut.png",
    ],
)
def test_to_rgb_bad_dtype(image):
    with pytest.raises(TypeError, match="image"):
        images.to_rgb(image)


_DTYPES = [np.uint8, np.int8, np.int32, np.uint16, np.float16, np.float32]
_DTYPES += [np.float64, bool, np.complex64, jnp.bfloat16]


@given(
    shape=st.lists(st.integers(0, 5), max_size=5).map(tuple),
    dtype=st.sampled_from(_DTYPES),
    fill=st.sampled_from([0, 1, 255, 256, -1, np.nan, np.inf, 0.5]),
)
def test_to_rgb_sweep_only_documented_outcomes(shape, dtype, fill):
    with np.errstate(invalid="ignore", over="ignore"):
        image = np.full(shape, fill).astype(dtype)
    try:
        rgb = images.to_rgb(image)
    except TypeError as err:
        assert "dtype" in str(err) and np.dtype(dtype).kind in "bc"
        return
    except ValueError as err:
        assert "image" in str(err)
        return
    assert rgb.ndim in (3, 4) and rgb.shape[-1] == 3
    assert rgb.dtype in (np.uint8, np.float32)
    assert np.isfinite(rgb).all() and (
        rgb.size == 0 or 0 <= rgb.min() <= rgb.max() <= 255
    )


def test_to_rgb_names_argument():
    with pytest.raises(ValueError, match="photo must"):
        images.to_rgb(np.zeros((2, 2, 2)), name="photo")


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0), (0, 8, 8, 3)])
def test_to_rgb_zero_size_passes_through(shape):
    rgb = images.to_rgb(np.zeros(shape, np.uint8))
    assert rgb.shape[:-1] == shape[: len(rgb.shape) - 1] and rgb.shape[-1] == 3


def test_to_rgb_does_not_modify_input():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = images.to_rgb(gray)
    rgb[...] = 0
    assert gray.max() == 11


# --------------------------------------------------------------------------
# Drawing and crops
# --------------------------------------------------------------------------


def _detections(boxes, landmarks=None, scores=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if landmarks is None:
        landmarks = np.zeros((len(boxes), 5, 2), np.float32)
    if scores is None:
        scores = np.ones(len(boxes), np.float32)
    return SimpleNamespace(boxes=boxes, scores=scores, landmarks=landmarks)


def test_draw_detections_marks_box_and_points():
    image = np.zeros((100, 120, 3), np.uint8)
    points = np.array([[[40, 40], [60, 40], [50, 55], [42, 70], [58, 70]]], float)
    out = images.draw_detections(image, _detections([[20, 10, 80, 90]], points))
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[50, 20], [255, 0, 0])  # left edge of the box
    np.testing.assert_array_equal(out[40, 40], [0, 255, 0])  # left eye
    np.testing.assert_array_equal(out[55, 50], [255, 255, 0])  # nose
    assert out[5:8, 100:110].max() == 0  # outside: untouched
    assert image.max() == 0  # input untouched


def test_draw_detections_empty_and_mismatch():
    image = _asymmetric()
    np.testing.assert_array_equal(
        images.draw_detections(image, _detections(np.zeros((0, 4)))), image
    )
    bad = _detections([[0, 0, 4, 4]], landmarks=np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="landmarks"):
        images.draw_detections(image, bad)


def test_align_faces_no_margin_equals_resized_crop():
    image = _asymmetric(64, 64)
    crops = images.align_faces(image, [[8, 16, 40, 48]], size=32, margin=0)
    want = image[16:48, 8:40]  # 32x32 box into 32x32: identity
    assert crops.shape == (1, 32, 32, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[0], want)


def test_align_faces_margin_in_output_pixels():
    # A white square box on black: with margin m the box fills size - m pixels
    # in the middle of the crop, whatever the scale of the photo.
    for scale in (1, 3):
        image = np.zeros((100 * scale, 100 * scale, 3), np.uint8)
        image[30 * scale : 70 * scale, 30 * scale : 70 * scale] = 255
        box = np.array([[30, 30, 70, 70]], float) * scale
        crop = images.align_faces(image, box, size=80, margin=40)[0, ..., 0]
        inside = crop[22:58, 22:58]
        outside = np.concatenate([crop[:18].ravel(), crop[62:].ravel()])
        assert inside.min() == 255 and outside.max() == 0


def test_align_faces_zero_fill_outside_image():
    # Case B15: parts of the crop outside the image are 0, not wrapped pixels.
    image = np.full((50, 50, 3), 200, np.uint8)
    crop = images.align_faces(image, [[-25, -25, 25, 25]], size=50, margin=0)[0]
    assert crop[:24, :24].max() == 0
    assert crop[26:, 26:].min() == 200


def test_align_faces_empty_and_bad_args():
    image = _asymmetric()
    assert images.align_faces(image, np.zeros((0, 4))).shape == (0, 160, 160, 3)
    with pytest.raises(ValueError, match="boxes"):
        images.align_faces(image, np.zeros((3,)))
    with pytest.raises(ValueError, match="boxes.*finite"):
        images.align_faces(image, [[0, 0, np.nan, 4]])
    with pytest.raises(ValueError, match="margin"):
        images.align_faces(image, [[0, 0, 4, 4]], size=32, margin=32)
    with pytest.raises(TypeError, match="size"):
        images.align_faces(image, [[0, 0, 4, 4]], size=32.0)
    with pytest.raises(ValueError, match="one image"):
        images.align_faces(np.zeros((2, 8, 8, 3)), [[0, 0, 4, 4]])


def test_align_faces_degenerate_box():
    crops = images.align_faces(_asymmetric(), [[5, 5, 5, 5]], size=8, margin=2)
    assert crops.shape == (1, 8, 8, 3)


def test_encode_png_roundtrip():
    image = _asymmetric()
    decoded = np.asarray(Image.open(io.BytesIO(images.encode_png(image))))
    np.testing.assert_array_equal(decoded, image)
