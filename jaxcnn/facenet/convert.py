"""Weights for the FaceNet networks: facenet-pytorch import and an ``.npz`` format.

* :func:`from_facenet_pytorch` converts a facenet-pytorch ``InceptionResnetV1``
  ``state_dict`` (a mapping of names to arrays or tensors) into Flax variables
  for :class:`jaxcnn.facenet.InceptionResnetV1`: convolution kernels OIHW to
  HWIO, linear weights (out, in) to (in, out), batch-norm ``weight``/``bias`` to
  ``scale``/``bias`` and ``running_mean``/``running_var`` to the ``batch_stats``
  collection. The classifier head (``logits.*``) and ``num_batches_tracked`` are
  dropped.
* :func:`load_torch_state_dict` reads a ``.pt`` file with
  ``torch.load(path, weights_only=True)`` (never a full unpickle); it needs the
  optional ``torch`` extra.
* :func:`save_npz` / :func:`load_npz` store variables as plain arrays under
  ``/``-joined paths (``params/conv2d_1a/conv/kernel``) plus ``meta/arch`` and
  other ``meta/*`` strings, read back with ``allow_pickle=False``.
"""

import os
import zipfile

import jax
import numpy as np

from jaxcnn import _checks, _torch

_BN_LEAVES = {
    "weight": ("params", "scale"),
    "bias": ("params", "bias"),
    "running_mean": ("batch_stats", "mean"),
    "running_var": ("batch_stats", "var"),
}
_SKIPPED_LEAVES = ("num_batches_tracked",)
_SKIPPED_PREFIXES = ("logits.",)


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, converted without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _module_path(names: list[str]) -> tuple[str, ...]:
    """Joins list indices to the module name before them.

    ``["repeat_1", "0", "branch1", "1", "conv"]`` becomes
    ``("repeat_1_0", "branch1_1", "conv")``.
    """
    path: list[str] = []
    for name in names:
        if name.isdigit() and path:
            path[-1] = f"{path[-1]}_{name}"
        else:
            path.append(name)
    return tuple(path)


def _convert_leaf(module: tuple[str, ...], leaf: str, value: np.ndarray):
    """Returns ``(collection, path, array)`` for one state-dict entry."""
    is_bn = module[-1] in ("bn", "last_bn")
    if is_bn:
        if leaf not in _BN_LEAVES:
            raise ValueError(f"state_dict has an unknown batch-norm entry {leaf!r}")
        collection, name = _BN_LEAVES[leaf]
        return collection, (*module, name), value
    if leaf == "bias":
        return "params", (*module, "bias"), value
    if leaf != "weight":
        raise ValueError(f"state_dict has an unknown entry {leaf!r} in {module}")
    if value.ndim == 4:  # OIHW -> HWIO
        return "params", (*module, "kernel"), value.transpose(2, 3, 1, 0)
    if value.ndim == 2:  # (out, in) -> (in, out)
        return "params", (*module, "kernel"), value.T
    raise ValueError(f"state_dict weight {module} has unexpected shape {value.shape}")


def _insert(tree: dict, path: tuple[str, ...], value) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def from_facenet_pytorch(state_dict) -> dict:
    """Converts a facenet-pytorch ``InceptionResnetV1`` state dict to variables.

    Args:
      state_dict: mapping from PyTorch parameter names to tensors or arrays.

    Returns:
      ``{"params": ..., "batch_stats": ...}`` of float32 NumPy arrays, ready for
      ``InceptionResnetV1().apply``. Use :func:`check_variables` to compare the
      tree with a model's.

    Raises:
      TypeError: if ``state_dict`` is not a mapping.
      ValueError: for an entry that is not part of ``InceptionResnetV1``.
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping; got {type(state_dict)}")
    variables: dict = {"params": {}, "batch_stats": {}}
    for key, value in state_dict.items():
        if key.startswith(_SKIPPED_PREFIXES) or key.endswith(_SKIPPED_LEAVES):
            continue
        *modules, leaf = key.split(".")
        if not modules:
            raise ValueError(f"state_dict has an unexpected top-level entry {key!r}")
        collection, path, array = _convert_leaf(
            _module_path(modules), leaf, _to_numpy(value)
        )
        _insert(variables[collection], path, np.ascontiguousarray(array))
    return variables


def _flat_shapes(tree) -> dict[str, tuple[int, ...]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        "/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(v))
        for path, v in flat
    }


def check_variables(variables, expected, name: str = "weights") -> None:
    """Raises ValueError unless ``variables`` matches ``expected``'s tree.

    ``expected`` gives the paths and shapes, e.g. ``jax.eval_shape(model.init,
    ...)``.
    The message lists the first missing, unexpected or mis-shaped entries.
    """
    got, want = _flat_shapes(variables), _flat_shapes(expected)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if missing or extra or wrong:
        details = [
            f"missing {missing[:5]}" if missing else "",
            f"unexpected {extra[:5]}" if extra else "",
            "wrong shapes "
            + ", ".join(f"{k}: {got[k]} (want {want[k]})" for k in wrong[:5])
            if wrong
            else "",
        ]
        raise ValueError(
            f"{name} do not match the model: " + "; ".join(d for d in details if d)
        )


def load_torch_state_dict(path) -> dict:
    """Reads a PyTorch state dict with ``torch.load(path, weights_only=True)``.

    Raises:
      ImportError: if torch is not installed (``pip install torch==2.13.0``,
        the ``torch`` extra).
      FileNotFoundError: if ``path`` does not exist.
      ValueError: if ``path`` is a directory, or torch cannot read it, or it
        holds anything but a dict of names to tensors.
    """
    return _torch.load_state_dict(path)


def save_npz(path, variables, **meta: str) -> None:
    """Writes variables and ``meta`` strings to an uncompressed ``.npz`` file.

    Args:
      path: the file to write.
      variables: a nested dict of arrays (e.g. ``{"params": ..., ...}``).
      **meta: strings stored as ``meta/<key>`` (e.g. ``arch="small"``).
    """
    path = _checks.check_path(path, "path")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"path {path!r}: no such directory {folder!r}")
    arrays = {key: np.asarray(value) for key, value in _flat_items(variables)}
    for key, value in meta.items():
        arrays[f"meta/{key}"] = np.asarray(str(value))
    np.savez(path, **arrays)


def _flat_items(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    for path, value in flat:
        yield "/".join(str(getattr(k, "key", k)) for k in path), value


def load_npz(path) -> tuple[dict, dict[str, str]]:
    """Reads a file written by :func:`save_npz`.

    Returns:
      ``(variables, meta)``: the nested dict of arrays and the ``meta`` strings.

    Raises:
      FileNotFoundError: if ``path`` does not exist.
      ValueError: if the file holds object arrays (pickles are never loaded).
    """
    path = _checks.check_path(path, "path")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return _read_npz(path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ValueError(f"cannot read {path} as .npz weights: {first}") from None


def _read_npz(path: str) -> tuple[dict, dict[str, str]]:
    variables: dict = {}
    meta: dict[str, str] = {}
    data = np.load(path, allow_pickle=False)
    if not hasattr(data, "files"):
        raise ValueError("a single .npy array, not an .npz archive")
    with data:
        for key in data.files:
            parts = tuple(key.split("/"))
            if parts[0] == "meta":
                meta["/".join(parts[1:])] = str(data[key])
            else:
                _insert(variables, parts, data[key])
    return variables, meta
