"""Triplet loss with online mining plus its gradient at FaceNet's batch size.

B = 1800 embeddings of D = 128 (FaceNet section 3.2: about 1,800 exemplars per
batch), 45 identities x 40 images, L2-normalised. For each mining mode: the
jitted ``value_and_grad`` time (median of repeated calls after a warm-up) and
XLA's compiled memory analysis (temporary buffers); the process's peak RSS at
the end. The squared-distance matrix alone is timed as a reference point.

    python benchmarks/triplet.py [--batch 1800] [--dim 128] [--repeats 20]
"""

import argparse
import platform
import resource
import statistics
import time

import jax
import jax.numpy as jnp

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=1800)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--people", type=int, default=45)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    key = jax.random.key(0)
    x = l2_normalize(jax.random.normal(key, (args.batch, args.dim)))
    labels = jnp.arange(args.batch, dtype=jnp.int32) % args.people

    print(f"# triplet loss benchmark: B={args.batch}, D={args.dim}")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}, jax {jax.__version__}"
    )
    print("| what | median time (s) | XLA temp memory (MiB) | ratio to distances |")
    print("|---|---|---|---|")
    dist = jax.jit(pairwise_distances)
    base = _time(dist, x, repeats=args.repeats)
    mem = _temp_mib(dist, x)
    print(f"| pairwise_distances (forward) | {base:.4f} | {mem:.1f} | 1.0 |")
    for mining in ("semihard", "hard", "all"):
        fn = jax.jit(
            jax.value_and_grad(lambda e, m=mining: triplet_loss(e, labels, mining=m))
        )
        t = _time(fn, x, repeats=args.repeats)
        print(
            f"| {mining}: loss + gradient | {t:.4f} | {_temp_mib(fn, x):.1f} "
            f"| {t / base:.1f} |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
