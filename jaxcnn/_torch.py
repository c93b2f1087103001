"""Reading PyTorch state dicts safely (the optional ``torch`` extra)."""

import os

from jaxcnn import _checks


def load_state_dict(path) -> dict:
    """Reads a PyTorch state dict with ``torch.load(path, weights_only=True)``.

    ``weights_only`` restricts unpickling to tensors and plain containers, so a
    file a user passes cannot run code. A checkpoint that wraps the weights as
    ``{"state_dict": ...}`` is unwrapped.

    Args:
      path: a ``.pt`` / ``.pth`` file.

    Returns:
      The state dict: names to ``torch.Tensor``.

    Raises:
      ImportError: if torch is not installed (``pip install torch==2.13.0``,
        the ``torch`` extra).
      FileNotFoundError: if ``path`` does not exist.
      ValueError: if torch cannot read it as a state dict.
    """
    path = _checks.check_path(path, "path")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            f"reading {path} needs torch: pip install torch==2.13.0 "
            "(jaxcnn's 'torch' extra)"
        ) from err
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises unpickling, zip and runtime errors
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ValueError(
            f"cannot read {path} as a PyTorch state dict: {first}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return state
