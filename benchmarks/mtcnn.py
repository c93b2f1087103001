"""Speed of ``jaxcnn.mtcnn.detect`` beside facenet-pytorch's MTCNN, on CPU.

Both run in one process on the same cores (default 2, pinned with
``sched_setaffinity`` before JAX or torch start their thread pools; torch
also gets ``set_num_threads``), on three sets of photos that scikit-image
ships:

* ``astronaut``: 512x512.
* ``coffee 1024x768``: ``skimage.data.coffee()`` (400x600) enlarged to
  768x1024 (H x W) with Pillow's bicubic filter.
* ``mixed 16``: 16 photos of 12 different sizes from 172x448 to 872x1000
  (listed in ``MIXED``); gray ones stacked to RGB.

Reported per set: the first (cold) pass of each library (jaxcnn: tracing and
XLA compilation for every new image size, no persistent cache; facenet-pytorch:
building ``MTCNN()`` and loading its weights is timed separately), then warm
images per second as the median over ``--repeats`` rounds in which the two
libraries alternate which goes first (in each round, each library passes over
the set as many times as fit in ``--min-seconds``, at least once, and the mean
pass counts), with the process CPU time per image
beside the wall time (CPU time is less sensitive to other load on the machine).
Each image is one call (facenet-pytorch can only batch images of equal size);
detections are materialised (``jax.block_until_ready``) inside the timing.
The script restarts itself with glibc malloc settings (``_MALLOC``), unless
they are set already, so that neither library pays page faults for memory
that malloc returned to the system after the previous call: large mmap and
trim thresholds, and one arena (with the thresholds alone, XLA's worker
threads, which allocate from their own arenas, still faulted their large
buffers in again on every call in 5 of 6 processes; see docs/benchmarks.md).

facenet-pytorch imports torchvision, which cannot be installed here: a
stand-in (``benchmarks/_torchvision_standin.py``, NumPy greedy NMS) provides
``batched_nms``. Its time is measured and facenet-pytorch is also reported
without it, i.e. as if torchvision's NMS took no time, which favours
facenet-pytorch: the table gives both ratios.

Usage::

    python benchmarks/mtcnn.py [--cores 2] [--repeats 5] [--min-seconds 1]
                               [--profile] [--cli] [--only SET]
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

# This file is named like the PyPI package `mtcnn` that ships the weights:
# keep its folder off the import path so `mtcnn` means that package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

MIXED = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "colorwheel",
    "moon",
    "page",
    "text",
    "coins",
    "clock",
    "stereo_motorcycle",
    "cell",
    "cat",
)


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cores", type=int, default=2, help="CPU cores for both")
    p.add_argument("--repeats", type=int, default=5, help="warm rounds")
    p.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="in each warm round, run a set again until this much time passed",
    )
    p.add_argument("--profile", action="store_true", help="time jaxcnn's stages")
    p.add_argument("--cli", action="store_true", help="time `jaxcnn detect` runs")
    p.add_argument(
        "--only", default="", help="run only the sets whose name contains this"
    )
    args = p.parse_args()
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1; got {args.repeats}")
    if not args.min_seconds >= 0:
        p.error(f"--min-seconds must be >= 0; got {args.min_seconds}")
    return args


def _pin(cores: int) -> list[int]:
    """Restricts this process (and the thread pools started later) to cores."""
    chosen = sorted(os.sched_getaffinity(0))[:cores]
    os.sched_setaffinity(0, chosen)
    return chosen


# ---------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------


def _rgb(array):
    import numpy as np

    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


def _photo(name: str):
    import skimage.data

    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    return _rgb(image)


def _sets() -> dict:
    import numpy as np
    from PIL import Image

    coffee = Image.fromarray(_photo("coffee")).resize(
        (1024, 768), Image.Resampling.BICUBIC
    )
    return {
        "astronaut 512x512": [_photo("astronaut")],
        "coffee 1024x768": [np.asarray(coffee)],
        "mixed 16": [_photo(name) for name in MIXED],
    }


# ---------------------------------------------------------------------------
# The two detectors
# ---------------------------------------------------------------------------


def _jaxcnn_runner():
    import jax

    from jaxcnn import mtcnn

    def run(images):
        faces = 0
        for image in images:
            found = jax.block_until_ready(mtcnn.detect(image))
            faces += len(found.boxes)
        return faces

    return run


def _load_standin():
    """Imports benchmarks/_torchvision_standin.py by path."""
    path = os.path.join(_HERE, "_torchvision_standin.py")
    spec = importlib.util.spec_from_file_location("_torchvision_standin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _facenet_runner(cores: int):
    standin = _load_standin()
    standin.install()
    import torch

    torch.set_num_threads(cores)
    torch.set_num_interop_threads(1)
    from facenet_pytorch import MTCNN

    start = time.perf_counter()
    detector = MTCNN(keep_all=True, device="cpu")
    build = time.perf_counter() - start

    def run(images):
        faces = 0
        for image in images:
            boxes, _ = detector.detect(image)
            faces += 0 if boxes is None else len(boxes)
        return faces

    return run, build, standin.NMS_SECONDS


def _timed(run, images, nms=None):
    """(wall s, process CPU s, s inside the NMS stand-in, faces found)."""
    if nms is not None:
        nms[0] = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    faces = run(images)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, (nms[0] if nms is not None else 0.0), faces


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def _cold(sets, jax_run, fp_run, nms) -> dict:
    cold = {}
    for name, images in sets.items():
        cold[name] = {
            "jaxcnn": _timed(jax_run, images),
            "facenet": _timed(fp_run, images, nms),
        }
    return cold


def _passes(run, images, nms, min_seconds: float):
    """Mean (wall, cpu, nms) seconds of one pass over ``images``.

    Passes repeat until ``min_seconds`` of wall time have passed (at least one).
    """
    total, count = [0.0, 0.0, 0.0], 0
    while count == 0 or total[0] < min_seconds:
        wall, cpu, in_nms, _ = _timed(run, images, nms)
        total = [total[0] + wall, total[1] + cpu, total[2] + in_nms]
        count += 1
    return tuple(t / count for t in total)


def _warm(sets, jax_run, fp_run, nms, repeats: int, min_seconds: float) -> dict:
    """Per set and library: lists of (wall, cpu, nms) seconds, one per round."""
    warm = {name: {"jaxcnn": [], "facenet": []} for name in sets}
    runs = {"jaxcnn": (jax_run, None), "facenet": (fp_run, nms)}
    for r in range(repeats):
        for name, images in sets.items():
            order = ("jaxcnn", "facenet") if r % 2 == 0 else ("facenet", "jaxcnn")
            for lib in order:
                run, counter = runs[lib]
                warm[name][lib].append(_passes(run, images, counter, min_seconds))
    return warm


def _median(rounds, pick) -> float:
    return statistics.median(pick(*r) for r in rounds)


def _table(sets, cold, warm, build) -> str:
    rows = [
        "| set | images | faces jaxcnn / fp | cold s jaxcnn / fp | "
        "warm ms per image jaxcnn / fp / fp without NMS | "
        "warm CPU ms per image jaxcnn / fp | img/s jaxcnn / fp | "
        "ratio | ratio vs fp without NMS | CPU ratio |",
        "|---|---:|---|---|---|---|---|---:|---:|---:|",
    ]
    for name, images in sets.items():
        n = len(images)
        jw = _median(warm[name]["jaxcnn"], lambda w, c, k: w) / n
        jc = _median(warm[name]["jaxcnn"], lambda w, c, k: c) / n
        fw = _median(warm[name]["facenet"], lambda w, c, k: w) / n
        fc = _median(warm[name]["facenet"], lambda w, c, k: c) / n
        fk = _median(warm[name]["facenet"], lambda w, c, k: w - k) / n
        cj, cf = cold[name]["jaxcnn"], cold[name]["facenet"]
        rows.append(
            f"| {name} | {n} | {cj[3]} / {cf[3]} | {cj[0]:.2f} / {cf[0]:.2f} | "
            f"{1e3 * jw:.0f} / {1e3 * fw:.0f} / {1e3 * fk:.0f} | "
            f"{1e3 * jc:.0f} / {1e3 * fc:.0f} | {1 / jw:.2f} / {1 / fw:.2f} | "
            f"{fw / jw:.2f}x | {fk / jw:.2f}x | {fc / jc:.2f}x |"
        )
    rows.append("")
    rows.append(f"facenet-pytorch MTCNN() construction (weights): {build:.2f} s")
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# Optional extras: stage profile and CLI wall time
# ---------------------------------------------------------------------------


_STAGES = ("_stage1_candidates", "_stage2", "_stage3", "_finish")


def _profile(sets, repeats: int = 3) -> str:
    """Warm wall time per stage of jaxcnn's pipeline (wraps its stage functions).

    The stages return host (NumPy) arrays, so each wrapped call has finished
    its device work when it returns. Time outside the stages (input checks,
    pyramid planning, grouping) is reported as "other".
    """
    from jaxcnn import mtcnn
    from jaxcnn.mtcnn import pipeline

    names = [n for n in _STAGES if hasattr(pipeline, n)]
    if not names:
        return "jaxcnn.mtcnn.pipeline has none of the stage functions; no profile."
    totals = {}
    originals = {n: getattr(pipeline, n) for n in names}

    def wrap(stage, fn):
        def timed(*args, **kw):
            start = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                totals[stage] = totals.get(stage, 0.0) + time.perf_counter() - start

        return timed

    lines = ["| set | stage | ms per image |", "|---|---|---:|"]
    try:
        for n in names:
            setattr(pipeline, n, wrap(n, originals[n]))
        for name, images in sets.items():
            totals.clear()
            start = time.perf_counter()
            for _ in range(repeats):
                for image in images:
                    mtcnn.detect(image)
            totals["total"] = time.perf_counter() - start
            totals["other"] = totals["total"] - sum(
                v for k, v in totals.items() if k != "total"
            )
            per = repeats * len(images)
            for stage, seconds in totals.items():
                lines.append(f"| {name} | {stage} | {1e3 * seconds / per:.1f} |")
    finally:
        for n in names:
            setattr(pipeline, n, originals[n])
    return "\n".join(lines)


def _cli_times(cores: int) -> str:
    """Wall time of `jaxcnn detect --json-only`: empty, then filled XLA cache."""
    lines = ["| run | wall s |", "|---|---:|"]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, JAXCNN_CACHE_DIR=cache)
        command = [sys.executable, "-m", "jaxcnn.cli", "detect", "--json-only"]
        for label in ("first run (empty cache)", "second run (cache filled)"):
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            lines.append(f"| {label} | {time.perf_counter() - start:.2f} |")
        command[-1:] = ["--json-only", "--no-cache"]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        lines.append(f"| --no-cache | {time.perf_counter() - start:.2f} |")
    return "\n".join(lines)


def _require_peer() -> None:
    """Exits with a message (status 1) unless torch and facenet-pytorch import."""
    missing = [
        name
        for name in ("torch", "facenet_pytorch")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        sys.exit(
            f"benchmarks/mtcnn.py compares with facenet-pytorch and needs "
            f"{' and '.join(missing)}: pip install torch==2.13.0 && "
            f"pip install --no-deps facenet-pytorch==2.6.0"
        )


# glibc's malloc hands large freed buffers back to the system and maps fresh
# pages for the next call, whose first touch then costs page faults: jaxcnn's
# warm time on the 1024x768 photo swung between 69 and 83 ms with it. Large
# thresholds keep freed memory for reuse, for both libraries (same process);
# one arena extends that to XLA's worker threads (0 faults per call, against
# about 9,400 with the thresholds alone).
_MALLOC = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": str(2**30),
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
}


def _restart_with_malloc_settings() -> None:
    """Runs this script again with ``_MALLOC`` set (read at process start)."""
    if all(name in os.environ for name in _MALLOC):
        return
    env = {**_MALLOC, **os.environ}
    os.execve(
        sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env
    )


def main() -> None:
    args = _parse()
    _restart_with_malloc_settings()
    _require_peer()
    cores = _pin(args.cores)
    sets = {k: v for k, v in _sets().items() if args.only in k}
    fp_run, build, nms = _facenet_runner(args.cores)
    jax_run = _jaxcnn_runner()
    import jax
    import torch

    standin = hasattr(sys.modules["torchvision"], "__jaxcnn_standin__")
    print(
        f"cores {cores}; jax {jax.__version__} ({jax.default_backend()}); "
        f"torch {torch.__version__} threads {torch.get_num_threads()}; "
        f"torchvision stand-in: {standin}; load average {os.getloadavg()}; "
        + " ".join(f"{k}={os.environ[k]}" for k in _MALLOC)
    )
    cold = _cold(sets, jax_run, fp_run, nms)
    warm = _warm(sets, jax_run, fp_run, nms, args.repeats, args.min_seconds)
    print(_table(sets, cold, warm, build))
    print(f"load average after: {os.getloadavg()}")
    if args.profile:
        print(_profile(sets))
    if args.cli:
        print(_cli_times(args.cores))


if __name__ == "__main__":
    main()
