"""The 2-D toy datasets of TensorFlow Playground, as pure array functions.

TensorFlow Playground (Smilkov and Carter, 2016, https://playground.tensorflow.org)
trains a small network in the browser on points of the plane. This module makes
data of the same kinds, written from the descriptions on that page:

* classification (labels ``0`` or ``1``): ``circle``, ``xor``, ``gaussian``,
  ``spiral``;
* regression (labels in ``[-1, 1]``): ``plane``, ``multi_gaussian``.

Every generator has the signature ``(key, n, noise=0.0) -> (points, labels)``:
``key`` is an ``int`` seed or a JAX PRNG key, ``points`` is a NumPy ``(n, 2)``
float32 array in roughly ``[-RADIUS, RADIUS]^2`` and ``labels`` is ``(n,)``
(int32 for classification, float32 for regression). The data are drawn on the
host with NumPy (a few hundred points need no compilation); a JAX key seeds
NumPy's generator with its key data, an int seeds it directly. Each generator
first draws clean points and labels them, then ``noise`` jitters the points:
every coordinate gets Gaussian noise of standard deviation ``noise * RADIUS``.
Labels keep the clean point's value, so noise blurs the boundary between the
classes (or makes the regression target noisy) the way the Playground's noise
slider does. The points come ordered by class; :func:`split` shuffles them.

The module also holds the Playground's input features (``x1``, ``x2``, their
squares, their product and their sines, see :data:`FEATURES`).
"""

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn._checks import check_choice, check_rank, check_real_array

RADIUS = 5.0
"""Half-width of the square the points live in (the Playground's plot spans -6..6
with data inside -5..5)."""

SPIRAL_TURNS = 1.75
"""How many turns each spiral arm makes from the centre to ``RADIUS``, as in the
Playground's picture of the spiral data set."""

XOR_MARGIN = 0.3
"""Distance the XOR points are pushed away from the axes, so that no clean point
sits on a quadrant border."""

GAUSSIAN_CENTRE = 2.0
"""The two Gaussian blobs sit at ``(c, c)`` (label 1) and ``(-c, -c)`` (label 0)."""

MULTI_GAUSSIAN_SPACING = 3.0
"""Spacing of the 3 x 3 grid of signed bumps of ``multi_gaussian``."""


def _rng(key) -> np.random.Generator:
    """Turns an int seed or a JAX PRNG key into a NumPy generator."""
    if isinstance(key, bool):
        raise TypeError(f"key must be an int seed or a jax PRNG key; got {key!r}")
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"key must be a non-negative seed; got {key}")
        return np.random.default_rng(int(key))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key; got shape {key.shape}")
        key = jax.random.key_data(key)
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32:
        if key.ndim != 1:
            raise ValueError(f"key must be a single raw key; got shape {key.shape}")
        return np.random.default_rng(np.asarray(key).tolist())
    raise TypeError(f"key must be an int seed or a jax PRNG key; got {key!r}")


def _check_count(n, name: str = "n", minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {n}")
    return int(n)


def _check_noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)):
        raise TypeError(f"noise must be a real number; got {noise!r}")
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be finite and >= 0; got {noise!r}")
    return float(noise)


def _jitter(rng, points: np.ndarray, noise: float) -> np.ndarray:
    """Adds Gaussian noise of standard deviation ``noise * RADIUS`` per coordinate."""
    jitter = rng.normal(0.0, noise * RADIUS, points.shape) if noise else 0.0
    return (points + jitter).astype(np.float32)


def _two_classes(n: int) -> np.ndarray:
    """Labels ``n // 2`` zeros followed by ``n - n // 2`` ones."""
    return (np.arange(n) >= n // 2).astype(np.int32)


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def _start(key, n, noise, minimum: int = 1):
    return _rng(key), _check_count(n, minimum=minimum), _check_noise(noise)


def circle(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A disc of label 1 inside a ring of label 0.

    Label-1 points have radius uniform in ``[0, 0.5 R]``, label-0 points radius
    uniform in ``[0.7 R, R]`` (``R = RADIUS``), at uniform angles.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 2).
      noise: jitter as a fraction of ``RADIUS`` (see the module docstring).

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32 in ``{0, 1}``.
    """
    rng, n, noise = _start(key, n, noise, minimum=2)
    labels = _two_classes(n)
    u = rng.uniform(size=n)
    radius = RADIUS * np.where(labels == 1, 0.5 * u, 0.7 + 0.3 * u)
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    return _jitter(rng, _polar(radius, angle), noise), labels


def xor(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Points in the square, label 1 where ``x1 * x2 > 0`` (quadrants I and III).

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32 in ``{0, 1}``.
    """
    rng, n, noise = _start(key, n, noise)
    raw = rng.uniform(-RADIUS, RADIUS, size=(n, 2))
    clean = np.clip(raw + XOR_MARGIN * np.where(raw >= 0, 1.0, -1.0), -RADIUS, RADIUS)
    labels = (clean[:, 0] * clean[:, 1] > 0).astype(np.int32)
    return _jitter(rng, clean, noise), labels


def gaussian(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two unit-variance Gaussian blobs at ``±(c, c)``, ``c = GAUSSIAN_CENTRE``.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 2).
      noise: extra jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32: 1 for the
      blob at ``(c, c)``, 0 for the one at ``(-c, -c)``.
    """
    rng, n, noise = _start(key, n, noise, minimum=2)
    labels = _two_classes(n)
    sign = np.where(labels == 1, 1.0, -1.0)[:, None]
    clean = sign * GAUSSIAN_CENTRE + rng.normal(size=(n, 2))
    return _jitter(rng, clean, noise), labels


def spiral(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms, one per label.

    A point at parameter ``t`` (uniform in ``[0, 1]``) of arm ``k`` sits at radius
    ``R t`` and angle ``2 pi SPIRAL_TURNS t + k pi``.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 2).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32, the arm index.
    """
    rng, n, noise = _start(key, n, noise, minimum=2)
    labels = _two_classes(n)
    t = rng.uniform(size=n)
    angle = 2 * np.pi * (SPIRAL_TURNS * t + 0.5 * labels)
    return _jitter(rng, _polar(RADIUS * t, angle), noise), labels


def plane(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A tilted plane: label ``(x1 + x2) / (2 R)`` for uniform points of the square.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` float32 in ``[-1, 1]``.
    """
    rng, n, noise = _start(key, n, noise)
    clean = rng.uniform(-RADIUS, RADIUS, size=(n, 2))
    labels = (clean.sum(axis=1) / (2 * RADIUS)).astype(np.float32)
    return _jitter(rng, clean, noise), labels


def multi_gaussian_surface(points: np.ndarray) -> np.ndarray:
    r"""The ``multi_gaussian`` target: a 3 x 3 checkerboard of signed Gaussian bumps.

    .. math:: f(p) = \mathrm{clip}\Big(\sum_{i,j=-1}^{1} (-1)^{i+j}
       \exp\big(-\lVert p - s (i, j) \rVert^2 / 2\big), -1, 1\Big)

    with ``s = MULTI_GAUSSIAN_SPACING``.

    Args:
      points: ``(..., 2)`` array-like.

    Returns:
      ``(...)`` float32 NumPy array in ``[-1, 1]``.
    """
    check_real_array(points, "points", kinds="iuf")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2); got {points.shape}")
    steps = np.array([-1.0, 0.0, 1.0])
    cx, cy = np.meshgrid(steps, steps, indexing="ij")
    centres = MULTI_GAUSSIAN_SPACING * np.stack([cx.ravel(), cy.ravel()], axis=-1)
    signs = np.where((cx + cy).ravel() % 2 == 0, 1.0, -1.0)
    dist2 = np.sum((points[..., None, :] - centres) ** 2, axis=-1)
    surface = np.clip(np.sum(signs * np.exp(-dist2 / 2), axis=-1), -1.0, 1.0)
    return surface.astype(np.float32)


def multi_gaussian(key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points of the square labelled by :func:`multi_gaussian_surface`.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` float32 in ``[-1, 1]``.
    """
    rng, n, noise = _start(key, n, noise)
    clean = rng.uniform(-RADIUS, RADIUS, size=(n, 2))
    return _jitter(rng, clean, noise), multi_gaussian_surface(clean)


Generator = Callable[..., tuple[np.ndarray, np.ndarray]]

CLASSIFICATION: dict[str, Generator] = {
    "circle": circle,
    "xor": xor,
    "gaussian": gaussian,
    "spiral": spiral,
}
REGRESSION: dict[str, Generator] = {"plane": plane, "multi_gaussian": multi_gaussian}
DATASETS: dict[str, Generator] = CLASSIFICATION | REGRESSION


def task_of(name: str) -> str:
    """Returns ``'classification'`` or ``'regression'`` for a dataset name."""
    check_choice(name, "name", tuple(DATASETS))
    return "classification" if name in CLASSIFICATION else "regression"


def make(name: str, key, n: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Makes the dataset called ``name`` (a key of :data:`DATASETS`)."""
    check_choice(name, "name", tuple(DATASETS))
    return DATASETS[name](key, n, noise)


def split(
    key, points, labels, ratio: float = 0.5
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffles and splits a dataset into training and test parts.

    Args:
      key: an int seed or a JAX PRNG key for the shuffle.
      points: ``(n, 2)`` array.
      labels: ``(n,)`` array.
      ratio: fraction of the points used for training, in ``(0, 1)``; the
        training part gets ``round(ratio * n)`` points, and both parts get at
        least one.

    Returns:
      ``(train_points, train_labels), (test_points, test_labels)``.
    """
    rng = _rng(key)
    check_rank(points, "points", 2, "(n, 2)")
    check_rank(labels, "labels", 1, "(n,)")
    n = np.shape(points)[0]
    if np.shape(labels)[0] != n:
        raise ValueError(
            f"labels must have one entry per point ({n}); got {np.shape(labels)[0]}"
        )
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.number)):
        raise TypeError(f"ratio must be a real number; got {ratio!r}")
    if not 0 < ratio < 1:  # also refuses NaN and inf
        raise ValueError(f"ratio must be in (0, 1); got {ratio!r}")
    n_train = round(ratio * n)
    if not 0 < ratio < 1 or not 0 < n_train < n:
        raise ValueError(
            f"ratio must be in (0, 1) and leave both parts non-empty for {n} "
            f"points; got {ratio!r}"
        )
    order = rng.permutation(n)
    train, test = order[:n_train], order[n_train:]
    points, labels = np.asarray(points), np.asarray(labels)
    return (points[train], labels[train]), (points[test], labels[test])


# name -> (function of (x1, x2), label for plots)
FEATURES: dict[str, tuple[Callable[[jax.Array, jax.Array], jax.Array], str]] = {
    "x1": (lambda x1, x2: x1, "$x_1$"),
    "x2": (lambda x1, x2: x2, "$x_2$"),
    "x1_sq": (lambda x1, x2: x1 * x1, "$x_1^2$"),
    "x2_sq": (lambda x1, x2: x2 * x2, "$x_2^2$"),
    "x1_x2": (lambda x1, x2: x1 * x2, "$x_1 x_2$"),
    "sin_x1": (lambda x1, x2: jnp.sin(x1), "$\\sin x_1$"),
    "sin_x2": (lambda x1, x2: jnp.sin(x2), "$\\sin x_2$"),
}
"""The Playground's input features, by name."""


def check_features(names: Sequence[str]) -> tuple[str, ...]:
    """Validates a list of feature names and returns it as a tuple."""
    if isinstance(names, str):
        raise TypeError(f"features must be a sequence of names; got the str {names!r}")
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(
            f"features must be a sequence of names; got {names!r}"
        ) from None
    if not names:
        raise ValueError(f"features must name at least one of {tuple(FEATURES)}")
    for name in names:
        check_choice(name, "features", tuple(FEATURES))
    if len(set(names)) != len(names):
        raise ValueError(f"features must not repeat a name; got {names}")
    return names


def feature_map(points, names: Sequence[str]) -> jax.Array:
    """Computes the chosen input features of each point.

    Args:
      points: ``(..., 2)`` float array of ``(x1, x2)``.
      names: feature names, keys of :data:`FEATURES`, e.g. ``("x1", "x1_sq")``.

    Returns:
      ``(..., F)`` array, ``F = len(names)``, one column per name in order.
    """
    names = check_features(names)
    check_real_array(points, "points", kinds="f")
    if np.ndim(points) < 1 or np.shape(points)[-1] != 2:
        raise ValueError(f"points must have shape (..., 2); got {np.shape(points)}")
    points = jnp.asarray(points)
    x1, x2 = points[..., 0], points[..., 1]
    return jnp.stack([FEATURES[name][0](x1, x2) for name in names], axis=-1)
