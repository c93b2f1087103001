"""``jaxcnn embed`` and ``jaxcnn verify`` with a random-weight .npz network."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxcnn import cli, images
from jaxcnn.commands import embed as embed_command
from jaxcnn.facenet import fixed_standardize, nets
from jaxcnn.mtcnn import Detections

SIZE = 48  # small (fast) but above the default margin of 32 pixels


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small network with random weights (and random batch statistics)."""
    model = nets.create("small", widths=(4, 8), embedding_dim=8)
    variables = jax.eval_shape(
        model.init, jax.random.key(0), jnp.zeros((1, SIZE, SIZE, 3))
    )
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map(
        lambda s: rng.uniform(0.5, 1.5, s.shape).astype(np.float32), variables
    )
    path = tmp_path_factory.mktemp("w") / "small.npz"
    nets.save_model(path, model, variables, image_size=SIZE)
    return path, model, variables


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("img")
    rng = np.random.default_rng(1)
    paths = []
    for k in range(2):
        pixels = rng.integers(0, 256, (48, 64, 3), np.uint8)
        paths.append(root / f"p{k}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _run(capsys, argv):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_embed_no_detect_matches_direct_embedding(capsys, weights, photos):
    path, model, variables = weights
    status, out, _ = _run(
        capsys,
        [
            "embed",
            str(photos[0]),
            str(photos[1]),
            "--weights",
            str(path),
            "--no-detect",
        ],
    )
    assert status == 0
    records = json.loads(out)["images"]
    assert [r["name"] for r in records] == ["p0.png", "p1.png"]
    assert records[0]["box"] == [0.0, 0.0, 64.0, 48.0]
    got = np.array(records[0]["embedding"])
    assert got.shape == (8,)
    np.testing.assert_allclose(np.linalg.norm(got), 1.0, rtol=1e-5)
    image = images.load(photos[0])
    crop = images.align_faces(image, [[0, 0, 64, 48]], size=SIZE, margin=0)
    embed = jax.jit(nets.embed, static_argnums=0)
    want = embed(model, variables, fixed_standardize(crop))[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_embed_uses_largest_face_and_reports_no_face(
    capsys, weights, photos, monkeypatch
):
    path = weights[0]
    calls = []

    def fake_detect(image):
        calls.append(image.shape)
        if len(calls) == 2:  # second image: no face
            return Detections(
                np.zeros((0, 4), np.float32),
                np.zeros((0,), np.float32),
                np.zeros((0, 5, 2), np.float32),
            )
        boxes = np.array([[0, 0, 10, 10], [5, 5, 40, 30], [1, 1, 20, 20]], np.float32)
        return Detections(
            boxes, np.ones(3, np.float32), np.zeros((3, 5, 2), np.float32)
        )

    monkeypatch.setattr(embed_command, "detect", fake_detect)
    status, out, err = _run(
        capsys, ["embed", str(photos[0]), str(photos[1]), "--weights", str(path)]
    )
    assert status == 1
    first, second = json.loads(out)["images"]
    assert first["box"] == [5.0, 5.0, 40.0, 30.0]  # area 875 beats 100 and 361
    assert "no face" in second["error"] and "no face" in err


def test_verify_same_image_is_same(capsys, weights, photos):
    path = str(weights[0])
    status, out, err = _run(
        capsys,
        ["verify", str(photos[0]), str(photos[0]), "--weights", path, "--no-detect"],
    )
    assert status == 0
    result = json.loads(out)
    assert result["distance"] == 0.0 and result["same"] and result["verdict"] == "same"
    assert result["threshold"] == 1.1
    assert "same" in err
    status, out, _ = _run(
        capsys,
        [
            "verify",
            str(photos[0]),
            str(photos[1]),
            "--weights",
            path,
            "--no-detect",
            "--threshold",
            "0.0001",
        ],
    )
    result = json.loads(out)
    assert status == 0
    assert result["same"] == (result["distance"] < 0.0001)


def test_verify_different_images_is_different(capsys, weights, photos):
    """Two different random images: a threshold equal to their distance must say
    "different" ("same" needs distance < threshold, strictly), one just above
    it "same"."""
    path = str(weights[0])
    pair = ["verify", str(photos[0]), str(photos[1]), "--weights", path]
    status, out, _ = _run(capsys, [*pair, "--no-detect"])
    assert status == 0
    distance = json.loads(out)["distance"]
    assert 0 < distance <= 4
    status, out, err = _run(
        capsys, [*pair, "--no-detect", "--threshold", repr(distance)]
    )
    result = json.loads(out)
    assert status == 0 and result["threshold"] == distance
    assert result["verdict"] == "different" and result["same"] is False
    assert err.startswith("different: ") and ">= threshold" in err
    above = repr(float(np.nextafter(distance, 5.0)))
    status, out, _ = _run(capsys, [*pair, "--no-detect", "--threshold", above])
    assert json.loads(out)["verdict"] == "same"


def test_verify_orthogonal_embeddings_is_different(capsys, tmp_path, monkeypatch):
    """Orthogonal unit embeddings: squared distance 2 >= 1.1, "different" at the
    default threshold, whatever the network."""
    vectors = {"a.png": [1.0, 0.0], "b.png": [0.0, 1.0]}

    def fake_embedder(args):
        def embedder(p):
            return [0.0, 0.0, 1.0, 1.0], np.float32(vectors[os.path.basename(p)])

        return embedder

    monkeypatch.setattr(embed_command, "load_embedder", fake_embedder)
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    status, out, err = _run(capsys, ["verify", a, b, "--weights", "unused.npz"])
    assert status == 0
    result = json.loads(out)
    assert result["distance"] == 2.0 and result["threshold"] == 1.1
    assert result["verdict"] == "different" and result["same"] is False
    assert "different" in err


def test_bad_weights_and_options(capsys, tmp_path, photos):
    status, _, err = _run(
        capsys, ["verify", str(photos[0]), str(photos[1]), "--weights", "missing.npz"]
    )
    assert status == 2 and "--weights" in err
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"params/x": np.zeros(3), "meta/arch": np.asarray("small")})
    status, _, err = _run(capsys, ["embed", str(photos[0]), "--weights", str(bad)])
    assert status == 2 and "do not match" in err
    with pytest.raises(SystemExit):
        cli.main(
            [
                "verify",
                str(photos[0]),
                str(photos[1]),
                "--weights",
                "x",
                "--threshold",
                "5",
            ]
        )


def test_image_over_the_detector_limit_is_an_input_error(capsys, tmp_path, weights):
    """A side above mtcnn's MAX_IMAGE_SIDE: one error line naming the file, the
    other images still processed, exit status 1, no traceback."""
    tall = tmp_path / "tall.png"
    Image.fromarray(np.zeros((8193, 16, 3), np.uint8)).save(tall)
    argv = ["embed", str(tall), str(tall), "--weights", str(weights[0])]
    status, out, err = _run(capsys, argv)
    assert status == 1
    records = json.loads(out)["images"]
    assert len(records) == 2
    assert all("tall.png" in r["error"] and "8192" in r["error"] for r in records)
    assert "Traceback" not in err and err.count("at most 8192") == 2
