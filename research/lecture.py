"""The CNN lecture's figures, computed with :mod:`jaxcnn.ops` and :mod:`jaxcnn.kernels`.

Run from the repository root::

    python research/lecture.py --out out/lecture

It writes five PNGs under ``--out``:

1. ``conv_tiles.png``: a 3x3 kernel slid over a 5x5 input, tile by tile, giving a
   3x3 output; every tile's products and sum are shown (and printed).
2. ``smoothing.png``: noisy laser measurements of a spaceship's position and
   their causal weighted moving average with exponentially decaying weights.
3. ``filters.png``: box blur, Gaussian blur, line detectors and the Sobel edge
   magnitude on scikit-image's cat photo (``skimage.data.chelsea``).
4. ``feature_maps.png``: the cat through convolution, ReLU and 2x2 max pooling
   with hand-made and random 3x3 filters.
5. ``relu_family.png``: ReLU and its relatives, with their derivatives.

Every figure is an importable function of a :class:`Config`; ``--only`` picks
some of them.
"""

import argparse
import dataclasses
import logging
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from jaxcnn import kernels, ops

log = logging.getLogger("lecture")

FIGURES = ("conv_tiles", "smoothing", "filters", "feature_maps", "relu_family")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the lecture figures.

    Attributes:
      seed: seed of every random draw (tile input, noise, random filters).
      cat_step: keep every ``cat_step``-th pixel of the cat (1 = full 300x451).
      signal_length: number of position measurements in the smoothing figure.
      noise_std: standard deviation of the laser noise, in km.
      window: number of weights of the moving average.
      decay: ratio between consecutive exponential weights (newest first).
      dpi: resolution of the PNGs.
    """

    seed: int = 0
    cat_step: int = 1
    signal_length: int = 200
    noise_std: float = 6.0
    window: int = 15
    decay: float = 0.8
    dpi: int = 100


# -- 1. tile by tile ---------------------------------------------------------


def tile_input(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The 5x5 input (small integers) and the 3x3 kernel (Sobel along x)."""
    image = np.random.default_rng(seed).integers(0, 10, size=(5, 5))
    return image.astype(np.float32), np.asarray(kernels.sobel("x"))


def tile_by_tile(image: np.ndarray, kernel: np.ndarray) -> list[dict]:
    """Slides ``kernel`` over ``image`` (no padding, stride 1), one tile at a time.

    Cross-correlation, as in CNN layers: ``out[i, j] = sum_uv image[i+u, j+v]
    * kernel[u, v]``.

    Args:
      image: ``(H, W)``.
      kernel: ``(kH, kW)``.

    Returns:
      One dict per output position in row-major order, with ``row``, ``col``,
      the ``tile`` ``(kH, kW)``, the elementwise ``products`` and their ``sum``.
    """
    kh, kw = kernel.shape
    tiles = []
    for i in range(image.shape[0] - kh + 1):
        for j in range(image.shape[1] - kw + 1):
            tile = image[i : i + kh, j : j + kw]
            products = tile * kernel
            tiles.append(
                dict(row=i, col=j, tile=tile, products=products, sum=products.sum())
            )
    return tiles


def _num(v: float) -> str:
    return f"{v:g}" if v >= 0 else f"({v:g})"


def tiles_as_text(tiles: list[dict], kernel: np.ndarray) -> str:
    """The tile-by-tile computation as text, one block per output value."""
    lines = ["kernel:", *("  " + " ".join(f"{v:4g}" for v in r) for r in kernel)]
    for t in tiles:
        terms = " + ".join(
            f"{_num(a)}*{_num(k)}"
            for a, k in zip(t["tile"].ravel(), kernel.ravel(), strict=True)
        )
        lines.append(f"out[{t['row']}, {t['col']}] = {terms} = {t['sum']:g}")
    return "\n".join(lines)


def _draw_grid(ax, values, title, highlight=None, notes=None) -> None:
    """Draws a small matrix with its numbers; optional highlighted window."""
    h, w = values.shape
    ax.imshow(np.zeros((h, w)), cmap="Greys", vmin=0, vmax=1)
    if highlight is not None:
        r, c, kh, kw = highlight
        ax.add_patch(
            Rectangle((c - 0.5, r - 0.5), kw, kh, fc="#ffe08a", ec="#d62728", lw=2.5)
        )
    for i in range(h):
        for j in range(w):
            text = f"{values[i, j] + 0.0:g}"
            if notes is not None and notes[i][j]:
                ax.text(
                    j,
                    i + 0.3,
                    notes[i][j],
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="#d62728",
                )
                ax.text(j, i - 0.12, text, ha="center", va="center", fontsize=11)
            else:
                ax.text(j, i, text, ha="center", va="center", fontsize=11)
    for k in range(h + 1):
        ax.axhline(k - 0.5, color="0.6", lw=0.8)
    for k in range(w + 1):
        ax.axvline(k - 0.5, color="0.6", lw=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def figure_conv_tiles(config: Config, out_dir: pathlib.Path) -> pathlib.Path:
    """Figure 1: the 3x3 kernel over the 5x5 input, tile by tile.

    The output is computed twice: tile by tile in NumPy (drawn and printed)
    and by :func:`jaxcnn.kernels.filter2d`; the two must agree.
    """
    image, kernel = tile_input(config.seed)
    tiles = tile_by_tile(image, kernel)
    print(tiles_as_text(tiles, kernel))
    direct = np.asarray(kernels.filter2d(image[..., None], kernel, padding="VALID"))
    out = np.array([t["sum"] for t in tiles]).reshape(direct.shape[:2])
    if not np.allclose(out, direct[..., 0], atol=1e-4):
        raise RuntimeError("tile-by-tile sums differ from kernels.filter2d")
    fig = Figure(figsize=(11, 14.5), dpi=config.dpi, layout="constrained")
    axes = fig.subplots(4, 3)
    _draw_grid(axes[0, 0], image, "input (5x5)")
    _draw_grid(axes[0, 1], kernel, "kernel (3x3): Sobel along x")
    _draw_grid(axes[0, 2], out, "output (3x3)")
    kh, kw = kernel.shape
    for t, ax in zip(tiles, axes[1:].ravel(), strict=True):
        notes = [[""] * image.shape[1] for _ in range(image.shape[0])]
        for u in range(kh):
            for v in range(kw):
                product = t["products"][u, v] + 0.0  # + 0.0 turns -0 into 0
                notes[t["row"] + u][t["col"] + v] = f"×{_num(kernel[u, v])}={product:g}"
        title = f"out[{t['row']}, {t['col']}] = sum of products = {t['sum']:g}"
        _draw_grid(ax, image, title, (t["row"], t["col"], kh, kw), notes)
    fig.suptitle("A 3x3 kernel slid over a 5x5 input (stride 1, no padding)")
    return _save(fig, out_dir / "conv_tiles.png")


# -- 2. smoothing a noisy position -------------------------------------------


def spaceship_signal(config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (s), true positions (km) and noisy laser measurements (km)."""
    rng = np.random.default_rng(config.seed)
    t = np.arange(config.signal_length, dtype=np.float32)
    # a spaceship drifting outwards while it swings back and forth
    true = 50.0 + 0.1 * t + 20.0 * np.sin(2 * np.pi * t / config.signal_length)
    noisy = true + rng.normal(0.0, config.noise_std, t.shape)
    return t, true.astype(np.float32), noisy.astype(np.float32)


def smooth_signal(noisy: np.ndarray, window: int, decay: float) -> np.ndarray:
    """Causal weighted average with exponential weights (valid part)."""
    weights = kernels.exponential_weights(window, decay)
    return np.asarray(kernels.smooth1d(jnp.asarray(noisy), weights))


def figure_smoothing(config: Config, out_dir: pathlib.Path) -> pathlib.Path:
    """Figure 2: noisy position measurements and their weighted-average smoothing."""
    t, true, noisy = spaceship_signal(config)
    weights = np.asarray(kernels.exponential_weights(config.window, config.decay))
    smooth = smooth_signal(noisy, config.window, config.decay)
    plain = smooth_signal(noisy, config.window, 1.0)
    ts = t[config.window - 1 :]
    fig = Figure(figsize=(12, 4.8), dpi=config.dpi, layout="constrained")
    ax_w, ax = fig.subplots(1, 2, width_ratios=[1, 3])
    ax_w.stem(np.arange(config.window), weights)
    ax_w.set(
        xlabel="age a (samples back)",
        ylabel="weight w(a)",
        title=f"exponential weights, decay {config.decay:g}",
    )
    ax.plot(t, noisy, ".", ms=3, color="0.55", label=_rmse("measured", noisy, true))
    ax.plot(t, true, color="k", lw=1.2, label="true position")
    ax.plot(
        ts,
        plain,
        color="#2ca02c",
        lw=1.4,
        label=_rmse("plain moving average", plain, true[config.window - 1 :]),
    )
    ax.plot(
        ts,
        smooth,
        color="#d62728",
        lw=1.8,
        label=_rmse("exponential weights", smooth, true[config.window - 1 :]),
    )
    ax.set(
        xlabel="time t (s)",
        ylabel="position (km)",
        title=f"s(t) = sum_a x(t - a) w(a), window {config.window}",
    )
    ax.legend(fontsize=9)
    fig.suptitle("Noisy laser measurements of a spaceship's position, smoothed")
    return _save(fig, out_dir / "smoothing.png")


def _rmse(name: str, estimate: np.ndarray, true: np.ndarray) -> str:
    return f"{name} (RMSE {np.sqrt(np.mean((estimate - true) ** 2)):.2f} km)"


# -- 3. classic filters on the cat -------------------------------------------


def load_cat(step: int = 1) -> np.ndarray:
    """scikit-image's ``chelsea`` photo as float32 ``(H, W, 3)`` in ``[0, 1]``."""
    from skimage import data

    return (data.chelsea()[::step, ::step] / 255.0).astype(np.float32)


def grey(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an ``(H, W, 3)`` image, kept as ``(H, W, 1)``."""
    return (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


def classic_filters(cat: np.ndarray) -> dict[str, np.ndarray]:
    """Box and Gaussian blur (colour), line responses and Sobel magnitude (grey)."""
    out = _classic_filters(jnp.asarray(cat), jnp.asarray(grey(cat)))
    return {"original": cat} | {k: np.asarray(v) for k, v in out.items()}


@jax.jit  # one compilation for all the filters
def _classic_filters(cat: jax.Array, g: jax.Array) -> dict[str, jax.Array]:
    out = {
        "box blur 9x9": kernels.filter2d(cat, kernels.box_blur(9)),
        "Gaussian blur, sigma 3": kernels.filter2d(cat, kernels.gaussian(3.0)),
    }
    gx = kernels.filter2d(g, kernels.sobel("x"))
    gy = kernels.filter2d(g, kernels.sobel("y"))
    out["Sobel edge magnitude"] = jnp.sqrt(gx**2 + gy**2)
    for angle in kernels.LINE_ANGLES:
        response = ops.relu(kernels.filter2d(g, kernels.line(angle)))
        out[f"line detector {angle} deg"] = response
    return out


def _show(ax, image: np.ndarray, title: str) -> None:
    if image.shape[-1] == 1:
        top = np.percentile(image, 99.5) or 1.0
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=top)
    else:
        ax.imshow(np.clip(image, 0, 1))
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def figure_filters(config: Config, out_dir: pathlib.Path) -> pathlib.Path:
    """Figure 3: blur, line detection and edge detection on the cat."""
    results = classic_filters(load_cat(config.cat_step))
    fig = Figure(figsize=(16, 6.4), dpi=config.dpi, layout="constrained")
    for ax, (title, image) in zip(
        fig.subplots(2, 4).ravel(), results.items(), strict=True
    ):
        _show(ax, image, title)
    fig.suptitle(
        "Classic 3x3 (and larger) kernels applied with kernels.filter2d; "
        "detector responses: ReLU of the filter output, grey image"
    )
    return _save(fig, out_dir / "filters.png")


# -- 4. conv -> ReLU -> max pool ---------------------------------------------


def feature_filters(seed: int) -> tuple[list[str], np.ndarray]:
    """Four hand-made 3x3 filters and two random ones, as an HWIO ``(3, 3, 1, 6)``."""
    random = np.random.default_rng(seed).normal(0.0, 1.0, (2, 3, 3))
    random -= random.mean(axis=(1, 2), keepdims=True)  # zero sum: no flat response
    named = {
        "Sobel x": kernels.sobel("x"),
        "Sobel y": kernels.sobel("y"),
        "Laplacian": kernels.laplacian(),
        "line 45 deg": kernels.line(45),
        "random 1": random[0],
        "random 2": random[1],
    }
    stack = np.stack([np.asarray(k, np.float32) for k in named.values()], axis=-1)
    return list(named), stack[:, :, None, :]


def feature_maps(cat: np.ndarray, kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Convolution (SAME), ReLU and 2x2 max pooling of the grey cat.

    Returns:
      ``{"conv": (H, W, K), "relu": (H, W, K), "pool": (H//2, W//2, K)}``.
    """
    return _feature_maps(jnp.asarray(grey(cat))[None], jnp.asarray(kernel))


@jax.jit
def _feature_maps(x: jax.Array, kernel: jax.Array) -> dict[str, jax.Array]:
    conv = ops.conv(x, kernel, padding="SAME")
    relu = ops.relu(conv)
    pool = ops.max_pool(relu, (2, 2))
    return {"conv": conv[0], "relu": relu[0], "pool": pool[0]}


def figure_feature_maps(config: Config, out_dir: pathlib.Path) -> pathlib.Path:
    """Figure 4: feature maps after convolution, ReLU and max pooling."""
    names, kernel = feature_filters(config.seed)
    maps = {
        k: np.asarray(v)
        for k, v in feature_maps(load_cat(config.cat_step), kernel).items()
    }
    fig = Figure(figsize=(13, 2.3 * len(names)), dpi=config.dpi, layout="constrained")
    axes = fig.subplots(len(names), 4, width_ratios=[0.45, 1, 1, 1])
    for k, name in enumerate(names):
        _draw_grid(axes[k, 0], np.round(kernel[:, :, 0, k], 2), name)
        bound = np.percentile(np.abs(maps["conv"][..., k]), 99.5) or 1.0
        axes[k, 1].imshow(maps["conv"][..., k], cmap="RdBu_r", vmin=-bound, vmax=bound)
        for col, stage in ((2, "relu"), (3, "pool")):
            axes[k, col].imshow(maps[stage][..., k], cmap="magma", vmin=0, vmax=bound)
        shapes = {s: maps[s].shape[:2] for s in maps}
        titles = (
            f"conv {shapes['conv']} (red +, blue -)",
            f"ReLU {shapes['relu']}",
            f"2x2 max pool {shapes['pool']}",
        )
        for col, title in zip((1, 2, 3), titles, strict=True):
            axes[k, col].set_title(title, fontsize=9)
            axes[k, col].axis("off")
    fig.suptitle("Feature maps of the grey cat: convolution, ReLU, max pooling")
    return _save(fig, out_dir / "feature_maps.png")


# -- 5. the ReLU family ------------------------------------------------------


def relu_family() -> dict[str, callable]:
    """The activations plotted, by label, all from :mod:`jaxcnn.ops`."""
    return {
        "relu": ops.relu,
        "leaky_relu (slope 0.1)": lambda x: ops.leaky_relu(x, 0.1),
        "elu": ops.elu,
        "selu": ops.selu,
        "gelu": ops.gelu,
        "silu (swish)": ops.silu,
        "softplus": ops.softplus,
        "mish": ops.mish,
        "relu6": ops.relu6,
        "hard_swish": ops.hard_swish,
    }


@jax.jit  # one compilation for every curve and derivative
def _family_curves(x: jax.Array) -> tuple[dict, dict]:
    family = relu_family()
    values = {name: fn(x) for name, fn in family.items()}
    grads = {name: jax.vmap(jax.grad(fn))(x) for name, fn in family.items()}
    return values, grads


def figure_relu_family(config: Config, out_dir: pathlib.Path) -> pathlib.Path:
    """Figure 5: each member of the ReLU family and its derivative on ``[-4, 7]``."""
    x = jnp.linspace(-4.0, 7.0, 1101)
    family = relu_family()
    values, grads = _family_curves(x)
    fig = Figure(figsize=(16, 6.6), dpi=config.dpi, layout="constrained")
    axes = fig.subplots(2, (len(family) + 1) // 2, sharex=True, sharey=True)
    for ax, name in zip(axes.ravel(), family, strict=True):
        ax.plot(x, values["relu"], color="0.75", lw=3, label="relu")
        ax.plot(x, values[name], color="#1f77b4", lw=1.8, label="f(x)")
        ax.plot(x, grads[name], color="#d62728", lw=1.4, ls="--", label="f'(x)")
        ax.axhline(0, color="0.6", lw=0.7)
        ax.axvline(0, color="0.6", lw=0.7)
        ax.set_title(name, fontsize=11)
        ax.set_ylim(-2.0, 7.2)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=9, loc="upper left")
    fig.suptitle(
        "The ReLU family from jaxcnn.ops: f (blue), its derivative by "
        "jax.grad (red, dashed), relu for reference (grey)"
    )
    return _save(fig, out_dir / "relu_family.png")


# -- main --------------------------------------------------------------------


def _save(fig: Figure, path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def make_figures(config: Config, out_dir: pathlib.Path, only=FIGURES) -> list:
    """Writes the chosen figures and returns their paths."""
    makers = {
        "conv_tiles": figure_conv_tiles,
        "smoothing": figure_smoothing,
        "filters": figure_filters,
        "feature_maps": figure_feature_maps,
        "relu_family": figure_relu_family,
    }
    paths = []
    for name in only:
        if name not in makers:
            raise ValueError(f"only must name figures from {FIGURES}; got {name!r}")
        start = time.perf_counter()
        paths.append(makers[name](config, out_dir))
        log.info("%s: %s (%.1f s)", name, paths[-1], time.perf_counter() - start)
    return paths


def main(argv=None) -> None:
    """Parses the flags and writes the figures."""
    d = Config()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/lecture"))
    p.add_argument("--only", default=",".join(FIGURES), help="comma-separated")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--cat-step", type=int, default=d.cat_step)
    p.add_argument("--window", type=int, default=d.window)
    p.add_argument("--decay", type=float, default=d.decay)
    p.add_argument("--dpi", type=int, default=d.dpi)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = dataclasses.replace(
        d, seed=a.seed, cat_step=a.cat_step, window=a.window, decay=a.decay, dpi=a.dpi
    )
    log.info("config: %s", config)
    make_figures(config, a.out, [s.strip() for s in a.only.split(",") if s.strip()])


if __name__ == "__main__":
    main()
