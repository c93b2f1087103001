"""Smoke test of research/facenet/train.py on tiny synthetic IDX and LFW data."""

import gzip
import importlib.util
import json
import struct
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxcnn.facenet import nets

SCRIPT = Path(__file__).parents[2] / "research" / "facenet" / "train.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("facenet_research_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    """10 classes x 4 images of 8x8 pixels, class k brightened by 20 k."""
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    images = rng.integers(0, 40, (40, 8, 8)) + 20 * labels[:, None, None]
    for prefix in ("train", "t10k"):
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def test_fashion_protocol_runs_end_to_end(script, idx_dir, tmp_path):
    out = tmp_path / "results.json"
    argv = ["--data-dir", str(idx_dir), "--steps", "2", "--images-per-person", "2"]
    argv += ["--pairs-per-fold", "1", "--widths", "4", "--embedding-dim", "4"]
    results = script.main([*argv, "--json", str(out)])
    for name in ("triplet", "softmax", "triplet_seen", "softmax_seen"):
        scores = results[name]
        assert 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["val"] <= 1.0
        assert len(scores["fold_accuracy"]) == 10
    assert json.loads(out.read_text())["triplet"] == results["triplet"]


def test_data_lookup(script, idx_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "DEBIAN_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        script.find_data_dir(str(tmp_path))
    monkeypatch.setenv("JAXCNN_DATA", str(idx_dir))
    assert script.find_data_dir(None) == str(idx_dir)


def test_identity_batches_are_balanced_and_deterministic(script):
    labels = np.repeat(np.arange(5), 6)
    images = np.arange(30)
    batches = script.IdentityBatches(images, labels, range(5), p=3, k=4, seed=7)
    x, y = batches.batch(3)
    assert sorted(np.bincount(y, minlength=5)) == [0, 0, 4, 4, 4]
    assert np.all(labels[x] == y)
    np.testing.assert_array_equal(batches.batch(3)[0], x)
    first, second, same = script.make_pairs(labels, n_folds=2, per_fold=3, seed=0)
    assert same.tolist() == ([True] * 3 + [False] * 3) * 2
    assert np.all((labels[first] == labels[second]) == same)
    assert np.all(first != second)


def test_lfw_protocol_with_npz_weights(script, tmp_path):
    model = nets.create("small", widths=(4,), embedding_dim=4)
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map(
        lambda s: rng.uniform(0.5, 1.5, s.shape).astype(np.float32), variables
    )
    weights = tmp_path / "w.npz"
    nets.save_model(weights, model, variables, image_size=16)
    lfw = tmp_path / "lfw"
    for name in ("Ann", "Bob"):
        (lfw / name).mkdir(parents=True)
        for k in (1, 2):
            pixels = rng.integers(0, 256, (20, 20, 3), np.uint8)
            Image.fromarray(pixels).save(lfw / name / f"{name}_{k:04d}.png")
    (lfw / "pairs.txt").write_text(
        "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\nBob\t1\t2\nAnn\t2\tBob\t2\n"
    )
    results = script.main(["--lfw", str(lfw), "--weights", str(weights)])
    assert len(results["lfw"]["fold_accuracy"]) == 2
    with pytest.raises(SystemExit, match="weights"):
        script.main(["--lfw", str(lfw)])
