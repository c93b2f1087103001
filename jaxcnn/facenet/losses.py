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
    x = jnp.asarray(embeddings)
    gram = jnp.matmul(x, x.T, precision=lax.Precision.HIGHEST)
    sq_norms = jnp.sum(x * x, axis=1)
    d2 = sq_norms[:, None] - 2.0 * gram + sq_norms[None, :]
    d2 = 0.5 * (d2 + d2.T)  # exact symmetry: the matmul need not be symmetric
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


def _sorted_negatives(dist, negative):
    """Per anchor, the negative distances in ascending order.

    Returns ``(order, sorted_values, n_neg)``: ``order[a]`` holds column indices
    with the anchor's negatives first (ascending distance), ``sorted_values`` the
    matching distances with non-negatives set to ``+inf``, ``n_neg[a]`` the number
    of negatives. The ordering carries no gradient; gather from ``dist`` for one.
    """
    keyed = jnp.where(negative, lax.stop_gradient(dist), jnp.inf)
    order = jnp.argsort(keyed, axis=1)
    sorted_values = jnp.take_along_axis(keyed, order, axis=1)
    return order, sorted_values, jnp.sum(negative, axis=1)


def _count_below(sorted_values, queries, *, inclusive: bool):
    """Per row, how many of ``sorted_values`` are ``< q`` (or ``<= q``).

    A row-wise binary search (``searchsorted``, side ``left`` or ``right``):
    ``(B, M)`` sorted values and ``(B, N)`` queries give ``(B, N)`` counts in
    ``O(B (M + N))`` memory. (A merge sort of values and queries was measured
    3x slower on CPU; XLA's CPU sort dominates either way.)
    """
    side = "right" if inclusive else "left"
    search = jax.vmap(lambda row, q: jnp.searchsorted(row, q, side=side))
    return search(sorted_values, queries).astype(jnp.int32)


def _semihard(dist, positive, negative, margin):
    """Paper-style semi-hard mining (FN-paper section 3.2, SPECS B6 [TFA])."""
    order, sorted_neg, n_neg = _sorted_negatives(dist, negative)
    d_ap = lax.stop_gradient(dist)
    # First negative strictly farther than the positive: d(a, p) < d(a, n).
    idx = _count_below(sorted_neg, d_ap, inclusive=True)
    farthest = jnp.maximum(n_neg - 1, 0)[:, None]
    idx = jnp.where(idx < n_neg[:, None], idx, farthest)
    neg_index = jnp.take_along_axis(order, idx, axis=1)
    d_an = jnp.take_along_axis(dist, neg_index, axis=1)
    terms = jnp.maximum(dist - d_an + margin, 0.0)
    valid = positive & (n_neg > 0)[:, None]
    loss, count = _masked_mean(terms, valid)
    return loss, count, jnp.sum(valid & (terms > 0))


def _hard(dist, positive, negative, margin):
    """Batch-hard mining (Hermans et al. 2017): one triplet per anchor."""
    fixed = lax.stop_gradient(dist)
    p_index = jnp.argmax(jnp.where(positive, fixed, -jnp.inf), axis=1)
    n_index = jnp.argmin(jnp.where(negative, fixed, jnp.inf), axis=1)
    d_ap = jnp.take_along_axis(dist, p_index[:, None], axis=1)[:, 0]
    d_an = jnp.take_along_axis(dist, n_index[:, None], axis=1)[:, 0]
    terms = jnp.maximum(d_ap - d_an + margin, 0.0)
    valid = jnp.any(positive, axis=1) & jnp.any(negative, axis=1)
    loss, count = _masked_mean(terms, valid)
    return loss, count, jnp.sum(valid & (terms > 0))


def _all(dist, positive, negative, margin):
    """Batch-all: every valid triplet, mean over those with a positive loss.

    For anchor ``a`` and positive ``p`` with ``t = d(a, p) + margin``, the
    negatives with ``d(a, n) < t`` contribute ``t - d(a, n)``; with the anchor's
    negative distances sorted, their count ``c`` comes from a binary search and
    their sum from a prefix sum, so the total ``c t - sum``
    needs ``O(B^2)`` memory.
    """
    order, sorted_neg, n_neg = _sorted_negatives(dist, negative)
    # Differentiable sorted distances (the ordering itself has no gradient).
    gathered = jnp.take_along_axis(dist, order, axis=1)
    in_range = jnp.arange(dist.shape[1])[None, :] < n_neg[:, None]
    gathered = jnp.where(in_range, gathered, 0.0)
    prefix = jnp.concatenate(
        [jnp.zeros_like(gathered[:, :1]), jnp.cumsum(gathered, axis=1)], axis=1
    )
    threshold = dist + margin
    count = _count_below(sorted_neg, lax.stop_gradient(threshold), inclusive=False)
    count = jnp.where(positive, count, 0)
    sums = jnp.take_along_axis(prefix, count, axis=1)
    totals = count.astype(dist.dtype) * threshold - sums
    totals = jnp.where(positive, totals, 0.0)
    n_positive = jnp.sum(count)
    loss = jnp.sum(totals) / jnp.maximum(n_positive, 1).astype(dist.dtype)
    n_valid = jnp.sum(jnp.where(positive, n_neg[:, None], 0))
    return loss, n_valid, n_positive


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
    dist = pairwise_distances(embeddings, squared=squared)
    positive, negative = _masks(labels)
    loss, n_triplets, n_positive = _MINERS[mining](dist, positive, negative, margin)
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
    distances. With no valid pair or triplet (all labels equal, or all distinct)
    the loss is 0.0 with a zero gradient (cases B17, B18).

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


def _check_centers(centers, embeddings) -> None:
    _checks.check_rank(centers, "centers", 2, "(K, E)")
    _checks.check_floating(centers, "centers")
    k_dim, e_dim = _checks.shape_of(centers)[1], _checks.shape_of(embeddings)[1]
    if k_dim != e_dim:
        raise ValueError(
            f"centers must have {e_dim} columns like embeddings; "
            f"got shape {_checks.shape_of(centers)}"
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
    _check_centers(centers, embeddings)
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
    _check_centers(centers, embeddings)
    centers = jnp.asarray(centers)
    x = lax.stop_gradient(jnp.asarray(embeddings)).astype(centers.dtype)
    labels = jnp.asarray(labels)
    counts = jnp.zeros(centers.shape[0], centers.dtype).at[labels].add(1.0)
    sums = jnp.zeros_like(centers).at[labels].add(x)
    delta = (counts[:, None] * centers - sums) / (1.0 + counts[:, None])
    return centers - alpha * delta
