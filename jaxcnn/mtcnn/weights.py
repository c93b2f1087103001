"""The released MTCNN weights, read from installed packages.

Two sources give the same arrays (a test checks it):

* ``"mtcnn"``: the PyPI package ``mtcnn`` (ipazc, 1.0.0) ships
  ``assets/weights/{pnet,rnet,onet}.lz4``, joblib + lz4 lists of float32
  arrays, already in (kH, kW, I, O) layout for images in normal (H, W) order.
  The files are located from the installed distribution's metadata (importing
  ``mtcnn`` would import TensorFlow) and read only from that package's own
  directory: joblib files are pickles, so no user path is ever accepted for
  them, and a file is unpickled only if its SHA-256 is that of the file
  ``mtcnn`` 1.0.0 ships (a look-alike package earlier on ``sys.path``, e.g. in
  the working directory under ``python -m``, cannot smuggle in another pickle).
* ``"facenet-pytorch"``: facenet-pytorch's ``data/{pnet,rnet,onet}.pt`` state
  dicts, read with ``torch.load(weights_only=True)`` (no arbitrary
  unpickling); needs the optional ``torch`` extra.

Both keep the dense layers' input in (W, H, C) order; ``jaxcnn.mtcnn.nets``
flattens accordingly.
"""

import functools
import hashlib
import importlib.metadata
import io
import os

import jax.numpy as jnp
import numpy as np

from jaxcnn import _checks, _torch
from jaxcnn.mtcnn.nets import ARCHITECTURES

NETS = ("pnet", "rnet", "onet")
SOURCES = ("mtcnn", "facenet-pytorch")

# Layer order inside the ``mtcnn`` package's arrays (each layer: kernel, bias;
# PReLU: alpha). Its heads come box first, then landmarks, then class.
_MTCNN_ORDER = {
    "pnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3")
    + ("conv4_2", "conv4_1"),
    "rnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3")
    + ("dense4", "prelu4", "dense5_2", "dense5_1"),
    "onet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3")
    + ("conv4", "prelu4", "dense5", "prelu5", "dense6_2", "dense6_3", "dense6_1"),
}


# SHA-256 of assets/weights/<net>.lz4 in mtcnn 1.0.0 (the version pyproject.toml
# pins): the only bytes this module will unpickle.
_MTCNN_SHA256 = {
    "pnet": "ea6b0c3e685ebee3165326ad6484acc95f2ef78f1c94fbf40a55704fa989f7b5",
    "rnet": "cb00e6460f3c98b0bfafaba3c0a0ded4bdf6e62cee7174d969e8670d7e757fee",
    "onet": "94f6ea2f4cf985275ee958cdd762d17b6009348a4fb9d8c6be39ba73ffd22ca3",
}

# More than the largest of them (onet.lz4, 1,557,637 bytes): a read stops here.
_MTCNN_MAX_BYTES = 2**21

# Installed distribution that ships each package's files.
_DISTRIBUTIONS = {"mtcnn": "mtcnn", "facenet_pytorch": "facenet-pytorch"}


def _package_dir(package: str) -> str:
    """Returns the directory of an installed package without importing it.

    The directory comes from the distribution metadata that
    ``importlib.metadata`` finds on ``sys.path``; that can be a look-alike (the
    working directory is on ``sys.path`` under ``python -m``), so callers check
    what they read (``_read_mtcnn_net``: SHA-256 before unpickling).
    """
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTIONS[package])
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the {package!r} package is not installed; it ships the MTCNN weights"
        ) from None
    return os.fspath(dist.locate_file(package))


def _expected_shapes(net: str) -> dict:
    return {name: shape for name, _, shape in ARCHITECTURES[net]}


def _check_shapes(params: dict, net: str, source: str) -> None:
    for name, shape in _expected_shapes(net).items():
        for key, leaf in params[name].items():
            want = shape[-1:] if key == "bias" else shape
            if leaf.shape != want:
                raise ValueError(
                    f"{source} weights of {net}.{name}.{key}: expected shape "
                    f"{want}, got {leaf.shape}"
                )


def _read_mtcnn_net(net: str) -> dict:
    import joblib  # local: only this loader needs it

    path = os.path.join(_package_dir("mtcnn"), "assets", "weights", f"{net}.lz4")
    try:
        with open(path, "rb") as f:
            payload = f.read(_MTCNN_MAX_BYTES)  # bounded: may be a device file
    except OSError as err:
        raise FileNotFoundError(
            f"cannot read {os.path.abspath(path)} ({err.strerror or err}); the "
            f"MTCNN weights come from mtcnn 1.0.0: pip install mtcnn==1.0.0"
        ) from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != _MTCNN_SHA256[net]:
        raise ValueError(
            f"{os.path.abspath(path)} is not the {net}.lz4 that mtcnn 1.0.0 ships "
            f"(SHA-256 {digest}, expected {_MTCNN_SHA256[net]}); it is a pickle, "
            f"so it is not read. Reinstall with: pip install mtcnn==1.0.0"
        )
    # Unpickle the bytes that were checked, not the path again.
    arrays = list(joblib.load(io.BytesIO(payload)))
    params = {}
    for name in _MTCNN_ORDER[net]:
        if name.startswith("prelu"):
            params[name] = {"alpha": np.asarray(arrays.pop(0)).reshape(-1)}
        else:
            kernel, bias = arrays.pop(0), arrays.pop(0)
            params[name] = {"kernel": np.asarray(kernel), "bias": np.asarray(bias)}
    if arrays:
        raise ValueError(f"mtcnn weights of {net}: {len(arrays)} unexpected arrays")
    return params


def _torch_to_layer(state: dict, name: str) -> dict:
    if name.startswith("prelu"):
        return {"alpha": state[f"{name}.weight"]}
    kernel = state[f"{name}.weight"]
    # torch conv (O, I, kH, kW) -> (kH, kW, I, O); torch dense (O, I) -> (I, O)
    kernel = kernel.transpose(2, 3, 1, 0) if kernel.ndim == 4 else kernel.T
    return {"kernel": np.ascontiguousarray(kernel), "bias": state[f"{name}.bias"]}


def _read_torch_net(directory: str, net: str) -> dict:
    path = os.path.join(directory, f"{net}.pt")
    state = _torch.load_state_dict(path)
    state = {k: v.detach().numpy() for k, v in state.items()}
    try:
        return {name: _torch_to_layer(state, name) for name, _, _ in ARCHITECTURES[net]}
    except KeyError as err:
        raise ValueError(
            f"{path} is not facenet-pytorch's {net}: it has no tensor {err.args[0]!r}"
        ) from None


def _to_jax(params: dict) -> dict:
    return {
        layer: {k: jnp.asarray(v, jnp.float32) for k, v in leaves.items()}
        for layer, leaves in params.items()
    }


@functools.cache
def _load_cached(source: str) -> dict:
    return load_params(source)


def load_params(source: str = "mtcnn") -> dict:
    """Loads the released P-Net, R-Net and O-Net weights.

    Args:
      source: ``"mtcnn"`` (the ``mtcnn`` package's arrays, the default) or
        ``"facenet-pytorch"`` (its ``.pt`` files, needs torch).

    Returns:
      ``{"pnet": ..., "rnet": ..., "onet": ...}``, each a parameter dict as
      described in ``jaxcnn.mtcnn.nets``.
    """
    _checks.check_choice(source, "source", SOURCES)
    if source == "facenet-pytorch":
        return load_torch_params()
    params = {net: _read_mtcnn_net(net) for net in NETS}
    for net in NETS:
        _check_shapes(params[net], net, source)
    return {net: _to_jax(p) for net, p in params.items()}


def load_torch_params(directory: str | os.PathLike | None = None) -> dict:
    """Loads facenet-pytorch's ``pnet.pt``, ``rnet.pt`` and ``onet.pt``.

    Safe for user paths: tensors are read with ``torch.load(weights_only=True)``.

    Args:
      directory: the folder holding the three files; default: the installed
        facenet-pytorch package's ``data/`` folder (found without importing it).
    """
    if directory is None:
        directory = os.path.join(_package_dir("facenet_pytorch"), "data")
    directory = _checks.check_path(directory, "directory")
    if not os.path.isdir(directory):
        raise ValueError(f"directory must be an existing folder; got {directory!r}")
    for net in NETS:
        path = os.path.join(directory, f"{net}.pt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"directory {directory!r} has no {net}.pt")
    params = {net: _read_torch_net(directory, net) for net in NETS}
    for net in NETS:
        _check_shapes(params[net], net, "facenet-pytorch")
    return {net: _to_jax(p) for net, p in params.items()}


def default_params() -> dict:
    """The shipped ``mtcnn`` weights, loaded once per process and cached."""
    return _load_cached("mtcnn")
