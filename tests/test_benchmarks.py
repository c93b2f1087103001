"""The benchmark scripts still run, at toy sizes (their numbers are not checked).

The documented commands in ``docs/benchmarks.md`` must not rot when the code
they time changes; these runs take seconds. Speed itself is never asserted.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_triplet_benchmark_runs():
    out = _run(
        "benchmarks/triplet.py",
        *("--batch", "24", "--dim", "8", "--people", "4", "--repeats", "1"),
    )
    for mining in ("semihard", "hard", "all"):
        assert f"| {mining}: loss + gradient |" in out
    assert "sort-based (previous)" in out  # the side-by-side comparison ran


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs the torch extra"
)
def test_train_step_benchmark_runs():
    out = _run(
        "benchmarks/train_step.py",
        *("--batch-size", "8", "--steps", "1", "--rounds", "1", "--threads", "1"),
    )
    assert "ratio" in out.lower()
