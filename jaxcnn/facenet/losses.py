"""Metric-learning losses on a batch of embeddings with integer identity labels.

Every loss takes ``embeddings`` of shape ``(B, E)`` (``B`` examples, ``E``
embedding dimensions; FaceNet uses ``E = 128``) and ``labels`` of shape ``(B,)``.
All of them have fixed output shapes and use masks instead of data-dependent
indexing, so they work under ``jax.jit`` and ``jax.grad``. Memory is ``O(B^2)``:
no ``(B, B, B)`` tensor is ever built, so a batch of 1,800 (the paper's batch
size, SPECS B2) fits easily.

Where a batch holds no valid pair or triplet the loss is ``0.0`` with a finite
(zero) gradient, never ``0 / 0``.

References:
  Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face
  Recognition and Clustering", CVPR 2015 (arXiv 1503.03832), sections 3.1-3.2.
  Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person
  Re-Identification", arXiv 1703.07737 (batch-hard, batch-all).
  Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant
  Mapping", CVPR 2006 (contrastive loss).
  Wen, Zhang, Li and Qiao, "A Discriminative Feature Learning Approach for Deep
  Face Recognition", ECCV 2016 (center loss).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import _checks

#: The triplet margin alpha of FaceNet [FN-paper section 3.3].
FACENET_MARGIN = 0.2

MINING_MODES = ("semihard", "hard", "all")


def _check_embeddings(embeddings, name: str = "embeddings") -> None:
    _checks.check_rank(embeddings, name, 2, "(B, E)")
    _checks.check_floating(embeddings, name)


def _check_labels(labels, embeddings) -> None:
    _checks.check_rank(labels, "labels", 1, "(B,)")
    dtype = _checks.dtype_of(labels)
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"labels must have an integer dtype; got {dtype}")
    n_labels, n_embeddings = (
        _checks.shape_of(labels)[0],
        _checks.shape_of(embeddings)[0],
    )
    if n_labels != n_embeddings:
        raise ValueError(
            f"labels must have one entry per row of embeddings ({n_embeddings}); "
            f"got shape {_checks.shape_of(labels)}"
        )


def _check_margin(margin) -> None:
    if isinstance(margin, (int, float, np.number)) and not isinstance(margin, bool):
        if not np.isfinite(margin) or margin < 0:
            raise ValueError(f"margin must be a finite number >= 0; got {margin!r}")
    elif not hasattr(margin, "shape") or np.ndim(margin) != 0:
        raise TypeError(f"margin must be a scalar; got {margin!r}")


def _safe_sqrt(x):
    """``sqrt(x)`` for ``x >= 0`` with gradient 0 (not inf) where ``x == 0``."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def pairwise_distances(embeddings, *, squared: bool = True):
    r"""All pairwise Euclidean distances in a batch.

    .. math:: D_{ij} = \lVert x_i - x_j \rVert_2^2 =
              \lVert x_i \rVert^2 - 2 x_i \cdot x_j + \lVert x_j \rVert^2

    computed from the Gram matrix (``O(B^2)`` memory), clamped at 0, made exactly
    symmetric and exactly 0 on the diagonal. With ``squared=False`` the square
    root has gradient 0 where a distance is 0 (for example duplicate rows), so one
    duplicate pair cannot turn a whole batch gradient into NaN (case B17).

    Args:
      embeddings: ``(B, E)`` floating array.
      squared: return squared distances (FaceNet's similarity, SPECS B1) if True,
        plain Euclidean distances if False.

    Returns:
      ``(B, B)`` array of the dtype of ``embeddings``.

    Raises:
      ValueError: if ``embeddings`` is not rank 2.
      TypeError: if ``embeddings`` is not floating.
    """
    _check_embeddings(embeddings)
    return _distances(jnp.asarray(embeddings), squared, symmetric=True)


def _distances(x, squared: bool, symmetric: bool):
    """:func:`pairwise_distances` without the checks.

    ``symmetric=False`` skips the exact symmetrisation, whose transposed read of
    a ``(B, B)`` matrix (forward and backward) costs more than the Gram matmul
    itself on CPU (B = 1,800): the triplet losses read each anchor's row only,
    so they do not need it.
    """
    gram = jnp.matmul(x, x.T, precision=lax.Precision.HIGHEST)
    sq_norms = jnp.sum(x * x, axis=1)
    d2 = sq_norms[:, None] - 2.0 * gram + sq_norms[None, :]
    if symmetric:  # exact symmetry: the matmul need not be symmetric
        d2 = 0.5 * (d2 + d2.T)
    d2 = jnp.maximum(d2, 0.0)
    d2 = jnp.where(jnp.eye(x.shape[0], dtype=bool), jnp.zeros((), d2.dtype), d2)
    return d2 if squared else _safe_sqrt(d2)


def _masks(labels):
    """Returns ``(positive, negative)`` boolean ``(B, B)`` masks.

    ``positive[a, p]``: same label and ``a != p``. ``negative[a, n]``: different
    label.
    """
    labels = jnp.asarray(labels)
    same = labels[:, None] == labels[None, :]
    eye = jnp.eye(labels.shape[0], dtype=bool)
    return same & ~eye, ~same


def _masked_mean(values, mask):
    """Mean of ``values`` where ``mask``; 0 (finite gradient) if the mask is empty."""
    total = jnp.sum(jnp.where(mask, values, 0.0))
    count = jnp.sum(mask)
    return total / jnp.maximum(count, 1).astype(total.dtype), count


#: Anchors per block and positive slots per step of the mining loops. A block's
#: rows (8 x B distances) stay in cache while a group of slots scans them; other
#: sizes timed slower on the 2-core CPU at B = 1,800 (``benchmarks/triplet.py``).
_ANCHOR_BLOCK = 8
_SLOT_GROUP = 16


def _positive_slots(labels):
    """Where every anchor's positives are, for enumerating them slot by slot.

    The labels are sorted once (a ``(B,)`` sort), so each identity's examples are
    contiguous in that order. Returns ``(order, start, count, own)``: ``order``
    the ``(B,)`` sorting permutation and, per anchor ``a``, the position where
    its class block starts in ``order``, its number of positives ``|P(a)|``
    (class count minus one) and its own position inside the block. Slot ``j``
    of anchor ``a`` is ``order[start + j]``, or ``order[start + j + 1]`` from
    ``j = own`` on (skipping the anchor), for ``j < count``.
    """
    b = labels.shape[0]
    if jnp.issubdtype(labels.dtype, jnp.bool_):
        labels = labels.astype(jnp.int32)
    order = jnp.argsort(labels, stable=True)
    ordered = labels[order]
    first = jnp.searchsorted(ordered, ordered, side="left")
    size = jnp.searchsorted(ordered, ordered, side="right") - first
    position = jnp.zeros(b, order.dtype).at[order].set(jnp.arange(b, dtype=order.dtype))
    start = first[position]
    return order, start, size[position] - 1, position - start


def _mine_blocks(labels, rows, fills, body, init):
    """Runs ``body`` over every positive slot, for blocks of anchors.

    Args:
      labels: ``(B,)`` labels.
      rows: tuple of arrays with ``B`` rows (per-anchor data, no gradient).
      fills: one padding value per entry of ``rows`` for the last block.
      body: ``body(block_rows, p, valid, carry) -> carry`` for one group of
        slots, where ``p`` (shape ``(n, G)``) holds the block's anchors'
        positives (column indices) and ``valid`` whether they exist.
      init: ``init(n) -> carry`` for a block of ``n`` anchors.

    Returns:
      The final carries stacked over blocks (leading axis: block).

    The slot count is data-dependent (a ``while`` loop per block, as many trips
    as the block's largest ``|P(a)|`` needs groups of ``G`` slots), so traced
    labels work and no static bound is needed: the work is
    ``O(B^2 max|P(a)|)``, the memory ``O(B^2)``. The loops are not
    differentiated: callers rebuild the gradient.
    """
    b = labels.shape[0]
    order, start, count, own = _positive_slots(labels)
    n = min(_ANCHOR_BLOCK, max(b, 1))
    blocks = -(-b // n)

    def split(x, fill):
        pad = [(0, blocks * n - b)] + [(0, 0)] * (x.ndim - 1)
        x = jnp.pad(x, pad, constant_values=fill)
        return x.reshape((blocks, n) + x.shape[1:])

    slots = tuple(split(x, 0)[..., None] for x in (start, count, own))
    per_row = tuple(split(x, f) for x, f in zip(rows, fills, strict=True))
    group = jnp.arange(_SLOT_GROUP, dtype=order.dtype)

    def one_block(args):
        (start, count, own), block_rows = args

        def step(g, carry):
            j = g * _SLOT_GROUP + group  # (n, G) slot numbers
            k = start + j + (j >= own).astype(start.dtype)  # skip the anchor
            p = order[jnp.minimum(k, b - 1)]
            return body(block_rows, p, j < count, carry)

        trips = -(-jnp.max(count, initial=0) // _SLOT_GROUP)
        return lax.fori_loop(0, trips, step, init(n))

    return lax.map(one_block, (slots, per_row))


def _unblock(x, b):
    """``(blocks, n, ...)`` block outputs back to ``(b, ...)`` rows."""
    return x.reshape((-1,) + x.shape[2:])[:b]


def _count_dtype(dist):
    """Float dtype that counts up to ``B`` exactly (not bfloat16/float16)."""
    return jnp.promote_types(dist.dtype, jnp.float32)


def _with_gradient(value, weights, dist, extra):
    """``value`` in the forward pass, gradient of ``sum(weights * dist) + extra``.

    ``value`` and ``weights`` carry no gradient; the result equals ``value``
    exactly (``s - stop_gradient(s) == 0``) and its gradient is exact because
    the loss is piecewise linear in ``dist`` with the mined ``weights`` (at a
    kink, a term exactly 0, the gradient taken is 0). Computed in ``weights``'
    dtype (at least float32), returned in ``dist``'s.
    """
    acc = weights.dtype
    surrogate = jnp.sum(weights * dist.astype(acc)) + extra.astype(acc)
    loss = value.astype(acc) + (surrogate - lax.stop_gradient(surrogate))
    return loss.astype(dist.dtype)


def _semihard(dist, positive, negative, margin, labels):
    """Paper-style semi-hard mining (FN-paper section 3.2, SPECS B6 [TFA]).

    Sort-free: for a group of positive slots of a block of anchors, one masked
    min over the negatives finds the closest negative farther than each slot's
    positive, and one more min its first column (ties: like a stable sort).
    The carry ``weights`` counts how often each distance enters an active term
    (+1 as ``d(a, p)``, -1 as ``d(a, n)``); the gradient is rebuilt from it.
    """
    del positive  # the slots enumerate the positives
    acc = _count_dtype(dist)  # mining in float32 is exact for narrower floats
    fixed = lax.stop_gradient(dist).astype(acc)
    m = lax.stop_gradient(margin).astype(acc)
    # Non-negatives get -1 < any d(a, p) >= 0: they are never "farther".
    neg_only = jnp.where(negative, fixed, -1.0)
    farthest = jnp.argmax(jnp.where(negative, fixed, -jnp.inf), axis=1)
    farthest_d = jnp.take_along_axis(neg_only, farthest[:, None], axis=1)[:, 0]
    has_negative = jnp.any(negative, axis=1)

    def body(block_rows, p, valid, carry):
        fixed_rows, neg_rows, farthest, farthest_d, has_negative = block_rows
        weights, total, n_pairs, n_active = carry
        d_ap = jnp.take_along_axis(fixed_rows, p, axis=1)  # (n, G)
        candidates = neg_rows[:, None, :]  # (n, 1, B) against (n, G, 1)
        farther = candidates > d_ap[..., None]
        d_an = jnp.min(jnp.where(farther, candidates, jnp.inf), axis=2)
        columns = lax.broadcasted_iota(p.dtype, candidates.shape, 2)
        b = candidates.shape[2]
        first = jnp.min(jnp.where(candidates == d_an[..., None], columns, b), axis=2)
        found = jnp.isfinite(d_an)
        n = jnp.where(found, first, farthest[:, None])
        d_an = jnp.where(found, d_an, farthest_d[:, None])
        terms = jnp.maximum(d_ap - d_an + m, 0.0)
        valid = valid & has_negative[:, None]
        active = (valid & (terms > 0)).astype(weights.dtype)
        r = jnp.arange(p.shape[0])[:, None]
        return (
            weights.at[r, p].add(active).at[r, n].add(-active),
            total + jnp.sum(jnp.where(valid, terms, 0.0)),
            n_pairs + jnp.sum(valid),
            n_active + jnp.sum(active).astype(n_active.dtype),
        )

    def init(n):
        zero = jnp.zeros((), jnp.int32)
        weights = jnp.zeros((n,) + fixed.shape[1:], acc)
        return weights, jnp.zeros((), fixed.dtype), zero, zero

    rows = (fixed, neg_only, farthest, farthest_d, has_negative)
    weights, total, n_pairs, n_active = _mine_blocks(
        labels, rows, (0.0, -1.0, 0, 0.0, False), body, init
    )
    n_pairs, n_active = jnp.sum(n_pairs), jnp.sum(n_active)
    weights = _unblock(weights, dist.shape[0])
    denominator = jnp.maximum(n_pairs, 1).astype(acc)
    extra = margin * n_active.astype(dist.dtype)
    loss = _with_gradient(
        jnp.sum(total) / denominator, weights / denominator, dist, extra
    )
    return loss, n_pairs, n_active


def _hard(dist, positive, negative, margin, labels):
    """Batch-hard mining (Hermans et al. 2017): one triplet per anchor."""
    del labels  # one argmax and one argmin per anchor: no slots needed
    fixed = lax.stop_gradient(dist)
    p_index = jnp.argmax(jnp.where(positive, fixed, -jnp.inf), axis=1)
    n_index = jnp.argmin(jnp.where(negative, fixed, jnp.inf), axis=1)
    d_ap = jnp.take_along_axis(dist, p_index[:, None], axis=1)[:, 0]
    d_an = jnp.take_along_axis(dist, n_index[:, None], axis=1)[:, 0]
    raw = d_ap - d_an + margin
    # where, not maximum: a term exactly at 0 gets gradient 0, not maximum's 1/2.
    terms = jnp.where(raw > 0, raw, jnp.zeros((), raw.dtype))
    valid = jnp.any(positive, axis=1) & jnp.any(negative, axis=1)
    loss, count = _masked_mean(terms, valid)
    return loss, count, jnp.sum(valid & (terms > 0))


def _all(dist, positive, negative, margin, labels):
    """Batch-all: every valid triplet, mean over those with a positive loss.

    Sort-free like :func:`_semihard`: for each positive slot, with
    ``t = d(a, p) + margin``, every negative with ``d(a, n) < t`` contributes
    ``t - d(a, n)``: one elementwise pass and its sums over a group of slots of
    a block of anchors (cost in :func:`_mine_blocks`).
    """
    acc = _count_dtype(dist)  # mining in float32 is exact for narrower floats
    fixed = lax.stop_gradient(dist).astype(acc)
    m = lax.stop_gradient(margin).astype(acc)
    neg_only = jnp.where(negative, fixed, jnp.inf)  # non-negatives never below t

    def body(block_rows, p, valid, carry):
        fixed_rows, neg_rows = block_rows
        weights, total, n_active = carry
        d_ap = jnp.take_along_axis(fixed_rows, p, axis=1)  # (n, G)
        threshold = jnp.where(valid, d_ap + m, -jnp.inf)[..., None]
        candidates = neg_rows[:, None, :]  # (n, 1, B) against (n, G, 1)
        below = candidates < threshold
        gaps = jnp.sum(jnp.where(below, threshold - candidates, 0.0))
        counts = jnp.sum(below, axis=2)  # (n, G)
        weights = weights - jnp.sum(below, axis=1).astype(weights.dtype)
        r = jnp.arange(p.shape[0])[:, None]
        weights = weights.at[r, p].add(counts.astype(weights.dtype))
        return weights, total + gaps, n_active + jnp.sum(counts)

    def init(n):
        weights = jnp.zeros((n,) + fixed.shape[1:], acc)
        return weights, jnp.zeros((), fixed.dtype), jnp.zeros((), jnp.int32)

    weights, total, n_active = _mine_blocks(
        labels, (fixed, neg_only), (0.0, jnp.inf), body, init
    )
    n_active = jnp.sum(n_active)
    weights = _unblock(weights, dist.shape[0])
    denominator = jnp.maximum(n_active, 1).astype(acc)
    extra = margin * n_active.astype(dist.dtype)
    loss = _with_gradient(
        jnp.sum(total) / denominator, weights / denominator, dist, extra
    )
    n_valid = jnp.sum(jnp.sum(positive, axis=1) * jnp.sum(negative, axis=1))
    return loss, n_valid, n_active


_MINERS = {"semihard": _semihard, "hard": _hard, "all": _all}


def triplet_loss_and_stats(
    embeddings,
    labels,
    *,
    margin=FACENET_MARGIN,
    mining: str = "semihard",
    squared: bool = True,
):
    """Triplet loss with online mining, plus counts for logging.

    Args: as :func:`triplet_loss`.

    Returns:
      ``(loss, stats)``: the scalar loss and a dict of scalars:
      ``num_triplets`` (the triplets or pairs the mean runs over: anchor-positive
      pairs that have a negative for ``semihard``, anchors with a positive and a
      negative for ``hard``, all valid triplets for ``all``), ``num_positive``
      (how many of them have a loss above 0) and ``fraction_positive``
      (``num_positive / num_triplets``, 0.0 when there are none).
    """
    _check_embeddings(embeddings)
    _check_labels(labels, embeddings)
    _checks.check_choice(mining, "mining", MINING_MODES)
    _check_margin(margin)
    embeddings = jnp.asarray(embeddings)
    margin = jnp.asarray(margin, embeddings.dtype)
    return _triplet_core(embeddings, jnp.asarray(labels), margin, mining, squared)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _triplet_core(embeddings, labels, margin, mining, squared):
    """The part of :func:`triplet_loss_and_stats` after the checks.

    Compiled once per shape: eager dispatch of the mining ops is slow.
    """
    dist = _distances(embeddings, squared, symmetric=False)
    positive, negative = _masks(labels)
    loss, n_triplets, n_positive = _MINERS[mining](
        dist, positive, negative, margin, labels
    )
    fraction = n_positive / jnp.maximum(n_triplets, 1)
    stats = {
        "num_triplets": n_triplets,
        "num_positive": n_positive,
        "fraction_positive": fraction.astype(dist.dtype),
    }
    return loss, stats


def triplet_loss(
    embeddings,
    labels,
    *,
    margin=FACENET_MARGIN,
    mining: str = "semihard",
    squared: bool = True,
):
    r"""FaceNet's triplet loss with online mining inside the batch.

    Each term is :math:`[d(a, p) - d(a, n) + \alpha]_+` (FN-paper eq. 1-3) for an
    anchor ``a``, a positive ``p`` (same label, ``p != a``) and a negative ``n``
    (different label); ``d`` is :func:`pairwise_distances`. The triplets are
    chosen by ``mining``:

    * ``"semihard"`` (FN-paper section 3.2): every anchor-positive pair, with the
      closest negative that is farther than the positive (``d(a,p) < d(a,n)``);
      where no negative is farther, the farthest negative. Mean over the pairs
      whose anchor has a negative. This is the tf.contrib / tensorflow-addons
      rule (SPECS B6).
    * ``"hard"``: per anchor, the farthest positive and the closest negative;
      mean over the anchors that have both.
    * ``"all"``: every valid triplet; mean over the triplets whose loss is > 0.

    The mining choice carries no gradient; the gradient flows through the chosen
    distances (a term exactly at 0 contributes no gradient). With no valid pair
    or triplet (all labels equal, or all distinct) the loss is 0.0 with a zero
    gradient (cases B17, B18).

    Cost: ``"semihard"`` and ``"all"`` visit each anchor's positives in groups of
    slots (the labels are sorted once so each class is contiguous) and scan
    the negatives once or twice per slot, with no sort of the ``(B, B)`` distances:
    ``O(B^2 K)`` time for at most ``K`` examples per identity, ``O(B^2)``
    memory. The number of slots is found at run time, so labels may be traced
    (inside the caller's ``jit``) and any label layout gives the exact answer;
    a batch with one very large class costs up to ``O(B^3)`` time. ``"hard"``
    is ``O(B^2)``.

    Args:
      embeddings: ``(B, E)`` floating array, usually L2-normalised.
      labels: ``(B,)`` integer identity labels.
      margin: the margin alpha, a scalar >= 0 (default 0.2, FN-paper section 3.3).
      mining: ``"semihard"``, ``"hard"`` or ``"all"``.
      squared: use squared Euclidean distances (the paper's choice) if True.

    Returns:
      The scalar loss, of the dtype of ``embeddings``.

    Raises:
      ValueError: for a wrong rank, a label count that differs from ``B``, an
        unknown ``mining`` or a negative ``margin``.
      TypeError: for non-floating embeddings or non-integer labels.
    """
    loss, _ = triplet_loss_and_stats(
        embeddings, labels, margin=margin, mining=mining, squared=squared
    )
    return loss


def contrastive_loss(embeddings, labels, *, margin=1.0):
    r"""Contrastive loss over all pairs of a batch (Hadsell et al. 2006, eq. 4).

    .. math:: L = \frac{1}{|P|} \sum_{(i,j) \in P} \tfrac12 \big[
              y_{ij} D_{ij}^2 + (1 - y_{ij}) \max(0, m - D_{ij})^2 \big]

    over the unordered pairs ``i < j``, with ``y_ij = 1`` for equal labels and
    ``D`` the Euclidean distance. 0.0 for a batch of fewer than two rows.

    Args:
      embeddings: ``(B, E)`` floating array.
      labels: ``(B,)`` integer labels.
      margin: the margin ``m`` >= 0 for different-label pairs.

    Returns:
      The scalar loss.

    Raises:
      ValueError, TypeError: as for :func:`triplet_loss`.
    """
    _check_embeddings(embeddings)
    _check_labels(labels, embeddings)
    _check_margin(margin)
    d2 = pairwise_distances(embeddings, squared=True)
    positive, negative = _masks(labels)
    d = _safe_sqrt(d2)
    pull = jnp.where(positive, d2, 0.0)
    push = jnp.where(negative, jnp.square(jnp.maximum(margin - d, 0.0)), 0.0)
    n = d2.shape[0]
    n_ordered_pairs = max(n * (n - 1), 1)
    # Each unordered pair appears twice in the full matrix, so the mean over
    # ordered pairs equals the mean over unordered ones.
    return 0.5 * jnp.sum(pull + push) / n_ordered_pairs


def _check_centers(centers, embeddings, labels) -> None:
    _checks.check_rank(centers, "centers", 2, "(K, E)")
    _checks.check_floating(centers, "centers")
    k_dim, e_dim = _checks.shape_of(centers)[1], _checks.shape_of(embeddings)[1]
    if k_dim != e_dim or _checks.shape_of(centers)[0] == 0:
        raise ValueError(
            f"centers must have K >= 1 rows and {e_dim} columns like embeddings; "
            f"got shape {_checks.shape_of(centers)}"
        )
    if _checks.dtype_of(centers) != _checks.dtype_of(embeddings):
        raise TypeError(
            f"centers must have the dtype of embeddings "
            f"({_checks.dtype_of(embeddings)}); got {_checks.dtype_of(centers)}"
        )
    if not jnp.issubdtype(_checks.dtype_of(labels), jnp.integer):
        raise TypeError(
            "labels must be integer class ids (rows of centers); got dtype "
            f"{_checks.dtype_of(labels)}"
        )


def center_loss(embeddings, labels, centers):
    r"""Center loss: mean squared distance of each embedding to its class centre.

    .. math:: L_C = \frac{1}{B} \sum_i \lVert x_i - c_{y_i} \rVert_2^2

    This is davidsandberg/facenet's form (SPECS B6; Wen et al. 2016 eq. 2 has an
    extra factor 1/2 and a sum). The centres receive no gradient: update them
    with :func:`update_centers`. Labels outside ``[0, K)`` are clamped by the
    gather (not checked, so the function stays jittable).

    Args:
      embeddings: ``(B, E)`` floating array.
      labels: ``(B,)`` integer class labels in ``[0, K)``.
      centers: ``(K, E)`` floating array of class centres.

    Returns:
      The scalar loss.
    """
    _check_embeddings(embeddings)
    _check_labels(labels, embeddings)
    _check_centers(centers, embeddings, labels)
    chosen = lax.stop_gradient(jnp.asarray(centers))[jnp.asarray(labels)]
    return jnp.mean(jnp.sum(jnp.square(embeddings - chosen), axis=1))


def update_centers(centers, embeddings, labels, *, alpha=0.5):
    r"""One centre update of Wen et al. 2016 (eq. 4 and Algorithm 1).

    .. math:: c_j \leftarrow c_j - \alpha \frac{\sum_{i: y_i = j}
              (c_j - x_i)}{1 + n_j}

    Args:
      centers: ``(K, E)`` class centres.
      embeddings: ``(B, E)`` embeddings of the batch.
      labels: ``(B,)`` integer class labels in ``[0, K)``.
      alpha: the centre learning rate in ``[0, 1]`` (the paper uses 0.5).

    Returns:
      The new ``(K, E)`` centres. Classes absent from the batch are unchanged.
    """
    _check_embeddings(embeddings)
    _check_labels(labels, embeddings)
    _check_centers(centers, embeddings, labels)
    _checks.check_real_scalar(alpha, "alpha")
    centers = jnp.asarray(centers)
    x = lax.stop_gradient(jnp.asarray(embeddings)).astype(centers.dtype)
    labels = jnp.asarray(labels)
    counts = jnp.zeros(centers.shape[0], centers.dtype).at[labels].add(1.0)
    sums = jnp.zeros_like(centers).at[labels].add(x)
    delta = (counts[:, None] * centers - sums) / (1.0 + counts[:, None])
    return centers - alpha * delta
