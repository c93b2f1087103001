"""The training loop: steps, metrics, checkpoints, resume, non-finite stops, curves."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from jaxcnn import data, models, train

SIZE = 8  # tiny 8x8 images keep every compile short


def tiny_model(width=4):
    return models.build("simple_cnn", stages=((width,),), hidden=(8,), dropout_rate=0.1)


def toy_data(n=64, seed=0):
    """Two classes a small CNN separates: bright top half or bright bottom half."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int32)
    images = rng.uniform(0, 0.3, (n, SIZE, SIZE, 1)).astype(np.float32)
    for i, y in enumerate(labels):
        half = slice(0, SIZE // 2) if y == 0 else slice(SIZE // 2, SIZE)
        images[i, half] += 0.7
    return images, labels


@pytest.fixture(scope="module")
def setup():
    model, optimizer = tiny_model(), optax.adam(1e-2)
    images, labels = toy_data()
    state = train.create_train_state(model, optimizer, 0, images[:2])
    step = jax.jit(train.make_train_step(model, optimizer))
    eval_step = jax.jit(train.make_eval_step(model))
    return dict(
        model=model,
        optimizer=optimizer,
        state=state,
        step=step,
        eval_step=eval_step,
        data=(images, labels),
    )


def leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(
        np.array_equal(x, y) for x, y in zip(la, lb, strict=True)
    )


def test_create_train_state_is_seeded(setup):
    model, optimizer = setup["model"], setup["optimizer"]
    x = setup["data"][0][:2]
    a = train.create_train_state(model, optimizer, 0, x)
    assert leaves_equal(a, setup["state"])
    assert not leaves_equal(
        a.params, train.create_train_state(model, optimizer, 1, x).params
    )
    assert int(a.step) == 0 and set(a.model_state) == {"batch_stats"}
    with pytest.raises(TypeError, match="seed"):
        train.create_train_state(model, optimizer, 0.5, x)


def test_step_matches_a_hand_written_update(setup):
    """One step equals optax applied to jax.grad of the loss, written out here."""
    model, optimizer, state = setup["model"], setup["optimizer"], setup["state"]
    x, y = (a[:16] for a in setup["data"])
    new, metrics = setup["step"](state, (x, y))
    dropout_key = jax.random.split(jax.random.fold_in(state.rng, 0))[1]

    def loss(params):
        logits, _ = model.apply(
            {"params": params, **state.model_state},
            jnp.asarray(x),
            train=True,
            rngs={"dropout": dropout_key},
        )
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    grads = jax.grad(loss)(state.params)
    with jax.numpy_dtype_promotion("standard"):  # optax is not strict-clean
        updates, _ = optimizer.update(grads, state.opt_state, state.params)
        want = optax.apply_updates(state.params, updates)
    for got_leaf, want_leaf in zip(
        jax.tree_util.tree_leaves(new.params),
        jax.tree_util.tree_leaves(want),
        strict=True,
    ):
        np.testing.assert_allclose(got_leaf, want_leaf, rtol=1e-5, atol=1e-6)
    assert int(new.step) == 1 and bool(metrics["finite"])
    np.testing.assert_allclose(metrics["loss"], loss(state.params), rtol=1e-5)


def test_fit_learns_and_evaluates(setup, tmp_path):
    images, labels = setup["data"]
    batches = data.BatchIterator((images, labels), 16, seed=0)
    config = train.FitConfig(
        num_steps=40, log_every=10, eval_every=20, eval_batch_size=24
    )
    result = train.fit(
        setup["step"],
        setup["state"],
        batches,
        config,
        eval_step=setup["eval_step"],
        eval_data=(images, labels),
    )
    evals = [h for h in result.history if "eval_accuracy" in h]
    trains = [h for h in result.history if "loss" in h]
    assert [h["step"] for h in evals] == [20, 40] and len(trains) == 4
    assert evals[-1]["eval_accuracy"] >= 0.9
    assert trains[-1]["loss"] < trains[0]["loss"]
    assert int(result.state.step) == 40 and result.start_step == 0
    path = train.plot_history(result.history, tmp_path / "curves.png", title="toy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_handles_a_partial_last_batch(setup):
    images, labels = setup["data"]
    scores = train.evaluate(setup["eval_step"], setup["state"], (images, labels), 24)
    logits = setup["model"].apply(setup["state"].variables, jnp.asarray(images))
    want = np.mean(np.argmax(logits, -1) == labels)
    assert scores["accuracy"] == pytest.approx(want)
    with pytest.raises(ValueError, match="at least one example"):
        train.evaluate(setup["eval_step"], setup["state"], (images[:0], labels[:0]), 4)


def test_fit_is_deterministic_and_resumes_bit_identically(setup, tmp_path):
    images, labels = setup["data"]
    batches = data.BatchIterator((images, labels), 16, seed=3)

    def run(num_steps, directory):
        config = train.FitConfig(
            num_steps=num_steps, log_every=2, checkpoint_dir=directory, save_every=3
        )
        return train.fit(setup["step"], setup["state"], batches, config)

    straight = run(10, tmp_path / "a")
    again = run(10, tmp_path / "b")
    assert leaves_equal(straight.state, again.state)
    first = run(6, tmp_path / "c")  # stops at 6 (a checkpoint), then continues
    resumed = run(10, tmp_path / "c")
    assert first.start_step == 0 and resumed.start_step == 6
    assert leaves_equal(straight.state, resumed.state)
    assert [h["step"] for h in resumed.history] == [h["step"] for h in straight.history]


def test_keep_last_k_checkpoints(setup, tmp_path):
    ckpt = train.Checkpoints(tmp_path, save_every=2, keep=2)
    for step in (2, 4, 6):
        ckpt.save(step, setup["state"])
    assert ckpt.all_steps() == [4, 6] and ckpt.latest_step() == 6
    assert ckpt.should_save(8) and not ckpt.should_save(7)
    ckpt.close()


def test_restore_round_trip_and_record(setup, tmp_path):
    ckpt = train.Checkpoints(tmp_path)
    ckpt.save(5, setup["state"], {"history": [{"step": 5, "loss": 0.5}]})
    state, record = ckpt.restore(setup["state"])
    assert leaves_equal(state, setup["state"])
    assert record == {"history": [{"step": 5, "loss": 0.5}]}
    with pytest.raises(FileNotFoundError, match="step"):
        ckpt.restore(setup["state"], step=7)
    ckpt.close()


def mismatched_states(setup):
    """States of models that differ in shape, dtype or structure."""
    x = setup["data"][0][:2]
    optimizer = setup["optimizer"]
    wider = train.create_train_state(tiny_model(width=5), optimizer, 0, x)
    base = setup["state"]
    as_bf16 = base._replace(
        params=jax.tree_util.tree_map(lambda a: a.astype(jnp.bfloat16), base.params)
    )
    deeper_model = models.build("simple_cnn", stages=((4,), (4,)), hidden=(8,))
    deeper = train.create_train_state(deeper_model, optimizer, 0, x)
    return {
        "shape": (
            wider,
            r"kernel: shape \(3, 3, 1, 4\) in the checkpoint, \(3, 3, 1, 5\)",
        ),
        "dtype": (as_bf16, "dtype float32 in the checkpoint, bfloat16 in the model"),
        "structure": (deeper, "missing from the checkpoint"),
    }


@pytest.mark.parametrize("kind", ["shape", "dtype", "structure"])
def test_restore_refuses_a_mismatched_model(setup, tmp_path, kind):
    ckpt = train.Checkpoints(tmp_path)
    ckpt.save(1, setup["state"])
    target, message = mismatched_states(setup)[kind]
    with pytest.raises(ValueError, match=message):
        ckpt.restore(target)
    # fit refuses too, before training a single step.
    batches = data.BatchIterator(setup["data"], 16)
    config = train.FitConfig(num_steps=2, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="does not match the model"):
        train.fit(setup["step"], target, batches, config)
    ckpt.close()


def test_crash_during_save_keeps_previous_checkpoint(setup, tmp_path, monkeypatch):
    ckpt = train.Checkpoints(tmp_path)
    ckpt.save(1, setup["state"])
    moved = setup["state"]._replace(step=jnp.asarray(2, jnp.int32))

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing")

    # The record item is written after the state arrays: fail in the middle.
    monkeypatch.setattr(ocp.JsonCheckpointHandler, "async_save", crash)
    monkeypatch.setattr(ocp.JsonCheckpointHandler, "save", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ckpt.save(2, moved)
    monkeypatch.undo()
    fresh = train.Checkpoints(tmp_path)
    assert fresh.all_steps() == [1]
    state, _ = fresh.restore(setup["state"])
    assert int(state.step) == 0 and leaves_equal(state, setup["state"])
    assert not (tmp_path / "2").exists()
    fresh.close()


def test_non_finite_loss_stops_with_the_step(setup, tmp_path):
    images, labels = (a.copy() for a in setup["data"])
    batches = data.BatchIterator((images, labels), 16, shuffle=False)
    images[2 * 16 + 3] = np.nan  # poisons batch 2 of every epoch (4 batches each)
    config = train.FitConfig(num_steps=12, checkpoint_dir=tmp_path, save_every=1)
    # Batch 2 (4 batches per epoch) first comes at step 2; checkpoints 1 and 2
    # were written before it.
    with pytest.raises(
        train.NonFiniteError, match=r"step 2: .*last checkpoint \(step 2\)"
    ):
        train.fit(setup["step"], setup["state"], batches, config)
    ckpt = train.Checkpoints(tmp_path)
    assert ckpt.all_steps() == [1, 2]
    state, _ = ckpt.restore(setup["state"])
    assert int(state.step) == 2
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(state))
    ckpt.close()


class _SqrtAtZero(nn.Module):
    """Logits plus sqrt(w) with w initialised to 0: the loss is finite, the
    gradient of w is inf."""

    @nn.compact
    def __call__(self, x, *, train=False):
        w = self.param("w", nn.initializers.zeros, (2,))
        return nn.Dense(2)(x.reshape(x.shape[0], -1)) + jnp.sqrt(w)


def test_non_finite_gradient_with_finite_loss_stops(setup):
    model = models.Model("sqrt_at_zero", _SqrtAtZero(), (SIZE, SIZE, 1))
    optimizer = optax.sgd(0.1)
    state = train.create_train_state(model, optimizer, 0, setup["data"][0][:2])
    step = jax.jit(train.make_train_step(model, optimizer))
    batches = data.BatchIterator(setup["data"], 16)
    _, metrics = step(state, batches.batch(0))
    assert np.isfinite(metrics["loss"]) and not np.isfinite(metrics["grad_norm"])
    with pytest.raises(
        train.NonFiniteError, match=r"step 0: loss [0-9.]+ / gradient norm (inf|nan)"
    ):
        train.fit(step, state, batches, train.FitConfig(num_steps=3))


def test_fit_saves_every_n_steps_and_keeps_the_last_k(setup, tmp_path):
    batches = data.BatchIterator(setup["data"], 16)
    config = train.FitConfig(
        num_steps=10, checkpoint_dir=tmp_path, save_every=3, keep=2
    )
    train.fit(setup["step"], setup["state"], batches, config)
    ckpt = train.Checkpoints(tmp_path)
    # Saved at 3, 6, 9 and the end (10); the last two are kept.
    assert ckpt.all_steps() == [9, 10]
    ckpt.close()


def test_fit_shows_a_progress_bar_on_stderr(setup, capsys):
    batches = data.BatchIterator(setup["data"], 16)
    config = train.FitConfig(num_steps=4, log_every=2, progress=True)
    train.fit(setup["step"], setup["state"], batches, config)
    out, err = capsys.readouterr()
    assert out == ""
    assert "4/4" in err and "loss=" in err


def test_non_finite_step_returns_the_input_state(setup):
    images, labels = (a[:16].copy() for a in setup["data"])
    images[0, 0, 0, 0] = np.inf
    new, metrics = setup["step"](setup["state"], (images, labels))
    assert not bool(metrics["finite"])
    assert leaves_equal(new, setup["state"])


def test_fit_and_plot_reject_bad_arguments(setup, tmp_path):
    batches = data.BatchIterator(setup["data"], 16)
    with pytest.raises(ValueError, match="num_steps"):
        train.fit(setup["step"], setup["state"], batches, train.FitConfig(num_steps=0))
    with pytest.raises(ValueError, match="eval_step and eval_data"):
        train.fit(
            setup["step"],
            setup["state"],
            batches,
            train.FitConfig(num_steps=1),
            eval_step=setup["eval_step"],
        )
    with pytest.raises(ValueError, match="label_smoothing"):
        train.make_train_step(setup["model"], setup["optimizer"], label_smoothing=1.5)
    with pytest.raises(ValueError, match="save_every"):
        train.Checkpoints(tmp_path, save_every=0)
    with pytest.raises(ValueError, match="history"):
        train.plot_history([], tmp_path / "x.png")
