"""Triplet loss with online mining plus its gradient at FaceNet's batch size.

B = 1800 embeddings of D = 128 (FaceNet section 3.2: about 1,800 exemplars per
batch), 45 identities x 40 images, L2-normalised. For each mining mode: the
jitted ``value_and_grad`` time (median of repeated calls after a warm-up) and
XLA's compiled memory analysis (temporary buffers); the process's peak RSS at
the end. The squared-distance matrix alone is timed as a reference point, and
semi-hard and batch-all are also timed with the previous sort-based mining
(kept below, in this file only) in the same run, for the speed-up.

    python benchmarks/triplet.py [--batch 1800] [--dim 128] [--repeats 20]
        [--no-sorted]
"""

import argparse
import os
import platform
import resource
import statistics
import time

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn.facenet import l2_normalize, pairwise_distances, triplet_loss


def _time(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _temp_mib(fn, *args) -> float:
    analysis = fn.lower(*args).compile().memory_analysis()
    return float("nan") if analysis is None else analysis.temp_size_in_bytes / 2**20


# The previous implementation (sort every row of the distance matrix, then
# binary-search it), for the side-by-side comparison only.


def _sorted_negatives(dist, negative):
    keyed = jnp.where(negative, lax.stop_gradient(dist), jnp.inf)
    order = jnp.argsort(keyed, axis=1)
    return order, jnp.take_along_axis(keyed, order, axis=1), jnp.sum(negative, 1)


def _count_below(sorted_values, queries, side):
    search = jax.vmap(lambda row, q: jnp.searchsorted(row, q, side=side))
    return search(sorted_values, queries).astype(jnp.int32)


def _sorted_semihard(dist, positive, negative, margin):
    order, sorted_neg, n_neg = _sorted_negatives(dist, negative)
    idx = _count_below(sorted_neg, lax.stop_gradient(dist), "right")
    farthest = jnp.maximum(n_neg - 1, 0)[:, None]
    idx = jnp.where(idx < n_neg[:, None], idx, farthest)
    d_an = jnp.take_along_axis(dist, jnp.take_along_axis(order, idx, 1), 1)
    terms = jnp.maximum(dist - d_an + margin, 0.0)
    valid = positive & (n_neg > 0)[:, None]
    total = jnp.sum(jnp.where(valid, terms, 0.0))
    return total / jnp.maximum(jnp.sum(valid), 1).astype(dist.dtype)


def _sorted_all(dist, positive, negative, margin):
    order, sorted_neg, n_neg = _sorted_negatives(dist, negative)
    gathered = jnp.take_along_axis(dist, order, axis=1)
    in_range = jnp.arange(dist.shape[1])[None, :] < n_neg[:, None]
    gathered = jnp.where(in_range, gathered, 0.0)
    prefix = jnp.concatenate(
        [jnp.zeros_like(gathered[:, :1]), jnp.cumsum(gathered, axis=1)], axis=1
    )
    threshold = dist + margin
    count = _count_below(sorted_neg, lax.stop_gradient(threshold), "left")
    count = jnp.where(positive, count, 0)
    sums = jnp.take_along_axis(prefix, count, axis=1)
    totals = jnp.where(positive, count.astype(dist.dtype) * threshold - sums, 0.0)
    return jnp.sum(totals) / jnp.maximum(jnp.sum(count), 1).astype(dist.dtype)


def _sorted_loss(embeddings, labels, mining, margin=0.2):
    dist = pairwise_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    positive = same & ~jnp.eye(labels.shape[0], dtype=bool)
    miner = _sorted_semihard if mining == "semihard" else _sorted_all
    return miner(dist, positive, ~same, margin)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=1800)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--people", type=int, default=45)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument(
        "--no-sorted", action="store_true", help="skip the slow sort-based runs"
    )
    args = p.parse_args()
    key = jax.random.key(0)
    x = l2_normalize(jax.random.normal(key, (args.batch, args.dim)))
    labels = jnp.arange(args.batch, dtype=jnp.int32) % args.people

    print(f"# triplet loss benchmark: B={args.batch}, D={args.dim}")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}, jax {jax.__version__}"
    )
    print(
        "| what | median time (s) | XLA temp memory (MiB) | ratio to distances "
        "| speed-up over sort-based |"
    )
    print("|---|---|---|---|---|")
    dist = jax.jit(pairwise_distances)
    base = _time(dist, x, repeats=args.repeats)
    mem = _temp_mib(dist, x)
    print(f"| pairwise_distances (forward) | {base:.4f} | {mem:.1f} | 1.0 | |")
    for mining in ("semihard", "hard", "all"):
        fn = jax.jit(
            jax.value_and_grad(lambda e, m=mining: triplet_loss(e, labels, mining=m))
        )
        t = _time(fn, x, repeats=args.repeats)
        speedup = ""
        if mining != "hard" and not args.no_sorted:
            old = jax.jit(
                jax.value_and_grad(lambda e, m=mining: _sorted_loss(e, labels, m))
            )
            t_old = _time(old, x, repeats=max(1, args.repeats // 4))
            diff = abs(float(fn(x)[0]) - float(old(x)[0]))
            print(
                f"| {mining}, sort-based (previous): loss + gradient | {t_old:.4f} "
                f"| {_temp_mib(old, x):.1f} | {t_old / base:.1f} | |"
            )
            speedup = f"{t_old / t:.1f} (loss difference {diff:.1e})"
        print(
            f"| {mining}: loss + gradient | {t:.4f} | {_temp_mib(fn, x):.1f} "
            f"| {t / base:.1f} | {speedup} |"
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
