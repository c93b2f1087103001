"""Smoke test of research/fashion_mnist.py on tiny IDX files the test writes."""

import json

import numpy as np
import pytest

from jaxcnn import data
from tests.research.scripts import load_script, write_idx_gz

fm = load_script("fashion_mnist.py")


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


def test_main_explains_how_to_get_the_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    monkeypatch.setitem(data.SYSTEM_DATA_DIRS, "fashion-mnist", (tmp_path / "no",))
    assert fm.main(["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST files not found" in err
    assert "--data-dir" in err and "dataset-fashion-mnist" in err
