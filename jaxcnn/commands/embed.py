"""``jaxcnn embed``: detect the largest face, align it, print its FaceNet embedding.

Usage::

    jaxcnn embed IMAGE [IMAGE ...] --weights FILE [--margin PX] [--no-detect]

For each image: MTCNN (``jaxcnn.mtcnn.detect``) finds the faces, the largest
box (by area) is cut out with ``jaxcnn.images.align_faces`` at the network's
input size (160 for Inception-ResNet-v1) with ``--margin`` pixels of context,
standardised as ``(x - 127.5) / 128`` and embedded. ``--no-detect`` skips
detection and uses the whole image (already aligned crops, e.g. LFW crops).

``--weights``: a facenet-pytorch ``InceptionResnetV1`` state dict (``.pt``,
read with ``torch.load(weights_only=True)``; needs the ``torch`` extra), or an
``.npz`` file written by ``jaxcnn.facenet.nets.save_model``. See
``jaxcnn.facenet.nets.load_model``.

Output (stdout): one JSON document ``{"images": [...]}`` with, per input in
order, ``name``, ``path``, ``box`` (the face used, x1, y1, x2, y2 in pixels; the
whole image with ``--no-detect``) and ``embedding`` (a list of floats of unit
length); an input that failed has ``error`` instead.

Exit status: 0 every input embedded; 1 at least one input could not be read or
had no face (its error is also printed on stderr); 2 bad command line or
weights file.
"""

import argparse
import json
import logging
import os
import sys

import numpy as np

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
#: Context around the face box, in pixels of the aligned crop (the default of
#: ``jaxcnn.images.align_faces``).
DEFAULT_MARGIN = 32
_LOG = logging.getLogger(__name__)


class FaceError(Exception):
    """An input image could not be embedded (unreadable, or no face)."""


def add_parser(sub) -> None:
    """Adds the ``embed`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "embed",
        help="print the FaceNet embedding of the largest face in each image",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    add_model_arguments(p)
    p.set_defaults(run=run)


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``embed`` and ``verify``."""
    p.add_argument(
        "--weights",
        required=True,
        metavar="FILE",
        help="facenet-pytorch state dict (.pt) or jaxcnn .npz weights",
    )
    p.add_argument(
        "--margin",
        type=int,
        default=DEFAULT_MARGIN,
        metavar="PX",
        help=f"context around the face in crop pixels (default {DEFAULT_MARGIN})",
    )
    p.add_argument(
        "--no-detect",
        action="store_true",
        help="use the whole image as the face crop (already aligned faces)",
    )


class Embedder:
    """Loads the network once; embeds the largest face of an image file."""

    def __init__(self, weights: str, *, margin: int, detect_faces: bool):
        import jax

        from jaxcnn.facenet import nets

        self.model, self.variables, self.size = nets.load_model(weights)
        if detect_faces and margin >= self.size:
            raise ValueError(
                f"--margin must be smaller than the crop size {self.size}; got {margin}"
            )
        self.channels = _input_channels(self.variables)
        self.margin = margin
        self.detect_faces = detect_faces
        self._embed = jax.jit(nets.embed, static_argnums=0)

    def __call__(self, path: str) -> tuple[list[float], np.ndarray]:
        """Returns ``(box, embedding)`` for the image at ``path``."""
        from jaxcnn import images
        from jaxcnn.facenet import fixed_standardize

        try:
            image = images.load(path)
        except (OSError, ValueError) as err:
            raise FaceError(f"{path}: cannot read the image: {err}") from err
        box = self._face_box(image, path)
        crop = images.align_faces(
            image,
            box[None],
            size=self.size,
            margin=self.margin if self.detect_faces else 0,
        )
        x = fixed_standardize(crop)
        if self.channels == 1:
            x = x.mean(axis=-1, keepdims=True)
        embedding = np.asarray(self._embed(self.model, self.variables, x))[0]
        return [float(v) for v in box], embedding

    def _face_box(self, image: np.ndarray, path: str) -> np.ndarray:
        height, width = image.shape[:2]
        if not self.detect_faces:
            return np.array([0.0, 0.0, width, height], np.float32)
        try:
            found = detect(image)
        except ValueError as err:  # e.g. a side above mtcnn's limit
            raise FaceError(f"{path}: {err}") from None
        boxes = np.asarray(found.boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            raise FaceError(f"{path}: no face found")
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return boxes[int(np.argmax(areas))]


def detect(image):
    """MTCNN with its shipped weights (a seam for tests)."""
    from jaxcnn import mtcnn

    return mtcnn.detect(image)


def _input_channels(variables) -> int:
    """Input channels of the first convolution's kernel (HWIO)."""
    import jax

    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]:
        if getattr(path[-1], "key", None) == "kernel" and np.ndim(leaf) == 4:
            return int(np.shape(leaf)[2])
    return 3


def load_embedder(args: argparse.Namespace) -> Embedder:
    """Builds the :class:`Embedder`, or raises ValueError for a bad option."""
    if args.margin < 0:
        raise ValueError(f"--margin must be >= 0; got {args.margin}")
    if not os.path.isfile(args.weights):
        raise ValueError(f"--weights: no such file: {args.weights}")
    return Embedder(args.weights, margin=args.margin, detect_faces=not args.no_detect)


def run(args: argparse.Namespace) -> int:
    """Runs ``jaxcnn embed``; returns the exit status."""
    try:
        embedder = load_embedder(args)
    except (ValueError, ImportError, OSError) as err:
        print(f"jaxcnn embed: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    records, status = [], EXIT_OK
    for path in args.images:
        record = {"name": os.path.basename(path), "path": path}
        try:
            box, embedding = embedder(path)
            record |= {"box": box, "embedding": [float(v) for v in embedding]}
        except FaceError as err:
            print(f"jaxcnn embed: {err}", file=sys.stderr)
            record["error"] = str(err)
            status = EXIT_INPUT
        records.append(record)
    json.dump({"images": records}, sys.stdout)
    sys.stdout.write("\n")
    return status
