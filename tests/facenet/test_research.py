"""Smoke test of research/facenet/train.py on tiny synthetic IDX and LFW data."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxcnn.facenet import nets
from tests.research.scripts import load_script, write_idx_gz


@pytest.fixture(scope="module")
def script():
    return load_script("facenet/train.py")


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    """10 classes x 4 images of 8x8 pixels, class k brightened by 20 k."""
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    images = rng.integers(0, 40, (40, 8, 8)) + 20 * labels[:, None, None]
    for prefix in ("train", "t10k"):
        write_idx_gz(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
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


def test_missing_data_stops_with_instructions(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        script.main(["--data-dir", str(tmp_path), "--steps", "1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Fashion-MNIST files not found")
    assert str(tmp_path) in err and "dataset-fashion-mnist" in err


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
