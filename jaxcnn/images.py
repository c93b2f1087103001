"""Images in and out: load files, normalise arrays to RGB, draw and crop faces.

Floor 1 (NumPy and Pillow only). Layouts follow the shape legend in
:mod:`jaxcnn`: an image is ``(H, W, 3)`` RGB and a batch ``(N, H, W, 3)``.

Choices made here (and relied on by :func:`jaxcnn.mtcnn.detect`):

* Accepted arrays: ``(H, W)`` and ``(H, W, 1)`` gray (replicated to three
  channels), ``(H, W, 3)`` RGB, ``(H, W, 4)`` RGBA (alpha dropped, not
  composited: transparent pixels keep their stored colour), and the same with a
  leading batch axis ``N``. Anything else, channels-first (NCHW) included,
  raises ``ValueError`` naming the expected layout and the shape received.
* Dtypes: ``uint8``, any other integer type whose values lie in [0, 255]
  (returned as ``uint8``), or floating point with values in [0, 255] (returned
  as ``float32``). Floats in [0, 1] are *not* rescaled (they cannot be told
  apart from a dark image); NaN, inf and values outside [0, 255] raise
  ``ValueError``. ``bool``, complex and non-numeric dtypes raise ``TypeError``.
* Zero-size images (``H == 0`` or ``W == 0``) and empty batches are returned as
  they are (shape ``(0, W, 3)`` etc.), so a detector gives an empty result for
  them; image *files* cannot be zero-size and :func:`load` rejects them.
* Files are decoded by Pillow with their EXIF orientation applied, the first
  frame of multi-frame files used, and converted to 8-bit RGB (16-bit gray
  scaled by 255/65535). Truncated files raise ``ValueError`` regardless of
  Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` flag, which is never set.
"""

import io
import math
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from jaxcnn._checks import shape_of

_LAYOUT = "(H, W, 3) or (N, H, W, 3) (gray (H, W) / (..., 1) and RGBA (..., 4) "
_LAYOUT += "are converted)"
_CHANNELS = (1, 3, 4)

# Landmark colours for draw_detections, in the order of the landmarks legend:
# left eye, right eye, nose, left mouth corner, right mouth corner.
_POINT_COLOURS = (
    (0, 255, 0),
    (0, 255, 0),
    (255, 255, 0),
    (0, 160, 255),
    (0, 160, 255),
)


# ---------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------


def to_rgb(image, name: str = "image") -> np.ndarray:
    """Checks an image or batch of images and returns it as RGB.

    Args:
      image: an array-like or a ``PIL.Image.Image``. Accepted shapes:
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` with ``C`` in 1 (gray),
        3 (RGB) or 4 (RGBA). Values in [0, 255]: ``uint8``, another integer
        type, or floating point.
      name: the argument name used in error messages.

    Returns:
      A NumPy array ``(H, W, 3)`` or ``(N, H, W, 3)``: ``uint8`` for integer
      input, ``float32`` for floating input. Gray is replicated to three
      channels, alpha is dropped. The input is never modified.

    Raises:
      TypeError: the dtype is bool, complex or not numeric.
      ValueError: the layout is not one of the accepted ones (the message
        names the expected layout and the shape received), or a value is NaN,
        infinite or outside [0, 255].
    """
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    array = _as_numeric(image, name)
    array = _to_three_channels(array, name)
    return _check_values(array, name)


def _as_numeric(image, name: str) -> np.ndarray:
    """Converts to a NumPy array and checks the dtype is a real number type."""
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be an array of numbers; got {type(image).__name__} ({err})"
        ) from None
    kind = array.dtype.kind
    # "V" covers ml_dtypes such as bfloat16, which NumPy stores as void-like.
    if kind == "V" and _is_ml_float(array.dtype):
        return array.astype(np.float32)
    if kind not in "uif":
        raise TypeError(
            f"{name} must have an integer (e.g. uint8) or floating dtype with "
            f"values in [0, 255]; got dtype {array.dtype}"
        )
    return array


def _is_ml_float(dtype: np.dtype) -> bool:
    """True for the extra float types (bfloat16, float8) that JAX registers."""
    try:
        np.zeros((), dtype).astype(np.float32)
    except (TypeError, ValueError):
        return False
    return "float" in dtype.name


def _to_three_channels(array: np.ndarray, name: str) -> np.ndarray:
    """Returns ``array`` as (..., 3): gray replicated, alpha dropped."""
    shape = array.shape
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=-1)
    if array.ndim not in (3, 4) or shape[-1] not in _CHANNELS:
        raise ValueError(_layout_message(name, shape))
    if shape[-1] == 1:
        return np.repeat(array, 3, axis=-1)
    if shape[-1] == 4:
        return array[..., :3]
    return array


def _layout_message(name: str, shape: tuple[int, ...]) -> str:
    """The error for a wrong layout, with a hint when it looks channels-first."""
    message = f"{name} must have layout {_LAYOUT}; got shape {shape}"
    channels_first = len(shape) in (3, 4) and shape[-3] in _CHANNELS
    if channels_first and shape[-1] not in _CHANNELS:
        message += " (channels-first? move the channel axis last)"
    return message


def _check_values(array: np.ndarray, name: str) -> np.ndarray:
    """Checks the value range and casts to uint8 (integers) or float32."""
    if array.size == 0:
        return array.astype(np.uint8 if array.dtype.kind in "ui" else np.float32)
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; got NaN or inf values")
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise ValueError(
            f"{name} values must lie in [0, 255]; got min {low} and max {high}"
        )
    return array.astype(np.uint8 if array.dtype.kind in "ui" else np.float32)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Rounds a checked RGB array to uint8."""
    if rgb.dtype == np.uint8:
        return rgb
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def load(path: str | os.PathLike) -> np.ndarray:
    """Loads an image file as ``uint8`` RGB ``(H, W, 3)``.

    The EXIF orientation tag is applied (a phone photo comes out upright);
    gray, gray+alpha, palette, CMYK, RGBA and 16-bit files are converted to
    8-bit RGB; multi-frame files (GIF, TIFF) give their first frame.

    Args:
      path: a file path.

    Returns:
      The image, ``uint8`` ``(H, W, 3)``.

    Raises:
      TypeError: ``path`` is not a str or path-like.
      FileNotFoundError: there is no such file.
      IsADirectoryError: ``path`` is a directory.
      PermissionError: the file cannot be read.
      ValueError: the file is not an image Pillow can decode, is truncated,
        has zero size, or is too large (Pillow's decompression-bomb limit).
      Every message names the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    data = _read_bytes(os.fspath(path))
    try:
        pil = _decode(data)
    except UnidentifiedImageError:
        raise ValueError(
            f"cannot read image {path!s}: Pillow cannot identify its format "
            "(not an image, or cut short)"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {path!s}: {err}") from None
    if pil.width == 0 or pil.height == 0:
        raise ValueError(f"image {path!s} has zero size {pil.size}")
    return _pil_to_rgb(pil)


def _read_bytes(path: str) -> bytes:
    """Reads the whole file, with errors that name the path."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"expected an image file; {path} is a directory")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with open(path, "rb") as f:
            return f.read()
    except PermissionError:
        raise PermissionError(
            f"cannot read image file {path}: permission denied"
        ) from None
    except OSError as err:
        raise ValueError(f"cannot read image file {path}: {err.strerror}") from None


def _decode(data: bytes) -> Image.Image:
    """Decodes fully (so truncation surfaces now) and applies EXIF orientation."""
    if not data:
        raise ValueError("the file is empty")
    problem = _truncation(data)
    if problem:
        raise ValueError(problem)
    pil = Image.open(io.BytesIO(data))
    pil.load()
    return ImageOps.exif_transpose(pil)


def _truncation(data: bytes) -> str:
    """Checks PNG and JPEG structure; returns a problem description or ''.

    Pillow only raises on truncation while its global
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` is False and accepts a PNG whose
    closing chunks are missing, so the end markers are checked here.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_truncation(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_truncation(data)
    return ""


def _png_truncation(data: bytes) -> str:
    """Walks the PNG chunks (length, type, data, CRC) up to IEND."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if pos > len(data):
            break
        if kind == b"IEND":
            return ""
    return "image file is truncated (PNG ends before its IEND chunk)"


def _jpeg_truncation(data: bytes) -> str:
    """Requires an end-of-image marker after the last start-of-scan marker.

    Inside entropy-coded data every 0xFF byte is followed by 0x00 or a restart
    marker, so ``FF D9`` (EOI) after the last ``FF DA`` (SOS) means the last
    scan is complete.
    """
    last_scan = data.rfind(b"\xff\xda")
    if last_scan >= 0 and data.find(b"\xff\xd9", last_scan) >= 0:
        return ""
    return "image file is truncated (JPEG has no end-of-image marker)"


def _pil_to_rgb(pil: Image.Image) -> np.ndarray:
    """Converts any Pillow mode to uint8 RGB (H, W, 3)."""
    if pil.mode.startswith("I;16"):
        return _wide_gray_to_rgb(np.asarray(pil), sixteen_bit=True)
    if pil.mode in ("I", "F"):
        return _wide_gray_to_rgb(np.asarray(pil), sixteen_bit=False)
    if pil.mode == "RGB":
        return np.asarray(pil, dtype=np.uint8).copy()
    if pil.mode in ("P", "PA") and "transparency" in pil.info:
        pil = pil.convert("RGBA")
    return np.asarray(pil.convert("RGB"), dtype=np.uint8).copy()


def _wide_gray_to_rgb(gray: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Maps 16-bit gray to uint8 RGB (65535 -> 255).

    32-bit integer and float gray ("I", "F" modes) has no fixed range: it is
    taken as 16-bit when a value exceeds 255, else as 8-bit.
    """
    gray = gray.astype(np.float64)
    if sixteen_bit or (gray.size and np.nanmax(gray) > 255):
        gray = gray * (255.0 / 65535.0)
    gray = np.clip(np.nan_to_num(np.rint(gray)), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def encode_png(image) -> bytes:
    """Encodes an RGB image (anything :func:`to_rgb` accepts, one image) as PNG."""
    rgb = _single_image(image, "image")
    if rgb.size == 0:
        raise ValueError(
            f"image must have a non-zero height and width to be encoded; got shape "
            f"{rgb.shape}"
        )
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _single_image(image, name: str) -> np.ndarray:
    """to_rgb for exactly one image, rounded to uint8."""
    rgb = to_rgb(image, name)
    if rgb.ndim != 3:
        raise ValueError(f"{name} must be one image (H, W, 3); got shape {rgb.shape}")
    return _to_uint8(rgb)


# ---------------------------------------------------------------------------
# Drawing and face crops
# ---------------------------------------------------------------------------


def draw_detections(image, detections, *, color=(255, 0, 0)) -> np.ndarray:
    """Draws boxes, scores and the five landmarks on a copy of the image.

    Args:
      image: one image, anything :func:`to_rgb` accepts.
      detections: an object with ``boxes`` (K, 4) x1, y1, x2, y2 and
        ``landmarks`` (K, 5, 2), and optionally ``scores`` (K,), e.g. a
        :class:`jaxcnn.mtcnn.Detections`.
      color: RGB colour of the boxes and score labels.

    Returns:
      ``uint8`` ``(H, W, 3)``: the image with box outlines, score labels and
      the landmarks (green eyes, yellow nose, blue mouth corners).
    """
    rgb = _single_image(image, "image")
    if not (hasattr(detections, "boxes") and hasattr(detections, "landmarks")):
        raise TypeError(
            "detections must have boxes and landmarks (e.g. a "
            f"jaxcnn.mtcnn.Detections); got {type(detections).__name__}"
        )
    boxes = _boxes_array(detections.boxes, "detections.boxes")
    points = _float_array(detections.landmarks, "detections.landmarks")
    points = points.reshape(-1, 5, 2)
    scores = getattr(detections, "scores", None)
    if len(points) != len(boxes):
        raise ValueError(
            f"detections.landmarks must have one row per box: got {len(points)} "
            f"rows for {len(boxes)} boxes"
        )
    pil = Image.fromarray(rgb)
    draw = ImageDraw.Draw(pil)
    width = max(1, round(min(rgb.shape[:2]) / 256))
    for k, box in enumerate(boxes):
        draw.rectangle(box.tolist(), outline=tuple(color), width=width)
        if scores is not None:
            label = f"{float(np.asarray(scores)[k]):.3f}"
            draw.text((box[0] + width, box[1] + width), label, fill=tuple(color))
        _draw_points(draw, points[k], radius=width + 1)
    return np.asarray(pil, dtype=np.uint8).copy()


def _draw_points(draw: ImageDraw.ImageDraw, points: np.ndarray, radius: int):
    """Draws the five landmarks as filled dots."""
    for (x, y), colour in zip(points, _POINT_COLOURS, strict=True):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)


def _float_array(values, name: str) -> np.ndarray:
    """``values`` as float64, or a TypeError naming ``name``."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of numbers; got {type(values).__name__}"
        ) from None


def _boxes_array(boxes, name: str) -> np.ndarray:
    """Checks boxes (K, 4) with finite coordinates; returns float64."""
    array = _float_array(boxes, name)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (K, 4); got {shape_of(boxes)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; got NaN or inf coordinates")
    return array


def align_faces(image, boxes, *, size: int = 160, margin: int = 32) -> np.ndarray:
    """Cuts out faces as square crops with a margin, for a FaceNet embedding.

    "Aligned" in the sense of FaceNet's MTCNN preprocessing [DS] (SPECS A4):
    each box is cut out with a margin and resized to ``size x size``; there is
    no rotation. The margin follows facenet-pytorch [FP]: ``margin`` is counted
    in pixels of the *output* crop, so the face box fills
    ``size - margin`` pixels and ``margin / 2`` pixels of context surround it on
    each side whatever the resolution of the photo. (davidsandberg's 44 px is
    in source pixels and so depends on the photo's size.) In source pixels the
    box grows by ``margin * w / (size - margin)`` horizontally (``w`` the box
    width) and likewise vertically. A non-square box is stretched to the square
    output, as both [DS] and [FP] do. Unlike [FP], which clips the grown box to
    the image and so stretches faces at the border, parts of the crop outside
    the image are filled with zeros (case B15). Resampling is Pillow's bilinear
    filter, which widens its support when shrinking (antialiased).

    Args:
      image: one image, anything :func:`to_rgb` accepts.
      boxes: ``(K, 4)`` x1, y1, x2, y2 in pixels, e.g. ``Detections.boxes``.
      size: output side in pixels.
      margin: total margin in output pixels, ``0 <= margin < size``.

    Returns:
      ``uint8`` ``(K, size, size, 3)``; ``(0, size, size, 3)`` for no boxes.
    """
    rgb = _single_image(image, "image")
    boxes = _boxes_array(boxes, "boxes")
    _check_crop_args(size, margin)
    pil = Image.fromarray(rgb)
    crops = [_crop_one(pil, box, size, margin) for box in boxes]
    if not crops:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack(crops)


def _check_crop_args(size, margin) -> None:
    """Checks the integer arguments of align_faces."""
    for name, value in (("size", size), ("margin", margin)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int; got {value!r}")
    if size < 1 or not 0 <= margin < size:
        raise ValueError(
            f"size must be >= 1 and margin in [0, size); got size={size}, "
            f"margin={margin}"
        )


def _crop_one(pil: Image.Image, box: np.ndarray, size: int, margin: int):
    """One crop: grow the box, cut with zero fill, resize to size x size."""
    x1, y1, x2, y2 = box
    grow_x = margin * max(x2 - x1, 0.0) / (size - margin) / 2
    grow_y = margin * max(y2 - y1, 0.0) / (size - margin) / 2
    region = _grown_region(x1 - grow_x, y1 - grow_y, x2 + grow_x, y2 + grow_y)
    left, top = math.floor(region[0]), math.floor(region[1])
    right, bottom = math.ceil(region[2]), math.ceil(region[3])
    patch = pil.crop((left, top, right, bottom))  # zero fill outside the image
    inner = (region[0] - left, region[1] - top, region[2] - left, region[3] - top)
    resized = patch.resize((size, size), Image.Resampling.BILINEAR, box=inner)
    return np.asarray(resized, dtype=np.uint8)


def _grown_region(x1, y1, x2, y2) -> Sequence[float]:
    """Keeps a degenerate (zero-width or -height) region at least 1 px wide."""
    if x2 - x1 < 1:
        centre = (x1 + x2) / 2
        x1, x2 = centre - 0.5, centre + 0.5
    if y2 - y1 < 1:
        centre = (y1 + y2) / 2
        y1, y2 = centre - 0.5, centre + 0.5
    return (float(x1), float(y1), float(x2), float(y2))


__all__ = ["align_faces", "draw_detections", "encode_png", "load", "to_rgb"]
