"""Naive float64 NumPy references for ``jaxcnn.ops.softmax`` (test oracles only).

Built differently from the JAX ops on purpose:

* every function walks the rows one at a time (the normalised axes are moved
  to the end and flattened);
* softmax uses the pairwise form ``p_i = 1 / sum_j exp(x_j - x_i)``, which
  needs no maximum and maps ``-inf`` entries to 0 through ``1 / inf``;
* log-softmax and the cross-entropy use an explicit log-sum-exp per row, and
  the cross-entropy sums ``t_k * (lse - x_k)`` only over non-zero targets;
* the binary cross-entropy uses ``max(z, 0) - z*y + log1p(exp(-|z|))``.

Masked entries get probability 0 and log-probability ``-inf``; with a mask, a
row with no finite selected entry gives all 0 / all ``-inf``, as the ops
document.
"""

import numpy as np


def _rows(x, axis, where):
    """Moves ``axis`` (int or tuple) to the end; returns rows and an undo."""
    x = np.asarray(x, np.float64)
    axes = tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    keep = [a for a in range(x.ndim) if a not in axes]
    perm = keep + list(axes)
    moved = np.transpose(x, perm)
    lead = moved.shape[: len(keep)]
    rows = moved.reshape(int(np.prod(lead, dtype=int)), -1)
    mask = np.ones(rows.shape, bool)
    if where is not None:
        mask = np.transpose(np.asarray(where, bool), perm).reshape(rows.shape)

    def undo(out_rows):
        out = np.asarray(out_rows).reshape(moved.shape)
        return np.transpose(out, np.argsort(perm))

    return rows, mask, undo


def _softmax_row(row, mask, masked):
    out = np.zeros(len(row))
    if not np.any(np.isfinite(row[mask])):
        # Nothing selected is finite: zeros with a mask, else NaN like jax.nn.
        return out if masked else np.full(len(row), np.nan)
    with np.errstate(over="ignore"):
        for i in range(len(row)):
            if mask[i] and row[i] > -np.inf:  # a -inf entry keeps probability 0
                total = sum(np.exp(row[j] - row[i]) for j in range(len(row)) if mask[j])
                out[i] = 1.0 / total
    return out


def softmax(x, axis=-1, where=None):
    """Row-by-row pairwise softmax in float64."""
    rows, mask, undo = _rows(x, axis, where)
    masked = where is not None
    return undo([_softmax_row(r, m, masked) for r, m in zip(rows, mask, strict=True)])


def _logsumexp(values):
    values = [v for v in values]
    if not values:
        return -np.inf
    top = max(values)
    if np.isinf(top):
        return top if top < 0 else np.nan
    return top + np.log(sum(np.exp(v - top) for v in values))


def log_softmax(x, axis=-1, where=None):
    """Row-by-row ``x_i - logsumexp(x)`` in float64; masked entries ``-inf``."""
    rows, mask, undo = _rows(x, axis, where)
    out = np.full(rows.shape, -np.inf)
    for r in range(rows.shape[0]):
        lse = _logsumexp(rows[r][mask[r]])
        if where is not None and lse == -np.inf:
            continue  # nothing selected is finite: all -inf, as the op documents
        with np.errstate(invalid="ignore"):  # -inf - -inf: NaN rows, as jax.nn
            for i in range(rows.shape[1]):
                if mask[r, i]:
                    out[r, i] = rows[r, i] - lse
    return undo(out)


def softmax_cross_entropy(logits, labels, label_smoothing=0.0):
    """Per-example ``sum_k t_k (lse - x_k)`` over non-zero targets, float64.

    ``labels`` are integer ids (shape ``logits.shape[:-1]``) or probabilities.
    """
    z = np.asarray(logits, np.float64)
    k = z.shape[-1]
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.integer):
        targets = np.zeros(z.shape)
        for idx in np.ndindex(labels.shape):
            targets[idx + (int(labels[idx]),)] = 1.0
    else:
        targets = labels.astype(np.float64)
    targets = (1.0 - label_smoothing) * targets + label_smoothing / k
    out = np.zeros(z.shape[:-1])
    for idx in np.ndindex(out.shape):
        lse = _logsumexp(list(z[idx]))
        pairs = zip(targets[idx], z[idx], strict=True)
        out[idx] = sum(t * (lse - v) for t, v in pairs if t != 0)
    return out


def sigmoid_binary_cross_entropy(logits, labels):
    """Element-wise ``max(z, 0) - z*y + log1p(exp(-|z|))`` in float64."""
    z = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
