"""Tests of the TensorFlow Playground data sets and MLP (jaxcnn.playground*)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxcnn import playground as pg
from jaxcnn import playground_model as pm
from tests.tolerances import assert_close

R = pg.RADIUS


# -- data sets ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(pg.DATASETS))
def test_shapes_dtypes_and_determinism(name):
    """Every generator gives (n, 2) float32 points, (n,) labels, same per seed."""
    points, labels = pg.make(name, 3, 101, 0.1)
    assert points.shape == (101, 2) and points.dtype == jnp.float32
    assert labels.shape == (101,)
    want = jnp.int32 if name in pg.CLASSIFICATION else jnp.float32
    assert labels.dtype == want
    again = pg.make(name, 3, 101, 0.1)
    np.testing.assert_array_equal(points, again[0])
    np.testing.assert_array_equal(labels, again[1])
    other, _ = pg.make(name, 4, 101, 0.1)
    assert not np.allclose(points, other)
    assert pg.task_of(name) in pm.TASKS


@pytest.mark.parametrize("name", list(pg.CLASSIFICATION))
def test_classification_labels_are_binary(name):
    """Labels are 0 or 1; the two-blob sets split n into halves."""
    _, labels = pg.make(name, 0, 201)
    assert set(np.unique(labels)) <= {0, 1}
    if name != "xor":
        assert int(labels.sum()) == 201 - 201 // 2


def test_circle_clean_geometry():
    """Without noise, label 1 lies within 0.5 R and label 0 in [0.7 R, R]."""
    points, labels = pg.circle(1, 400)
    r = np.linalg.norm(np.asarray(points), axis=1)
    inner, outer = r[np.asarray(labels) == 1], r[np.asarray(labels) == 0]
    assert inner.max() <= 0.5 * R + 1e-5
    assert outer.min() >= 0.7 * R - 1e-5 and outer.max() <= R + 1e-5


def test_xor_clean_geometry():
    """Without noise, label is the sign of x1 * x2 and points avoid the axes."""
    points, labels = pg.xor(2, 400)
    p = np.asarray(points)
    np.testing.assert_array_equal(np.asarray(labels), (p[:, 0] * p[:, 1] > 0))
    assert np.abs(p).min() >= pg.XOR_MARGIN - 1e-6
    assert np.abs(p).max() <= R + 1e-6


def test_gaussian_blob_means():
    """The two blobs are centred at (c, c) and (-c, -c) with unit spread."""
    points, labels = pg.gaussian(5, 4000)
    p, lab = np.asarray(points), np.asarray(labels)
    c = pg.GAUSSIAN_CENTRE
    np.testing.assert_allclose(p[lab == 1].mean(0), [c, c], atol=0.1)
    np.testing.assert_allclose(p[lab == 0].mean(0), [-c, -c], atol=0.1)
    np.testing.assert_allclose(p[lab == 1].std(0), [1, 1], atol=0.1)


def test_spiral_points_lie_on_their_arm():
    """Without noise, the polar angle matches the arm: 2 pi turns r/R + pi * label."""
    points, labels = pg.spiral(7, 300)
    p, lab = np.asarray(points, np.float64), np.asarray(labels)
    r = np.hypot(p[:, 0], p[:, 1])
    angle = np.arctan2(p[:, 1], p[:, 0])
    want = 2 * np.pi * pg.SPIRAL_TURNS * r / R + np.pi * lab
    gap = np.angle(np.exp(1j * (angle - want)))  # wrapped to (-pi, pi]
    assert np.abs(gap).max() < 1e-3
    assert r.max() <= R + 1e-5


def test_plane_labels():
    """Without noise, the plane's label is (x1 + x2) / (2 R)."""
    points, labels = pg.plane(0, 100)
    p = np.asarray(points, np.float64)
    assert_close(labels, (p[:, 0] + p[:, 1]) / (2 * R), jnp.float32)


def _bumps_reference(p):
    """The multi-Gaussian surface with explicit loops over the nine bumps."""
    s = pg.MULTI_GAUSSIAN_SPACING
    total = np.zeros(len(p))
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            sign = 1.0 if (i + j) % 2 == 0 else -1.0
            d2 = (p[:, 0] - s * i) ** 2 + (p[:, 1] - s * j) ** 2
            total += sign * np.exp(-d2 / 2)
    return np.clip(total, -1, 1)


def test_multi_gaussian_labels_match_reference():
    """Without noise, labels equal a loop-built sum of signed bumps."""
    points, labels = pg.multi_gaussian(0, 300)
    assert_close(labels, _bumps_reference(np.asarray(points, np.float64)), jnp.float32)
    centre = pg.multi_gaussian_surface(jnp.zeros((1, 2)))
    assert_close(centre, _bumps_reference(np.zeros((1, 2))), jnp.float32)


@pytest.mark.parametrize("name", list(pg.DATASETS))
def test_noise_jitters_points_not_labels(name):
    """Noise moves each coordinate by about noise * R and keeps the labels."""
    clean, clean_labels = pg.make(name, 9, 2000, 0.0)
    noisy, noisy_labels = pg.make(name, 9, 2000, 0.2)
    np.testing.assert_array_equal(clean_labels, noisy_labels)
    offset = np.asarray(noisy - clean)
    np.testing.assert_allclose(offset.std(), 0.2 * R, rtol=0.05)
    assert abs(offset.mean()) < 0.1


def test_typed_and_raw_keys_agree():
    """A typed JAX key and its raw uint32 data give the same points."""
    key = jax.random.key(11)
    a = pg.spiral(key, 20)[0]
    b = pg.spiral(jax.random.key_data(key), 20)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, pg.spiral(jax.random.key(12), 20)[0])


def test_split_is_a_shuffled_partition():
    """The parts have round(ratio n) and the rest, and together hold every point."""
    points, labels = pg.circle(0, 101)
    (tx, ty), (vx, vy) = pg.split(1, points, labels, 0.3)
    assert tx.shape == (30, 2) and vx.shape == (71, 2)
    assert ty.shape == (30,) and vy.shape == (71,)
    both = np.concatenate([np.asarray(tx), np.asarray(vx)])
    order = np.lexsort(both.T)
    ref = np.asarray(points)
    np.testing.assert_array_equal(both[order], ref[np.lexsort(ref.T)])
    labels_np = np.asarray(labels)
    pairs = {tuple(p): y for p, y in zip(ref.tolist(), labels_np.tolist(), strict=True)}
    joined = np.concatenate([np.asarray(ty), np.asarray(vy)]).tolist()
    for p, y in zip(both.tolist(), joined, strict=True):
        assert pairs[tuple(p)] == y
    assert not np.array_equal(both, ref)  # shuffled


def test_feature_map_values():
    """Each feature column equals its formula, in the order asked for."""
    p = jnp.array([[0.5, -2.0], [3.0, 1.5]], jnp.float32)
    got = pg.feature_map(p, ["sin_x2", "x1_x2", "x1", "x2_sq", "x1_sq", "x2", "sin_x1"])
    x1, x2 = np.asarray(p, np.float64).T
    want = np.stack([np.sin(x2), x1 * x2, x1, x2**2, x1**2, x2, np.sin(x1)], -1)
    assert_close(got, want, jnp.float32)
    assert pg.feature_map(jnp.zeros((4, 5, 2)), ["x1"]).shape == (4, 5, 1)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: pg.spiral(0, 1), ValueError, "n must be at least 2"),
        (lambda: pg.xor(0, 0), ValueError, "n must be at least 1"),
        (lambda: pg.plane(0, 2.5), TypeError, "n must be an int"),
        (lambda: pg.circle(0, 10, -0.1), ValueError, "noise"),
        (lambda: pg.circle(0, 10, math.nan), ValueError, "noise"),
        (lambda: pg.circle(True, 10), TypeError, "key"),
        (lambda: pg.circle("seed", 10), TypeError, "key"),
        (lambda: pg.circle(-1, 10), ValueError, "key"),
        (lambda: pg.make("moons", 0, 10), ValueError, "name"),
        (
            lambda: pg.split(0, jnp.zeros((4, 2)), jnp.zeros(4), 1.0),
            ValueError,
            "ratio",
        ),
        (
            lambda: pg.split(0, jnp.zeros((4, 2)), jnp.zeros(4), 0.1),
            ValueError,
            "ratio",
        ),
        (
            lambda: pg.split(0, jnp.zeros((4, 2)), jnp.zeros(3), 0.5),
            ValueError,
            "labels",
        ),
        (lambda: pg.split(0, jnp.zeros(4), jnp.zeros(4), 0.5), ValueError, "points"),
        (lambda: pg.feature_map(jnp.zeros((3, 2)), ["x3"]), ValueError, "features"),
        (lambda: pg.feature_map(jnp.zeros((3, 2)), "x1"), TypeError, "features"),
        (lambda: pg.feature_map(jnp.zeros((3, 2)), []), ValueError, "features"),
        (lambda: pg.feature_map(jnp.zeros((3, 2)), ["x1", "x1"]), ValueError, "repeat"),
        (lambda: pg.feature_map(jnp.zeros((3, 3)), ["x1"]), ValueError, "points"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- model -------------------------------------------------------------------


def test_linear_model_is_features_times_weights():
    """With no hidden layer the model is features @ W + b (checked in NumPy)."""
    model = pm.build_mlp((), "linear", ("x1", "x1_x2", "sin_x2"))
    variables = model.init(jax.random.key(0))
    p = np.array([[1.0, 2.0], [-0.5, 0.25], [3.0, -1.0]], np.float32)
    w = np.asarray(variables["params"]["output"]["kernel"], np.float64)
    b = np.asarray(variables["params"]["output"]["bias"], np.float64)
    x = np.stack([p[:, 0], p[:, 0] * p[:, 1], np.sin(p[:, 1])], -1)
    assert_close(model.apply(variables, jnp.asarray(p)), (x @ w + b)[:, 0], jnp.float32)


def test_activations_match_formulas():
    """The four Playground activations (from jaxcnn.ops) against NumPy."""
    z = np.linspace(-3, 3, 13).astype(np.float32)
    want = {
        "relu": np.maximum(z, 0),
        "tanh": np.tanh(z),
        "sigmoid": 1 / (1 + np.exp(-z.astype(np.float64))),
        "linear": z,
    }
    for name in pm.ACTIVATIONS:
        assert_close(pm.activation_fn(name)(jnp.asarray(z)), want[name], jnp.float32)


def test_mlp_shapes_and_forward_pass():
    """Hidden widths set the kernel shapes; apply matches a NumPy forward pass."""
    model = pm.build_mlp((5, 3), "tanh", ("x1", "x2", "x1_sq"))
    assert pm.build_mlp([5, 3], "tanh", ["x1", "x2", "x1_sq"]) is model  # cached
    variables = model.init(jax.random.key(1))
    params = variables["params"]
    assert params["hidden_0"]["kernel"].shape == (3, 5)
    assert params["hidden_1"]["kernel"].shape == (5, 3)
    assert params["output"]["kernel"].shape == (3, 1)
    p = jnp.array([[0.3, -1.2], [2.0, 0.7]], jnp.float32)
    h = np.asarray(pg.feature_map(p, model.features), np.float64)
    for name in ("hidden_0", "hidden_1"):
        layer = params[name]
        h = np.tanh(h @ np.asarray(layer["kernel"]) + np.asarray(layer["bias"]))
    out = h @ np.asarray(params["output"]["kernel"]) + np.asarray(
        params["output"]["bias"]
    )
    assert_close(model.apply(variables, p), out[:, 0], jnp.float32)


def test_penalty_counts_kernels_only():
    """L1 and L2 penalties sum over kernels, never biases."""
    model = pm.build_mlp((4,), "tanh", ("x1", "x2"))
    params = model.init(jax.random.key(2))["params"]
    params = jax.tree_util.tree_map(lambda a: a + 1.0, params)  # biases non-zero
    kernels = [np.asarray(params[k]["kernel"], np.float64) for k in params]
    l1 = sum(np.abs(k).sum() for k in kernels)
    l2 = sum((k**2).sum() for k in kernels)
    assert_close(pm.penalty(params, l1=0.3, l2=0.0), 0.3 * l1, jnp.float32)
    assert_close(pm.penalty(params, l1=0.0, l2=0.2), 0.2 * l2, jnp.float32)


def test_data_loss_formulas():
    """Cross-entropy of logits against 0/1 labels and mean squared error."""
    z = jnp.array([2.0, -1.0, 0.5], jnp.float32)
    y = jnp.array([1, 0, 0], jnp.int32)
    zz, yy = np.asarray(z, np.float64), np.asarray(y, np.float64)
    p = 1 / (1 + np.exp(-zz))
    bce = -np.mean(yy * np.log(p) + (1 - yy) * np.log(1 - p))
    assert_close(pm.data_loss("classification", z, y), bce, jnp.float32)
    t = jnp.array([1.0, 0.0, 0.25], jnp.float32)
    mse = np.mean((zz - np.asarray(t, np.float64)) ** 2)
    assert_close(pm.data_loss("regression", z, t), mse, jnp.float32)


def _spiral_split(noise=0.02):
    points, labels = pg.spiral(0, 500, noise)
    return pg.split(1, points, labels, 0.5)


def test_spiral_reaches_95_percent():
    """The documented spiral setting: 16-16 tanh on x1, x2, sin x1, sin x2."""
    train, test = _spiral_split()
    model = pm.build_mlp((16, 16), "tanh", ("x1", "x2", "sin_x1", "sin_x2"))
    result = pm.train(
        model, "classification", train, test, key=0, steps=1000, learning_rate=0.03
    )
    assert result.train_loss.shape == (1000,) and result.test_loss.shape == (1000,)
    assert float(result.test_loss[-1]) < 0.5 * float(result.test_loss[0])
    metrics = pm.evaluate(model, result.variables, "classification", *test)
    assert metrics["accuracy"] >= 0.95, metrics


def test_minibatch_sgd_regression_learns_plane(tmp_path):
    """Mini-batch SGD fits the plane with a linear model; L2 shrinks the weights."""
    points, labels = pg.plane(0, 200)
    train, test = pg.split(1, points, labels, 0.5)
    model = pm.build_mlp((), "linear", ("x1", "x2"))
    kw = dict(key=0, steps=300, learning_rate=0.01, batch_size=16, optimizer="sgd")
    free = pm.train(model, "regression", train, test, **kw)
    assert pm.evaluate(model, free.variables, "regression", *test)["loss"] < 1e-3
    w = np.asarray(free.variables["params"]["output"]["kernel"])[:, 0]
    np.testing.assert_allclose(w, [1 / (2 * R)] * 2, atol=0.01)
    shrunk = pm.train(model, "regression", train, test, l2=1.0, **kw)
    w2 = np.asarray(shrunk.variables["params"]["output"]["kernel"])[:, 0]
    assert np.all(np.abs(w2) < np.abs(w))
    # the regression-surface plot (the classification one is in the smoke test)
    path = tmp_path / "plane.png"
    pm.save_boundary_png(path, model, free.variables, "regression", train, test,
                         resolution=40)  # fmt: skip
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"


def test_nonfinite_loss_names_the_step():
    """A diverging run stops with an error that names the first bad step."""
    train, test = _spiral_split()
    model = pm.build_mlp((), "linear", ("x1_sq", "x2_sq"))
    with pytest.raises(FloatingPointError, match="step [0-9]+"):
        pm.train(
            model,
            "regression",
            train,
            test,
            key=0,
            steps=200,
            learning_rate=1e4,
            optimizer="sgd",
        )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(steps=0), ValueError, "steps"),
        (dict(steps=2.0), TypeError, "steps"),
        (dict(learning_rate=-1.0), ValueError, "learning_rate"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(l1=-1.0), ValueError, "l1"),
        (dict(l2=math.inf), ValueError, "l2"),
        (dict(optimizer="lbfgs"), ValueError, "optimizer"),
    ],
)
def test_bad_train_arguments(kwargs, error, match):
    train, test = _spiral_split()
    model = pm.build_mlp((2,), "tanh", ("x1", "x2"))
    with pytest.raises(error, match=match):
        pm.train(model, "classification", train, test, key=0, **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(hidden=4), TypeError, "hidden"),
        (dict(hidden=(4, 0)), ValueError, "hidden"),
        (dict(activation="swish"), ValueError, "activation"),
        (dict(features=("x1", "y")), ValueError, "features"),
    ],
)
def test_bad_model_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        pm.build_mlp(**kwargs)


def test_bad_task_is_named():
    with pytest.raises(ValueError, match="task"):
        pm.data_loss("ranking", jnp.zeros(2), jnp.zeros(2))
