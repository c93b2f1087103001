"""A training run killed with SIGKILL resumes from its last checkpoint, bit-identically.

The run lives in a subprocess (a tiny CNN on synthetic data, CPU, fixed seed).
It is killed once its first checkpoint is on disk, run again with the same
command, and must report that it started from the latest checkpoint and end
with parameters and optimiser state equal, bit for bit, to an uninterrupted run.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

TIMEOUT_S = 300  # per subprocess (seconds when idle); a hung run fails, not CI

RUNNER = '''
import sys, time
import jax, numpy as np, optax
from jaxcnn import data, models, train

ckpt_dir, out, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])


class SlowBatches(data.BatchIterator):
    """Sleeps per batch so that the parent can kill the run part-way."""

    def batch(self, step):
        time.sleep(delay)
        return super().batch(step)


rng = np.random.default_rng(0)
images = rng.normal(size=(96, 8, 8, 1)).astype(np.float32)
labels = rng.integers(0, 3, 96).astype(np.int32)
model = models.build("simple_cnn", stages=((4,),), hidden=(8,), num_classes=3)
optimizer = optax.adam(1e-2)
state = train.create_train_state(model, optimizer, 0, images[:2])
step = jax.jit(train.make_train_step(model, optimizer))
batches = SlowBatches((images, labels), 16, seed=1)  # 6 steps per epoch
config = train.FitConfig(
    num_steps=60, log_every=5, checkpoint_dir=ckpt_dir or None, save_every=5, keep=2
)
result = train.fit(step, state, batches, config)
print(f"start_step={result.start_step}", flush=True)
leaves = jax.tree_util.tree_leaves((result.state.params, result.state.opt_state))
arrays = [np.asarray(leaf) for leaf in leaves]
np.savez(out, *arrays, step=np.asarray(result.state.step))
'''


def command(tmp_path: Path, ckpt_dir: str, out: str, delay: float) -> list[str]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return [sys.executable, str(script), ckpt_dir, out, str(delay)]


def env() -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}


def finished_steps(ckpt_dir: Path) -> list[int]:
    """Checkpoints orbax has committed (uncommitted ones have a tmp suffix)."""
    if not ckpt_dir.exists():
        return []
    return sorted(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit())


def run(cmd) -> str:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env()
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"training subprocess did not finish within {TIMEOUT_S} s")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def start_and_kill(cmd, ckpt_dir: Path) -> int:
    """Starts the run, SIGKILLs it after its first checkpoint, returns the latest."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not finished_steps(ckpt_dir):
            if proc.poll() is not None:
                pytest.fail(
                    f"run ended before a checkpoint: {proc.stderr.read()[-2000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint appeared in time")
            time.sleep(0.02)
        time.sleep(0.15)  # a few steps later: mid-epoch, maybe mid-save
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    steps = finished_steps(ckpt_dir)
    assert steps and steps[-1] < 60, f"the run was not interrupted: {steps}"
    return steps[-1]


def load(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files)]


def test_sigkill_then_rerun_resumes_bit_identically(tmp_path):
    ckpt = tmp_path / "ckpt"
    reference = tmp_path / "reference.npz"
    assert "start_step=0" in run(command(tmp_path, "", str(reference), 0.0))

    resumed = tmp_path / "resumed.npz"
    cmd = command(tmp_path, str(ckpt), str(resumed), 0.05)
    last = start_and_kill(cmd, ckpt)
    out = run(cmd)
    assert f"start_step={last}" in out, out
    assert last > 0

    got, want = load(resumed), load(reference)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)  # bit-identical, no tolerance
