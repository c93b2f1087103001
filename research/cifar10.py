"""Identifying cats in CIFAR-10: ten classes, or cat against not-cat.

Trains a small CNN (``jaxcnn.models`` ``simple_cnn``) on the CIFAR-10 *binary*
files a user points to (``data_batch_1.bin`` ... ``data_batch_5.bin`` and
``test_batch.bin``, the ``cifar-10-batches-bin`` folder of
``cifar-10-binary.tar.gz``; the pickled Python version is never read). See
``research/cifar10/README.md`` for both tasks' commands, the hardware and what
the tests cover (no CIFAR-10 accuracy has been measured).

Usage::

    python research/cifar10.py --data-dir /path/to/cifar-10-batches-bin --task cat

Data lookup (``jaxcnn.data.find_dataset``): ``--data-dir`` if given (and then
only it), else ``$JAXCNN_DATA`` or its ``cifar-10-batches-bin`` sub-folder.

``--task ten`` classifies the ten classes; ``--task cat`` learns cat (class 3)
against the other nine and reports accuracy with the cat class's precision and
recall (9 of 10 test images are not cats, so accuracy alone says little).
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn import data, models, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _script  # noqa: E402

CAT = data.CIFAR10_CLASSES.index("cat")
# Per-channel mean and standard deviation of the CIFAR-10 training images in
# [0, 1] (computed from data_batch_1..5; the commonly used values).
PIXEL_MEAN = (0.4914, 0.4822, 0.4465)
PIXEL_STD = (0.2470, 0.2435, 0.2616)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a run."""

    task: str = "ten"  # "ten" or "cat"
    stages: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128))
    hidden: tuple[int, ...] = (256,)
    dropout_rate: float = 0.3
    epochs: float = 20.0
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    crop_padding: int = 4  # pad-4-and-crop (He et al., 2016, Section 4.2)
    seed: int = 0
    log_every: int = 100
    save_every: int = 1000


def relabel(labels: np.ndarray, task: str) -> np.ndarray:
    """Class ids for the task: unchanged for ``"ten"``, 1 = cat for ``"cat"``."""
    if task == "cat":
        return (labels == CAT).astype(np.int32)
    if task == "ten":
        return labels.astype(np.int32)
    raise ValueError(f"task must be 'ten' or 'cat'; got {task!r}")


def load(data_dir: Path, task: str):
    """``((train_x, train_y), (test_x, test_y))`` for the task."""
    train_x, train_y = data.load_cifar10(data_dir, "train")
    test_x, test_y = data.load_cifar10(data_dir, "test")
    return (train_x, relabel(train_y, task)), (test_x, relabel(test_y, task))


def predict(model, state, images, transform, batch_size=500) -> np.ndarray:
    """Predicted class ids ``(N,)``."""
    apply = jax.jit(
        lambda v, x: jnp.argmax(model.apply(v, transform(None, x, False)), -1)
    )
    parts = [
        np.asarray(apply(state.variables, images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts)


def scores(pred: np.ndarray, labels: np.ndarray, task: str) -> dict:
    """Accuracy, and for ``"cat"`` the cat class's precision and recall."""
    result = {"accuracy": float(np.mean(pred == labels))}
    if task == "cat":
        hits = np.sum((pred == 1) & (labels == 1))
        result["cat_precision"] = float(hits / max(np.sum(pred == 1), 1))
        result["cat_recall"] = float(hits / max(np.sum(labels == 1), 1))
    return result


def train_and_evaluate(config: Config, data_dir: Path, workdir: Path, *, log=None):
    """Trains, evaluates on the test split, writes curves and a summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    train_set, test_set = load(data_dir, config.task)
    num_classes = 2 if config.task == "cat" else len(data.CIFAR10_CLASSES)
    batch_size = min(config.batch_size, len(train_set[1]))
    batches = data.BatchIterator(train_set, batch_size, seed=config.seed)
    num_steps = train.steps_for_epochs(config.epochs, batches.steps_per_epoch)
    model = models.build(
        "simple_cnn",
        num_classes=num_classes,
        stages=config.stages,
        hidden=config.hidden,
        dropout_rate=config.dropout_rate,
    )
    schedule = optax.cosine_onecycle_schedule(num_steps, config.learning_rate)
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    transform = _script.standard_transform(PIXEL_MEAN, PIXEL_STD, config.crop_padding)
    step = jax.jit(train.make_train_step(model, optimizer, transform=transform))
    eval_step = jax.jit(train.make_eval_step(model, transform=transform))
    state = train.create_train_state(model, optimizer, config.seed, train_set[0][:2])
    fit_config = train.FitConfig(
        num_steps=num_steps,
        log_every=config.log_every,
        eval_every=batches.steps_per_epoch,
        eval_batch_size=500,
        checkpoint_dir=workdir / "checkpoints",
        save_every=config.save_every,
        on_history=log,
    )
    start = time.perf_counter()
    result = train.fit(
        step, state, batches, fit_config, eval_step=eval_step, eval_data=test_set
    )
    seconds = time.perf_counter() - start
    pred = predict(model, result.state, test_set[0], transform)
    train.plot_history(
        result.history, workdir / "curves.png", title=f"CIFAR-10 ({config.task})"
    )
    summary = {
        **scores(pred, test_set[1], config.task),
        "steps": num_steps,
        "start_step": result.start_step,
        "train_seconds": seconds,
        "config": dataclasses.asdict(config),
    }
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def parse_args(argv=None):
    """Command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="the cifar-10-batches-bin directory")
    p.add_argument("--task", choices=("ten", "cat"), default="ten")
    p.add_argument("--out", default="runs/cifar10", help="work directory")
    p.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--log-every", type=int)
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Runs the experiment and prints the summary as JSON."""
    args = parse_args(argv)

    def experiment(config, data_dir):
        return train_and_evaluate(
            config, data_dir, Path(args.out), log=_script.log_entry
        )

    return _script.run_experiment(args, Config, "cifar-10", experiment)


if __name__ == "__main__":
    sys.exit(main())
