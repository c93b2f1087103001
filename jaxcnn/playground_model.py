"""The TensorFlow Playground network: a small MLP on hand-picked input features.

The model maps points ``(n, 2)`` to one output per point: a logit for the
classification sets (label 1 where the logit is positive) or a value for the
regression sets. Its hidden layers, activation and input features are chosen
like the Playground's controls (see :mod:`jaxcnn.playground` for the data and the
features). Training is plain optax over a pure loss, full-batch or mini-batch,
with L1 or L2 weight penalties on the kernels (not the biases).

Example::

    model = build_mlp(hidden=(8, 8), activation="tanh", features=("x1", "x2"))
    variables = model.init(jax.random.key(0))
    logits = model.apply(variables, points)          # (n,)
"""

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn import _checks, ops
from jaxcnn import playground as pg
from jaxcnn._checks import check_choice, check_rank

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
OPTIMIZERS = ("adam", "sgd")
TASKS = ("classification", "regression")


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """Returns the activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    check_choice(name, "activation", ACTIVATIONS)
    if name == "linear":
        return lambda x: x
    return getattr(ops, name)


class _MLP(nn.Module):
    """Dense layers with an activation between them and one linear output."""

    hidden: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, x):
        act = activation_fn(self.activation)
        for i, width in enumerate(self.hidden):
            x = act(nn.Dense(width, name=f"hidden_{i}")(x))
        return nn.Dense(1, name="output")(x)[..., 0]


class Model(NamedTuple):
    """A pure ``init`` / ``apply`` pair.

    Attributes:
      init: ``init(key) -> variables``, a plain pytree ``{"params": ...}``.
      apply: ``apply(variables, points) -> outputs``: points ``(..., 2)``,
        outputs ``(...)`` (logits or regression values).
      features: the input feature names the model computes from the points.
    """

    init: Callable[[jax.Array], dict]
    apply: Callable[[dict, jax.Array], jax.Array]
    features: tuple[str, ...]


def build_mlp(
    hidden: Sequence[int] = (4, 2),
    activation: str = "tanh",
    features: Sequence[str] = ("x1", "x2"),
) -> Model:
    """Builds the Playground MLP.

    Args:
      hidden: widths of the hidden layers, e.g. ``(8, 8)``; ``()`` gives a
        linear model of the features.
      activation: one of :data:`ACTIVATIONS` (from :mod:`jaxcnn.ops`).
      features: input feature names, keys of :data:`jaxcnn.playground.FEATURES`.

    Returns:
      The model as a :class:`Model`.
    """
    if isinstance(hidden, (int, str)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden must be a sequence of ints; got {hidden!r}")
    hidden = tuple(hidden)
    if not all(isinstance(w, (int, np.integer)) and w >= 1 for w in hidden):
        raise ValueError(f"hidden must be positive ints; got {hidden}")
    check_choice(activation, "activation", ACTIVATIONS)
    features = pg.check_features(features)
    return _build(tuple(int(w) for w in hidden), activation, features)


@functools.lru_cache(maxsize=64)
def _build(hidden: tuple[int, ...], activation: str, features: tuple[str, ...]):
    """One Model per configuration, so that compiled training is reused."""
    net = _MLP(hidden=hidden, activation=activation)

    def init(key):
        return net.init(key, jnp.zeros((1, len(features)), jnp.float32))

    def apply(variables, points):
        return net.apply(variables, pg.feature_map(points, features))

    return Model(jax.jit(init), jax.jit(apply), features)


def penalty(params, l1: float = 0.0, l2: float = 0.0) -> jax.Array:
    """Weight penalty ``l1 * sum |w| + l2 * sum w^2`` over the kernels only."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of parameters; got {params!r:.80}")
    for name, value in (("l1", l1), ("l2", l2)):
        _checks.check_real_scalar(value, name)
    kernels = [
        leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(params)
        if getattr(path[-1], "key", None) == "kernel"
    ]
    total = jnp.zeros((), jnp.float32)
    for w in kernels:
        total = total + l1 * jnp.sum(jnp.abs(w)) + l2 * jnp.sum(w * w)
    return total


def data_loss(task: str, outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean loss: sigmoid cross-entropy (classification) or squared error.

    Args:
      task: ``'classification'`` (labels 0/1, outputs are logits) or
        ``'regression'``.
      outputs: ``(n,)`` model outputs.
      labels: ``(n,)`` targets.

    Returns:
      A scalar.
    """
    check_choice(task, "task", TASKS)
    _checks.check_floating(outputs, "outputs")
    _checks.check_real_array(labels, "labels")
    if np.shape(labels) != np.shape(outputs) or not np.shape(outputs):
        raise ValueError(
            f"labels must have the shape of outputs (n,) with n >= 1, "
            f"{np.shape(outputs)}; got {np.shape(labels)}"
        )
    outputs, labels = jnp.asarray(outputs), jnp.asarray(labels)
    labels = labels.astype(outputs.dtype)
    if task == "classification":
        return jnp.mean(optax.sigmoid_binary_cross_entropy(outputs, labels))
    return jnp.mean((outputs - labels) ** 2)


_NO_VARIABLES = object()


def _check_model_and_variables(model, variables=_NO_VARIABLES) -> None:
    if not isinstance(model, Model):
        raise TypeError(
            f"model must be a playground Model (build_mlp); got {type(model).__name__}"
        )
    if variables is not _NO_VARIABLES and not (
        isinstance(variables, dict) and isinstance(variables.get("params"), dict)
    ):
        raise TypeError(
            f"variables must be the dict model.init returns; got {variables!r:.80}"
        )


def _check_pair(data, name: str) -> None:
    """``data`` is ``(points, labels)``; see :func:`_check_data`."""
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (points, labels); got {data!r:.80}")
    _check_data(*data, f"{name} points", f"{name} labels")


def _check_data(points, labels, points_name: str, labels_name: str) -> None:
    """Float points (n, 2) and labels (n,) with n >= 1."""
    _checks.check_real_array(points, points_name, kinds="f")
    _checks.check_real_array(labels, labels_name)
    check_rank(points, points_name, 2, "(n, 2)")
    check_rank(labels, labels_name, 1, "(n,)")
    n = np.shape(points)[0]
    if np.shape(points)[1] != 2 or n == 0:
        raise ValueError(
            f"{points_name} must be (n, 2), n >= 1; got {np.shape(points)}"
        )
    if np.shape(labels)[0] != n:
        raise ValueError(
            f"{labels_name} must have one entry per point ({n}); got {np.shape(labels)}"
        )


def evaluate(model: Model, variables, task: str, points, labels) -> dict:
    """Returns ``{"loss": ...}`` plus ``"accuracy"`` (a fraction) for classification."""
    check_choice(task, "task", TASKS)
    _check_model_and_variables(model, variables)
    _check_data(points, labels, "points", "labels")
    points = jnp.asarray(points, jnp.float32)  # the model's dtype
    metrics = _metrics(variables, points, jnp.asarray(labels), model, task)
    return {k: float(v) for k, v in metrics.items()}


@functools.partial(jax.jit, static_argnames=("model", "task"))
def _metrics(variables, points, labels, model, task):
    outputs = model.apply(variables, points)
    result = {"loss": data_loss(task, outputs, labels)}
    if task == "classification":
        predicted = (outputs > 0).astype(labels.dtype)
        result["accuracy"] = jnp.mean((predicted == labels).astype(jnp.float32))
    return result


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
      variables: the trained variables.
      train_loss: ``(steps,)`` data loss on the training set before each step
        (on the mini-batch when training in mini-batches).
      test_loss: ``(steps,)`` data loss on the test set before each step.
    """

    variables: dict
    train_loss: jax.Array
    test_loss: jax.Array


def _optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    check_choice(name, "optimizer", OPTIMIZERS)
    if name == "adam":
        return optax.adam(learning_rate)
    return optax.sgd(learning_rate)


def _check_train_args(steps, learning_rate, batch_size, l1, l2) -> None:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int; got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be finite and > 0; got {learning_rate}")
    if batch_size is not None and not (
        isinstance(batch_size, (int, np.integer)) and batch_size >= 1
    ):
        raise ValueError(f"batch_size must be None or an int >= 1; got {batch_size}")
    for name, value in (("l1", l1), ("l2", l2)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0; got {value}")


def train(
    model: Model,
    task: str,
    train_data: tuple,
    test_data: tuple,
    *,
    key,
    steps: int = 1000,
    learning_rate: float = 0.03,
    batch_size: int | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    optimizer: str = "adam",
) -> TrainResult:
    """Trains the model with optax; the whole run is one compiled ``lax.scan``.

    The objective is ``data_loss + penalty(l1, l2)``. With ``batch_size`` None (or
    at least the training-set size) every step uses the whole training set;
    otherwise each step draws ``batch_size`` distinct training points at random.

    Args:
      model: from :func:`build_mlp`.
      task: ``'classification'`` or ``'regression'``.
      train_data: ``(points (n, 2), labels (n,))``.
      test_data: ``(points (m, 2), labels (m,))``, used only for the loss curve.
      key: an int seed or a JAX PRNG key (initialisation and batches).
      steps: number of optimiser steps.
      learning_rate: the optimiser's step size.
      batch_size: mini-batch size, or None for full-batch training.
      l1: L1 penalty rate on the kernels.
      l2: L2 penalty rate on the kernels.
      optimizer: ``'adam'`` or ``'sgd'``.

    Returns:
      A :class:`TrainResult`.

    Raises:
      FloatingPointError: if the loss turns non-finite; the message names the
        first such step.
    """
    check_choice(task, "task", TASKS)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    _check_model_and_variables(model)
    _check_train_args(steps, learning_rate, batch_size, l1, l2)
    _check_pair(train_data, "train_data")
    _check_pair(test_data, "test_data")
    variables, batch_key = _init(_jax_key(key), model)
    n = np.shape(train_data[0])[0]
    batch = None if batch_size is None or batch_size >= n else int(batch_size)
    arrays = [jnp.asarray(a) for a in (*train_data, *test_data)]
    rates = [jnp.float32(v) for v in (learning_rate, l1, l2)]
    # optax's Adam raises a Python float to an int32 step count, which strict
    # dtype promotion rejects; the promotion here is the intended one.
    with jax.numpy_dtype_promotion("standard"):
        variables, train_loss, test_loss = _fit(
            variables, *arrays, batch_key, *rates,
            model=model, task=task, optimizer=optimizer, batch=batch, steps=int(steps),
        )  # fmt: skip
    bad = np.flatnonzero(~np.isfinite(np.asarray(train_loss)))
    if bad.size:
        raise FloatingPointError(
            f"training loss became non-finite at step {int(bad[0])}; "
            "lower learning_rate or the penalty rates"
        )
    return TrainResult(variables, train_loss, test_loss)


def _jax_key(key) -> jax.Array:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32
    ):
        return key
    raise TypeError(f"key must be an int seed or a jax PRNG key; got {key!r}")


@functools.partial(jax.jit, static_argnames="model")
def _init(key, model):
    init_key, batch_key = jax.random.split(key)
    return model.init(init_key), batch_key


@functools.partial(
    jax.jit, static_argnames=("model", "task", "optimizer", "batch", "steps")
)
def _fit(variables, x, y, test_x, test_y, key, lr, l1, l2, *, model, task,
         optimizer, batch, steps):  # fmt: skip
    """The whole training run as one ``lax.scan``; see :func:`train`."""
    tx = _optimizer(optimizer, lr)

    def objective(v, xb, yb):
        data = data_loss(task, model.apply(v, xb), yb)
        return data + penalty(v["params"], l1, l2), data

    def step(carry, step_key):
        v, opt_state = carry
        xb, yb = x, y
        if batch is not None:
            idx = jax.random.choice(step_key, x.shape[0], (batch,), replace=False)
            xb, yb = x[idx], y[idx]
        (_, data), grads = jax.value_and_grad(objective, has_aux=True)(v, xb, yb)
        test = data_loss(task, model.apply(v, test_x), test_y)
        updates, opt_state = tx.update(grads, opt_state, v)
        return (optax.apply_updates(v, updates), opt_state), (data, test)

    keys = jax.random.split(key, steps)
    (variables, _), (train_loss, test_loss) = jax.lax.scan(
        step, (variables, tx.init(variables)), keys
    )
    return variables, train_loss, test_loss


# The Playground's colours: orange for label 0 (or -1), blue for label 1.
_ORANGE, _BLUE = "#f59322", "#0877bd"
PLOT_LIMIT = pg.RADIUS + 1.0
"""The plots span ``[-PLOT_LIMIT, PLOT_LIMIT]`` on both axes."""


def _surface(model: Model, variables, task: str, resolution: int):
    """The model's output on a square grid: probability or clipped value."""
    ticks = np.linspace(-PLOT_LIMIT, PLOT_LIMIT, resolution, dtype=np.float32)
    return ticks, np.asarray(_surface_values(variables, ticks, model, task))


@functools.partial(jax.jit, static_argnames=("model", "task"))
def _surface_values(variables, ticks, model, task):
    grid = jnp.stack(jnp.meshgrid(ticks, ticks, indexing="xy"), axis=-1)
    out = model.apply(variables, grid)
    return jax.nn.sigmoid(out) if task == "classification" else jnp.clip(out, -1, 1)


def save_boundary_png(
    path,
    model: Model,
    variables,
    task: str,
    train_data: tuple,
    test_data: tuple,
    *,
    title: str = "",
    resolution: int = 200,
) -> None:
    """Draws the decision boundary (or regression surface) with the data points.

    Training points are drawn with a white edge, test points with a black edge;
    the title gets the test loss (and the test accuracy for classification).

    Args:
      path: where to write the PNG.
      model: from :func:`build_mlp`.
      variables: the model's variables.
      task: ``'classification'`` or ``'regression'``.
      train_data: ``(points (n, 2), labels (n,))``.
      test_data: ``(points (m, 2), labels (m,))``.
      title: text put before the loss in the title.
      resolution: grid points per axis for the background.
    """
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    check_choice(task, "task", TASKS)
    path = _checks.check_path(path, "path")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or os.path.isdir(path):
        raise FileNotFoundError(f"path {path!r}: not a file in an existing folder")
    _check_model_and_variables(model, variables)
    _check_pair(train_data, "train_data")
    _check_pair(test_data, "test_data")
    _checks.check_int(resolution, "resolution", 2)
    cmap = LinearSegmentedColormap.from_list("playground", [_ORANGE, "white", _BLUE])
    ticks, surface = _surface(model, variables, task, resolution)
    lo = 0.0 if task == "classification" else -1.0
    fig = Figure(figsize=(5.6, 5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    filled = ax.contourf(
        ticks, ticks, surface, levels=np.linspace(lo, 1, 21), cmap=cmap, alpha=0.75
    )
    if task == "classification":
        ax.contour(ticks, ticks, surface, levels=[0.5], colors="k", linewidths=1)
    for (points, labels), edge, size in (
        (train_data, "white", 16),
        (test_data, "black", 22),
    ):
        points, labels = np.asarray(points), np.asarray(labels, np.float64)
        ax.scatter(
            points[:, 0],
            points[:, 1],
            c=labels,
            cmap=cmap,
            vmin=lo,
            vmax=1,
            s=size,
            edgecolors=edge,
            linewidths=0.7,
        )
    handles = [
        Line2D([], [], ls="", marker="o", color="0.55", mec=edge, label=name)
        for name, edge in (("train", "white"), ("test", "black"))
    ]
    fig.colorbar(
        filled, ax=ax, label="P(label 1)" if task == "classification" else "output"
    )
    metrics = evaluate(model, variables, task, *test_data)
    text = f"test loss {metrics['loss']:.4g}"
    if "accuracy" in metrics:
        text += f", test accuracy {100 * metrics['accuracy']:.1f}%"
    ax.set_title(f"{title}\n{text}" if title else text, fontsize=10)
    ax.set(
        xlim=(-PLOT_LIMIT, PLOT_LIMIT),
        ylim=(-PLOT_LIMIT, PLOT_LIMIT),
        xlabel="$x_1$",
        ylabel="$x_2$",
        aspect="equal",
    )
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    fig.savefig(path)
