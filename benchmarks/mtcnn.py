"""Speed of ``jaxcnn.mtcnn.detect`` beside facenet-pytorch's MTCNN, on CPU.

Both run in one process on the same cores (default 2, pinned with
``sched_setaffinity`` before JAX or torch start their thread pools; torch
also gets ``set_num_threads``), on three sets of photos that scikit-image
ships:

* ``astronaut``: 512x512.
* ``coffee 1024x768``: ``skimage.data.coffee()`` (400x600) enlarged to
  768x1024 (H x W) with Pillow's bicubic filter.
* ``mixed 16``: 16 photos of 11 different sizes from 172x448 to 872x1000
  (listed in ``MIXED``); gray ones stacked to RGB.

Reported per set: the first (cold) pass of each library (jaxcnn: tracing and
XLA compilation for every new image size, no persistent cache; facenet-pytorch:
building ``MTCNN()`` and loading its weights is timed separately), then warm
images per second as the median over ``--repeats`` rounds in which the two
libraries alternate which goes first. Each image is one call (facenet-pytorch
can only batch images of equal size); detections are materialised
(``jax.block_until_ready``) inside the timing.

facenet-pytorch imports torchvision, which cannot be installed here: a
stand-in (``benchmarks/_torchvision_standin.py``, NumPy greedy NMS) provides
``batched_nms``. Its time is measured and facenet-pytorch is also reported
without it, i.e. as if torchvision's NMS took no time, which favours
facenet-pytorch; the headline ratio uses that number.

Usage::

    python benchmarks/mtcnn.py [--cores 2] [--repeats 5] [--profile] [--cli]
"""

import argparse
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
    p.add_argument("--profile", action="store_true", help="time jaxcnn's stages")
    p.add_argument("--cli", action="store_true", help="time `jaxcnn detect` runs")
    return p.parse_args()


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
    import importlib.util

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
    """(seconds, seconds inside the NMS stand-in, faces found)."""
    if nms is not None:
        nms[0] = 0.0
    start = time.perf_counter()
    faces = run(images)
    seconds = time.perf_counter() - start
    return seconds, (nms[0] if nms is not None else 0.0), faces


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


def _warm(sets, jax_run, fp_run, nms, repeats: int) -> dict:
    warm = {name: {"jaxcnn": [], "facenet": [], "nms": []} for name in sets}
    for r in range(repeats):
        for name, images in sets.items():
            order = ("jaxcnn", "facenet") if r % 2 == 0 else ("facenet", "jaxcnn")
            for lib in order:
                if lib == "jaxcnn":
                    seconds, _, _ = _timed(jax_run, images)
                else:
                    seconds, in_nms, _ = _timed(fp_run, images, nms)
                    warm[name]["nms"].append(in_nms)
                warm[name][lib].append(seconds)
    return warm


def _table(sets, cold, warm, build) -> str:
    rows = [
        "| set | images | faces (jaxcnn / facenet-pytorch) | jaxcnn cold s | "
        "facenet-pytorch cold s | jaxcnn img/s | facenet-pytorch img/s | "
        "facenet-pytorch img/s without stand-in NMS | ratio | ratio (without NMS) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, images in sets.items():
        n = len(images)
        jax_s = statistics.median(warm[name]["jaxcnn"])
        fp_s = statistics.median(warm[name]["facenet"])
        fp_no_nms = statistics.median(
            f - k for f, k in zip(warm[name]["facenet"], warm[name]["nms"], strict=True)
        )
        jax_ips, fp_ips, fp_ips_no_nms = n / jax_s, n / fp_s, n / fp_no_nms
        faces = f"{cold[name]['jaxcnn'][2]} / {cold[name]['facenet'][2]}"
        rows.append(
            f"| {name} | {n} | {faces} | {cold[name]['jaxcnn'][0]:.2f} | "
            f"{cold[name]['facenet'][0]:.2f} | {jax_ips:.2f} | {fp_ips:.2f} | "
            f"{fp_ips_no_nms:.2f} | {jax_ips / fp_ips:.2f}x | "
            f"{jax_ips / fp_ips_no_nms:.2f}x |"
        )
    rows.append("")
    rows.append(f"facenet-pytorch MTCNN() construction (weights): {build:.2f} s")
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# Optional extras: stage profile and CLI wall time
# ---------------------------------------------------------------------------


def _profile(sets) -> str:
    """Wall time per stage of jaxcnn's pipeline, if it exposes its stages."""
    from jaxcnn import mtcnn

    profile = getattr(mtcnn, "profile_stages", None)
    if profile is None:
        return "jaxcnn.mtcnn exposes no profile_stages(); stage profile skipped."
    lines = ["| set | stage | ms per image |", "|---|---|---:|"]
    for name, images in sets.items():
        totals = {}
        for image in images:
            for stage, seconds in profile(image).items():
                totals[stage] = totals.get(stage, 0.0) + seconds
        for stage, seconds in totals.items():
            lines.append(f"| {name} | {stage} | {1000 * seconds / len(images):.1f} |")
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


def main() -> None:
    args = _parse()
    cores = _pin(args.cores)
    sets = _sets()
    fp_run, build, nms = _facenet_runner(args.cores)
    jax_run = _jaxcnn_runner()
    import jax
    import torch

    standin = hasattr(sys.modules["torchvision"], "__jaxcnn_standin__")
    print(
        f"cores {cores}; jax {jax.__version__} ({jax.default_backend()}); "
        f"torch {torch.__version__} threads {torch.get_num_threads()}; "
        f"torchvision stand-in: {standin}; load average {os.getloadavg()}"
    )
    cold = _cold(sets, jax_run, fp_run, nms)
    warm = _warm(sets, jax_run, fp_run, nms, args.repeats)
    print(_table(sets, cold, warm, build))
    if args.profile:
        print(_profile(sets))
    if args.cli:
        print(_cli_times(args.cores))


if __name__ == "__main__":
    main()
