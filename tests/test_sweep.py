"""Bad-input sweep over every public function (issue 5; rules in tests/sweep).

Each public function of the swept modules has a registry entry
(``tests/sweep/registry.py``) with valid arguments; hypothesis spoils one
argument per example (wrong rank, channels-first layout, wrong dtype, NaN and
inf, empty axes, non-array objects, bad paths) and
``tests/sweep/framework.py`` checks the outcome: a result that is not ``None``
(and no result at all for NaN/inf where the function rejects them), or a
documented ``ValueError`` / ``TypeError`` (path errors for files) that names
the argument and is raised by jaxcnn itself before any tracing.
"""

import importlib
import inspect
import os

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcnn import images, kernels, mtcnn, ops
from tests.sweep import framework as fw
from tests.sweep.known import KNOWN_FAULTS, known_fault
from tests.sweep.registry import CASES, EXEMPT, K4, MTCNN_PARAMS

SWEPT_MODULES = (
    "jaxcnn.ops",
    "jaxcnn.kernels",
    "jaxcnn.boxes",
    "jaxcnn.images",
    "jaxcnn.mtcnn",
    "jaxcnn.facenet",
    "jaxcnn.data",
    "jaxcnn.train",
    "jaxcnn.models",
    "jaxcnn.playground",
    "jaxcnn.playground_model",
)
THIS_FILE = os.path.abspath(__file__)


def public_callables(module_name: str) -> dict[str, object]:
    """``__all__``, or else the names the module itself defines without ``_``."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module_name
        ]
    found = {}
    for name in names:
        obj = getattr(module, name)
        if callable(obj) and not inspect.ismodule(obj):
            found[f"{module_name}.{name}"] = obj
    return found


ALL_PUBLIC = {k: v for m in SWEPT_MODULES for k, v in public_callables(m).items()}


def test_every_public_function_has_a_sweep_entry():
    functions = {k for k, v in ALL_PUBLIC.items() if not inspect.isclass(v)}
    classes = {k for k, v in ALL_PUBLIC.items() if inspect.isclass(v)}
    assert sorted(functions - CASES.keys()) == []
    assert sorted(classes - EXEMPT.keys()) == []
    assert sorted(CASES.keys() - ALL_PUBLIC.keys()) == []  # no stale entries


@pytest.fixture(autouse=True, scope="module")
def _full_tracebacks():
    """Shows jax's own frames, so that an error raised while tracing is seen."""
    old = jax.config.jax_traceback_filtering
    jax.config.update("jax_traceback_filtering", "off")
    yield
    jax.config.update("jax_traceback_filtering", old)


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path, monkeypatch):
    """Junk relative paths ("abc") must not litter the working tree."""
    monkeypatch.chdir(tmp_path)


def _case(name: str) -> fw.Case:
    """The registry entry, or a skip where an optional package it needs is missing."""
    case = CASES[name]
    if case.missing():
        pytest.skip(f"needs {', '.join(case.missing())}, not installed")
    return case


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_call_gives_a_result(name):
    case = _case(name)
    result = case.fn(**case.valid())
    assert result is not None or fw.returns_none_by_design(case)


def _sweep(name: str):
    case = _case(name)
    if not case.mutable:
        pytest.skip("no arguments to spoil (the valid call is tested)")
    valid = case.valid()
    limit = {} if case.max_examples is None else {"max_examples": case.max_examples}

    @settings(**limit)
    @given(st.data())
    def run(data):
        spoiled = data.draw(fw.bad_calls(case, valid), label="spoiled")
        if known_fault(name, spoiled) is None:
            problems = fw.judge(case, spoiled, THIS_FILE)
            assert not problems, f"{spoiled}: {problems}"

    run()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name):
    _sweep(name)


@pytest.mark.parametrize("key", sorted(KNOWN_FAULTS), ids=":".join)
def test_known_faults_still_reproduce(key):
    """Each listed fault must still show; once fixed, delete its entry."""
    name, argument, _ = key
    case = _case(name)
    spoiled = [
        s
        for s in fw.all_mutations(case, case.valid())
        if s.name == argument and known_fault(name, s) == key
    ]
    assert spoiled, f"{key} matches no mutation"
    assert any(fw.judge(case, s, THIS_FILE) for s in spoiled), (
        f"{key} is fixed: remove it from KNOWN_FAULTS"
    )


# Zero-stride views: shape (1_000_000, 1_000_000, ...) without the terabytes.
# Each call must refuse the layout from the shape alone, before converting the
# array (an allocation that large fails at once rather than filling memory).
HUGE = 1_000_000


def _huge(dtype, *shape):
    return np.broadcast_to(np.zeros((), dtype), shape)


HUGE_CALLS = {
    "images.to_rgb (channels-first)": lambda: images.to_rgb(
        _huge(np.uint8, 3, HUGE, HUGE)
    ),
    "images.encode_png (a batch)": lambda: images.encode_png(
        _huge(np.uint8, 2, HUGE, HUGE, 3)
    ),
    "mtcnn.detect (channels-first)": lambda: mtcnn.detect(
        _huge(np.uint8, 3, HUGE, HUGE)
    ),
    "mtcnn.pnet_apply (4 channels)": lambda: mtcnn.pnet_apply(
        MTCNN_PARAMS.get()["pnet"], _huge(np.float32, 1, HUGE, HUGE, 4)
    ),
    "ops.conv (channels)": lambda: ops.conv(_huge(np.float32, 1, HUGE, HUGE, 5), K4),
    "ops.max_pool (int dtype)": lambda: ops.max_pool(
        _huge(np.int32, 1, HUGE, HUGE, 3), 2
    ),
    "kernels.filter2d (int dtype)": lambda: kernels.filter2d(
        _huge(np.uint8, HUGE, HUGE, 3), np.ones((3, 3), np.float32)
    ),
}


@pytest.mark.parametrize("what", sorted(HUGE_CALLS))
def test_huge_arrays_are_refused_before_allocation(what):
    with pytest.raises((ValueError, TypeError)):
        HUGE_CALLS[what]()
