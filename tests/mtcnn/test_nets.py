import importlib.util
import os
import pickle
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import data

from jaxcnn import mtcnn
from jaxcnn.mtcnn import nets
from jaxcnn.reference import mtcnn as ref
from tests.tolerances import assert_close


def test_parameter_counts(params):
    counts = {net: mtcnn.count_params(params[net]) for net in ("pnet", "rnet", "onet")}
    assert counts == {"pnet": 6632, "rnet": 100178, "onet": 389040}
    fresh = mtcnn.init(jax.random.key(0), "onet")
    assert mtcnn.count_params(fresh) == 389040
    assert jax.tree_util.tree_structure(fresh) == jax.tree_util.tree_structure(
        params["onet"]
    )


@pytest.mark.parametrize("side, out", [(12, 1), (13, 2), (100, 45)])
def test_pnet_map_size_ceil_pooling(params, side, out):  # case B04
    probs, offsets = mtcnn.pnet_apply(params["pnet"], jnp.zeros((1, side, side, 3)))
    assert probs.shape == (1, out, out, 2) and offsets.shape == (1, out, out, 4)


def test_pnet_matches_numpy(params):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 25, 31, 3)).astype(np.float32)
    got = mtcnn.pnet_apply(params["pnet"], x)
    want = ref.pnet(params["pnet"], x)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w)


def test_rnet_matches_numpy(params):
    x = np.random.default_rng(1).uniform(-1, 1, (3, 24, 24, 3)).astype(np.float32)
    got = mtcnn.rnet_apply(params["rnet"], x)
    want = ref.rnet(params["rnet"], x)
    assert got.probs.shape == (3, 2) and got.offsets.shape == (3, 4)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w)


def test_onet_matches_numpy(params):
    x = np.random.default_rng(2).uniform(-1, 1, (3, 48, 48, 3)).astype(np.float32)
    got = mtcnn.onet_apply(params["onet"], x)
    want = ref.onet(params["onet"], x)
    assert got.landmarks.shape == (3, 10)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w)


def test_onet_lfw_subset_probabilities(params, lfw_reference):
    images = data.lfw_subset().astype(np.float32) * 255  # 100 faces, 100 not
    x = jax.image.resize(jnp.asarray(images), (200, 48, 48), "linear", antialias=False)
    x = jnp.repeat(x[..., None], 3, axis=-1)
    p_face = np.asarray(
        mtcnn.onet_apply(params["onet"], mtcnn.normalize(x)).probs[:, 1]
    )
    want = np.asarray(lfw_reference["b_onet_only"]["face_prob"])
    np.testing.assert_allclose(p_face, want, atol=0.01)
    for threshold in (0.5, 0.7):
        assert (p_face[:100] > threshold).all() and (p_face[100:] <= threshold).all()


def test_sources_give_same_arrays(params):
    pytest.importorskip("torch")
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch not installed")
    other = mtcnn.load_params("facenet-pytorch")
    flat_a = jax.tree_util.tree_leaves_with_path(params)
    flat_b = jax.tree_util.tree_leaves_with_path(other)
    assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
    for (path, a), (_, b) in zip(flat_a, flat_b, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=str(path))


def test_load_params_takes_no_path():
    with pytest.raises(ValueError, match="source"):
        mtcnn.load_params("/tmp/evil.lz4")


class _Payload:
    """Unpickling this creates the file ``path``: proof that a pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_look_alike_mtcnn_package_is_not_unpickled(tmp_path):
    """A fake ``mtcnn`` distribution in the working directory comes first on
    ``sys.path`` under ``python -c`` / ``python -m``; its pickle must not run."""
    (tmp_path / "mtcnn-9.0.dist-info").mkdir()
    (tmp_path / "mtcnn-9.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mtcnn\nVersion: 9.0\n"
    )
    weights = tmp_path / "mtcnn" / "assets" / "weights"
    weights.mkdir(parents=True)
    marker = tmp_path / "payload-ran"
    (weights / "pnet.lz4").write_bytes(pickle.dumps(_Payload(str(marker))))
    code = (
        "from jaxcnn.mtcnn import weights\n"
        "try:\n"
        "    weights._read_mtcnn_net('pnet')\n"
        "except ValueError as err:\n"
        "    print('refused:', err)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "SHA-256" in result.stdout
    assert str(weights / "pnet.lz4") in result.stdout  # the fake was the one found
    assert not marker.exists()


@pytest.mark.parametrize(
    "fn, shape, match",
    [
        (mtcnn.pnet_apply, (12, 12, 3), "rank 4"),
        (mtcnn.pnet_apply, (1, 3, 12, 12), "3 channels"),
        (mtcnn.pnet_apply, (1, 11, 20, 3), "at least 12x12"),
        (mtcnn.rnet_apply, (1, 25, 24, 3), r"\(N, 24, 24, 3\)"),
        (mtcnn.onet_apply, (1, 24, 24, 3), r"\(N, 48, 48, 3\)"),
    ],
)
def test_bad_input_shapes(params, fn, shape, match):
    net = {"pnet_apply": "pnet", "rnet_apply": "rnet", "onet_apply": "onet"}[
        fn.__name__
    ]
    with pytest.raises(ValueError, match=match):
        fn(params[net], np.zeros(shape, np.float32))


def test_init_rejects_unknown_net():
    with pytest.raises(ValueError, match="net"):
        nets.init(jax.random.key(0), "qnet")


def test_unreadable_or_endless_weight_files(tmp_path, monkeypatch):
    from jaxcnn.mtcnn import weights

    monkeypatch.setattr(weights, "_package_dir", lambda package: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"pnet.lz4.*pip install mtcnn==1.0.0"):
        weights._read_mtcnn_net("pnet")
    folder = tmp_path / "assets" / "weights"
    folder.mkdir(parents=True)
    (folder / "pnet.lz4").symlink_to("/dev/zero")  # a read must stop
    with pytest.raises(ValueError, match="SHA-256"):
        weights._read_mtcnn_net("pnet")


@pytest.mark.parametrize("h, w", [(12, 12), (13, 12), (20, 27), (31, 18)])
def test_pnet_valid_size_equals_unpadded_input(params, h, w):
    # conv1 runs on 2x2 pixel blocks: odd sizes and padding must not leak in
    rng = np.random.default_rng(h * w)
    image = rng.uniform(-1, 1, (1, h, w, 3)).astype(np.float32)
    padded = np.pad(image, ((0, 0), (0, 34 - h), (0, 31 - w), (0, 0)))
    padded[:, h:, :] = padded[:, :, w:] = 50.0  # loud padding
    got = mtcnn.pnet_apply(params["pnet"], padded, valid_size=(h, w))
    want = ref.pnet(params["pnet"], image)
    mh, mw = want[0].shape[1:3]
    for g, r in zip(got, want, strict=True):
        assert_close(g[:, :mh, :mw], r)


def test_pnet_canvas_cells_equal_each_image_alone(params):
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (17, 22, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (15, 13, 3)).astype(np.float32)
    canvas = np.full((1, 36, 40, 3), 9.0, np.float32)  # loud gaps
    valid = np.zeros((34, 38), bool)
    for image, (y, x) in ((a, (0, 0)), (b, (18, 24))):
        h, w = image.shape[:2]
        canvas[0, y : y + h, x : x + w] = image
        valid[y : y + h - 2, x : x + w - 2] = True
    out = nets.pnet_canvas_apply(params["pnet"], canvas, jnp.asarray(valid))
    for image, (y, x) in ((a, (0, 0)), (b, (18, 24))):
        want = ref.pnet(params["pnet"], image[None])
        mh, mw = want[0].shape[1:3]
        for g, r in zip(out, want, strict=True):
            assert_close(g[:, y // 2 : y // 2 + mh, x // 2 : x // 2 + mw], r)


@pytest.mark.parametrize("h, w", [(12, 12), (13, 12), (16, 19), (24, 24), (25, 48)])
def test_block_conv1_and_pools_equal_conv_then_max_pool(h, w):
    # R-Net and O-Net take only 24x24 / 48x48, but the block form must hold
    # for any side, odd ones included
    from jaxcnn import ops

    p = nets.init(jax.random.key(h * w), "rnet")
    x = np.random.default_rng(h + w).uniform(-1, 1, (2, h, w, 3)).astype(np.float32)
    y = ops.conv(x, p["conv1"]["kernel"], p["conv1"]["bias"])
    y = ops.prelu(y, p["prelu1"]["alpha"])
    assert_close(nets._conv1_pool3(p, x), ops.max_pool(y, 3, 2, ceil_mode=True))
    got = nets._pool2_blocks(nets._conv1_blocks(p, x))
    assert_close(got, ops.max_pool(y, 2, 2, ceil_mode=True))
