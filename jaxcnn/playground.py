"""The 2-D toy datasets of TensorFlow Playground, as pure array functions.

TensorFlow Playground (Smilkov and Carter, 2016, https://playground.tensorflow.org)
trains a small network in the browser on points of the plane. This module makes
data of the same kinds, written from the descriptions on that page:

* classification (labels ``0`` or ``1``): ``circle``, ``xor``, ``gaussian``,
  ``spiral``;
* regression (labels in ``[-1, 1]``): ``plane``, ``multi_gaussian``.

Every generator has the signature ``(key, n, noise=0.0) -> (points, labels)``:
``key`` is an ``int`` seed or a JAX PRNG key, ``points`` is ``(n, 2)`` float32 in
roughly ``[-RADIUS, RADIUS]^2`` and ``labels`` is ``(n,)`` (int32 for
classification, float32 for regression). Each generator first draws clean points
and labels them, then ``noise`` jitters the points: every coordinate gets Gaussian
noise of standard deviation ``noise * RADIUS``. Labels keep the clean point's
value, so noise blurs the boundary between the classes (or makes the regression
target noisy) the way the Playground's noise slider does. The points come ordered
by class; :func:`split` shuffles them.

The module also holds the Playground's input features (``x1``, ``x2``, their
squares, their product and their sines, see :data:`FEATURES`).
"""

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn._checks import check_choice, check_rank

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


def _as_key(key) -> jax.Array:
    """Turns an int seed or a PRNG key into a key for ``jax.random``."""
    if isinstance(key, bool):
        raise TypeError(f"key must be an int seed or a jax PRNG key; got {key!r}")
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key; got shape {key.shape}")
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32:
        if key.shape != (2,):
            raise ValueError(f"key must be a raw key of shape (2,); got {key.shape}")
        return jax.random.wrap_key_data(key)
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


def _jitter(key, points: jax.Array, noise: float) -> jax.Array:
    """Adds Gaussian noise of standard deviation ``noise * RADIUS`` per coordinate."""
    return points + noise * RADIUS * jax.random.normal(key, points.shape)


def _two_classes(n: int) -> jax.Array:
    """Labels ``n // 2`` zeros followed by ``n - n // 2`` ones."""
    return (jnp.arange(n) >= n // 2).astype(jnp.int32)


def _polar(radius: jax.Array, angle: jax.Array) -> jax.Array:
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], axis=-1)


@functools.partial(jax.jit, static_argnames="n")
def _circle(key, n, noise):
    labels = _two_classes(n)
    k_r, k_a, k_n = jax.random.split(key, 3)
    u = jax.random.uniform(k_r, (n,))
    radius = RADIUS * jnp.where(labels == 1, 0.5 * u, 0.7 + 0.3 * u)
    angle = jax.random.uniform(k_a, (n,), maxval=2 * jnp.pi)
    return _jitter(k_n, _polar(radius, angle), noise), labels


def circle(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
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
    key, n, noise = _as_key(key), _check_count(n, minimum=2), _check_noise(noise)
    return _circle(key, n, noise)


@functools.partial(jax.jit, static_argnames="n")
def _xor(key, n, noise):
    k_p, k_n = jax.random.split(key)
    raw = jax.random.uniform(k_p, (n, 2), minval=-RADIUS, maxval=RADIUS)
    clean = raw + XOR_MARGIN * jnp.where(raw >= 0, 1.0, -1.0)
    clean = jnp.clip(clean, -RADIUS, RADIUS)
    labels = (clean[:, 0] * clean[:, 1] > 0).astype(jnp.int32)
    return _jitter(k_n, clean, noise), labels


def xor(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Points in the square, label 1 where ``x1 * x2 > 0`` (quadrants I and III).

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32 in ``{0, 1}``.
    """
    key, n, noise = _as_key(key), _check_count(n), _check_noise(noise)
    return _xor(key, n, noise)


@functools.partial(jax.jit, static_argnames="n")
def _gaussian(key, n, noise):
    labels = _two_classes(n)
    k_p, k_n = jax.random.split(key)
    sign = jnp.where(labels == 1, 1.0, -1.0)[:, None]
    clean = sign * GAUSSIAN_CENTRE + jax.random.normal(k_p, (n, 2))
    return _jitter(k_n, clean, noise), labels


def gaussian(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Two unit-variance Gaussian blobs at ``±(c, c)``, ``c = GAUSSIAN_CENTRE``.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 2).
      noise: extra jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` int32: 1 for the
      blob at ``(c, c)``, 0 for the one at ``(-c, -c)``.
    """
    key, n, noise = _as_key(key), _check_count(n, minimum=2), _check_noise(noise)
    return _gaussian(key, n, noise)


@functools.partial(jax.jit, static_argnames="n")
def _spiral(key, n, noise):
    labels = _two_classes(n)
    k_t, k_n = jax.random.split(key)
    t = jax.random.uniform(k_t, (n,))
    angle = 2 * jnp.pi * (SPIRAL_TURNS * t + 0.5 * labels.astype(t.dtype))
    return _jitter(k_n, _polar(RADIUS * t, angle), noise), labels


def spiral(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
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
    key, n, noise = _as_key(key), _check_count(n, minimum=2), _check_noise(noise)
    return _spiral(key, n, noise)


@functools.partial(jax.jit, static_argnames="n")
def _plane(key, n, noise):
    k_p, k_n = jax.random.split(key)
    clean = jax.random.uniform(k_p, (n, 2), minval=-RADIUS, maxval=RADIUS)
    labels = clean.sum(axis=1) / (2 * RADIUS)
    return _jitter(k_n, clean, noise), labels


def plane(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """A tilted plane: label ``(x1 + x2) / (2 R)`` for uniform points of the square.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` float32 in ``[-1, 1]``.
    """
    key, n, noise = _as_key(key), _check_count(n), _check_noise(noise)
    return _plane(key, n, noise)


def multi_gaussian_surface(points: jax.Array) -> jax.Array:
    r"""The ``multi_gaussian`` target: a 3 x 3 checkerboard of signed Gaussian bumps.

    .. math:: f(p) = \mathrm{clip}\Big(\sum_{i,j=-1}^{1} (-1)^{i+j}
       \exp\big(-\lVert p - s (i, j) \rVert^2 / 2\big), -1, 1\Big)

    with ``s = MULTI_GAUSSIAN_SPACING``.

    Args:
      points: ``(..., 2)`` float array.

    Returns:
      ``(...)`` float array in ``[-1, 1]``.
    """
    check_rank(points, "points", range(1, 8), "(..., 2)")
    if np.shape(points)[-1] != 2:
        raise ValueError(f"points must have shape (..., 2); got {np.shape(points)}")
    steps = jnp.array([-1.0, 0.0, 1.0])
    cx, cy = jnp.meshgrid(steps, steps, indexing="ij")
    centres = MULTI_GAUSSIAN_SPACING * jnp.stack([cx.ravel(), cy.ravel()], axis=-1)
    signs = jnp.where((cx + cy).ravel() % 2 == 0, 1.0, -1.0)
    dist2 = jnp.sum((points[..., None, :] - centres) ** 2, axis=-1)
    return jnp.clip(jnp.sum(signs * jnp.exp(-dist2 / 2), axis=-1), -1.0, 1.0)


@functools.partial(jax.jit, static_argnames="n")
def _multi_gaussian(key, n, noise):
    k_p, k_n = jax.random.split(key)
    clean = jax.random.uniform(k_p, (n, 2), minval=-RADIUS, maxval=RADIUS)
    return _jitter(k_n, clean, noise), multi_gaussian_surface(clean)


def multi_gaussian(key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Uniform points of the square labelled by :func:`multi_gaussian_surface`.

    Args:
      key: an int seed or a JAX PRNG key.
      n: number of points (at least 1).
      noise: jitter as a fraction of ``RADIUS``.

    Returns:
      ``points`` ``(n, 2)`` float32 and ``labels`` ``(n,)`` float32 in ``[-1, 1]``.
    """
    key, n, noise = _as_key(key), _check_count(n), _check_noise(noise)
    return _multi_gaussian(key, n, noise)


Generator = Callable[..., tuple[jax.Array, jax.Array]]

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


def make(name: str, key, n: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Makes the dataset called ``name`` (a key of :data:`DATASETS`)."""
    check_choice(name, "name", tuple(DATASETS))
    return DATASETS[name](key, n, noise)


def split(
    key, points, labels, ratio: float = 0.5
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
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
    key = _as_key(key)
    check_rank(points, "points", 2, "(n, 2)")
    check_rank(labels, "labels", 1, "(n,)")
    n = np.shape(points)[0]
    if np.shape(labels)[0] != n:
        raise ValueError(
            f"labels must have one entry per point ({n}); got {np.shape(labels)[0]}"
        )
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.number)):
        raise TypeError(f"ratio must be a real number; got {ratio!r}")
    n_train = round(ratio * n)
    if not 0 < ratio < 1 or not 0 < n_train < n:
        raise ValueError(
            f"ratio must be in (0, 1) and leave both parts non-empty for {n} "
            f"points; got {ratio!r}"
        )
    order = jax.random.permutation(key, n)
    train, test = order[:n_train], order[n_train:]
    points, labels = jnp.asarray(points), jnp.asarray(labels)
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
    names = tuple(names)
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
    if np.ndim(points) < 1 or np.shape(points)[-1] != 2:
        raise ValueError(f"points must have shape (..., 2); got {np.shape(points)}")
    points = jnp.asarray(points)
    x1, x2 = points[..., 0], points[..., 1]
    return jnp.stack([FEATURES[name][0](x1, x2) for name in names], axis=-1)
