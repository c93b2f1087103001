"""Fashion-MNIST with a small CNN: conv / ReLU / pool stages, dense layers, softmax.

Goal: at least 93.0 % test accuracy within 30 minutes on 2 CPU cores. See
``research/fashion_mnist/README.md`` for the command, the hardware, the wall
time and the accuracy reached.

Usage::

    python research/fashion_mnist.py --data-dir /path/to/fashion-mnist --out runs/fm

For the two CPU cores to be used fully, run with several host devices, e.g.
``XLA_FLAGS=--xla_force_host_platform_device_count=2``: the batch is then
split over them (``jaxcnn.parallel``).

Data lookup order: ``--data-dir``, ``$JAXCNN_DATA`` (a directory holding the
four files, or holding them in ``fashion-mnist/``), then
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn import data, models, parallel, train

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Get the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from "
    "https://github.com/zalandoresearch/fashion-mnist (data/fashion) or install "
    "Debian's dataset-fashion-mnist package, then pass --data-dir DIR or set "
    "JAXCNN_DATA=DIR."
)
# Training-set pixel statistics of Fashion-MNIST (computed from the files,
# intensities scaled to [0, 1]).
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a run."""

    stages: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,))
    hidden: tuple[int, ...] = (256,)
    dropout_rate: float = 0.3
    epochs: float = 6.0
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    crop_padding: int = 0
    flip: bool = True
    seed: int = 0
    train_subset: int | None = None  # use only the first N training images
    test_subset: int | None = None
    log_every: int = 100
    eval_every_epochs: float = 1.0
    save_every: int = 1000


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Finds the directory holding the four Fashion-MNIST files.

    Raises:
      FileNotFoundError: with instructions when no candidate holds them.
    """
    candidates = []
    if data_dir is not None:
        candidates.append(Path(data_dir))
    elif os.environ.get("JAXCNN_DATA"):
        env = Path(os.environ["JAXCNN_DATA"])
        candidates += [env, env / "fashion-mnist"]
    else:
        candidates.append(SYSTEM_DIR)
    for candidate in candidates:
        if all(_find_file(candidate, stem) for stem in FILES.values()):
            return candidate
    tried = ", ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(f"Fashion-MNIST files not found in {tried}. {HOW_TO_GET}")


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_data(data_dir: Path, config: Config):
    """Returns ``((train_x, train_y), (test_x, test_y))``, images ``(N, 28, 28, 1)``."""
    arrays = {k: data.read_idx(_find_file(data_dir, stem)) for k, stem in FILES.items()}
    train_set = (
        arrays["train_images"][..., None],
        arrays["train_labels"].astype(np.int32),
    )
    test_set = (
        arrays["test_images"][..., None],
        arrays["test_labels"].astype(np.int32),
    )
    if config.train_subset:
        train_set = tuple(a[: config.train_subset] for a in train_set)
    if config.test_subset:
        test_set = tuple(a[: config.test_subset] for a in test_set)
    return train_set, test_set


def make_transform(config: Config):
    """``transform(key, images, train)``: scale, normalise, augment in training."""

    def transform(key, images, train):
        x = (images.astype(jnp.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD
        if not train:
            return x
        crop_key, flip_key = jax.random.split(key)
        if config.crop_padding:
            x = data.random_crop(crop_key, x, x.shape[1:3], padding=config.crop_padding)
        if config.flip:
            x = data.random_flip(flip_key, x)
        return x

    return transform


def make_optimizer(config: Config, num_steps: int):
    """AdamW with a one-cycle cosine learning-rate schedule."""
    schedule = optax.cosine_onecycle_schedule(num_steps, config.learning_rate)
    return optax.adamw(schedule, weight_decay=config.weight_decay)


def build_model(config: Config):
    """The CNN: ``stages`` of conv-BN-ReLU + max-pool, ``hidden`` dense layers."""
    return models.build(
        "simple_cnn",
        num_classes=len(CLASSES),
        stages=config.stages,
        hidden=config.hidden,
        dropout_rate=config.dropout_rate,
    )


def train_and_evaluate(
    config: Config,
    data_dir: Path,
    workdir: Path,
    *,
    progress: bool = False,
    log=None,
) -> dict:
    """Trains, evaluates on the test set, writes curves; returns a summary.

    Checkpoints go to ``workdir/checkpoints`` (a rerun resumes), the curves to
    ``workdir/curves.png``, the summary to ``workdir/summary.json``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    train_set, test_set = load_data(data_dir, config)
    batches = data.BatchIterator(train_set, config.batch_size, seed=config.seed)
    num_steps = train.steps_for_epochs(config.epochs, batches.steps_per_epoch)
    model, optimizer = build_model(config), make_optimizer(config, num_steps)
    transform = make_transform(config)
    step = train.make_train_step(
        model, optimizer, transform=transform, label_smoothing=config.label_smoothing
    )
    eval_step = jax.jit(train.make_eval_step(model, transform=transform))
    state = train.create_train_state(model, optimizer, config.seed, train_set[0][:2])
    step, state, place = _placement(step, state, config.batch_size)
    fit_config = train.FitConfig(
        num_steps=num_steps,
        log_every=config.log_every,
        eval_every=max(1, round(config.eval_every_epochs * batches.steps_per_epoch)),
        checkpoint_dir=workdir / "checkpoints",
        save_every=config.save_every,
        progress=progress,
        on_history=log,
    )
    start = time.perf_counter()
    result = train.fit(
        step,
        state,
        batches,
        fit_config,
        eval_step=eval_step,
        eval_data=test_set,
        place_batch=place,
    )
    seconds = time.perf_counter() - start
    final = train.evaluate(eval_step, result.state, test_set, 1000)
    train.plot_history(result.history, workdir / "curves.png", title="Fashion-MNIST")
    summary = {
        "test_accuracy": final["accuracy"],
        "test_loss": final["loss"],
        "steps": num_steps,
        "start_step": result.start_step,
        "train_seconds": seconds,
        "devices": jax.device_count(),
        "config": dataclasses.asdict(config),
    }
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _placement(step, state, batch_size):
    """Jit the step; data-parallel over all devices when there are several."""
    n = jax.device_count()
    if n == 1 or batch_size % n:
        return jax.jit(step), state, None
    mesh = parallel.make_mesh()
    sharded = parallel.data_parallel_step(step, mesh)
    return (
        sharded,
        parallel.replicate(state, mesh),
        lambda b: parallel.shard_batch(b, mesh),
    )


def parse_args(argv=None):
    """Command-line flags; every ``Config`` field can be overridden."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="directory with the four IDX files")
    p.add_argument("--out", default="runs/fashion_mnist", help="work directory")
    p.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--dropout-rate", type=float)
    p.add_argument("--crop-padding", type=int)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--train-subset", type=int)
    p.add_argument("--test-subset", type=int)
    p.add_argument("--log-every", type=int)
    p.add_argument("--eval-every-epochs", type=float)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def _log(entry: dict) -> None:
    text = " ".join(
        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()
    )
    print(text, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Runs the experiment and prints the summary as JSON."""
    args = parse_args(argv)
    names = {f.name for f in dataclasses.fields(Config)}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    config = Config(**overrides)
    try:
        data_dir = find_data_dir(args.data_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"data: {data_dir}; devices: {jax.devices()}", file=sys.stderr)
    summary = train_and_evaluate(
        config, data_dir, Path(args.out), progress=not args.no_progress, log=_log
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
