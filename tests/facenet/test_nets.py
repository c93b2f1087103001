"""Embedding networks: l2_normalize, NN2 against the paper's Table 2, the small
net, and Inception-ResNet-v1 against facenet-pytorch's own model file."""

import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.facenet import (
    NN2,
    InceptionResnetV1,
    SmallEmbeddingNet,
    fixed_standardize,
    from_facenet_pytorch,
    l2_normalize,
    load_npz,
    nets,
    save_npz,
)
from jaxcnn.facenet.convert import check_variables
from jaxcnn.facenet.embedding import min_l2_eps
from jaxcnn.facenet.nn2 import l2_pool
from tests.tolerances import assert_close


def test_l2_normalize_values_and_zero_vector():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1e-30, 0.0]], np.float32)
    y = l2_normalize(x)
    assert_close(y[0], [0.6, 0.8])
    assert np.all(y[1] == 0)
    g = jax.jacobian(lambda v: l2_normalize(v))(jnp.zeros(3, jnp.float32))
    assert np.all(np.isfinite(g))
    g = jax.grad(lambda v: jnp.sum(l2_normalize(v)))(jnp.zeros((2, 3), jnp.float32))
    assert np.all(np.isfinite(g))
    z = l2_normalize(np.ones((2, 3), np.float32), axis=0)
    assert_close(z, np.full((2, 3), 2**-0.5))
    assert l2_normalize(jnp.ones(4, jnp.bfloat16)).dtype == jnp.bfloat16


def test_l2_normalize_float16_gradient_at_zero_is_finite():
    """float16: eps is raised to 2**-14, so the gradient at 0 is I * 16384
    (the float32 default 1e-12 would give 1e12, inf in float16)."""
    assert min_l2_eps(jnp.float16) == 2.0**-14
    zero = jnp.zeros(3, jnp.float16)
    g = jax.jacobian(lambda v: l2_normalize(v))(zero)
    assert g.dtype == jnp.float16
    np.testing.assert_array_equal(g, np.eye(3) * 2.0**14)
    g = jax.grad(lambda v: jnp.sum(l2_normalize(v).astype(jnp.float32)))(
        jnp.zeros((2, 3), jnp.float16)
    )
    assert np.all(np.isfinite(g))
    assert np.all(l2_normalize(zero) == 0)
    x = np.array([[3.0, 4.0], [0.01, -0.02], [2.0**-15, 0.0]], np.float16)
    y = l2_normalize(x)
    assert y.dtype == jnp.float16
    assert_close(y[:2], l2_normalize(x[:2].astype(np.float32)), np.float16)
    # Below the floor: x / eps = 2**-15 / 2**-14, not a unit vector.
    assert_close(y[2], [0.5, 0.0], np.float16)
    # float32 keeps the 1e-12 floor: gradient I * 1e12 at the zero vector.
    g32 = jax.jacobian(lambda v: l2_normalize(v))(jnp.zeros(2, jnp.float32))
    assert_close(g32, np.eye(2) * 1e12)


def test_l2_normalize_validation():
    with pytest.raises(TypeError, match="x"):
        l2_normalize(np.ones(3, np.int32))
    with pytest.raises(ValueError, match="axis"):
        l2_normalize(np.ones(3, np.float32), axis=1)
    with pytest.raises(ValueError, match="eps"):
        l2_normalize(np.ones(3, np.float32), eps=0.0)
    # eps**2 = 1e-40 is subnormal in float32: the zero vector would be NaN.
    with pytest.raises(ValueError, match=r"eps must be >= 2.17e-19 for float32"):
        l2_normalize(np.zeros(3, np.float32), eps=1e-20)
    with pytest.raises(ValueError, match=r"eps must be >= 6.1e-05 for float16"):
        l2_normalize(np.zeros(3, np.float16), eps=1e-12)
    with pytest.raises(ValueError, match="eps"):
        l2_normalize(np.ones(3, np.float32), eps=float("nan"))
    with pytest.raises(TypeError, match="eps"):
        l2_normalize(np.ones(3, np.float32), eps="1e-3")


def test_l2_pool_by_hand_and_gradient_at_zero():
    x = (
        jnp.zeros((1, 3, 3, 1), jnp.float32)
        .at[0, 1, 1, 0]
        .set(3.0)
        .at[0, 0, 0, 0]
        .set(4)
    )
    y = l2_pool(x)
    assert_close(y[0, 0, 0, 0], 5.0)  # window covers both: sqrt(9 + 16)
    assert_close(y[0, 2, 2, 0], 3.0)  # window covers only the 3
    g = jax.grad(lambda v: jnp.sum(l2_pool(v)))(jnp.zeros((1, 3, 3, 1), jnp.float32))
    assert np.all(np.isfinite(g))


def _param_count(tree) -> int:
    return sum(int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(tree))


def _conv_params(tree) -> int:
    """Kernels plus one offset per output channel (conv bias, or batch norm's
    beta when batch norm replaces the bias); the paper's table counts biases."""
    total = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = path[-1].key
        if name == "kernel" or (name == "bias"):
            total += int(np.prod(leaf.shape))
    return total


# FN-paper Table 2 "params" column, in thousands (SPECS B4).
TABLE_2_PARAMS_K = {
    "conv1": 9,
    "inception_2": 115,
    "inception_3a": 164,
    "inception_3b": 228,
    "inception_3c": 398,
    "inception_4a": 545,
    "inception_4b": 595,
    "inception_4c": 654,
    "inception_4d": 722,
    "inception_4e": 717,
    "inception_5a": 1600,
    "inception_5b": 1600,
    "fc": 131,
}


def test_nn2_matches_table_2():
    model = NN2()
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 3)))
    params = shapes["params"]
    params["inception_2"] = {"a": params["conv2_reduce"], "b": params["conv2"]}
    for name, want_k in TABLE_2_PARAMS_K.items():
        got_k = _conv_params(params[name]) / 1000
        # The table rounds to 1K (to 0.1M for 5a/5b): allow half a unit.
        unit = 100 if want_k >= 1000 else 1
        assert abs(got_k - want_k) <= unit / 2 + 0.5, (name, got_k, want_k)
    total = sum(_conv_params(params[k]) for k in TABLE_2_PARAMS_K)
    assert abs(total / 1e6 - 7.5) < 0.05  # "7.5M params"
    out = jax.eval_shape(model.apply, shapes, jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 128)


def test_small_net_embeds_unit_vectors():
    model = nets.create("small", embedding_dim=16, widths=(8, 16))
    variables = nets.init(model, jax.random.key(0), (28, 28, 1))
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 1))
    y = jax.jit(nets.embed, static_argnums=0)(model, variables, x)
    assert y.shape == (3, 16)
    assert_close(jnp.linalg.norm(y, axis=1), np.ones(3))
    train = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))
    _, updates = train(variables, x)
    assert "batch_stats" in updates
    with pytest.raises(ValueError, match="arch"):
        nets.create("resnet")
    with pytest.raises(ValueError, match="images"):
        nets.embed(model, variables, x[0])


def test_npz_round_trip(tmp_path):
    model = SmallEmbeddingNet(widths=(4,), embedding_dim=8)
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 12, 12, 3)))
    variables = jax.tree_util.tree_map(
        lambda s: np.random.default_rng(0).normal(size=s.shape).astype(s.dtype),
        variables,
    )
    path = tmp_path / "w.npz"
    save_npz(path, variables, arch="small", widths="4")
    loaded, meta = load_npz(path)
    assert meta == {"arch": "small", "widths": "4"}
    check_variables(loaded, variables)
    for a, b in zip(
        jax.tree_util.tree_leaves(loaded),
        jax.tree_util.tree_leaves(variables),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    bad = dict(loaded, params={})
    with pytest.raises(ValueError, match="missing"):
        check_variables(bad, variables)


def _load_facenet_pytorch_model(monkeypatch):
    """Imports facenet-pytorch's ``inception_resnet_v1.py`` by path.

    The package ``__init__`` imports torchvision (not needed here), so the
    package and its download helper are stubbed in ``sys.modules``.
    """
    pytest.importorskip("torch")
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("facenet-pytorch is not installed")
    root = spec.submodule_search_locations[0]
    for name in (
        "facenet_pytorch",
        "facenet_pytorch.models",
        "facenet_pytorch.models.utils",
    ):
        stub = types.ModuleType(name)
        stub.__path__ = []
        monkeypatch.setitem(sys.modules, name, stub)
    download = types.ModuleType("facenet_pytorch.models.utils.download")
    download.download_url_to_file = lambda *args, **kwargs: None
    monkeypatch.setitem(sys.modules, download.__name__, download)
    if importlib.util.find_spec("requests") is None:
        requests = types.ModuleType("requests")
        adapters = types.ModuleType("requests.adapters")
        adapters.HTTPAdapter = object
        monkeypatch.setitem(sys.modules, "requests", requests)
        monkeypatch.setitem(sys.modules, "requests.adapters", adapters)
    name = "facenet_pytorch.models.inception_resnet_v1"
    file_spec = importlib.util.spec_from_file_location(
        name, f"{root}/models/inception_resnet_v1.py"
    )
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


@pytest.mark.torch
@pytest.mark.slow
def test_inception_resnet_v1_matches_facenet_pytorch(monkeypatch):
    torch = pytest.importorskip("torch")
    module = _load_facenet_pytorch_model(monkeypatch)
    torch.manual_seed(0)
    reference = module.InceptionResnetV1().eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # random batch-norm statistics and affine terms too
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 160, 160, 3), np.uint8)
    x = np.array(fixed_standardize(pixels))
    with torch.no_grad():
        want = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()

    model = InceptionResnetV1()
    variables = from_facenet_pytorch(reference.state_dict())
    expected = jax.eval_shape(
        model.init, jax.random.key(0), jnp.zeros((1, 160, 160, 3))
    )
    check_variables(variables, expected)
    assert _param_count(variables["params"]) == sum(
        p.numel() for p in reference.parameters()
    )
    got = jax.jit(model.apply)(variables, x)
    assert got.shape == (2, 512)
    assert_close(got, want, atol=1e-4, rtol=1e-4)  # the stated tolerance


def test_from_facenet_pytorch_rejects_unknown_entries():
    with pytest.raises(ValueError, match="unknown"):
        from_facenet_pytorch({"conv2d_1a.bn.weird": np.zeros(3)})
    with pytest.raises(TypeError, match="state_dict"):
        from_facenet_pytorch([1, 2])
    converted = from_facenet_pytorch(
        {
            "conv2d_1a.conv.weight": np.zeros((32, 3, 3, 3)),
            "repeat_1.0.branch1.1.bn.running_var": np.ones(32),
            "last_linear.weight": np.zeros((512, 1792)),
            "logits.weight": np.zeros((10, 512)),
            "last_bn.num_batches_tracked": np.zeros(()),
        }
    )
    assert converted["params"]["conv2d_1a"]["conv"]["kernel"].shape == (3, 3, 3, 32)
    assert converted["params"]["last_linear"]["kernel"].shape == (1792, 512)
    assert converted["batch_stats"]["repeat_1_0"]["branch1_1"]["bn"]["var"].shape == (
        32,
    )
    assert "logits" not in converted["params"]
