"""Triplet, contrastive and center losses against brute-force loops and cases."""

import functools
import itertools
import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcnn.facenet import (
    center_loss,
    contrastive_loss,
    losses,
    pairwise_distances,
    triplet_loss,
    triplet_loss_and_stats,
    update_centers,
)
from tests.tolerances import assert_close

MODES = ("semihard", "hard", "all")


@functools.partial(jax.jit, static_argnames=("mining", "squared"))
def loss_stats_grad(x, labels, margin, mining, squared):
    """One compiled function per (shape, mining, squared), shared by the tests:
    each compilation costs seconds on a busy CPU."""

    def f(e):
        return triplet_loss_and_stats(
            e, labels, margin=margin, mining=mining, squared=squared
        )

    (loss, stats), grad = jax.value_and_grad(f, has_aux=True)(x)
    return loss, stats, grad


def run(x, labels, mining, squared=True, margin=0.2):
    x = np.asarray(x, np.float32)
    return loss_stats_grad(
        x,
        np.asarray(labels, np.int32),
        np.float32(margin),
        mining=mining,
        squared=squared,
    )


def brute_distances(x, squared):
    """float64 distances from explicit differences (not the Gram trick)."""
    x = np.asarray(x, np.float64)
    n = len(x)
    d = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        d[i, j] = np.sum((x[i] - x[j]) ** 2)
    return d if squared else np.sqrt(d)


def brute_triplets(labels, d, mining):
    """The (a, p, n) triplets each mode averages over, by plain loops."""
    n = len(labels)
    pos = [
        (a, p) for a in range(n) for p in range(n) if a != p and labels[a] == labels[p]
    ]
    negs = {a: [k for k in range(n) if labels[k] != labels[a]] for a in range(n)}
    if mining == "all":
        return [(a, p, k) for a, p in pos for k in negs[a]]
    if mining == "hard":
        out = []
        for a in range(n):
            ps = [p for b, p in pos if b == a]
            if ps and negs[a]:
                p = max(ps, key=lambda p, a=a: d[a, p])
                out.append((a, p, min(negs[a], key=lambda k, a=a: d[a, k])))
        return out
    out = []
    for a, p in pos:
        if not negs[a]:
            continue
        farther = [k for k in negs[a] if d[a, k] > d[a, p]]
        if farther:
            out.append((a, p, min(farther, key=lambda k, a=a: d[a, k])))
        else:
            out.append((a, p, max(negs[a], key=lambda k, a=a: d[a, k])))
    return out


def brute_loss(x, labels, margin, mining, squared):
    d = brute_distances(x, squared)
    triplets = brute_triplets(labels, d, mining)
    terms = [max(d[a, p] - d[a, k] + margin, 0.0) for a, p, k in triplets]
    if mining == "all":
        terms = [t for t in terms if t > 0]
    return sum(terms) / len(terms) if terms else 0.0


def brute_loss_and_gradient(x, labels, margin, mining, squared):
    """Loss and its gradient by a loop over the brute-force triplets, in float64.

    Each term ``t = d(a, p) - d(a, n) + margin`` with ``t > 0`` adds
    ``grad d(a, p) - grad d(a, n)`` divided by the number of terms averaged
    over (for "all": the terms with ``t > 0``). A term exactly at 0 adds
    nothing, and a distance of 0 has gradient 0 when not squared: the
    conventions of :func:`triplet_loss`. Returns ``(loss, gradient, n_pos)``.
    """
    x = np.asarray(x, np.float64)
    d = brute_distances(x, squared)
    triplets = brute_triplets(labels, d, mining)
    terms = [d[a, p] - d[a, k] + margin for a, p, k in triplets]
    n_pos = sum(t > 0 for t in terms)
    count = n_pos if mining == "all" else len(terms)
    grad = np.zeros_like(x)
    if count == 0:
        return 0.0, grad, n_pos

    def grad_d(i, j):
        """Gradient of d(i, j) with respect to x[i]; x[j] gets its negative."""
        diff = x[i] - x[j]
        if squared:
            return 2.0 * diff
        return diff / d[i, j] if d[i, j] > 0 else np.zeros_like(diff)

    loss = 0.0
    for (a, p, k), t in zip(triplets, terms, strict=True):
        if t <= 0:
            continue
        loss += t
        g_ap, g_an = grad_d(a, p), grad_d(a, k)
        grad[a] += g_ap - g_an
        grad[p] -= g_ap
        grad[k] += g_an
    return loss / count, grad / count, n_pos


BATCH_SIZES = st.integers(2, 16)
DIMENSIONS = st.integers(1, 5)


@st.composite
def grid_batches(draw, sizes=BATCH_SIZES, dims=DIMENSIONS):
    """B (default 2..16) embeddings of E (default 1..5) dimensions on a 0.5
    grid, so float32 and float64 squared distances are exact and ties (d_ap ==
    d_an, terms exactly 0, duplicate rows) are the same in both. Fewer classes
    than rows, so some label repeats."""
    b = draw(sizes)
    e = draw(dims)
    x = draw(hnp.arrays(np.int8, (b, e), elements=st.integers(-2, 2)))
    n_classes = draw(st.integers(1, b - 1))
    labels = draw(hnp.arrays(np.int8, (b,), elements=st.integers(0, n_classes - 1)))
    return x.astype(np.float32) / 2, labels


def check_against_brute_force(batch, mining, squared, margin):
    x, labels = batch
    loss, stats, grad = run(x, labels, mining, squared, margin)
    want_loss, want_grad, n_pos = brute_loss_and_gradient(
        x, labels, margin, mining, squared
    )
    assert_close(loss, want_loss)
    n_triplets = len(brute_triplets(labels, brute_distances(x, squared), mining))
    assert int(stats["num_triplets"]) == n_triplets
    assert int(stats["num_positive"]) == n_pos
    assert grad.shape == x.shape
    assert_close(grad, want_grad)


TRIPLET_OPTIONS = dict(
    mining=st.sampled_from(MODES),
    squared=st.booleans(),
    # 0.5 and 1.0 often make a term exactly 0 on the grid (a kink) for
    # "semihard" and "all"; test_term_exactly_zero_has_zero_gradient pins it.
    margin=st.sampled_from([0.2, 0.5, 1.0]),
)


# Half the profile's examples (100 in CI, about 35 s): nearly every example is a
# new (B, E, mining, squared) and compiles the loss and its gradient anew, 0.3 to
# 0.8 s on a loaded 2-core machine. The one-shape test below runs the full count.
@settings(max_examples=max(25, settings.default.max_examples // 2))
@given(batch=grid_batches(), **TRIPLET_OPTIONS)
def test_triplet_loss_matches_brute_force(batch, mining, squared, margin):
    """Loss, counts and gradient against the float64 loops, over shapes."""
    check_against_brute_force(batch, mining, squared, margin)


@given(batch=grid_batches(st.just(8), st.just(3)), **TRIPLET_OPTIONS)
def test_triplet_loss_matches_brute_force_one_shape(batch, mining, squared, margin):
    """As above at one shape (8, 3): six compilations in all, so every example
    of the profile runs."""
    check_against_brute_force(batch, mining, squared, margin)


def brute_gradient(x, labels, margin, mining, squared):
    """Gradient of the loss over the brute-force triplets, with distances from
    explicit differences (no Gram matrix)."""
    triplets = np.array(brute_triplets(labels, brute_distances(x, squared), mining))
    a, p, k = triplets.T

    def dist(u, v):
        sq = jnp.sum((u - v) ** 2, axis=1)
        return sq if squared else jnp.sqrt(sq)

    def loss(x):
        terms = jnp.maximum(dist(x[a], x[p]) - dist(x[a], x[k]) + margin, 0.0)
        if mining == "all":
            n_pos = jnp.maximum(jnp.sum(terms > 0), 1).astype(terms.dtype)
            return jnp.sum(terms) / n_pos
        return jnp.mean(terms)

    return jax.grad(loss)(jnp.asarray(x))


@pytest.mark.parametrize("mining", MODES)
@pytest.mark.parametrize("squared", [True, False])
def test_triplet_gradient_matches_brute_force(mining, squared):
    """Random (tie-free) data: the mined triplets and their gradient agree."""
    x = np.random.default_rng(3).normal(size=(8, 3)).astype(np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2], np.int32)
    loss, _, grad = run(x, labels, mining, squared, 0.5)
    assert_close(loss, brute_loss(x, labels, 0.5, mining, squared))
    # Gram-matrix distances vs explicit differences in float32: a few ulps of
    # |x|^2 ~ 10 per entry, so allow 1e-4.
    want = brute_gradient(x, labels, 0.5, mining, squared)
    assert_close(grad, want, rtol=1e-4, atol=1e-4)
    # The float64 loop of the property tests agrees with jax.grad of this one.
    _, loop_grad, _ = brute_loss_and_gradient(x, labels, 0.5, mining, squared)
    assert_close(loop_grad, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mining", ["semihard", "all"])
def test_triplet_mining_across_anchor_blocks(mining, monkeypatch):
    """Anchors are mined in blocks of ``_ANCHOR_BLOCK``, positives in groups of
    ``_SLOT_GROUP`` slots: with blocks of 3 and groups of 2, seven rows make
    three blocks (the last one padded), each needing two groups of slots."""
    monkeypatch.setattr(losses, "_ANCHOR_BLOCK", 3)
    monkeypatch.setattr(losses, "_SLOT_GROUP", 2)
    x = np.random.default_rng(5).normal(size=(7, 2)).astype(np.float32)
    labels = np.array([2, 0, 2, 1, 2, 0, 2], np.int32)  # class sizes 4, 2, 1

    def f(e):
        return triplet_loss_and_stats(e, labels, margin=1.0, mining=mining)

    # A shape no other test uses, so this traces afresh with the patched size.
    (loss, stats), grad = jax.value_and_grad(f, has_aux=True)(x)
    assert_close(loss, brute_loss(x, labels, 1.0, mining, True))
    d = brute_distances(x, True)
    assert int(stats["num_triplets"]) == len(brute_triplets(labels, d, mining))
    want = brute_gradient(x, labels, 1.0, mining, True)
    assert_close(grad, want, rtol=1e-4, atol=1e-4)  # float32 Gram trick, as above


@pytest.mark.parametrize("mining", MODES)
@pytest.mark.parametrize("squared", [True, False])
def test_term_exactly_zero_has_zero_gradient(mining, squared):
    """Rows 0, 1 equal (d_ap = 0), row 2 at distance 1 (squared or not) and
    margin 1: every term is exactly 0, so loss and gradient are 0 (a plain
    ``maximum(t, 0)`` would pass half the gradient at the kink)."""
    x = np.array([[0.0], [0.0], [1.0]], np.float32)
    loss, stats, grad = run(x, [0, 0, 1], mining, squared, margin=1.0)
    assert float(loss) == 0.0 and int(stats["num_positive"]) == 0
    np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_b17_duplicate_anchor_positive_single_triplet():
    """B17 single-triplet form: anchor == positive, one negative, non-squared:
    loss max(0 - sqrt2 + 0.2, 0) = 0 and a finite gradient (sqrt at 0)."""
    x = [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    for mining in MODES:
        loss, _, grad = run(x, [0, 0, 1], mining, squared=False)
        assert float(loss) == 0.0
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    ("mining", "expected"), [("all", 0.2), ("hard", 0.1), ("semihard", 0.1)]
)
def test_b17_batch_form_finite_gradient(mining, expected):
    """B17 batch form: rows [1,0,0,0] twice, [0,1,0,0], [0,0,1,0], labels
    [0, 0, 1, 1], non-squared, margin 0.2. The loss is NOT 0.0 in every mode:
    the duplicate pair (0, 1) has d_ap = 0 against negatives at sqrt2 (terms
    0), but the pair (2, 3) has d_ap = sqrt2 against negatives 0, 1 also at
    sqrt2, so its terms are 0.2. all: 4 of the 8 triplets are positive, mean
    0.2 (not 0.0); hard: mean of (0, 0, 0.2, 0.2) = 0.1; semihard: no negative
    is strictly farther than sqrt2 for anchors 2, 3, so the farthest (sqrt2) is
    used, mean over 4 pairs = 0.1. The gradient is finite despite sqrt at 0."""
    x = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], np.float32)
    loss, _, grad = run(x, [0, 0, 1, 1], mining, squared=False)
    assert_close(loss, expected)
    assert np.all(np.isfinite(grad))
    d = pairwise_distances(x, squared=False)
    assert np.all(np.diag(d) == 0) and np.array_equal(d, d.T)


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [7, 7, 7, 7]])
@pytest.mark.parametrize("mining", MODES)
@pytest.mark.parametrize("squared", [True, False])
def test_b18_no_valid_triplet_is_zero(labels, mining, squared):
    x = np.eye(4, dtype=np.float32)
    loss, stats, grad = run(x, labels, mining, squared)
    assert float(loss) == 0.0
    assert float(stats["fraction_positive"]) == 0.0
    assert int(stats["num_triplets"]) == 0
    np.testing.assert_array_equal(grad, np.zeros_like(x))


@pytest.mark.parametrize(
    ("mining", "count"), [("semihard", 2), ("hard", 2), ("all", 4)]
)
def test_b18_only_anchors_with_positives_count(mining, count):
    """labels [0, 0, 1, 2]: anchors 0 and 1 only; every d(a, n) is 2 = d(a, p)."""
    x = np.eye(4, dtype=np.float32)
    labels = np.array([0, 0, 1, 2], np.int32)
    loss, stats, grad = run(x, labels, mining)
    assert_close(loss, brute_loss(x, labels, 0.2, mining, True))
    assert_close(loss, 0.2)
    assert int(stats["num_triplets"]) == count
    assert float(stats["fraction_positive"]) == 1.0
    assert np.all(np.isfinite(grad))


distances_jit = jax.jit(pairwise_distances, static_argnames="squared")


# One shape (6, 3): every new shape would compile again. Duplicate rows come from
# the small element set.
@given(
    hnp.arrays(
        np.float32,
        (6, 3),
        elements=st.one_of(
            st.sampled_from([0.0, 1.0, -2.5]), st.floats(-3, 3, width=32)
        ),
    )
)
def test_pairwise_distances_properties(x):
    for squared in (True, False):
        d = np.asarray(distances_jit(x, squared=squared))
        assert np.array_equal(d, d.T)
        assert np.all(np.diag(d) == 0) and np.all(d >= 0)
        # Gram trick in float32: cancellation error of order eps * |x|^2 ~ 27 eps.
        want = brute_distances(x, squared)
        atol = 1e-4 if squared else 1e-2  # sqrt near 0 magnifies: sqrt(1e-4)
        np.testing.assert_allclose(d, want, rtol=1e-5, atol=atol)


def test_pairwise_distances_gradient_finite_at_zero():
    x = jnp.array([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]], jnp.float32)
    for squared in (True, False):
        g = jax.grad(lambda e, s=squared: jnp.sum(pairwise_distances(e, squared=s)))(x)
        assert np.all(np.isfinite(g))


def test_jit_and_large_batch_memory():
    """B = 1800 under jit: no (B, B, B) tensor (that would be 23 GB)."""
    x = jax.random.normal(jax.random.key(0), (1800, 128))
    labels = jnp.repeat(jnp.arange(45), 40)
    f = jax.jit(jax.value_and_grad(lambda e: triplet_loss(e, labels)))
    mem = f.lower(x).compile().memory_analysis()
    if mem is not None:
        assert mem.temp_size_in_bytes < 500 * 2**20
    loss, grad = f(x)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def test_validation_messages():
    x = np.zeros((4, 3), np.float32)
    labels = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="mining"):
        triplet_loss(x, labels, mining="easy")
    with pytest.raises(ValueError, match="labels"):
        triplet_loss(x, labels[:3])
    with pytest.raises(ValueError, match="labels"):
        triplet_loss(x, labels[:, None])
    with pytest.raises(ValueError, match="embeddings"):
        triplet_loss(x[0], labels)
    with pytest.raises(TypeError, match="labels"):
        triplet_loss(x, labels.astype(np.float32))
    with pytest.raises(TypeError, match="embeddings"):
        triplet_loss(x.astype(np.int32), labels)
    with pytest.raises(ValueError, match="margin"):
        triplet_loss(x, labels, margin=-1.0)
    with pytest.raises(ValueError, match="centers"):
        center_loss(x, labels, np.zeros((2, 5), np.float32))


def test_contrastive_loss_by_hand():
    # Pairs: (0,1) same, D = 1 -> D^2 = 1; (0,2) diff, D = 3 -> max(2-3,0)^2 = 0;
    # (1,2) diff, D = 2 -> 0. With margin 2: mean over 3 pairs of 0.5 * terms.
    x = np.array([[0.0], [1.0], [3.0]], np.float32)
    labels = np.array([0, 0, 1], np.int32)
    assert_close(contrastive_loss(x, labels, margin=2.0), 0.5 * 1.0 / 3)
    # margin 2.5: (1,2) gives (2.5-2)^2 = 0.25 -> 0.5 * (1 + 0.25) / 3.
    assert_close(contrastive_loss(x, labels, margin=2.5), 0.5 * 1.25 / 3)
    g = jax.grad(lambda e: contrastive_loss(e, labels))(np.zeros((3, 2), np.float32))
    assert np.all(np.isfinite(g))


def test_center_loss_and_update_by_hand():
    x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], np.float32)
    labels = np.array([0, 0, 1], np.int32)
    centers = np.zeros((3, 2), np.float32)
    # ||x_i - 0||^2 = 1, 9, 4 -> mean 14/3.
    assert_close(center_loss(x, labels, centers), 14 / 3)
    new = update_centers(centers, x, labels, alpha=0.5)
    # class 0: delta = (2*0 - (1+3)) / (1+2) = -4/3 -> c = 0.5*4/3 = 2/3.
    # class 1: delta = (0 - 2) / 2 = -1 -> c_y = 0.5; class 2 absent: unchanged.
    assert_close(new, [[2 / 3, 0.0], [0.0, 0.5], [0.0, 0.0]])
    g = jax.grad(lambda c: center_loss(x, labels, c))(centers)
    assert np.all(g == 0)
    assert math.isfinite(float(center_loss(x, labels, centers)))
