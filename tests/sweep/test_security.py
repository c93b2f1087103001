"""No file a user can supply is ever unpickled (issue 5).

A grep over the package finds every use of ``pickle``, ``joblib.load``,
``torch.load`` and ``np.load``; each must be safe:

* ``torch.load`` only with ``weights_only=True``;
* ``np.load`` never with ``allow_pickle=True``;
* ``joblib.load`` (a pickle) only in the MTCNN weight loader, on the bytes of
  a file under the installed ``mtcnn`` package's own directory whose SHA-256
  is that of mtcnn 1.0.0's file, behind a public function that takes no path;
* ``pickle`` not at all; the CIFAR-10 reader reads the binary format (a pickle
  of the Python version is rejected without being unpickled).
"""

import ast
import inspect
import os
import pickle
import re

import numpy as np
import pytest

import jaxcnn
from jaxcnn import data
from jaxcnn.mtcnn import weights

PACKAGE = os.path.dirname(os.path.abspath(jaxcnn.__file__))
RISKY = re.compile(
    r"\b(pickle\b|joblib\.load\b|torch\.load\b|np\.load\b|numpy\.load\b)"
)


def _sources():
    for root, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, PACKAGE), f.read()


def _calls(tree: ast.AST):
    """(dotted name, call node) for every call in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func), node


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return ast.literal_eval(kw.value)
    return None


def test_no_pickle_import_anywhere():
    for rel, source in _sources():
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                module = getattr(node, "module", None) or ""
                assert "pickle" not in names + [module], f"{rel} imports pickle"
                assert not module.startswith(("pickle", "dill", "cloudpickle"))


def test_every_risky_load_is_safe():
    seen = []
    for rel, source in _sources():
        for name, call in _calls(ast.parse(source)):
            if not RISKY.search(name):
                continue
            seen.append((rel, name))
            if name == "torch.load":
                assert _keyword(call, "weights_only") is True, f"{rel}: {name}"
            elif name in ("np.load", "numpy.load"):
                assert _keyword(call, "allow_pickle") is not True, f"{rel}: {name}"
            elif name == "joblib.load":
                assert rel == os.path.join("mtcnn", "weights.py"), rel
            else:
                pytest.fail(f"{rel}: unexpected {name}")
    # The grep must see the known loaders, or it is looking in the wrong place.
    kinds = {name for _, name in seen}
    assert {"torch.load", "joblib.load", "np.load"} <= kinds, seen


def test_joblib_reads_only_the_installed_mtcnn_package():
    source = inspect.getsource(weights._read_mtcnn_net)
    tree = ast.parse(source)
    (func,) = tree.body
    # The function's only parameter is the net name, checked against NETS by
    # its callers; the path is built from the package directory.
    assert [a.arg for a in func.args.args] == ["net"]
    loads = [c for n, c in _calls(tree) if n == "joblib.load"]
    # it unpickles the bytes it read from path, after checking their digest
    assert len(loads) == 1 and ast.unparse(loads[0].args[0]) == "io.BytesIO(payload)"
    assert "digest != _MTCNN_SHA256[net]" in source
    assert source.index("raise ValueError") < source.index("joblib.load")
    assigns = [
        n for n in ast.walk(tree) if isinstance(n, ast.Assign)
        and ast.unparse(n.targets[0]) == "path"
    ]  # fmt: skip
    assert len(assigns) == 1
    built = ast.unparse(assigns[0].value)
    assert built.startswith("os.path.join(_package_dir('mtcnn'), 'assets', 'weights'")
    # Callers pass only names from NETS; the public loader takes no path.
    assert list(inspect.signature(weights.load_params).parameters) == ["source"]
    with pytest.raises(ValueError, match="source"):
        weights.load_params("/tmp/evil.lz4")


def test_cifar_reader_never_unpickles(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the CIFAR-10 reader tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    # The CIFAR-10 *Python* version: a pickled dict (here made without pickle's
    # patched loaders; dumping is harmless).
    blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]})
    path = tmp_path / "data_batch_1"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match="data_batch_1"):
        data.read_cifar10_batch(path)
    good = tmp_path / "data_batch_1.bin"
    pixels = (np.arange(3072) * 7 % 251).astype(np.uint8)
    good.write_bytes((bytes([7]) + pixels.tobytes()) * 2)
    images, labels = data.read_cifar10_batch(good)
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [7, 7]
    # R, G and B planes, each row-major, become the channels-last axis.
    planes = pixels.reshape(3, 32, 32)
    np.testing.assert_array_equal(images[1], planes.transpose(1, 2, 0))
