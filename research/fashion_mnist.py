"""Fashion-MNIST with a small CNN: conv / ReLU / pool stages, dense layers, softmax.

Goal: at least 93.0 % test accuracy within 30 minutes on 2 CPU cores. See
``research/fashion_mnist/README.md`` for the command, the hardware, the wall
time and the accuracy reached.

Usage::

    python research/fashion_mnist.py --data-dir /path/to/fashion-mnist --out runs/fm

For the two CPU cores to be used fully, run with several host devices, e.g.
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the fastest on two
cores here): the batch is then split over them (``jaxcnn.parallel``).

Data lookup (``jaxcnn.data.find_dataset``): ``--data-dir`` if given (and then
only it), else ``$JAXCNN_DATA`` (a directory holding the four files, or holding
them in ``fashion-mnist/``), then ``/usr/share/datasets/fashion-mnist`` (Debian's
``dataset-fashion-mnist``).
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import optax

from jaxcnn import data, models, parallel, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _script  # noqa: E402

# Training-set pixel statistics of Fashion-MNIST (computed from the files,
# intensities scaled to [0, 1]).
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a run."""

    stages: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,))
    hidden: tuple[int, ...] = (256,)
    dropout_rate: float = 0.3
    epochs: float = 12.0
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


def load_data(data_dir: Path, config: Config):
    """Returns ``((train_x, train_y), (test_x, test_y))``, images ``(N, 28, 28, 1)``."""
    train_set = data.load_fashion_mnist(data_dir, "train")
    test_set = data.load_fashion_mnist(data_dir, "test")
    if config.train_subset:
        train_set = tuple(a[: config.train_subset] for a in train_set)
    if config.test_subset:
        test_set = tuple(a[: config.test_subset] for a in test_set)
    return train_set, test_set


def make_optimizer(config: Config, num_steps: int):
    """AdamW with a one-cycle cosine learning-rate schedule."""
    schedule = optax.cosine_onecycle_schedule(num_steps, config.learning_rate)
    return optax.adamw(schedule, weight_decay=config.weight_decay)


def build_model(config: Config):
    """The CNN: ``stages`` of conv-BN-ReLU + max-pool, ``hidden`` dense layers."""
    return models.build(
        "simple_cnn",
        num_classes=len(data.FASHION_MNIST_CLASSES),
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
    transform = _script.standard_transform(
        PIXEL_MEAN, PIXEL_STD, config.crop_padding, flip=config.flip
    )
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
    """Command-line flags.

    Each flag named after a ``Config`` field overrides it (unset: the default).
    ``stages``, ``hidden``, ``weight_decay``, ``flip`` and ``save_every`` have no
    flag: change them in ``Config``, or pass a ``Config`` to
    ``train_and_evaluate``.
    """
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


def main(argv=None) -> int:
    """Runs the experiment and prints the summary as JSON."""
    args = parse_args(argv)

    def experiment(config, data_dir):
        print(f"data: {data_dir}; devices: {jax.devices()}", file=sys.stderr)
        out, progress = Path(args.out), not args.no_progress
        return train_and_evaluate(
            config, data_dir, out, progress=progress, log=_script.log_entry
        )

    return _script.run_experiment(args, Config, "fashion-mnist", experiment)


if __name__ == "__main__":
    sys.exit(main())
