"""A small supervised training loop over pure, jit-compiled steps.

The pieces compose; ``fit`` wires them together:

* ``TrainState``: every piece of training state in one pytree (parameters,
  batch statistics, optimiser state, step counter, PRNG key). No hidden Python
  state: a step is ``state, batch -> state, metrics``.
* ``make_train_step`` / ``make_eval_step``: pure steps for a ``jaxcnn.models``
  ``Model`` and an optax optimiser; jit them yourself or let ``fit`` do it
  (with shardings for data parallelism, see ``jaxcnn.parallel``).
* ``Checkpoints``: orbax's ``CheckpointManager`` (save every N steps, keep the
  last K, atomic writes) plus a structure / shape / dtype check before every
  restore.
* ``fit``: the loop, with resume from the latest checkpoint (the data position
  is the step number, see ``jaxcnn.data.BatchIterator``), a stop with
  ``NonFiniteError`` naming the step when the loss or gradient is not finite,
  an optional tqdm progress bar, and a history of metrics.
* ``plot_history``: a PNG of the loss and accuracy curves.

Determinism: the same seed gives the same run, bit for bit, on the same
machine and software; a run killed and resumed from a checkpoint ends
bit-identical to an uninterrupted one. The library prints nothing.
"""

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn import _checks, ops
from jaxcnn.data import BatchIterator

Batch = tuple[jax.Array, jax.Array]  # (images (N, H, W, C), labels (N,))
Transform = Callable[[jax.Array, jax.Array, bool], jax.Array]


class NonFiniteError(FloatingPointError):
    """The loss or the gradient became NaN or infinite; the message names the step."""


class TrainState(NamedTuple):
    """All training state as one pytree.

    Attributes:
      step: number of updates applied so far, int32 scalar. It is also the
        index of the next batch (``BatchIterator.batch(step)``).
      params: trainable parameters (``variables["params"]``).
      model_state: the other variable collections, e.g. ``{"batch_stats": ...}``.
      opt_state: the optax optimiser state.
      rng: a raw ``uint32[2]`` PRNG key; step ``s`` uses ``fold_in(rng, s)``.
    """

    step: jax.Array
    params: Any
    model_state: Any
    opt_state: Any
    rng: jax.Array

    @property
    def variables(self) -> dict:
        """``{"params": ..., **model_state}``, ready for ``Model.apply``."""
        return {"params": self.params, **self.model_state}


def _check_model(model, name: str = "model") -> None:
    """A ``jaxcnn.models.Model``-like object: ``init`` and ``apply`` methods."""
    if not (
        callable(getattr(model, "init", None))
        and callable(getattr(model, "apply", None))
    ):
        raise TypeError(
            f"{name} must be a jaxcnn.models.Model (with init and apply); got "
            f"{type(model).__name__}"
        )


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation; got "
            f"{type(optimizer).__name__}"
        )


def _check_state(state) -> None:
    if not isinstance(state, TrainState):
        raise TypeError(
            f"state must be a TrainState (create_train_state); got "
            f"{type(state).__name__}"
        )


def _check_pair(arrays, name: str) -> None:
    """``(images, labels)`` with the same number of rows."""
    if not isinstance(arrays, tuple | list) or len(arrays) != 2:
        raise TypeError(f"{name} must be a pair (images, labels); got {arrays!r:.80}")
    for part, what in zip(arrays, ("images", "labels"), strict=True):
        _checks.check_real_array(part, f"{name} {what}")
        if np.ndim(part) < 1:
            raise ValueError(f"{name} {what} must have a leading batch axis")
    if np.shape(arrays[0])[0] != np.shape(arrays[1])[0]:
        raise ValueError(
            f"{name} images and labels must have the same length; got "
            f"{np.shape(arrays[0])[0]} and {np.shape(arrays[1])[0]}"
        )


def create_train_state(model, optimizer, seed: int, example_x) -> TrainState:
    """Initialises a model and its optimiser from a seed.

    Args:
      model: a ``jaxcnn.models.Model``.
      optimizer: an ``optax.GradientTransformation``.
      seed: the run's seed (parameters and every later random draw derive
        from it).
      example_x: an input batch ``(N, H, W, C)`` (only its shape matters;
        integer images are taken as float32 model inputs).

    Returns:
      A ``TrainState`` at step 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int; got {seed!r}")
    _check_model(model)
    _check_optimizer(optimizer)
    _checks.check_real_array(example_x, "example_x", kinds="uif")
    _checks.check_rank(example_x, "example_x", 4, "(N, H, W, C)")
    if min(_checks.shape_of(example_x)[1:]) < 1:
        raise ValueError(
            f"example_x must have H, W, C >= 1; got {_checks.shape_of(example_x)}"
        )
    init_key, run_key = jax.random.split(jax.random.PRNGKey(int(seed)))
    variables = model.init(init_key, _as_float_images(example_x))
    params = variables["params"]
    model_state = {k: v for k, v in variables.items() if k != "params"}
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        model_state=model_state,
        opt_state=optimizer.init(params),
        rng=run_key,
    )


def cross_entropy(logits, labels, label_smoothing: float = 0.0):
    """Mean softmax cross-entropy of ``(N, K)`` logits and ``(N,)`` class ids."""
    losses = ops.softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing)
    return jnp.mean(losses)


def _as_float_images(images):
    images = jnp.asarray(images)
    if jnp.issubdtype(images.dtype, jnp.integer):
        return images.astype(jnp.float32) / 255.0
    return images


def make_train_step(
    model,
    optimizer,
    *,
    transform: Transform | None = None,
    label_smoothing: float = 0.0,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict]]:
    """Builds the pure training step ``(state, (x, y)) -> (state, metrics)``.

    The step draws its randomness from ``fold_in(state.rng, state.step)``: one
    key for ``transform`` (augmentation) and one for dropout. If the loss or
    the gradient norm is not finite, the returned state is the input state
    unchanged (``metrics["finite"]`` is False); ``fit`` then raises.

    Args:
      model: a ``jaxcnn.models.Model``.
      optimizer: an ``optax.GradientTransformation``.
      transform: optional ``transform(key, x, train) -> x`` applied to the
        images first (normalisation, augmentation). Without it, integer images
        are scaled to [0, 1].
      label_smoothing: for the cross-entropy, in [0, 1].

    Returns:
      The step. Metrics: ``loss``, ``accuracy``, ``grad_norm`` (float32
      scalars) and ``finite`` (bool scalar).
    """
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    _check_model(model)
    _check_optimizer(optimizer)
    prepare = transform or (lambda key, x, train: _as_float_images(x))

    def train_step(state: TrainState, batch: Batch):
        images, labels = batch
        key = jax.random.fold_in(state.rng, state.step)
        aug_key, dropout_key = jax.random.split(key)
        x = prepare(aug_key, images, True)

        def loss_fn(params):
            variables = {"params": params, **state.model_state}
            logits, new_model_state = model.apply(
                variables, x, train=True, rngs={"dropout": dropout_key}
            )
            return cross_entropy(logits, labels, label_smoothing), (
                logits,
                new_model_state,
            )

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (logits, new_model_state)), grads = grad_fn(state.params)
        # optax mixes Python floats with int32 step counts (e.g. Adam's bias
        # correction), which strict dtype promotion rejects; allow it here only.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        new = TrainState(
            step=state.step + 1,
            params=params,
            model_state={**state.model_state, **new_model_state},
            opt_state=opt_state,
            rng=state.rng,
        )
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, state)
        metrics = {
            "loss": loss,
            "accuracy": jnp.mean(jnp.argmax(logits, -1) == labels),
            "grad_norm": grad_norm,
            "finite": finite,
        }
        return new, metrics

    return train_step


def make_eval_step(
    model, *, transform: Transform | None = None
) -> Callable[[TrainState, Batch], dict]:
    """Builds the pure evaluation step ``(state, (x, y)) -> sums``.

    Returns sums (``loss_sum``, ``correct``, ``count``) rather than means so
    that batches of different sizes combine exactly (``evaluate``).
    """
    _check_model(model)
    prepare = transform or (lambda key, x, train: _as_float_images(x))

    def eval_step(state: TrainState, batch: Batch):
        images, labels = batch
        x = prepare(jax.random.PRNGKey(0), images, False)
        logits = model.apply(state.variables, x, train=False)
        losses = ops.softmax_cross_entropy(logits, labels)
        return {
            "loss_sum": jnp.sum(losses),
            "correct": jnp.sum(jnp.argmax(logits, -1) == labels),
            "count": jnp.asarray(labels.shape[0], jnp.int32),
        }

    return eval_step


def evaluate(eval_step, state: TrainState, arrays: Batch, batch_size: int) -> dict:
    """Loss and accuracy over a whole dataset, in batches of ``batch_size``.

    Args:
      eval_step: from ``make_eval_step`` (jitted or not).
      state: the training state.
      arrays: ``(images, labels)`` with ``N`` examples.
      batch_size: examples per step; the last batch may be smaller.

    Returns:
      ``{"loss": mean loss, "accuracy": fraction correct}`` as Python floats.
    """
    if not callable(eval_step):
        raise TypeError(f"eval_step must be callable; got {eval_step!r:.80}")
    _check_state(state)
    _check_pair(arrays, "arrays")
    batch_size = _checks.check_int(batch_size, "batch_size", 1)
    images, labels = arrays
    loss_sum, correct, count = 0.0, 0, 0
    for start in range(0, len(labels), batch_size):
        sums = eval_step(
            state,
            (images[start : start + batch_size], labels[start : start + batch_size]),
        )
        loss_sum += float(sums["loss_sum"])
        correct += int(sums["correct"])
        count += int(sums["count"])
    if count == 0:
        raise ValueError("arrays must hold at least one example; got 0")
    return {"loss": loss_sum / count, "accuracy": correct / count}


# ----------------------------------------------------------------------------
# Checkpoints


def _key_name(entry) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _leaf_specs(tree) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{"params/conv/kernel": (shape, dtype)}`` for every array leaf."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        "/".join(_key_name(k) for k in path): (tuple(leaf.shape), np.dtype(leaf.dtype))
        for path, leaf in leaves
    }


def check_compatible(saved, target, what: str = "checkpoint") -> None:
    """Raises ValueError unless two pytrees match in structure, shapes and dtypes.

    Args:
      saved: the stored tree (arrays or metadata with ``shape`` and ``dtype``).
      target: the tree it is to be loaded into.
      what: how to name ``saved`` in the message.

    Raises:
      ValueError: listing the paths that are missing, unexpected, or differ in
        shape or dtype, e.g. ``params/Dense_0/kernel: shape (3, 4) in the
        checkpoint, (3, 5) in the model``.
    """
    for name, tree in (("saved", saved), ("target", target)):
        leaves = jax.tree_util.tree_leaves(tree)
        if not all(hasattr(x, "shape") and hasattr(x, "dtype") for x in leaves):
            raise TypeError(
                f"{name} must be a pytree of arrays (or shape/dtype structs); got "
                f"{tree!r:.80}"
            )
    have, want = _leaf_specs(saved), _leaf_specs(target)
    problems = [f"{p}: missing from the {what}" for p in sorted(want.keys() - have)]
    problems += [
        f"{p}: in the {what} but not in the model" for p in sorted(have.keys() - want)
    ]
    for path in sorted(have.keys() & want.keys()):
        (s_shape, s_dtype), (t_shape, t_dtype) = have[path], want[path]
        if s_shape != t_shape:
            problems.append(
                f"{path}: shape {s_shape} in the {what}, {t_shape} in the model"
            )
        if s_dtype != t_dtype:
            problems.append(
                f"{path}: dtype {s_dtype} in the {what}, {t_dtype} in the model"
            )
    if problems:
        shown = "; ".join(problems[:8])
        more = f"; and {len(problems) - 8} more" if len(problems) > 8 else ""
        raise ValueError(f"the {what} does not match the model: {shown}{more}")


class Checkpoints:
    """Orbax checkpoints of a ``TrainState`` plus a small JSON record.

    Wraps ``orbax.checkpoint.CheckpointManager``: one checkpoint per saved step
    in ``directory/<step>``, written to a temporary directory and renamed when
    complete (so a crash mid-save leaves the previous checkpoints intact and
    the partial one invisible), the last ``keep`` kept. ``restore`` first
    compares the stored tree with the target and refuses any difference in
    structure, shape or dtype (orbax itself would cast dtypes silently).

    Args:
      directory: where checkpoints live (created if needed).
      save_every: ``should_save(step)`` is True every this many steps.
      keep: how many of the latest checkpoints to keep (None: all).
    """

    def __init__(self, directory, *, save_every: int = 1, keep: int | None = 3):
        import orbax.checkpoint as ocp

        _checks.check_positive(
            _checks.as_tuple(save_every, 1, "save_every"), "save_every"
        )
        if keep is not None:
            _checks.check_positive(_checks.as_tuple(keep, 1, "keep"), "keep")
        self._ocp = ocp
        self.directory = Path(directory).absolute()
        self.save_every = int(save_every)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False
        )
        handlers = {
            "state": ocp.StandardCheckpointHandler(),
            "record": ocp.JsonCheckpointHandler(),
        }
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers
        )

    def should_save(self, step: int) -> bool:
        """Whether ``step`` falls on the save interval."""
        return step % self.save_every == 0

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step, or None."""
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        """Steps of all complete checkpoints, oldest first."""
        return sorted(self.manager.all_steps())

    def save(self, step: int, state: TrainState, record: dict | None = None) -> None:
        """Writes ``state`` (and a JSON-serialisable ``record``) as ``step``."""
        args = self._ocp.args
        self.manager.save(
            int(step),
            args=args.Composite(
                state=args.StandardSave(state), record=args.JsonSave(record or {})
            ),
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, target: TrainState, step: int | None = None):
        """Loads a checkpoint into the structure of ``target``.

        Args:
          target: a state of the model the checkpoint is for (e.g. a fresh
            ``create_train_state``); its structure, shapes and dtypes must
            match the stored ones exactly.
          step: which checkpoint; default the latest.

        Returns:
          ``(state, record)``.

        Raises:
          FileNotFoundError: if there is no such checkpoint.
          ValueError: naming every mismatch of structure, shape or dtype.
        """
        step = self.latest_step() if step is None else int(step)
        if step is None or step not in self.manager.all_steps():
            raise FileNotFoundError(
                f"step: no checkpoint {step} in {str(self.directory)!r} "
                f"(have {self.all_steps()})"
            )
        stored = self.manager.item_metadata(step)["state"]
        check_compatible(stored.tree if hasattr(stored, "tree") else stored, target)
        args = self._ocp.args
        restored = self.manager.restore(
            step,
            args=args.Composite(
                state=args.StandardRestore(target), record=args.JsonRestore()
            ),
        )
        return restored["state"], dict(restored["record"] or {})

    def close(self) -> None:
        """Releases the manager's resources."""
        self.manager.close()


# ----------------------------------------------------------------------------
# The loop


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Settings of ``fit``.

    Attributes:
      num_steps: total number of updates (a resumed run continues to this).
      log_every: average the training metrics over this many steps into one
        history entry.
      eval_every: evaluate on ``eval_data`` every this many steps (and at the
        end); None: only at the end.
      eval_batch_size: batch size for evaluation.
      checkpoint_dir: where to save and resume from; None: no checkpoints.
      save_every: checkpoint every this many steps (and at the end).
      keep: checkpoints to keep.
      progress: show a tqdm progress bar (on stderr).
      on_history: optional callback called with each new history entry (e.g.
        a script's logger); the library itself prints nothing.
    """

    num_steps: int
    log_every: int = 50
    eval_every: int | None = None
    eval_batch_size: int = 1000
    checkpoint_dir: str | os.PathLike | None = None
    save_every: int = 500
    keep: int = 3
    progress: bool = False
    on_history: Callable[[dict], None] | None = None


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
      state: the final ``TrainState``.
      history: a list of dicts, each with ``step``, ``elapsed`` (training
        seconds so far, summed over resumed runs) and either ``loss`` and
        ``accuracy`` (training averages) or ``eval_loss`` and
        ``eval_accuracy``.
      start_step: the step training started from (> 0 after a resume).
    """

    state: TrainState
    history: list[dict]
    start_step: int


def fit(
    train_step,
    state: TrainState,
    batches: BatchIterator,
    config: FitConfig,
    *,
    eval_step=None,
    eval_data: Batch | None = None,
    place_batch: Callable[[Batch], Batch] | None = None,
) -> FitResult:
    """Trains ``state`` for ``config.num_steps`` steps, resuming if it can.

    If ``config.checkpoint_dir`` holds a checkpoint, training resumes from the
    latest one (``state`` then only provides the structure, which must match;
    see ``Checkpoints.restore``): parameters, optimiser state, step, PRNG key,
    history and data position (the step) all continue where they stopped.

    Args:
      train_step: a *jitted* step from ``make_train_step`` (or sharded, see
        ``jaxcnn.parallel.data_parallel_step``).
      state: the initial state (``create_train_state``).
      batches: the training batches; batch ``s`` is used at step ``s``.
      config: the settings.
      eval_step: optional jitted step from ``make_eval_step``.
      eval_data: ``(images, labels)`` evaluated with ``eval_step``.
      place_batch: optional function putting each batch on devices (e.g.
        ``jaxcnn.parallel.shard_batch``).

    Returns:
      A ``FitResult``.

    Raises:
      NonFiniteError: when the loss or gradient is not finite; the message
        names the step (the batch index) and the last checkpoint, which is
        left as it was.
      ValueError: if the checkpoint does not match ``state``.
    """
    if not callable(train_step):
        raise TypeError(f"train_step must be callable; got {train_step!r:.80}")
    _check_state(state)
    if not callable(getattr(batches, "batch", None)):
        raise TypeError(
            "batches must have a batch(step) method, like "
            f"jaxcnn.data.BatchIterator; got {type(batches).__name__}"
        )
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a FitConfig; got {type(config).__name__}")
    _checks.check_positive(
        _checks.as_tuple(config.num_steps, 1, "num_steps"), "num_steps"
    )
    if (eval_step is None) != (eval_data is None):
        raise ValueError("eval_step and eval_data must be given together")
    ckpt = _open_checkpoints(config)
    history: list[dict] = []
    if ckpt is not None and ckpt.latest_step() is not None:
        state, record = ckpt.restore(state)
        history = list(record.get("history", []))
    start = int(state.step)
    loop = _Loop(train_step, config, ckpt, history, eval_step, eval_data)
    try:
        state = loop.run(state, batches, start, place_batch or (lambda b: b))
    finally:
        if ckpt is not None:
            ckpt.close()
    return FitResult(state=state, history=history, start_step=start)


def _open_checkpoints(config: FitConfig) -> Checkpoints | None:
    if config.checkpoint_dir is None:
        return None
    return Checkpoints(
        config.checkpoint_dir, save_every=config.save_every, keep=config.keep
    )


class _Loop:
    """The body of ``fit``, split into short methods."""

    def __init__(self, train_step, config, ckpt, history, eval_step, eval_data):
        self.train_step, self.config, self.ckpt = train_step, config, ckpt
        self.history, self.eval_step, self.eval_data = history, eval_step, eval_data
        self.window: list[dict] = []
        self.elapsed0 = float(history[-1]["elapsed"]) if history else 0.0
        self.clock0 = time.perf_counter()

    def _record(self, entry: dict) -> dict:
        entry["elapsed"] = self.elapsed0 + time.perf_counter() - self.clock0
        self.history.append(entry)
        if self.config.on_history is not None:
            self.config.on_history(dict(entry))
        return entry

    def run(self, state, batches, start, place):
        from tqdm.auto import tqdm

        total = self.config.num_steps
        with tqdm(total=total, initial=start, disable=not self.config.progress) as bar:
            for step in range(start, total):
                state, metrics = self.train_step(state, place(batches.batch(step)))
                metrics = jax.device_get(metrics)
                if not bool(metrics["finite"]):
                    raise NonFiniteError(self._non_finite_message(step, metrics))
                self._after_step(step + 1, state, metrics, bar)
        return state

    def _non_finite_message(self, step, metrics) -> str:
        last = self.ckpt.latest_step() if self.ckpt is not None else None
        kept = f"the last checkpoint (step {last}) is kept" if last else "no checkpoint"
        return (
            f"training stopped at step {step}: loss {float(metrics['loss'])} / "
            f"gradient norm {float(metrics['grad_norm'])} is not finite; {kept}"
        )

    def _after_step(self, done, state, metrics, bar):
        cfg = self.config
        self.window.append(metrics)
        bar.update(1)
        if done % cfg.log_every == 0 or done == cfg.num_steps:
            entry = self._summarise(done)
            bar.set_postfix(loss=f"{entry['loss']:.4f}", acc=f"{entry['accuracy']:.3f}")
        evaluate_now = cfg.eval_every and done % cfg.eval_every == 0
        if self.eval_step is not None and (evaluate_now or done == cfg.num_steps):
            scores = evaluate(
                self.eval_step, state, self.eval_data, cfg.eval_batch_size
            )
            self._record(
                {
                    "step": done,
                    "eval_loss": scores["loss"],
                    "eval_accuracy": scores["accuracy"],
                }
            )
        if self.ckpt is not None and (
            self.ckpt.should_save(done) or done == cfg.num_steps
        ):
            self.ckpt.save(done, state, {"history": self.history})

    def _summarise(self, done) -> dict:
        entry = {
            "step": done,
            "loss": float(np.mean([m["loss"] for m in self.window])),
            "accuracy": float(np.mean([m["accuracy"] for m in self.window])),
        }
        self.window = []
        return self._record(entry)


def plot_history(
    history: list[dict], path: str | os.PathLike, *, title: str = ""
) -> Path:
    """Writes a PNG with the loss (left) and accuracy (right) curves.

    Args:
      history: ``FitResult.history``.
      path: the PNG file to write (its directory must exist).
      title: an optional figure title.

    Returns:
      The path written.
    """
    from matplotlib.figure import Figure

    path = Path(_checks.check_path(path, "path"))
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path {str(path)!r}: no such directory")
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a directory")
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and "step" in h for h in history
    ):
        raise TypeError(
            f"history must be a list of dicts with a step (FitResult.history); got "
            f"{history!r:.80}"
        )
    if not history:
        raise ValueError("history must hold at least one entry; got an empty list")
    fig = Figure(figsize=(10, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "train"), ("eval_", "test")):
            points = [
                (h["step"], h[prefix + key]) for h in history if prefix + key in h
            ]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, marker="." if prefix else None, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def steps_for_epochs(epochs: float, steps_per_epoch: int) -> int:
    """``ceil(epochs * steps_per_epoch)``: the step count of a number of epochs."""
    steps_per_epoch = _checks.check_int(steps_per_epoch, "steps_per_epoch", 1)
    _checks.check_real_scalar(epochs, "epochs")
    if not (math.isfinite(epochs) and epochs >= 0):
        raise ValueError(f"epochs must be finite and >= 0; got {epochs!r}")
    return int(math.ceil(epochs * steps_per_epoch))
