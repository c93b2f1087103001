"""Where the named datasets are on disk; public as ``jaxcnn.data.find_dataset``.

Kept apart from ``jaxcnn.data`` so that each module stays short: ``data`` decodes
file formats, this one only knows file names, folders and the environment and
reads no file. ``jaxcnn.data`` re-exports everything public here.
"""

import os
from pathlib import Path
from typing import NamedTuple

from jaxcnn import _checks

#: The environment variable naming a folder of datasets.
DATA_ENV = "JAXCNN_DATA"

# File names of the distributed datasets. Fashion-MNIST (Xiao, Rasul and
# Vollgraf, 2017, arXiv:1708.07747) ships MNIST's four IDX files, each gzipped
# (the ``.gz`` suffix) or not; CIFAR-10's binary version one file per batch.
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILES = ("test_batch.bin",)

#: Dataset name -> folders where a system package installs it, searched last.
#: Debian's ``dataset-fashion-mnist`` installs the four gzipped files in the
#: folder given here; no distribution packages CIFAR-10's binary version.
SYSTEM_DATA_DIRS: dict[str, tuple[Path, ...]] = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
    "cifar-10": (),
}


class _Dataset(NamedTuple):
    title: str  # how error messages name the files
    subfolder: str  # the dataset's folder inside $JAXCNN_DATA
    files: tuple[str, ...]  # what a folder must hold (IDX: gzipped or raw)
    idx: bool  # whether ``files`` are IDX stems that may carry ``.gz``
    how_to_get: str


_DATASETS = {
    "fashion-mnist": _Dataset(
        "Fashion-MNIST files",
        "fashion-mnist",
        tuple(stem for pair in FASHION_MNIST_FILES.values() for stem in pair),
        True,
        "Get the four IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz; gzipped or not) from "
        "https://github.com/zalandoresearch/fashion-mnist (data/fashion) or "
        "install Debian's dataset-fashion-mnist package (it installs them in "
        "/usr/share/datasets/fashion-mnist), then pass data_dir (--data-dir DIR "
        f"in the research scripts) or set {DATA_ENV}=DIR.",
    ),
    "cifar-10": _Dataset(
        "CIFAR-10 binary files",
        "cifar-10-batches-bin",
        CIFAR10_TRAIN_FILES + CIFAR10_TEST_FILES,
        False,
        "Download cifar-10-binary.tar.gz from "
        "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and pass its "
        "cifar-10-batches-bin folder as data_dir (--data-dir in the research "
        f"scripts), or set {DATA_ENV} to the folder holding cifar-10-batches-bin.",
    ),
}


def idx_file(directory: Path, stem: str) -> Path | None:
    """``directory/stem.gz`` if it is a file, else ``directory/stem``, else None."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _missing(dataset: _Dataset, directory: Path) -> list[str]:
    """The files of ``dataset`` that ``directory`` lacks (all if no folder)."""
    if dataset.idx:
        return [s for s in dataset.files if idx_file(directory, s) is None]
    return [f for f in dataset.files if not (directory / f).is_file()]


def find_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Finds the folder holding a dataset's files.

    Lookup order:

    1. ``data_dir`` when given, and then only it: a ``data_dir`` that lacks the
       files is an error naming it, never a silent fall-back to another copy.
    2. ``$JAXCNN_DATA`` (``DATA_ENV``; unset or empty counts as absent): the
       folder itself, then its sub-folder ``fashion-mnist/`` or
       ``cifar-10-batches-bin/``.
    3. The system folders of ``SYSTEM_DATA_DIRS``: for Fashion-MNIST
       ``/usr/share/datasets/fashion-mnist``, where Debian's
       ``dataset-fashion-mnist`` installs it.

    A folder holds Fashion-MNIST when it has the four IDX files (each gzipped,
    ``.gz``, or raw) and CIFAR-10 when it has all six binary batches,
    ``data_batch_1.bin`` ... ``data_batch_5.bin`` and ``test_batch.bin``. Only
    the names are checked: no file is read or downloaded.

    Args:
      name: ``"fashion-mnist"`` or ``"cifar-10"`` (its binary version).
      data_dir: the folder holding the files, or None to search.

    Returns:
      The folder, as given (``Path(data_dir)``) or as found.

    Raises:
      TypeError: if ``name`` is not a str or ``data_dir`` not a path.
      ValueError: if ``name`` is not a known dataset.
      FileNotFoundError: if ``data_dir`` lacks the files, or no searched
        folder holds them; the message lists where it looked and how to get
        the files.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {tuple(_DATASETS)}; got {name!r}")
    _checks.check_choice(name, "name", tuple(_DATASETS))
    dataset = _DATASETS[name]
    if data_dir is not None:
        return _given(dataset, Path(_checks.check_path(data_dir, "data_dir")))
    candidates = _search_path(name)
    for directory in candidates:
        if not _missing(dataset, directory):
            return directory
    env = os.environ.get(DATA_ENV)
    env_text = f"{DATA_ENV} is {env!r}" if env else f"{DATA_ENV} is not set"
    tried = ", ".join(repr(str(c)) for c in candidates)
    where = (
        f" in {tried} (data_dir not given; {env_text})"
        if candidates
        else f": data_dir not given and {env_text}"
    )
    raise FileNotFoundError(f"{dataset.title} not found{where}. {dataset.how_to_get}")


def _given(dataset: _Dataset, directory: Path) -> Path:
    """``directory`` if it holds ``dataset``; else a FileNotFoundError naming it."""
    missing = _missing(dataset, directory)
    if not missing:
        return directory
    if not directory.is_dir():
        what = "is not a folder"
    else:
        gz = "[.gz]" if dataset.idx else ""
        what = "lacks " + ", ".join(f + gz for f in missing)
    raise FileNotFoundError(
        f"{dataset.title} not found: data_dir {str(directory)!r} {what}. "
        f"{dataset.how_to_get}"
    )


def _search_path(name: str) -> list[Path]:
    """The folders searched without ``data_dir``, in order."""
    candidates = []
    env = os.environ.get(DATA_ENV)
    if env:
        candidates += [Path(env), Path(env) / _DATASETS[name].subfolder]
    return candidates + [Path(d) for d in SYSTEM_DATA_DIRS.get(name, ())]
