"""Face verification protocol: LFW ``pairs.txt`` and 10-fold accuracy, VAL, FAR.

The procedure follows davidsandberg/facenet's ``lfw.py`` / ``facenet.py``
(SPECS B6, C), re-implemented with NumPy:

* Folds are consecutive blocks of pairs (unshuffled k-fold; the first
  ``n % k`` folds get one pair more).
* A pair is predicted "same" when ``distance < threshold`` (strict).
* Accuracy: for each test fold, the threshold of :data:`ACCURACY_THRESHOLDS`
  with the best accuracy on the other folds (the first one on ties) is applied
  to the test fold.
* VAL at FAR: on the other folds, FAR is computed at every threshold of
  :data:`VAL_THRESHOLDS`; the threshold where FAR reaches ``far_target`` is
  found by linear interpolation (0 when FAR never reaches it; where FAR equals
  the target on a run of thresholds, the largest of them, as scipy's
  ``interp1d(kind="slinear")`` in the reference) and VAL and FAR are measured
  with it on the test fold.
* AUC: the trapezoid area under the ROC of :data:`ACCURACY_THRESHOLDS`, each
  point being the mean over the test folds of (FAR, TAR).

These are host-side (NumPy) functions: they run once per evaluation.
"""

import os
from typing import NamedTuple

import numpy as np

from jaxcnn import _checks

#: Threshold grids of davidsandberg/facenet for squared distances of unit
#: vectors (range [0, 4]); SPECS B6.
ACCURACY_THRESHOLDS = np.arange(0, 4, 0.01)
VAL_THRESHOLDS = np.arange(0, 4, 0.001)
#: The FaceNet paper's headline operating point (FN-paper section 4).
FAR_TARGET = 1e-3


class Pair(NamedTuple):
    """One line of ``pairs.txt``: two images ``(name, number)`` and the label."""

    name1: str
    number1: int
    name2: str
    number2: int
    is_same: bool
    fold: int


def _parse_header(fields: list[str], line: str) -> tuple[int, int]:
    try:
        numbers = [int(f) for f in fields]
    except ValueError:
        numbers = []
    if len(numbers) == 2 and min(numbers) > 0:
        return numbers[0], numbers[1]
    if len(numbers) == 1 and numbers[0] > 0:
        return 1, numbers[0]
    raise ValueError(
        "pairs.txt must start with a header 'folds<TAB>pairs' (e.g. '10\\t300') or "
        f"'pairs'; got {line!r}"
    )


def _parse_pair(fields: list[str], lineno: int) -> tuple:
    try:
        if len(fields) == 3:
            return fields[0], int(fields[1]), fields[0], int(fields[2]), True
        if len(fields) == 4:
            return fields[0], int(fields[1]), fields[2], int(fields[3]), False
    except ValueError:
        pass
    raise ValueError(
        f"pairs.txt line {lineno} must be 'name n1 n2' or 'name1 n1 name2 n2'; "
        f"got {' '.join(fields)!r}"
    )


def parse_pairs(text: str) -> list[Pair]:
    """Parses the text of an LFW ``pairs.txt`` file.

    The header gives the number of folds and the number of same pairs per fold
    (``10<TAB>300``; a single number means one fold). Each fold then lists that
    many "same" lines ``name n1 n2`` and as many "different" lines
    ``name1 n1 name2 n2``. Fields may be separated by tabs or spaces.

    Returns:
      The pairs in file order, each with its fold index.

    Raises:
      ValueError: for a bad header, a malformed line (its number is given) or a
        pair count that differs from the header's.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, f) for i, f in lines if f]
    if not lines:
        raise ValueError("pairs.txt is empty")
    n_folds, per_fold = _parse_header(lines[0][1], " ".join(lines[0][1]))
    body = lines[1:]
    if len(body) != 2 * n_folds * per_fold:
        raise ValueError(
            f"pairs.txt header promises {n_folds} folds x {2 * per_fold} pairs = "
            f"{2 * n_folds * per_fold} lines; got {len(body)}"
        )
    pairs = []
    for k, (lineno, fields) in enumerate(body):
        pairs.append(Pair(*_parse_pair(fields, lineno), fold=k // (2 * per_fold)))
    return pairs


def read_pairs(path) -> list[Pair]:
    """Reads and parses a ``pairs.txt`` file (see :func:`parse_pairs`)."""
    path = _checks.check_path(path, "path")
    try:
        with open(path, encoding="utf-8") as f:
            return parse_pairs(f.read())
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def image_path(root, name: str, number: int, ext: str = "jpg") -> str:
    """LFW's file layout: ``<root>/<name>/<name>_<number:04d>.<ext>``."""
    return os.path.join(os.fspath(root), name, f"{name}_{number:04d}.{ext}")


def fold_indices(n: int, n_folds: int) -> list[np.ndarray]:
    """Consecutive folds of ``range(n)``; the first ``n % n_folds`` are larger.

    This is the split of scikit-learn's unshuffled ``KFold``.
    """
    return np.array_split(np.arange(n), n_folds)


def _rates(distances, is_same, thresholds):
    """True-accept rate, false-accept rate and accuracy at each threshold.

    Counts of ``distance < t`` come from binary searches in the sorted
    distances, so memory stays ``O(P + T)`` for ``P`` pairs, ``T`` thresholds.
    """
    same = np.sort(distances[is_same])
    diff = np.sort(distances[~is_same])
    tp = np.searchsorted(same, thresholds, side="left")
    fp = np.searchsorted(diff, thresholds, side="left")
    tn = diff.size - fp
    tar = tp / same.size if same.size else np.zeros(len(thresholds))
    far = fp / diff.size if diff.size else np.zeros(len(thresholds))
    return tar, far, (tp + tn) / distances.size


def _far_threshold(far, thresholds, far_target):
    """Threshold where the (non-decreasing) ``far`` curve reaches the target.

    The rule of davidsandberg/facenet's ``calculate_val``, which evaluates
    ``scipy.interpolate.interp1d(far, thresholds, kind="slinear")`` at the
    target: take the last grid point ``i`` with ``far[i] <= far_target``;

    * ``far[i] == far_target``: ``thresholds[i]``. On a plateau of equal FARs
      this is the plateau's *last* (largest) threshold, the one with the best
      VAL at that FAR; scipy's degree-1 spline picks the same point.
    * ``far[i] < far_target``: linear interpolation between grid points ``i``
      and ``i + 1`` (``far[i + 1] > far_target``, so the slope is finite).

    Where scipy has no answer this returns a finite one: 0 when FAR never
    reaches the target (davidsandberg's rule), ``thresholds[0]`` when the
    target lies below ``far[0]`` (scipy raises "below the interpolation
    range"), and the last threshold of a plateau that ends the grid at the
    target (scipy's spline evaluates to 0 on that zero-length last piece).
    Never NaN or inf for finite inputs.
    """
    if np.max(far) < far_target:
        return 0.0
    i = int(np.searchsorted(far, far_target, side="right")) - 1
    if i < 0:
        return float(thresholds[0])
    if far[i] == far_target:
        return float(thresholds[i])
    slope = (thresholds[i + 1] - thresholds[i]) / (far[i + 1] - far[i])
    return float(thresholds[i] + slope * (far_target - far[i]))


def _check_grid(grid, name: str) -> np.ndarray:
    """A threshold grid: 1-D, finite and strictly increasing (FAR then rises)."""
    _checks.check_rank(grid, name, 1, "(T,)")
    _checks.check_real_array(grid, name, kinds="iuf")
    g = np.asarray(grid, np.float64)
    if g.size == 0 or not np.all(np.isfinite(g)) or np.any(np.diff(g) <= 0):
        raise ValueError(
            f"{name} must be a non-empty, finite, strictly increasing grid; "
            f"got {g.size} values {np.array2string(g, threshold=6)}"
        )
    return g


def _check_pairs(distances, is_same, n_folds, far_target):
    _checks.check_rank(distances, "distances", 1, "(P,)")
    _checks.check_rank(is_same, "is_same", 1, "(P,)")
    _checks.check_real_array(distances, "distances", kinds="iuf")
    d, s = np.asarray(distances, np.float64), np.asarray(is_same)
    if s.dtype != bool:
        raise TypeError(f"is_same must be a boolean array; got dtype {s.dtype}")
    if d.shape != s.shape:
        raise ValueError(
            f"is_same must have the shape of distances {d.shape}; got {s.shape}"
        )
    if not np.all(np.isfinite(d)):
        raise ValueError("distances must be finite; got NaN or inf")
    if not isinstance(n_folds, int) or not 2 <= n_folds <= d.size:
        raise ValueError(
            f"n_folds must be an int in [2, number of pairs = {d.size}]; "
            f"got {n_folds!r}"
        )
    if not 0 < far_target < 1:
        raise ValueError(f"far_target must be in (0, 1); got {far_target!r}")
    return d, s


def evaluate_pairs(
    distances,
    is_same,
    *,
    n_folds: int = 10,
    far_target: float = FAR_TARGET,
    thresholds=None,
    val_thresholds=None,
) -> dict:
    """Verification metrics of davidsandberg/facenet (see the module notes).

    Args:
      distances: ``(P,)`` distances of the pairs, in fold order (for
        :func:`parse_pairs` output, the file order).
      is_same: ``(P,)`` booleans, True for same-identity pairs.
      n_folds: number of consecutive folds (10 for LFW).
      far_target: the false accept rate for VAL (1e-3 in the paper).
      thresholds: grid for accuracy and AUC (default
        :data:`ACCURACY_THRESHOLDS`, for squared distances of unit vectors).
      val_thresholds: grid for VAL (default :data:`VAL_THRESHOLDS`).

    Returns:
      A dict of floats: ``accuracy`` and ``accuracy_std`` (mean and population
      standard deviation over the test folds), ``threshold`` (mean of the
      per-fold chosen thresholds), ``val``, ``val_std`` and ``far`` (VAL at the
      interpolated FAR threshold, mean/std over folds, and the mean measured
      FAR), ``auc``, plus ``fold_accuracy`` and ``fold_threshold`` lists.

    Raises:
      ValueError: for mismatched shapes, non-finite distances, a bad
        ``n_folds`` or ``far_target``, or a threshold grid that is not 1-D,
        finite and strictly increasing.
      TypeError: if ``is_same`` is not boolean or a grid is not numeric.
    """
    d, s = _check_pairs(distances, is_same, n_folds, far_target)
    grid = ACCURACY_THRESHOLDS if thresholds is None else thresholds
    grid = _check_grid(grid, "thresholds")
    val_grid = VAL_THRESHOLDS if val_thresholds is None else val_thresholds
    val_grid = _check_grid(val_grid, "val_thresholds")
    accs, chosen, vals, fars, roc = [], [], [], [], []
    for test in fold_indices(d.size, n_folds):
        train = np.setdiff1d(np.arange(d.size), test)
        best = grid[int(np.argmax(_rates(d[train], s[train], grid)[2]))]
        accs.append(_rates(d[test], s[test], np.array([best]))[2][0])
        chosen.append(best)
        tar_test, far_test, _ = _rates(d[test], s[test], grid)
        roc.append((far_test, tar_test))
        far_train = _rates(d[train], s[train], val_grid)[1]
        t = _far_threshold(far_train, val_grid, far_target)
        val, far, _ = _rates(d[test], s[test], np.array([t]))
        vals.append(val[0])
        fars.append(far[0])
    mean_far = np.mean([r[0] for r in roc], axis=0)
    mean_tar = np.mean([r[1] for r in roc], axis=0)
    return {
        "accuracy": float(np.mean(accs)),
        "accuracy_std": float(np.std(accs)),
        "threshold": float(np.mean(chosen)),
        "val": float(np.mean(vals)),
        "val_std": float(np.std(vals)),
        "far": float(np.mean(fars)),
        "auc": float(np.trapezoid(mean_tar, mean_far)),
        "fold_accuracy": [float(a) for a in accs],
        "fold_threshold": [float(t) for t in chosen],
    }
