"""Smoke test of research/playground.py: tiny runs, files under tmp_path."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.research.scripts import load_script

playground = load_script("playground.py")


def test_main_writes_png_and_json(tmp_path):
    """main() with small flags writes a valid PNG and the metrics as JSON."""
    playground.main(
        ["--dataset", "circle", "--steps", "20", "--n", "60", "--layers", "3",
         "--reg", "l1", "--reg-rate", "0.001", "--batch-size", "16",
         "--out", str(tmp_path)]
    )  # fmt: skip
    with Image.open(tmp_path / "circle.png") as image:
        image.verify()
        assert image.format == "PNG" and min(image.size) > 200
    record = json.loads((tmp_path / "circle.json").read_text())
    assert record["config"]["layers"] == [3]
    assert record["config"]["reg"] == "l1"
    assert np.isfinite(record["metrics"]["test_loss"])
    assert 0 <= record["metrics"]["test_accuracy"] <= 1


def test_flags_override_presets():
    """Presets give each data set its layers and features; flags win over them."""
    configs, out = playground.parse_args(["--dataset", "all", "--steps", "5"])
    assert [c.dataset for c in configs] == list(playground.pg.DATASETS)
    assert all(c.steps == 5 for c in configs)
    by_name = {c.dataset: c for c in configs}
    assert by_name["spiral"].features == ("x1", "x2", "sin_x1", "sin_x2")
    assert by_name["plane"].layers == ()
    (xor,), _ = playground.parse_args(["--dataset", "xor", "--features", "x1_x2"])
    assert xor.features == ("x1_x2",) and xor.layers == (4,)


def test_penalty_rates_maps_reg():
    config = playground.Config(reg="l2", reg_rate=0.5)
    assert playground.penalty_rates(config) == (0.0, 0.5)
    with pytest.raises(ValueError, match="reg"):
        playground.penalty_rates(playground.Config(reg="l3"))
