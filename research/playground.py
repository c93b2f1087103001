"""TensorFlow Playground in JAX: train the small MLP on a 2-D toy set, save a PNG.

Run from the repository root, e.g.::

    python research/playground.py --dataset spiral --out out/playground
    python research/playground.py --dataset xor --layers 4 --activation relu
    python research/playground.py --dataset circle --features x1_sq,x2_sq --layers ''

Each data set starts from its preset hidden layers and features (``PRESETS``);
flags given override them. ``--dataset all`` trains every data set once.
The PNG shows the decision boundary (or the regression surface), the training
and test points and the test loss. The numbers of a run are logged and written
next to the PNG as JSON. The data sets, features and model are in
:mod:`jaxcnn.playground` and :mod:`jaxcnn.playground_model`.
"""

import argparse
import dataclasses
import json
import logging
import pathlib
import time

import jax

from jaxcnn import playground as pg
from jaxcnn import playground_model as pm

log = logging.getLogger("playground")

ALL_FEATURES = tuple(pg.FEATURES)


@dataclasses.dataclass(frozen=True)
class Config:
    """One Playground run. Field names match the command-line flags."""

    dataset: str = "spiral"
    layers: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    lr: float = 0.03
    reg: str = "none"  # none, l1 or l2
    reg_rate: float = 0.0
    features: tuple[str, ...] = ("x1", "x2", "sin_x1", "sin_x2")
    noise: float = 0.0
    ratio: float = 0.5
    n: int = 500
    steps: int = 1000
    batch_size: int | None = None
    optimizer: str = "adam"
    seed: int = 0


# Settings per data set used by ``--dataset all``, chosen small: the linear
# sets need no hidden layer, the others a few tanh units on suitable features.
PRESETS: dict[str, dict] = {
    "circle": dict(layers=(4,), features=("x1", "x2")),
    "xor": dict(layers=(4,), features=("x1", "x2")),
    "gaussian": dict(layers=(), features=("x1", "x2")),
    "spiral": dict(layers=(16, 16), features=("x1", "x2", "sin_x1", "sin_x2")),
    "plane": dict(layers=(), features=("x1", "x2")),
    "multi_gaussian": dict(layers=(16, 16), features=ALL_FEATURES),
}


def make_data(config: Config):
    """Returns ``(train_data, test_data)`` for the config, each ``(points, labels)``."""
    data_key, split_key = jax.random.split(jax.random.key(config.seed))
    points, labels = pg.make(config.dataset, data_key, config.n, config.noise)
    return pg.split(split_key, points, labels, config.ratio)


def penalty_rates(config: Config) -> tuple[float, float]:
    """Maps ``reg`` and ``reg_rate`` to the ``(l1, l2)`` rates of ``train``."""
    if config.reg not in ("none", "l1", "l2"):
        raise ValueError(f"reg must be 'none', 'l1' or 'l2'; got {config.reg!r}")
    return (
        config.reg_rate if config.reg == "l1" else 0.0,
        config.reg_rate if config.reg == "l2" else 0.0,
    )


def run(config: Config, out_dir: pathlib.Path) -> dict:
    """Trains one config, writes ``<dataset>.png`` and ``<dataset>.json``.

    Returns:
      The metrics: train and test loss (and accuracy for classification),
      wall time in seconds and the paths written.
    """
    task = pg.task_of(config.dataset)
    l1, l2 = penalty_rates(config)
    start = time.perf_counter()
    train_data, test_data = make_data(config)
    model = pm.build_mlp(config.layers, config.activation, config.features)
    result = pm.train(
        model,
        task,
        train_data,
        test_data,
        key=config.seed,
        steps=config.steps,
        learning_rate=config.lr,
        batch_size=config.batch_size,
        l1=l1,
        l2=l2,
        optimizer=config.optimizer,
    )
    train_m = pm.evaluate(model, result.variables, task, *train_data)
    test_m = pm.evaluate(model, result.variables, task, *test_data)
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{config.dataset}.png"
    title = f"{config.dataset}: layers {list(config.layers)}, {config.activation}"
    pm.save_boundary_png(
        png, model, result.variables, task, train_data, test_data, title=title
    )
    metrics = {f"train_{k}": v for k, v in train_m.items()}
    metrics |= {f"test_{k}": v for k, v in test_m.items()}
    metrics |= {"seconds": round(seconds, 2), "png": str(png)}
    record = {"config": dataclasses.asdict(config), "metrics": metrics}
    (out_dir / f"{config.dataset}.json").write_text(json.dumps(record, indent=2))
    return metrics


def parse_args(argv=None) -> tuple[list[Config], pathlib.Path]:
    """Parses the flags into the configs to run and the output folder."""
    d = Config()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default=d.dataset, choices=[*pg.DATASETS, "all"])
    p.add_argument("--layers", help="hidden widths, e.g. 8,8 ('' for none)")
    p.add_argument("--activation", default=d.activation, choices=pm.ACTIVATIONS)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--reg", default=d.reg, choices=("none", "l1", "l2"))
    p.add_argument("--reg-rate", type=float, default=d.reg_rate)
    p.add_argument("--features", help=f"comma-separated, from {','.join(pg.FEATURES)}")
    p.add_argument("--noise", type=float, default=d.noise, help="fraction of 5")
    p.add_argument("--ratio", type=float, default=d.ratio, help="training share")
    p.add_argument("--n", type=int, default=d.n, help="number of points")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=None, help="default: full")
    p.add_argument("--optimizer", default=d.optimizer, choices=pm.OPTIMIZERS)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/playground"))
    a = p.parse_args(argv)
    names = list(pg.DATASETS) if a.dataset == "all" else [a.dataset]
    common = dict(
        activation=a.activation,
        lr=a.lr,
        reg=a.reg,
        reg_rate=a.reg_rate,
        noise=a.noise,
        ratio=a.ratio,
        n=a.n,
        steps=a.steps,
        batch_size=a.batch_size,
        optimizer=a.optimizer,
        seed=a.seed,
    )
    if a.layers is not None:
        common["layers"] = tuple(int(w) for w in a.layers.split(",") if w.strip())
    if a.features is not None:
        common["features"] = tuple(f.strip() for f in a.features.split(","))
    configs = [Config(dataset=name, **(PRESETS[name] | common)) for name in names]
    return configs, a.out


def main(argv=None) -> None:
    """Runs the configs given on the command line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    configs, out = parse_args(argv)
    log.info("devices: %s", jax.devices())
    for config in configs:
        log.info("config: %s", config)
        metrics = run(config, out)
        log.info("%s: %s", config.dataset, metrics)


if __name__ == "__main__":
    main()
