"""Argument checks shared by the whole package.

Every public function validates its inputs with these helpers so that bad input
raises a ``ValueError`` or ``TypeError`` that names the argument, says what was
expected and shows what was received, before any tracing or XLA compilation.
"""

import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def shape_of(x) -> tuple[int, ...]:
    """Returns the shape of an array-like without converting it to a device array."""
    return tuple(np.shape(x))


def dtype_of(x) -> np.dtype:
    """Returns the dtype of an array-like (Python scalars map to NumPy's default)."""
    return getattr(x, "dtype", None) or np.asarray(x).dtype


def check_rank(x, name: str, ranks: Sequence[int] | int, layout: str = "") -> None:
    """Raises ValueError unless ``x.ndim`` is one of ``ranks``.

    Args:
      x: the array.
      name: the argument's name, used in the message.
      ranks: the allowed ranks.
      layout: an optional description of the expected layout, e.g. ``(N, H, W, C)``.
    """
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    shape = shape_of(x)
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        extra = f" {layout}" if layout else ""
        raise ValueError(
            f"{name} must have rank {want}{extra}; "
            f"got shape {shape} (rank {len(shape)})"
        )


def check_floating(x, name: str) -> None:
    """Raises TypeError unless ``x`` has a floating-point dtype."""
    dtype = dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must have a floating dtype; got {dtype}")


def as_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """Expands an int or a length-``n`` sequence of ints to a tuple of ``n`` ints.

    Raises:
      TypeError: if the values are not integers.
      ValueError: if the sequence has the wrong length.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an int or a sequence of {n} ints; got {value!r}"
        ) from None
    if len(items) != n or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise ValueError(
            f"{name} must be an int or a sequence of {n} ints; got {value!r}"
        )
    return tuple(int(v) for v in items)


def check_positive(values: Sequence[int], name: str) -> None:
    """Raises ValueError unless every value is >= 1."""
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be positive; got {tuple(values)}")


def check_choice(value, name: str, choices: Sequence) -> None:
    """Raises ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")


def normalize_axes(axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """Turns an int or a tuple/list of ints into sorted non-negative axes.

    Raises:
      TypeError: if ``axis`` is not an int or a sequence of ints.
      ValueError: if an axis is out of range for rank ``ndim`` or repeated.
    """
    items = axis if isinstance(axis, tuple | list) else (axis,)
    if not items or not all(
        isinstance(a, int | np.integer) and not isinstance(a, bool) for a in items
    ):
        raise TypeError(f"{name} must be an int or a tuple of ints; got {axis!r}")
    if any(not -ndim <= a < ndim for a in items):
        raise ValueError(
            f"{name} must be in [-{ndim}, {ndim}) for an input of rank {ndim}; "
            f"got {axis!r}"
        )
    axes = sorted(int(a) % ndim for a in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name} must not repeat an axis; got {axis!r}")
    return tuple(axes)


def concrete_float(value, name: str, expected: str) -> float:
    """Returns ``value`` as a Python float; it must be a concrete real number.

    Args:
      value: an int, float, NumPy scalar or 0-d concrete array (not a tracer,
        not a bool, not a string).
      name: the argument's name, used in the message.
      expected: what was expected, e.g. ``"a number in [0, 1]"``.

    Raises:
      TypeError: if ``value`` is not a concrete real number.
    """
    bad = isinstance(value, bool | str | bytes) or np.ndim(value) != 0
    if not bad:
        try:
            return float(value)
        except (TypeError, ValueError):
            pass  # tracers (ConcretizationTypeError is a TypeError), objects
    raise TypeError(f"{name} must be {expected} (concrete); got {value!r}")


def check_int(value, name: str, minimum: int | None = None) -> int:
    """Returns ``value`` as an int; it must be a Python or NumPy integer.

    Raises:
      TypeError: if ``value`` is not an integer (bools are refused).
      ValueError: if ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int; got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def check_real_array(x, name: str, kinds: str = "buif") -> None:
    """Raises TypeError unless ``x`` is an array-like of real numbers.

    Args:
      x: an array, a scalar or nested lists of numbers.
      name: the argument's name, used in the message.
      kinds: the NumPy dtype kinds allowed (``b`` bool, ``u``/``i`` integers,
        ``f`` floating; bfloat16 counts as floating).
    """
    try:
        dtype = dtype_of(x)
    except (TypeError, ValueError):
        dtype = None
    kind = None if dtype is None else np.dtype(dtype).kind
    if kind == "V" and jnp.issubdtype(dtype, jnp.floating):
        kind = "f"  # ml_dtypes such as bfloat16
    if kind is None or kind not in kinds:
        raise TypeError(
            f"{name} must be an array of real numbers (dtype kinds {kinds!r}); got "
            f"{type(x).__name__} with dtype {dtype}"
        )


def check_key(key, name: str = "key") -> None:
    """Raises TypeError unless ``key`` is a JAX PRNG key (typed or raw uint32)."""
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key)
    raw = dtype == np.uint32 and shape_of(key)[-1:] in ((2,), (4,))
    if not (typed or raw):
        raise TypeError(
            f"{name} must be a JAX PRNG key (jax.random.key(seed)); got {key!r}"
        )


def check_path(path, name: str = "path") -> str:
    """Returns ``os.fspath(path)``; raises TypeError unless a str or path-like."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or os.PathLike; got {path!r}")
    return os.fspath(path)


def check_real_scalar(value, name: str) -> None:
    """Raises TypeError unless ``value`` is a real (int or float) scalar.

    Tracers of rank 0 pass, so the value may be traced; bools are refused.
    """
    try:
        dtype = dtype_of(value)
        real = jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
        ok = np.ndim(value) == 0 and real
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(value, bool):
        raise TypeError(f"{name} must be a real scalar; got {value!r:.80}")
