"""What the research scripts share: the run's frame, log lines, augmentation.

The scripts import this as ``_script`` after putting ``research/`` on
``sys.path`` (``python research/x.py`` puts it there already; tests that load a
script from its file path with ``importlib`` do not).
"""

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxcnn import data


def log_entry(entry: dict) -> None:
    """Prints a history entry on stderr as ``key=value`` pairs, floats to 4 places."""
    text = " ".join(
        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()
    )
    print(text, file=sys.stderr, flush=True)


def config_from_flags(config_cls, args):
    """A ``config_cls`` (a dataclass) with the fields that flags set overridden.

    Args:
      config_cls: the dataclass of a run's settings.
      args: parsed flags (``argparse.Namespace``); a flag counts when its
        name is a field of ``config_cls`` and its value is not None.
    """
    names = {f.name for f in dataclasses.fields(config_cls)}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return config_cls(**overrides)


def find_data(name: str, data_dir) -> Path | None:
    """``jaxcnn.data.find_dataset``, or None after printing ``error: ...``.

    The message (where it looked, how to get the files) goes to stderr; the
    caller then exits with status 2.
    """
    try:
        return data.find_dataset(name, data_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def run_experiment(
    args, config_cls, dataset: str, experiment: Callable[..., dict]
) -> int:
    """A script's ``main`` after parsing: settings, data, run, JSON summary.

    Args:
      args: the parsed flags; ``args.data_dir`` is the ``--data-dir`` flag.
      config_cls: the run's settings dataclass (see ``config_from_flags``).
      dataset: the ``jaxcnn.data.find_dataset`` name of the data.
      experiment: ``experiment(config, data_dir) -> summary`` (a JSON-able
        dict), printed on stdout.

    Returns:
      The exit status: 0, or 2 when the data is not found (after the
      ``error: ...`` line of ``find_data``; ``experiment`` is not called).
    """
    config = config_from_flags(config_cls, args)
    data_dir = find_data(dataset, args.data_dir)
    if data_dir is None:
        return 2
    print(json.dumps(experiment(config, data_dir), indent=2))
    return 0


def standard_transform(mean, std, crop_padding: int, flip: bool = True):
    """The scripts' ``transform(key, images, train)`` for ``jaxcnn.train``.

    Scales ``uint8`` images ``(N, H, W, C)`` to ``[0, 1]``, standardises them
    with the training set's ``mean`` and ``std`` (scalars or one per channel),
    and in training pads by ``crop_padding`` pixels and crops back at a random
    offset (0: no crop), then flips at random horizontally if ``flip``.
    """
    mean, std = jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32)

    def transform(key, images, train):
        x = (images.astype(jnp.float32) / 255.0 - mean) / std
        if not train:
            return x
        crop_key, flip_key = jax.random.split(key)
        if crop_padding:
            x = data.random_crop(crop_key, x, x.shape[1:3], padding=crop_padding)
        return data.random_flip(flip_key, x) if flip else x

    return transform
