"""The helpers research/_script.py gives the research scripts."""

import argparse
import dataclasses

import jax
import numpy as np
import pytest

from jaxcnn import data
from tests.research.scripts import load_script
from tests.tolerances import assert_close

helpers = load_script("_script.py")


@dataclasses.dataclass(frozen=True)
class Settings:
    epochs: float = 6.0
    seed: int = 0
    task: str = "ten"


def test_log_entry_formats_floats_to_four_places(capsys):
    helpers.log_entry({"step": 3, "loss": 0.123456, "finite": True, "tag": "a"})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "step=3 loss=0.1235 finite=True tag=a\n"


def test_config_from_flags_overrides_only_given_fields():
    flags = argparse.Namespace(epochs=2.5, seed=None, task="cat", out="runs/x")
    assert helpers.config_from_flags(Settings, flags) == Settings(2.5, 0, "cat")
    assert helpers.config_from_flags(Settings, argparse.Namespace()) == Settings()


def write_empty_cifar10(folder):
    """Empty files under every CIFAR-10 batch name: enough for the lookup."""
    for name in data.CIFAR10_TRAIN_FILES + data.CIFAR10_TEST_FILES:
        (folder / name).write_bytes(b"")


def test_find_data_prints_the_error_and_returns_none(tmp_path, capsys):
    assert helpers.find_data("cifar-10", tmp_path) is None
    err = capsys.readouterr().err
    assert err.startswith("error: CIFAR-10 binary files not found")
    assert str(tmp_path) in err and "cifar-10-binary.tar.gz" in err
    write_empty_cifar10(tmp_path)
    assert helpers.find_data("cifar-10", tmp_path) == tmp_path
    with pytest.raises(ValueError, match="name"):
        helpers.find_data("mnist", tmp_path)  # a programming error is not caught


def test_run_experiment_prints_the_summary(tmp_path, capsys):
    write_empty_cifar10(tmp_path)
    calls = []

    def experiment(config, data_dir):
        calls.append((config, data_dir))
        return {"accuracy": 0.5}

    flags = argparse.Namespace(data_dir=str(tmp_path), seed=4, epochs=None)
    assert helpers.run_experiment(flags, Settings, "cifar-10", experiment) == 0
    assert calls == [(Settings(seed=4), tmp_path)]
    assert capsys.readouterr().out == '{\n  "accuracy": 0.5\n}\n'
    flags.data_dir = str(tmp_path / "absent")
    assert helpers.run_experiment(flags, Settings, "cifar-10", experiment) == 2
    assert len(calls) == 1  # not run without data
    assert capsys.readouterr().err.startswith("error: CIFAR-10 binary files")


def test_standard_transform_standardises_and_augments():
    images = np.zeros((8, 4, 5, 2), np.uint8)
    images[..., 0] = 255
    images[:, :, 0, 1] = 51  # the first column of channel 1: 0.2
    transform = helpers.standard_transform((0.5, 0.0), (0.5, 0.1), crop_padding=0)
    expected = np.zeros((8, 4, 5, 2), np.float32)
    expected[..., 0] = 1.0  # (1 - 0.5) / 0.5
    expected[:, :, 0, 1] = 2.0  # (0.2 - 0) / 0.1
    x = np.asarray(transform(None, images, False))
    assert x.dtype == np.float32
    assert_close(x, expected)
    key = jax.random.key(0)
    flipped = np.asarray(transform(key, images, True))
    mirrored = [np.array_equal(flipped[i], x[i, :, ::-1]) for i in range(8)]
    same = [np.array_equal(flipped[i], x[i]) for i in range(8)]
    assert np.all(np.logical_or(mirrored, same)) and any(mirrored) and any(same)
    plain = helpers.standard_transform(0.0, 1.0, crop_padding=1, flip=False)
    shifted = np.asarray(plain(key, images, True))
    assert shifted.shape == images.shape
    assert not np.allclose(shifted, np.asarray(plain(key, images, False)))
