"""The classic architectures: published parameter counts, shapes, modes, a reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from jaxcnn import models
from tests.tolerances import assert_close

# Published trainable-parameter counts (torchvision's model zoo documentation
# for the ImageNet models; LeNet-5 with each C3 map connected to all six S2
# maps rather than the paper's partial connection table).
PUBLISHED = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "googlenet": 6_624_904,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    # eval_shape: nothing is allocated, so VGG-16 costs only tracing time.
    assert models.build(name).num_params() == PUBLISHED[name]


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_batch_stats_are_not_counted(name):
    shapes = models.build(name).variable_shapes()
    assert "batch_stats" in shapes
    total = models.count_params(shapes)
    assert total > models.count_params(shapes["params"]) == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_output_shape_at_published_size(name):
    model = models.build(name, num_classes=7)
    shapes = model.variable_shapes()
    x = jax.ShapeDtypeStruct((2, *model.input_shape), jnp.float32)
    out = jax.eval_shape(lambda v, x: model.apply(v, x), shapes, x)
    assert out.shape == (2, 7) and out.dtype == jnp.float32


def lenet_reference(params, x):
    """LeNet-5 forward pass in NumPy float64, convolutions as window sums."""

    def conv(x, p):
        k = np.asarray(p["kernel"], np.float64)
        windows = sliding_window_view(x, k.shape[:2], axis=(1, 2))  # N,H,W,C,kh,kw
        return np.einsum("nhwcij,ijco->nhwo", windows, k) + np.asarray(p["bias"])

    def pool(x):
        n, h, w, c = x.shape
        return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))

    def act(x):
        return 1.7159 * np.tanh(2.0 / 3.0 * x)

    x = pool(act(conv(x, params["c1"])))
    x = pool(act(conv(x, params["c3"])))
    x = act(conv(x, params["c5"])).reshape(len(x), -1)
    x = act(x @ np.asarray(params["f6"]["kernel"], np.float64) + params["f6"]["bias"])
    return (
        x @ np.asarray(params["output"]["kernel"], np.float64)
        + params["output"]["bias"]
    )


def test_lenet_matches_numpy_reference():
    model = models.build("lenet5")
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 1)).astype(np.float32)
    variables = model.init(jax.random.PRNGKey(0), x)
    got = jax.jit(model.apply)(variables, x)
    want = lenet_reference(variables["params"], x.astype(np.float64))
    # Sums of up to 400 products per output, then two more layers: a few ulps
    # accumulate on top of the float32 entry (values are of order 1).
    assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_init_returns_plain_pytree_and_apply_is_pure():
    model = models.build("simple_cnn", stages=((4,), (8,)), hidden=(16,))
    x = jnp.ones((2, 28, 28, 1))
    variables = model.init(jax.random.PRNGKey(1), x)
    assert type(variables) is dict and type(variables["params"]) is dict
    assert set(variables) == {"params", "batch_stats"}
    a = model.apply(variables, x)
    b = jax.jit(lambda v, x: model.apply(v, x))(variables, x)
    assert_close(a, b)


def test_train_mode_updates_batch_stats_and_uses_dropout():
    model = models.build("simple_cnn", stages=((4,),), hidden=(16,), dropout_rate=0.5)
    x = jax.random.normal(jax.random.PRNGKey(2), (4, 8, 8, 1))
    variables = model.init(jax.random.PRNGKey(1), x)
    out1, state = model.apply(
        variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(3)}
    )
    out2, _ = model.apply(
        variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(4)}
    )
    assert out1.shape == (4, 10)
    assert not np.allclose(out1, out2)  # different dropout masks
    old = variables["batch_stats"]
    new = state["batch_stats"]
    assert jax.tree_util.tree_structure(old) == jax.tree_util.tree_structure(new)
    moved = jax.tree_util.tree_map(lambda a, b: not np.allclose(a, b), old, new)
    assert all(jax.tree_util.tree_leaves(moved))


def simple_cnn_reference(variables, x, eps=1e-5):
    """A one-stage ``simple_cnn`` in evaluation mode, in NumPy float64.

    3x3 convolution with SAME padding and no bias, batch norm with the running
    ``mean`` and ``var`` of ``variables["batch_stats"]``, ReLU, 2x2 max pooling,
    one dense ReLU layer, the classifier.
    """
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), variables)
    params, stats = p["params"], p["batch_stats"]["BatchNorm_0"]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2))  # N,H,W,C,kh,kw
    y = np.einsum("nhwcij,ijco->nhwo", windows, params["Conv_0"]["kernel"])
    bn = params["BatchNorm_0"]
    y = (y - stats["mean"]) / np.sqrt(stats["var"] + eps) * bn["scale"] + bn["bias"]
    y = np.maximum(y, 0.0)
    n, h, w, c = y.shape
    y = y.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4)).reshape(n, -1)
    y = np.maximum(y @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"], 0.0)
    return y @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]


def test_eval_mode_uses_the_running_statistics():
    model = models.build("simple_cnn", stages=((4,),), hidden=(16,), dropout_rate=0.0)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 8, 8, 1)).astype(np.float32)
    variables = model.init(jax.random.PRNGKey(1), x)
    # Running statistics far from the initial (0, 1) and from this batch's.
    stats = {
        "mean": rng.normal(0.0, 0.5, 4).astype(np.float32),
        "var": rng.uniform(0.2, 3.0, 4).astype(np.float32),
    }
    variables = {**variables, "batch_stats": {"BatchNorm_0": stats}}
    variables["params"]["BatchNorm_0"] = {
        "scale": rng.uniform(0.5, 2.0, 4).astype(np.float32),
        "bias": rng.normal(0.0, 0.5, 4).astype(np.float32),
    }
    got = model.apply(variables, x)
    x64 = x.astype(np.float64)
    # At most 9 products per convolution output, 64 and 16 per dense output.
    assert_close(got, simple_cnn_reference(variables, x64), jnp.float32)
    fresh = model.init(jax.random.PRNGKey(1), x)["batch_stats"]  # mean 0, var 1
    initial = {**variables, "batch_stats": fresh}
    assert not np.allclose(got, simple_cnn_reference(initial, x64), atol=1e-3)
    # Training mode normalises with this batch's statistics instead.
    train_out, _ = model.apply(variables, x, train=True)
    assert not np.allclose(got, train_out, atol=1e-3)
    assert_close(jax.jit(model.apply)(variables, x), got)  # deterministic, jit too


def test_model_without_batch_stats_returns_empty_state():
    model = models.build("lenet5")
    x = jnp.zeros((1, 32, 32, 1))
    variables = model.init(jax.random.PRNGKey(0), x)
    logits, state = model.apply(variables, x, train=True)
    assert logits.shape == (1, 10) and state == {}


def test_resnet18_runs_on_small_images():
    model = models.build("resnet18", num_classes=3)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
    variables = model.init(jax.random.PRNGKey(0), x)
    logits, _ = jax.jit(lambda v, x: model.apply(v, x, train=True))(variables, x)
    assert logits.shape == (2, 3) and bool(jnp.all(jnp.isfinite(logits)))


def test_googlenet_paper_variant_has_5x5_kernels():
    shapes = models.build("googlenet", five_by_five=True).variable_shapes()["params"]
    # Branch 3 of inception 3a: 1x1 reduce to 16 channels, then the 5x5 conv to 32.
    kernels = [
        leaf.shape
        for path, leaf in jax.tree_util.tree_flatten_with_path(shapes["inception3a"])[0]
        if leaf.ndim == 4 and leaf.shape[:2] == (5, 5)
    ]
    assert kernels == [(5, 5, 16, 32)]


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        models.build("resnet101")
    with pytest.raises(ValueError, match="num_classes"):
        models.build("lenet5", num_classes=0)
    with pytest.raises(TypeError, match="num_classes"):
        models.build("lenet5", num_classes=2.5)


def test_apply_rejects_bad_inputs():
    model = models.build("lenet5")
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 1)))
    with pytest.raises(ValueError, match="x must have rank 4"):
        model.apply(variables, jnp.zeros((32, 32, 1)))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        model.apply(variables, jnp.zeros((1, 32, 32, 1), jnp.uint8))
    with pytest.raises(TypeError, match="train"):
        model.apply(variables, jnp.zeros((1, 32, 32, 1)), train="yes")
    with pytest.raises(ValueError, match="x must have rank 4"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((32, 32)))
