"""End to end test of research/cifar10.py on a tiny fixture in the binary format."""

import json

import numpy as np
import pytest

from tests.research.scripts import load_script

cifar10 = load_script("cifar10.py")


def write_batch(path, n, rng):
    """CIFAR-10 binary records; cats (class 3) are reddish, the rest bluish."""
    labels = np.arange(n) % 10
    images = rng.integers(0, 90, (n, 3, 32, 32))
    images[labels == 3, 0] += 160  # red plane of the cats
    images[labels != 3, 2] += 160  # blue plane of the others
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    path.write_bytes(records.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar-10-batches-bin")
    rng = np.random.default_rng(0)
    write_batch(root / "data_batch_1.bin", 40, rng)
    write_batch(root / "data_batch_2.bin", 40, rng)
    write_batch(root / "test_batch.bin", 40, rng)
    return root


TINY = dict(
    stages=((4,),),
    hidden=(8,),
    epochs=8,
    batch_size=16,
    learning_rate=1e-2,
    dropout_rate=0.0,
    log_every=5,
    save_every=10,
)


def test_cat_task_end_to_end_and_resume(cifar_dir, tmp_path):
    config = cifar10.Config(task="cat", **TINY)
    summary = cifar10.train_and_evaluate(config, cifar_dir, tmp_path)
    assert summary["steps"] == 40 and summary["start_step"] == 0
    # Colour separates cats here; a working pipeline finds them.
    assert summary["accuracy"] >= 0.9
    assert summary["cat_recall"] >= 0.5 and summary["cat_precision"] >= 0.5
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        json.loads((tmp_path / "summary.json").read_text())["accuracy"]
        == summary["accuracy"]
    )
    again = cifar10.train_and_evaluate(config, cifar_dir, tmp_path)
    assert again["start_step"] == 40 and again["accuracy"] == summary["accuracy"]


def test_relabel_and_scores():
    labels = np.array([3, 0, 3, 9], np.uint8)
    np.testing.assert_array_equal(cifar10.relabel(labels, "cat"), [1, 0, 1, 0])
    np.testing.assert_array_equal(cifar10.relabel(labels, "ten"), labels)
    with pytest.raises(ValueError, match="task"):
        cifar10.relabel(labels, "dog")
    s = cifar10.scores(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]), "cat")
    assert s == {"accuracy": 0.5, "cat_precision": 0.5, "cat_recall": 0.5}


def test_main_reports_missing_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    assert (
        cifar10.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err
    assert "CIFAR-10 binary files not found" in err and "cifar-10-binary.tar.gz" in err
    assert not (tmp_path / "o").exists()
