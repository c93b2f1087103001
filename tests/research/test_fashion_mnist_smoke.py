"""Smoke test of research/fashion_mnist.py on tiny IDX files the test writes."""

import dataclasses
import json
import math

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


@dataclasses.dataclass(frozen=True)
class TinyConfig(fm.Config):
    """Tiny defaults for the fields ``main`` has no flag for."""

    stages: tuple[tuple[int, ...], ...] = ((4,),)
    hidden: tuple[int, ...] = (8,)
    save_every: int = 3


def test_main_trains_on_the_files_it_finds(data_dir, tmp_path, capsys, monkeypatch):
    """main() with data present: lookup, subsets, training, files, JSON summary."""
    monkeypatch.setattr(fm, "Config", TinyConfig)
    out = tmp_path / "out"
    assert (
        fm.main(
            [
                "--data-dir",
                str(data_dir),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--learning-rate",
                "1e-2",
                "--train-subset",
                "48",
                "--test-subset",
                "16",
                "--log-every",
                "3",
                "--no-progress",
            ]
        )  # fmt: skip
        == 0
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["steps"] == 6 and summary["start_step"] == 0  # 48 / 16 x 2
    assert summary["config"]["train_subset"] == 48
    assert summary["config"]["stages"] == [[4]]
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert math.isfinite(summary["test_loss"])
    assert json.loads((out / "summary.json").read_text()) == summary
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir()) == [3, 6]
    assert captured.err.startswith(f"data: {data_dir}; devices: ")
    evals = [line for line in captured.err.splitlines() if "eval_accuracy=" in line]
    assert len(evals) == 2  # once per epoch


def test_flags_cover_every_field_but_the_documented_ones():
    """parse_args' docstring names the Config fields that have no flag."""
    fields = {f.name for f in dataclasses.fields(fm.Config)}
    without = sorted(fields - set(vars(fm.parse_args([]))))
    assert without == ["flip", "hidden", "save_every", "stages", "weight_decay"]
    assert all(f"``{name}``" in fm.parse_args.__doc__ for name in without)


def test_main_explains_how_to_get_the_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    monkeypatch.setitem(data.SYSTEM_DATA_DIRS, "fashion-mnist", (tmp_path / "no",))
    assert fm.main(["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST files not found" in err
    assert "--data-dir" in err and "dataset-fashion-mnist" in err
