"""Smoke test of research/lecture.py: every figure at small size under tmp_path."""

import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxcnn import kernels
from tests.research.scripts import load_script
from tests.tolerances import assert_close

lecture = load_script("lecture.py")


def test_tile_by_tile_equals_direct_computation():
    """Each tile's sum equals a direct sliding-window sum and kernels.filter2d."""
    image, kernel = lecture.tile_input(3)
    tiles = lecture.tile_by_tile(image, kernel)
    assert len(tiles) == 9
    direct = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            for u in range(3):
                for v in range(3):
                    direct[i, j] += float(image[i + u, j + v]) * float(kernel[u, v])
    got = np.array([t["sum"] for t in tiles]).reshape(3, 3)
    np.testing.assert_array_equal(got, direct)  # small integers: exact
    filtered = kernels.filter2d(jnp.asarray(image)[..., None], kernel, padding="VALID")
    assert_close(filtered[..., 0], direct, jnp.float32)
    t = tiles[5]  # row 1, column 2
    assert (t["row"], t["col"]) == (1, 2)
    np.testing.assert_array_equal(t["products"], image[1:4, 2:5] * kernel)


def test_tiles_text_lists_every_product():
    image, kernel = lecture.tile_input(0)
    tiles = lecture.tile_by_tile(image, kernel)
    text = lecture.tiles_as_text(tiles, kernel)
    lines = [s for s in text.splitlines() if s.startswith("out[")]
    assert len(lines) == 9
    assert all(s.count("*") == 9 for s in lines)
    assert lines[0].endswith(f"= {tiles[0]['sum']:g}")


def test_smoothing_reduces_the_error():
    """The exponential moving average is closer to the truth than the raw data."""
    config = lecture.Config()
    _, true, noisy = lecture.spaceship_signal(config)
    smooth = lecture.smooth_signal(noisy, config.window, config.decay)
    assert smooth.shape == (config.signal_length - config.window + 1,)
    tail = true[config.window - 1 :]
    raw_err = np.sqrt(np.mean((noisy[config.window - 1 :] - tail) ** 2))
    assert np.sqrt(np.mean((smooth - tail) ** 2)) < 0.6 * raw_err


def test_feature_maps_shapes():
    cat = lecture.load_cat(8)
    names, kernel = lecture.feature_filters(0)
    maps = lecture.feature_maps(cat, kernel)
    h, w = cat.shape[:2]
    assert maps["conv"].shape == (h, w, len(names))
    assert maps["pool"].shape == (h // 2, w // 2, len(names))
    assert float(jnp.min(maps["relu"])) >= 0


def test_all_figures_written(tmp_path, capsys):
    """make_figures writes the five PNGs; the tiles are printed to stdout."""
    config = lecture.Config(cat_step=6, signal_length=60, window=5, dpi=40)
    paths = lecture.make_figures(config, tmp_path)
    assert [p.name for p in paths] == [f"{n}.png" for n in lecture.FIGURES]
    for path in paths:
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG"
    assert "out[2, 2] =" in capsys.readouterr().out


def test_main_writes_the_chosen_figures(tmp_path, capsys):
    """main() with flags: the PNGs ``--only`` names, under ``--out``, and no others."""
    out = tmp_path / "figures"
    lecture.main(
        ["--out", str(out), "--only", "conv_tiles, relu_family", "--cat-step", "6",
         "--window", "5", "--dpi", "40"]
    )  # fmt: skip
    names = ["conv_tiles.png", "relu_family.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        with Image.open(out / name) as image:
            assert round(image.info["dpi"][0]) == 40  # --dpi reached the figure
            image.verify()
            assert image.format == "PNG"
    assert "out[2, 2] =" in capsys.readouterr().out


def test_main_writes_all_five_figures_by_default(tmp_path):
    lecture.main(["--out", str(tmp_path), "--cat-step", "6", "--dpi", "40"])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{n}.png" for n in lecture.FIGURES)
    for name in written:
        with Image.open(tmp_path / name) as image:
            image.verify()
            assert image.format == "PNG"
