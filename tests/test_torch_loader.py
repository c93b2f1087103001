"""``jaxcnn._torch.load_state_dict``: the one reader of PyTorch weight files."""

import importlib.util

import pytest

from jaxcnn import _torch
from jaxcnn.mtcnn import weights

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs the torch extra"
)


def test_reads_a_state_dict_and_unwraps_a_checkpoint(tmp_path):
    import torch

    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "wrapped.pt")
    for name in ("plain.pt", "wrapped.pt"):
        state = _torch.load_state_dict(tmp_path / name)
        assert list(state) == ["w"] and state["w"].tolist() == [1.0, 1.0]


class _Custom:
    """A class the weights-only unpickler does not allow."""


def _weights_only_refused(path):
    import torch

    torch.save({"w": _Custom()}, path)


@pytest.mark.parametrize(
    "write, match",
    [
        (lambda p, torch: torch.save([1, 2], p), "holds a list, not a state dict"),
        (lambda p, torch: torch.save(torch.zeros(2), p), "holds a Tensor"),
        (lambda p, torch: torch.save({"state_dict": [1]}, p), "holds a list"),
        (lambda p, torch: p.write_bytes(b"nonsense"), "not a weights-only file"),
        (lambda p, torch: _weights_only_refused(p), "Unsupported global"),
    ],
    ids=["list", "tensor", "wrapped-list", "garbage", "custom-class"],
)
def test_refuses_what_is_not_a_state_dict(tmp_path, write, match):
    import torch

    path = tmp_path / "w.pt"
    write(path, torch)
    with pytest.raises(ValueError, match=match) as info:
        _torch.load_state_dict(path)
    assert str(path) in str(info.value)
    # never the advice to retry the unsafe load
    assert "weights_only` set to `False`" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        _torch.load_state_dict(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="is a directory"):
        _torch.load_state_dict(tmp_path)


def test_mtcnn_import_names_a_missing_layer(tmp_path):
    import torch

    for net in weights.NETS:
        torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / f"{net}.pt")
    with pytest.raises(ValueError, match=r"pnet.pt is not facenet-pytorch's pnet.*"):
        weights.load_torch_params(tmp_path)
