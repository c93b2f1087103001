"""The bad-input sweep's machinery: cases, drawn mutations and outcome rules.

A :class:`Case` says how to call one public function with valid arguments and
which of them are arrays. The strategy :func:`bad_calls` draws one argument
and one way to spoil it (wrong rank, channels-first layout, wrong dtype, NaN or
inf, an empty axis, a non-array object, ...). :func:`check_outcome` then
applies the rules of the sweep (see ``docs/reliability.md``):

* a result is fine, except ``None``, and except where the case *rejects*
  non-finite input (``nan="reject"``) and NaN or inf went in;
* an exception must be a documented one (``ValueError``, ``TypeError``, or
  the case's ``errors``), must name the spoiled argument, and must be raised by
  jaxcnn's own code before any tracing: its innermost frame is in a
  ``jaxcnn/`` file and no frame of jax's internals (``jax/_src``) is on the
  way there, and it is never a ``JaxRuntimeError`` (an XLA failure).
"""

import functools
import importlib.util
import inspect
import io
import os
import re
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from hypothesis import strategies as st
from PIL import Image

import jaxcnn

PACKAGE_DIR = os.path.dirname(os.path.abspath(jaxcnn.__file__)) + os.sep
JAX_INTERNALS = os.sep.join(("jax", "_src", ""))

#: Objects that are not arrays at all.
JUNK = (None, "abc", ["a", "b"], object(), {"x": 1})
#: Bad values for a scalar or option argument (several are legal for some).
SCALAR_JUNK = (*JUNK, float("nan"), float("inf"), -1, 0, 2.5, True, (1, 2, 3))
#: Dtypes an array argument is recast to.
DTYPES = ("int32", "uint8", "bool", "complex64", "float16", "object", "str")
NONFINITE = (float("nan"), float("inf"), float("-inf"))
#: Mutations that may be reported as a mismatch with another argument: shape
#: changes, and a float dtype other than the others' (float16; a list of
#: Python floats is float64).
MISMATCH_KINDS = ("rank+1", "rank-1", "flat", "scalar", "channels-first")
MISMATCH_KINDS += ("dtype float16", "list")


class Lazy:
    """A valid argument built on first use (weights, models), then cached."""

    def __init__(self, make: Callable[[], Any]):
        self._make, self._value, self._done = make, None, False

    def get(self):
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value


@dataclass
class Case:
    """How to call one public function, and what its bad inputs must give.

    Attributes:
      fn: the function.
      args: argument name -> a valid value (or a :class:`Lazy`); passed by
        keyword.
      arrays: names of the array arguments (they get array mutations).
      options: names of scalar / option arguments (they get ``SCALAR_JUNK``).
      images: array arguments that are images or NHWC activations (they also
        get the channels-first layout mutation).
      nan: ``"reject"``: NaN or inf in any argument must raise ValueError;
        ``"allow"``: any result is fine (math ops propagate NaN).
      aliases: argument name -> other words that may name it in a message
        (e.g. the ``x`` of ``conv`` is "the input"), as a regex alternative.
      errors: documented exception types besides ValueError and TypeError.
      max_examples: lower than the profile for slow functions (say why).
      paths: options that are file or folder paths (they also get missing,
        empty, non-image, truncated and directory paths).
      needs: optional packages the valid call needs (the tests of this case
        skip where one is not installed).
    """

    fn: Callable
    args: dict[str, Any]
    arrays: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    nan: str = "allow"
    aliases: dict[str, str] = field(default_factory=dict)
    errors: tuple[type[BaseException], ...] = ()
    max_examples: int | None = None
    paths: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """The packages of ``needs`` that are not installed."""
        return [n for n in self.needs if importlib.util.find_spec(n) is None]

    def valid(self) -> dict[str, Any]:
        return {k: v.get() if isinstance(v, Lazy) else v for k, v in self.args.items()}

    @property
    def mutable(self) -> tuple[str, ...]:
        return self.arrays + self.options


@dataclass(frozen=True)
class Spoiled:
    """One drawn bad call: which argument, how, and the bad value."""

    name: str
    kind: str
    value: Any

    def __repr__(self) -> str:  # keeps hypothesis' falsifying examples short
        shape = getattr(self.value, "shape", None)
        dtype = getattr(self.value, "dtype", None)
        shown = f"array{shape} {dtype}" if shape is not None else repr(self.value)
        return f"Spoiled({self.name}: {self.kind} -> {shown[:80]})"


def _short(value) -> str:
    """A stable short name of a junk value (no memory addresses)."""
    return "object()" if type(value) is object else repr(value)


def _with_nonfinite(x: np.ndarray, value: float, where: int) -> np.ndarray:
    out = np.array(x, dtype=x.dtype if x.dtype.kind == "f" else np.float32)
    out.reshape(-1)[where % out.size] = value
    return out


def _recast(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "object":
        return x.astype(object)
    if dtype == "str":
        return x.astype(str)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(x).astype(dtype)


def array_mutations(x: np.ndarray, image: bool) -> list[list[tuple[str, Any]]]:
    """Groups of (kind, value) that spoil the array ``x``, one group per idea."""
    groups = [
        [(f"junk {_short(j)}", j) for j in JUNK],
        [("rank+1", x[None]), ("flat", x.reshape(-1)), ("scalar", np.float32(1.0))],
        [(f"dtype {d}", _recast(x, d)) for d in DTYPES],
        [("list", x.tolist())],
    ]
    if x.ndim >= 1:
        groups[1].append(("rank-1", x[0] if len(x) else x.reshape(-1)[:0]))
        groups.append(
            [(f"empty axis {a}", np.take(x, [], axis=a)) for a in range(x.ndim)]
        )
    if x.size:
        spots = sorted({0, x.size // 2, x.size - 1})
        recast = "" if x.dtype.kind == "f" else " (recast to float)"
        groups.append(
            [
                (f"non-finite{recast} {v} at {i}", _with_nonfinite(x, v, i))
                for v in NONFINITE
                for i in spots
            ]
        )
    if image and x.ndim >= 3:
        groups[1].append(("channels-first", np.moveaxis(x, -1, -3)))
    return groups


def option_mutations(case: "Case", name: str) -> list[tuple[str, Any]]:
    """(kind, value) that spoil the option or path argument ``name``."""
    junk = [(f"option {_short(j)}", j) for j in SCALAR_JUNK]
    return bad_paths() + junk if name in case.paths else junk


def all_mutations(case: "Case", valid: dict[str, Any]):
    """Every :class:`Spoiled` the strategy can draw (for exhaustive probes)."""
    for name in case.mutable:
        if name in case.arrays:
            x = np.asarray(valid[name])
            for group in array_mutations(x, name in case.images):
                for kind, value in group:
                    yield Spoiled(name, kind, value)
        else:
            for kind, value in option_mutations(case, name):
                yield Spoiled(name, kind, value)


@st.composite
def bad_calls(draw, case: Case, valid: dict[str, Any]) -> Spoiled:
    """Draws one spoiled argument of ``case``."""
    name = draw(st.sampled_from(case.mutable))
    if name in case.arrays:
        groups = array_mutations(np.asarray(valid[name]), name in case.images)
        kind, value = draw(st.one_of([st.sampled_from(g) for g in groups]))
    else:
        kind, value = draw(st.sampled_from(option_mutations(case, name)))
    return Spoiled(name, kind, value)


@functools.cache
def _bad_path_dir() -> str:
    return tempfile.mkdtemp(prefix="jaxcnn-sweep-paths-")


def bad_paths() -> list[tuple[str, str]]:
    """(kind, path) pairs: paths that exist wrongly or not at all."""
    root = _bad_path_dir()
    png = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(png, format="PNG")
    files = {
        "empty file": b"",
        "text file": b"hello, not an image\n",
        "truncated png": png.getvalue()[:40],
        "garbage": bytes(range(256)) * 4,
    }
    out = [("missing file", os.path.join(root, "missing", "x.png"))]
    out.append(("directory", root))
    for kind, content in files.items():
        path = os.path.join(root, kind.replace(" ", "_"))
        with open(path, "wb") as f:
            f.write(content)
        out.append((kind, path))
    return out


def is_nonfinite_input(spoiled: Spoiled) -> bool:
    """True when the spoiled value carries NaN or inf."""
    if spoiled.kind.startswith("non-finite"):
        return True
    value = spoiled.value
    return isinstance(value, float) and not np.isfinite(value)


def needs_value_error(spoiled: Spoiled) -> bool:
    """NaN or inf in a floating array of the right dtype: only a ValueError fits.

    (A NaN recast into an integer or boolean argument, or a float NaN given
    for an int option, may equally be refused with a TypeError.)
    """
    return spoiled.kind.startswith("non-finite") and "recast" not in spoiled.kind


def _frames(err: BaseException) -> list[str]:
    return [f.filename for f in traceback.extract_tb(err.__traceback__)]


def exception_problems(
    case: Case, spoiled: Spoiled, err: BaseException, test_file: str
) -> list[str]:
    """What is wrong with how ``err`` was raised (empty when it is fine)."""
    problems = []
    allowed = (ValueError, TypeError, *case.errors)
    if isinstance(err, jax.errors.JaxRuntimeError) or not isinstance(err, allowed):
        problems.append(f"undocumented exception {type(err).__name__}")
    if not names_argument(case, spoiled, str(err)):
        problems.append(f"message does not name {spoiled.name!r}")
    files = [f for f in _frames(err) if os.path.abspath(f) != test_file]
    if not files or not os.path.abspath(files[-1]).startswith(PACKAGE_DIR):
        where = files[-1] if files else "?"
        problems.append(f"raised outside jaxcnn (innermost frame {where})")
    if any(JAX_INTERNALS in f for f in files):
        problems.append("raised while tracing (jax internals on the stack)")
    return problems


def names_argument(case: Case, spoiled: Spoiled, message: str) -> bool:
    """Whether ``message`` names the spoiled argument (or the bad path)."""
    words = [re.escape(spoiled.name)]
    if spoiled.kind in MISMATCH_KINDS or spoiled.kind.startswith("empty"):
        # A shape or float dtype that does not fit another argument may be
        # reported there (e.g. a 5-D x makes a 2-D window_shape of max_pool
        # the wrong length; a float16 x makes a float32 scale the wrong dtype).
        words += [re.escape(other) for other in case.args]
    if spoiled.name in case.aliases:
        words.append(case.aliases[spoiled.name])
    if isinstance(spoiled.value, str) and spoiled.value:
        words.append(re.escape(spoiled.value))
    pattern = rf"(?<![A-Za-z0-9_])({'|'.join(words)})(?![A-Za-z0-9_])"
    return re.search(pattern, message) is not None


def returns_none_by_design(case: Case) -> bool:
    """Writers (``save_npz``, ``save_boundary_png``) return None on success."""
    return inspect.signature(case.fn).return_annotation in (None, "None")


def judge(case: Case, spoiled: Spoiled, test_file: str = "") -> list[str]:
    """Calls ``case`` with ``spoiled`` and lists how the outcome breaks the rules."""
    kwargs = case.valid() | {spoiled.name: spoiled.value}
    try:
        with np.errstate(all="ignore"):
            result = case.fn(**kwargs)
    except Exception as err:  # noqa: BLE001 - every exception is judged here
        problems = exception_problems(case, spoiled, err, test_file)
        if case.nan == "reject" and needs_value_error(spoiled):
            if not isinstance(err, ValueError):
                problems.append("NaN/inf not refused with a ValueError")
        return [f"{p}; {describe(err)}" for p in problems]
    if case.nan == "reject" and is_nonfinite_input(spoiled):
        return ["accepted NaN/inf instead of raising ValueError"]
    if result is None and not returns_none_by_design(case):
        return ["returned None"]
    return []


def describe(err: BaseException) -> str:
    last = traceback.extract_tb(err.__traceback__)[-1]
    return f"{type(err).__name__}: {str(err)[:300]} (at {last.filename}:{last.lineno})"
