"""Padding resolution shared by convolution and pooling.

Every windowed op in :mod:`jaxcnn.ops` accepts the same ``padding`` forms and
turns them into explicit ``(low, high)`` pairs, one per spatial axis, with
:func:`resolve_padding`. The string forms follow TensorFlow / XLA:

* ``'VALID'``: no padding; windows that do not fit are dropped.
* ``'SAME'``: pad so that ``out = ceil(in / stride)``. The total pad of an axis
  is ``max((out - 1) * stride + dilated_window - in, 0)``, where
  ``dilated_window = (window - 1) * dilation + 1``; when it is odd the extra
  element goes on the high side (TensorFlow's rule).
* ``'SAME_LOWER'``: as ``'SAME'`` but the odd extra element goes on the low side
  (ONNX's ``SAME_LOWER``).

Strings are matched without regard to case. An ``int`` pads both sides of every
spatial axis by that amount; a sequence of ``(low, high)`` pairs gives one pair
per spatial axis. Pads must be non-negative (no cropping).
"""

from collections.abc import Sequence

import numpy as np

PADDING_STRINGS = ("VALID", "SAME", "SAME_LOWER")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_sizes(values, n: int, name: str, minimum: int) -> tuple[int, ...]:
    values = tuple(values)
    if len(values) != n or not all(_is_int(v) for v in values):
        raise ValueError(f"{name} must be {n} ints; got {values!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must all be >= {minimum}; got {values!r}")
    return tuple(int(v) for v in values)


def dilated_sizes(window_sizes: Sequence[int], dilations: Sequence[int]):
    """Returns the extent ``(k - 1) * d + 1`` of each dilated window axis."""
    return tuple((k - 1) * d + 1 for k, d in zip(window_sizes, dilations, strict=True))


def _same_pads(in_sizes, window_sizes, strides, dilations, lower: bool):
    pads = []
    for size, extent, stride in zip(
        in_sizes, dilated_sizes(window_sizes, dilations), strides, strict=True
    ):
        out = -(-size // stride)  # ceil(size / stride)
        total = max((out - 1) * stride + extent - size, 0)
        small, big = total // 2, total - total // 2
        pads.append((big, small) if lower else (small, big))
    return tuple(pads)


def _explicit_pads(padding, n: int) -> tuple[tuple[int, int], ...]:
    expected = f"an int or a sequence of {n} (low, high) pairs of ints"
    try:
        pairs = [tuple(pair) for pair in padding]
    except TypeError:
        raise ValueError(
            f"padding must be one of {PADDING_STRINGS}, {expected}; got {padding!r}"
        ) from None
    if len(pairs) != n:
        raise ValueError(
            f"padding must have one (low, high) pair per spatial axis ({n}); "
            f"got {len(pairs)} in {padding!r}"
        )
    if not all(len(p) == 2 and _is_int(p[0]) and _is_int(p[1]) for p in pairs):
        raise ValueError(f"padding must be {expected}; got {padding!r}")
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"padding must be non-negative; got {padding!r}")
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def resolve_padding(
    padding,
    in_sizes: Sequence[int],
    window_sizes: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[tuple[int, int], ...]:
    """Turns any accepted ``padding`` form into explicit ``(low, high)`` pairs.

    Args:
      padding: ``'VALID'``, ``'SAME'``, ``'SAME_LOWER'`` (any case), a
        non-negative int (both sides of every axis), or a sequence with one
        non-negative ``(low, high)`` pair of ints per spatial axis.
      in_sizes: the spatial input sizes, e.g. ``(H, W)``; each >= 0.
      window_sizes: the (undilated) window or kernel sizes, one per axis; >= 1.
      strides: the window strides, one per axis; >= 1.
      dilations: the window dilations, one per axis; >= 1 (use 1 for pooling).

    Returns:
      A tuple with one ``(low, high)`` pair of Python ints per spatial axis.

    Raises:
      ValueError: naming ``padding`` for an unknown string, a negative pad, a
        pair that is not two ints or the wrong number of pairs; naming
        ``in_sizes``, ``window_sizes``, ``strides`` or ``dilations`` when those
        do not hold one valid int per axis. Callers that expose other argument
        names (``kernel``, ``window_shape``) should check them first.

    Example:
      >>> resolve_padding("SAME", (5,), (4,), (1,), (1,))
      ((1, 2),)
      >>> resolve_padding("SAME_LOWER", (5,), (4,), (1,), (1,))
      ((2, 1),)
      >>> resolve_padding(1, (5, 5), (3, 3), (1, 1), (1, 1))
      ((1, 1), (1, 1))
    """
    n = len(tuple(in_sizes))
    in_sizes = _check_sizes(in_sizes, n, "in_sizes", 0)
    window_sizes = _check_sizes(window_sizes, n, "window_sizes", 1)
    strides = _check_sizes(strides, n, "strides", 1)
    dilations = _check_sizes(dilations, n, "dilations", 1)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in PADDING_STRINGS:
            raise ValueError(
                f"padding must be one of {PADDING_STRINGS} (any case), an int, or "
                f"(low, high) pairs; got the unknown string {padding!r}"
            )
        if mode == "VALID":
            return ((0, 0),) * n
        lower = mode == "SAME_LOWER"
        return _same_pads(in_sizes, window_sizes, strides, dilations, lower)
    if _is_int(padding):
        if padding < 0:
            raise ValueError(f"padding must be non-negative; got {padding}")
        return ((int(padding), int(padding)),) * n
    return _explicit_pads(padding, n)


def output_sizes(
    in_sizes: Sequence[int],
    pads: Sequence[tuple[int, int]],
    window_sizes: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...]:
    """Floor-mode output sizes ``(in + lo + hi - dilated_k) // s + 1`` per axis.

    Assumes every window fits (see :func:`check_window_fits`).
    """
    extents = dilated_sizes(window_sizes, dilations)
    return tuple(
        (size + lo + hi - extent) // stride + 1
        for size, (lo, hi), extent, stride in zip(
            in_sizes, pads, extents, strides, strict=True
        )
    )


def check_window_fits(
    in_sizes: Sequence[int],
    pads: Sequence[tuple[int, int]],
    window_sizes: Sequence[int],
    dilations: Sequence[int],
    window_name: str = "window",
) -> None:
    """Raises ValueError if a dilated window is larger than the padded input.

    Args:
      in_sizes: spatial input sizes.
      pads: ``(low, high)`` pairs from :func:`resolve_padding`.
      window_sizes: undilated window sizes.
      dilations: window dilations (1 for pooling).
      window_name: the caller's argument name for the window, used in the
        message (e.g. ``'kernel'`` or ``'window_shape'``).
    """
    extents = dilated_sizes(window_sizes, dilations)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(in_sizes, pads, strict=True))
    if any(e > p for e, p in zip(extents, padded, strict=True)):
        raise ValueError(
            f"{window_name} window (spatial extent {extents} after dilation) is "
            f"larger than the padded input (spatial size {padded}, from input "
            f"{tuple(in_sizes)} and padding {tuple(pads)})"
        )
