"""Smoke test of research/fashion_mnist.py on tiny IDX files the test writes."""

import gzip
import importlib.util
import json
import pathlib
import struct

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"research_{name}", ROOT / "research" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fm = _load("fashion_mnist")


def write_idx_gz(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """64 training and 32 test images: class 0 bright on top, class 1 at the bottom."""
    root = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 2, n)
        images = rng.integers(0, 60, (n, 28, 28))
        images[labels == 0, :14] += 180
        images[labels == 1, 14:] += 180
        write_idx_gz(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def test_train_and_evaluate_tiny(data_dir, tmp_path):
    config = fm.Config(
        stages=((4,),),
        hidden=(8,),
        epochs=3,
        batch_size=16,
        learning_rate=1e-2,
        log_every=4,
        eval_every_epochs=1.0,
    )
    logged = []
    summary = fm.train_and_evaluate(config, data_dir, tmp_path, log=logged.append)
    assert summary["steps"] == 12 and summary["start_step"] == 0
    assert summary["test_accuracy"] >= 0.9  # the two classes are easy
    assert [e["step"] for e in logged if "eval_accuracy" in e] == [4, 8, 12]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["test_accuracy"] == summary["test_accuracy"]


def test_data_lookup_order(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    assert fm.find_data_dir(data_dir) == data_dir
    monkeypatch.setenv("JAXCNN_DATA", str(data_dir.parent))
    with pytest.raises(FileNotFoundError):
        fm.find_data_dir()  # the files are in a sub-folder with another name
    monkeypatch.setenv("JAXCNN_DATA", str(data_dir))
    assert fm.find_data_dir() == data_dir
    monkeypatch.delenv("JAXCNN_DATA")
    monkeypatch.setattr(fm, "SYSTEM_DIR", data_dir)
    assert fm.find_data_dir() == data_dir


def test_main_explains_how_to_get_the_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "absent")
    assert fm.main(["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST files not found" in err
    assert "--data-dir" in err and "dataset-fashion-mnist" in err
