"""Bad files for the file and CLI sweep, written into a given folder.

Every file is tiny: the "huge" PNG only *claims* 100000 x 100000 pixels in its
header, so a reader that trusts the header before Pillow's decompression-bomb
check would try to allocate about 30 GB.
"""

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

HUGE_SIDE = 100_000


def png_bytes(height: int = 32, width: int = 40) -> bytes:
    """A valid RGB PNG with some structure (a gradient)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + y) % 256], axis=-1).astype(np.uint8)  # fmt: skip
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(height: int = 32, width: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png_bytes(height, width))).save(buffer, format="JPEG")
    return buffer.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_with_header(width: int, height: int) -> bytes:
    """A complete, CRC-correct PNG whose IHDR claims ``width x height`` RGB.

    Its pixel data is only one row's worth, so decoding it would fail: what
    matters is what a reader does *before* decoding.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 16))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


#: name -> file content of each bad "image" file.
BAD_IMAGES = {
    "text.png": b"this is not an image\n",
    "empty.png": b"",
    "truncated.png": png_bytes()[: len(png_bytes()) // 2],
    "truncated.jpg": jpeg_bytes()[: len(jpeg_bytes()) // 2],
    "zero_size.png": png_with_header(0, 0),
    "huge.png": png_with_header(HUGE_SIDE, HUGE_SIDE),
    "garbage.jpg": b"\xff\xd8\xff" + bytes(range(256)) * 8,
}


def write(folder: str, name: str, content: bytes) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def snapshot(folder: str) -> dict[str, bytes]:
    """Relative path -> content of every file under ``folder``."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found
