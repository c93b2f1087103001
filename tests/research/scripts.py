"""Helpers for the research scripts' tests: load a script, write IDX files.

The scripts are files, not a package: each test module loads its script from
the path, as a fresh module (the scripts put ``research/`` on ``sys.path``
themselves for ``research/_script.py``).
"""

import gzip
import importlib.util
import pathlib
import struct

import numpy as np

RESEARCH = pathlib.Path(__file__).resolve().parents[2] / "research"


def load_script(relative: str):
    """Executes ``research/<relative>`` (e.g. ``"facenet/train.py"``); the module."""
    path = RESEARCH / relative
    name = "research_" + relative.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx_gz(path: pathlib.Path, array: np.ndarray) -> None:
    """A gzipped unsigned-byte IDX file (header written by hand, big-endian)."""
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
