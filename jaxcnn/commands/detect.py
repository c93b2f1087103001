"""``jaxcnn detect``: find faces with MTCNN, print JSON, save pictures and crops.

Usage::

    jaxcnn detect [IMAGE ...] [--out DIR] [--json-only] [--min-face-size PX]
                  [--thresholds T1 T2 T3] [--crop-size PX] [--margin PX]
                  [--no-cache]

With no IMAGE it runs on the astronaut photo that scikit-image ships.

Output:

* stdout: one JSON document ``{"images": [...]}`` with, per input in order,
  ``name`` (the file name, or ``astronaut``), ``path``, ``height``, ``width``,
  ``boxes`` (x1, y1, x2, y2 in pixels), ``scores``, ``landmarks`` (five x, y
  per face: left eye, right eye, nose, left and right mouth corner) and the
  ``files`` written; an input that could not be read has ``error`` instead.
* under ``--out`` (default ``detections`` in the working directory; nothing
  is written with ``--json-only``): ``<stem>_detections.png`` (boxes, scores
  and landmarks drawn) and ``<stem>_face<k>.png`` aligned crops (see
  :func:`jaxcnn.images.align_faces` for the margin). Stems come from the input
  names and are made unique within a run (``x``, ``x-2``, ...). Existing files
  of those names are replaced; an input file is never overwritten. Every file
  is written to a temporary file in ``--out`` and renamed into place, so no
  partial file is left behind.
* the JAX persistent compilation cache (``--no-cache`` to disable), in
  ``$JAXCNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxcnn/xla``, else
  ``~/.cache/jaxcnn/xla``: a second run skips XLA compilation. This directory
  is the only place written outside ``--out``. Its contents are trusted code,
  so it is created private (mode 0700).

A progress bar (stderr) is shown for more than one image when stderr is a
terminal.

Exit status:

* 0: every input was processed (whether or not faces were found).
* 1: at least one input could not be read or processed; its error is printed
  on stderr as one line and the other inputs are still processed and printed.
* 2: bad command line (including an ``--out`` that is a file or an input).
* 3: `--out` or an output file could not be created or written (the run stops).
* 130: interrupted (Ctrl-C).
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_OUT = "detections"
DEFAULT_IMAGE = "astronaut"
_PROG = "jaxcnn detect"
_LOG = logging.getLogger(__name__)


class UsageError(Exception):
    """A problem with the command line, reported with exit status 2."""


class OutputError(Exception):
    """An output file could not be written; reported with exit status 3."""


@dataclass(frozen=True)
class Source:
    """One input: a display name, a path (None for the built-in photo), a stem."""

    name: str
    path: str | None
    stem: str


def add_parser(sub) -> None:
    """Registers ``detect`` on the top-level subparsers."""
    p = sub.add_parser(
        "detect",
        help="find faces (boxes, scores, five landmarks) with MTCNN",
        description="Find faces with MTCNN. Prints JSON on stdout; writes an "
        "annotated PNG and aligned face crops under --out. Without IMAGE, runs on "
        "scikit-image's astronaut photo. Exit status: 0 ok, 1 an input failed, "
        "2 usage error, 3 output not writable, 130 interrupted.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    p.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output directory (default: {DEFAULT_OUT})",
    )
    p.add_argument(
        "--json-only",
        action="store_true",
        help="print JSON only, write no files (--out is not used)",
    )
    p.add_argument(
        "--min-face-size",
        type=_positive_float,
        default=20.0,
        metavar="PX",
        help="smallest face side searched for, in pixels (default: 20)",
    )
    p.add_argument(
        "--thresholds",
        type=_probability,
        nargs=3,
        default=(0.6, 0.7, 0.7),
        metavar=("T1", "T2", "T3"),
        help="P-Net, R-Net, O-Net face-probability thresholds (default: 0.6 0.7 0.7)",
    )
    p.add_argument(
        "--crop-size",
        type=int,
        default=160,
        metavar="PX",
        help="side of the aligned face crops (default: 160)",
    )
    p.add_argument(
        "--margin",
        type=int,
        default=32,
        metavar="PX",
        help="margin around each face crop, in crop pixels (default: 32)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="do not use the persistent XLA compilation cache",
    )
    p.set_defaults(run=run)


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
    return value


def _probability(text: str) -> float:
    value = _finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1]; got {text}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite; got {text}")
    return value


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Runs ``jaxcnn detect``; returns the exit status."""
    try:
        return _run(args)
    except UsageError as err:
        _error(str(err))
        return EXIT_USAGE
    except OutputError as err:
        _error(str(err))
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    _check_crop_options(args)
    sources = _sources(args.images)
    out = None if args.json_only else _prepare_out(args.out, sources)
    if not args.no_cache:
        _enable_compilation_cache()
    detect = _load_detector()
    results, status = [], EXIT_OK
    for source in _progress(sources):
        record = _process(source, detect, args, out)
        status = EXIT_INPUT if "error" in record else status
        results.append(record)
    _print_json(results)
    return status


def _check_crop_options(args: argparse.Namespace) -> None:
    if args.crop_size < 1 or not 0 <= args.margin < args.crop_size:
        raise UsageError(
            "--crop-size must be >= 1 and --margin in [0, crop size); got "
            f"--crop-size {args.crop_size} --margin {args.margin}"
        )


def _error(message: str) -> None:
    """One line on stderr, prefixed with the program name."""
    print(f"{_PROG}: error: {message}", file=sys.stderr, flush=True)


def _print_json(records: list[dict]) -> None:
    """Prints ``{"images": [...]}`` with one line per image record."""
    lines = ",\n".join(" " + json.dumps(r, allow_nan=False) for r in records)
    text = '{"images": [\n' + lines + "\n]}\n" if records else '{"images": []}\n'
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`: nothing left to say.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def _load_detector():
    """Imports the detector late, so ``--help`` and usage errors stay fast."""
    from jaxcnn import mtcnn

    return mtcnn.detect


def _progress(sources: list[Source]):
    """A tqdm bar on stderr for several images when stderr is a terminal."""
    from tqdm import tqdm

    quiet = len(sources) < 2 or not sys.stderr.isatty()
    return tqdm(sources, desc="detect", unit="image", file=sys.stderr, disable=quiet)


# ---------------------------------------------------------------------------
# Inputs and output names
# ---------------------------------------------------------------------------


def _sources(paths: list[str]) -> list[Source]:
    """Names every input and gives it a unique output stem."""
    if not paths:
        return [Source(DEFAULT_IMAGE, None, DEFAULT_IMAGE)]
    taken: set[str] = set()
    sources = []
    for path in paths:
        base = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
        stem = _unique(_safe_stem(base), taken)
        sources.append(Source(os.path.basename(os.path.normpath(path)), path, stem))
    return sources


def _safe_stem(base: str) -> str:
    """Keeps letters, digits, '-', '_' and '.' of a file name; never empty."""
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in base)
    kept = kept.lstrip(".")
    return kept or "image"


def _unique(stem: str, taken: set[str]) -> str:
    candidate, k = stem, 2
    while candidate.lower() in taken:
        candidate, k = f"{stem}-{k}", k + 1
    taken.add(candidate.lower())
    return candidate


def _prepare_out(out: str, sources: list[Source]) -> str:
    """Checks ``--out`` and creates it; refuses a file or an input path."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out must be a directory; {out} is a file")
    for source in sources:
        if source.path is not None and _same_path(source.path, out):
            raise UsageError(f"--out {out} is one of the inputs")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create --out {out}: {err.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to --out {out}: permission denied")
    return out


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


# ---------------------------------------------------------------------------
# One image
# ---------------------------------------------------------------------------


def _process(source: Source, detect, args, out: str | None) -> dict:
    """Loads, detects and saves one input; returns its JSON record."""
    record = {"name": source.name, "path": source.path}
    start = time.perf_counter()
    try:
        image = _read(source)
    except (OSError, ValueError, TypeError) as err:  # its message names the file
        return _failed(record, _one_line(err))
    try:
        found = detect(
            image, min_face_size=args.min_face_size, thresholds=tuple(args.thresholds)
        )
    except (ValueError, TypeError) as err:  # e.g. a side above the limit
        return _failed(record, f"{source.name}: {_one_line(err)}")
    record |= {"height": int(image.shape[0]), "width": int(image.shape[1])}
    record |= _detections_json(found)
    seconds = time.perf_counter() - start
    _LOG.info("%s: %d face(s) in %.3f s", source.name, len(record["boxes"]), seconds)
    if out is not None:
        record["files"] = _save(source, image, found, args, out)
    return record


def _failed(record: dict, message: str) -> dict:
    """Reports one input's error on stderr and in its JSON record."""
    _error(message)
    return record | {"error": message}


def _read(source: Source) -> np.ndarray:
    from jaxcnn import images

    if source.path is None:
        import skimage.data

        return images.to_rgb(skimage.data.astronaut())
    return images.load(source.path)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _detections_json(found) -> dict:
    """Boxes, scores and landmarks as lists of floats (pixels to 0.001)."""
    boxes = np.asarray(found.boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(found.scores, np.float64).reshape(-1)
    landmarks = np.asarray(found.landmarks, np.float64).reshape(-1, 5, 2)
    return {
        "boxes": np.round(boxes, 3).tolist(),
        "scores": np.round(scores, 6).tolist(),
        "landmarks": np.round(landmarks, 3).tolist(),
    }


def _save(source: Source, image: np.ndarray, found, args, out: str) -> dict:
    """Writes the annotated picture and the face crops; returns their paths."""
    from jaxcnn import images

    annotated = images.draw_detections(image, found)
    crops = images.align_faces(
        image, found.boxes, size=args.crop_size, margin=args.margin
    )
    inputs = _input_paths(args.images)
    picture = _write_png(out, f"{source.stem}_detections.png", annotated, inputs)
    faces = [
        _write_png(out, f"{source.stem}_face{k}.png", crop, inputs)
        for k, crop in enumerate(crops)
    ]
    return {"annotated": picture, "faces": faces}


def _input_paths(paths: list[str]) -> list[str]:
    return [p for p in paths if os.path.exists(p)]


def _write_png(out: str, filename: str, image: np.ndarray, inputs) -> str:
    """Writes one PNG atomically; refuses to replace an input file."""
    from jaxcnn import images

    path = os.path.join(out, filename)
    if any(_same_path(path, p) for p in inputs):
        raise OutputError(f"refusing to overwrite the input file {path}")
    write_atomic(path, images.encode_png(image))
    return path


def write_atomic(path: str, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it.

    Readers see either the old file or the complete new one, never a part; the
    temporary file is removed if anything fails (including Ctrl-C).

    Raises:
      OutputError: the file could not be written.
    """
    folder, name = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {path}: {err.strerror}") from None
        raise


# ---------------------------------------------------------------------------
# Compilation cache
# ---------------------------------------------------------------------------


def cache_dir() -> str:
    """Where compiled XLA programs are kept between runs."""
    explicit = os.environ.get("JAXCNN_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "jaxcnn", "xla")


def _enable_compilation_cache() -> None:
    """Turns on JAX's persistent cache for this process (best effort).

    Programs that took at least 0.1 s to compile are stored (JAX's default is
    1 s, which would skip most of MTCNN's small programs on CPU). A cache
    directory that cannot be created only costs compile time, so it is
    silently skipped.
    """
    import jax

    path = cache_dir()
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as err:
        _LOG.info("no XLA compilation cache (%s: %s)", path, err.strerror)
        return
    _LOG.info("XLA compilation cache: %s", path)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
