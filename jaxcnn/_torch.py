"""Reading PyTorch state dicts safely (the optional ``torch`` extra)."""

import os

from jaxcnn import _checks


def _reason(err: Exception) -> str:
    """The informative line of a torch.load error.

    For files that the weights-only unpickler refuses, torch's first line
    suggests retrying with ``weights_only=False``, which is the unsafe load
    this module exists to avoid. The line after "WeightsUnpickler error:"
    (the real reason) is used instead.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            detail = rest or (lines[i + 1] if i + 1 < len(lines) else "")
            return f"not a weights-only file ({detail or type(err).__name__})"
    return lines[0] if lines else type(err).__name__


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
      ValueError: if ``path`` is a directory, or torch cannot read it, or it
        holds anything but a dict of names to tensors.
    """
    path = _checks.check_path(path, "path")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a PyTorch weights file")
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
        raise ValueError(
            f"cannot read {path} as a PyTorch state dict: {_reason(err)}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not a state dict (names to "
            f"tensors)"
        )
    return state
