"""jaxcnn.ops under jit against the raw lax / jax.nn calls they wrap.

Run: ``python benchmarks/ops.py [--rounds 7] [--repeats 5]``

Prints three tables from one run:

1. Time per call of each jaxcnn op and of its raw counterpart, both jitted,
   measured in alternating rounds (A, B, A, B, ...) so that machine load hits
   both sides alike; medians over rounds, and the ratio jaxcnn / raw.
2. Counts of the interesting operations in the optimised HLO of both sides
   (convolution, reduce-window, select-and-scatter, transpose, copy, ...).
3. The max-pool gradient on a 128x26x26x32 input, window 2, stride 2:
   differentiating ``lax.reduce_window`` (XLA's select-and-scatter) against
   jaxcnn's mask-based gradient.
4. ``ops.conv`` on the MTCNN layer shapes and one deep layer: one XLA
   convolution compiled by ``jax.jit`` and by ``jaxcnn.xla.jit`` (no YNNPACK
   fusion), and ``lowering="matmul"`` (tiles times filters, ``xla.jit``), with
   the process CPU time per call beside the wall time (a ratio above 1 means
   more than one core worked).
5. MTCNN's conv1 + PReLU + max pool as written (3x3 convolution from 3
   channels) against the 2x2-pixel-block form that ``jaxcnn.mtcnn.nets``
   uses, both under ``xla.jit``.
"""

import argparse
import collections
import platform
import re
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import ops, xla
from jaxcnn.mtcnn import nets

NHWC = ("NHWC", "HWIO", "NHWC")
HLO_OPS = (
    "convolution",
    "reduce-window",
    "select-and-scatter",
    "scatter",
    "gather",
    "transpose",
    "copy",
    "reduce",
    "fusion",
)


def _rand(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _rw_max(x, window, stride, padding):
    dims, strides = (1, window, window, 1), (1, stride, stride, 1)
    return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, padding)


def _rw_avg_exclude(x, window, stride, padding):
    """Average excluding padding from two lax reduce_windows (sum and count)."""
    dims, strides = (1, window, window, 1), (1, stride, stride, 1)
    total = lax.reduce_window(x, 0.0, lax.add, dims, strides, padding)
    ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
    count = lax.reduce_window(ones, 0.0, lax.add, dims, strides, padding)
    return total / count


def cases():
    """(name, jaxcnn function, raw function, arguments)."""
    x = _rand((32, 56, 56, 64), 0)
    kernel = _rand((3, 3, 64, 64), 1) * 0.05
    logits = _rand((4096, 1000), 2)
    small = _rand((128, 26, 26, 32), 3)
    return [
        (
            "conv 3x3 SAME 32x56x56x64",
            lambda x, k: ops.conv(x, k, padding="SAME"),
            lambda x, k: lax.conv_general_dilated(
                x, k, (1, 1), "SAME", dimension_numbers=NHWC
            ),
            (x, kernel),
        ),
        (
            "max_pool 3x3/2 SAME",
            lambda x: ops.max_pool(x, 3, 2, "SAME"),
            lambda x: _rw_max(x, 3, 2, "SAME"),
            (x,),
        ),
        (
            "max_pool 2x2/2",
            lambda x: ops.max_pool(x, 2),
            lambda x: _rw_max(x, 2, 2, "VALID"),
            (small,),
        ),
        (
            "avg_pool 3x3/1 SAME excl. pad",
            lambda x: ops.avg_pool(x, 3, 1, "SAME"),
            lambda x: _rw_avg_exclude(x, 3, 1, "SAME"),
            (x,),
        ),
        ("relu", ops.relu, jax.nn.relu, (x,)),
        ("gelu (erf)", ops.gelu, lambda x: jax.nn.gelu(x, approximate=False), (x,)),
        ("softmax 4096x1000", ops.softmax, jax.nn.softmax, (logits,)),
        ("log_softmax 4096x1000", ops.log_softmax, jax.nn.log_softmax, (logits,)),
    ]


def _time_once(fn, args, repeats):
    """Mean seconds per call over ``repeats`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def compare(fn_a, fn_b, args, rounds, repeats):
    """Median seconds per call of two jitted functions, in alternating rounds."""
    jax.block_until_ready(fn_a(*args))  # compile and warm up both
    jax.block_until_ready(fn_b(*args))
    a, b = [], []
    for _ in range(rounds):
        a.append(_time_once(fn_a, args, repeats))
        b.append(_time_once(fn_b, args, repeats))
    return statistics.median(a), statistics.median(b)


def hlo_counts(fn, args):
    """Counts of selected op kinds in the optimised HLO of ``fn``."""
    text = fn.lower(*args).compile().as_text()
    found = collections.Counter(re.findall(r"= \S+ ([a-z-]+)\(", text))
    return {op: found.get(op, 0) for op in HLO_OPS if found.get(op, 0)}


def _fmt_counts(counts):
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def max_pool_grad(rounds, repeats):
    """Gradient of sum(max_pool(x) * ct): reduce_window autodiff vs jaxcnn."""
    x = _rand((128, 26, 26, 32), 4)
    ct = _rand((128, 13, 13, 32), 5)

    def vjp_of(pool):
        return jax.jit(lambda x, ct: jax.vjp(pool, x)[1](ct)[0])

    raw = vjp_of(lambda x: _rw_max(x, 2, 2, "VALID"))
    ours = vjp_of(lambda x: ops.max_pool(x, 2))
    same = bool(jnp.array_equal(raw(x, ct), ours(x, ct)))  # tie-free input
    t_ours, t_raw = compare(ours, raw, (x, ct), rounds, repeats)
    return t_ours, t_raw, same, hlo_counts(ours, (x, ct)), hlo_counts(raw, (x, ct))


# (name, input shape, kernel shape): MTCNN layers at the sizes the cascade
# runs them (P-Net on a 320x704 pyramid canvas, 192 R-Net and 16 O-Net
# crops), and a deep layer for contrast.
LOWERING_CASES = (
    ("P-Net conv1 1x320x704x3", (1, 320, 704, 3), (3, 3, 3, 10)),
    ("P-Net conv3 1x157x349x16", (1, 157, 349, 16), (3, 3, 16, 32)),
    ("R-Net conv1 192x24x24x3", (192, 24, 24, 3), (3, 3, 3, 28)),
    ("R-Net conv2 192x11x11x28", (192, 11, 11, 28), (3, 3, 28, 48)),
    ("O-Net conv1 16x48x48x3", (16, 48, 48, 3), (3, 3, 3, 32)),
    ("O-Net conv2 16x23x23x32", (16, 23, 23, 32), (3, 3, 32, 64)),
    ("deep 8x64x64x64", (8, 64, 64, 64), (3, 3, 64, 64)),
)


def _wall_and_cpu(fn, args, rounds, repeats):
    """Median wall and process-CPU seconds per call over rounds."""
    jax.block_until_ready(fn(*args))
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        _time_once(fn, args, repeats)
        wall.append((time.perf_counter() - w) / repeats)
        cpu.append((time.process_time() - c) / repeats)
    return statistics.median(wall), statistics.median(cpu)


def lowerings(rounds, repeats):
    """Rows (name, (wall, cpu) of jax.jit, xla.jit and matmul, max difference)."""
    rows = []
    for i, (name, x_shape, k_shape) in enumerate(LOWERING_CASES):
        x, k = _rand(x_shape, 10 + i), _rand(k_shape, 20 + i) * 0.1
        sides = (
            jax.jit(lambda x, k: ops.conv(x, k)),
            xla.jit(lambda x, k: ops.conv(x, k)),
            xla.jit(lambda x, k: ops.conv(x, k, lowering="matmul")),
        )
        diff = float(jnp.abs(sides[1](x, k) - sides[2](x, k)).max())
        times = [[] for _ in sides]
        for _ in range(2):  # alternate the sides
            for fn, t in zip(sides, times, strict=True):
                t.append(_wall_and_cpu(fn, (x, k), rounds, repeats))
        rows.append((name, *(min(t) for t in times), diff))
    return rows


def _print_lowerings(rows):
    print("\nops.conv (ms per call; CPU ms / wall ms in brackets):")
    print(
        f"  {'layer':28} {'jax.jit':>14} {'xla.jit':>14} {'matmul':>14}"
        f" {'jit/xla.jit':>11} {'diff':>8}"
    )
    for name, (jw, jc), (xw, xc), (mw, mc), diff in rows:
        print(
            f"  {name:28} {jw * 1e3:7.2f} ({jc / jw:.1f})"
            f" {xw * 1e3:7.2f} ({xc / xw:.1f}) {mw * 1e3:7.2f} ({mc / mw:.1f})"
            f" {jw / xw:11.2f} {diff:8.1e}"
        )


CONV1_CASES = (  # (name, net, input shape, pool window)
    ("P-Net 1x320x704x3", "pnet", (1, 320, 704, 3), 2),
    ("R-Net 192x24x24x3", "rnet", (192, 24, 24, 3), 3),
    ("O-Net 16x48x48x3", "onet", (16, 48, 48, 3), 3),
)


def conv1_blocks(rounds, repeats):
    """Rows (name, plain wall, block wall, max difference), both xla.jit."""
    rows = []
    for i, (name, net, shape, window) in enumerate(CONV1_CASES):
        params = nets.init(jax.random.key(i), net)
        x = _rand(shape, 30 + i)

        def plain(params, x, window=window):
            y = ops.conv(x, params["conv1"]["kernel"], params["conv1"]["bias"])
            y = ops.prelu(y, params["prelu1"]["alpha"])
            return ops.max_pool(y, window, 2, ceil_mode=True)

        def blocks(params, x, window=window):
            if window == 2:
                return nets._pool2_blocks(nets._conv1_blocks(params, x))
            return nets._conv1_pool3(params, x)

        sides = (xla.jit(plain), xla.jit(blocks))
        diff = float(jnp.abs(sides[0](params, x) - sides[1](params, x)).max())
        times = [[] for _ in sides]
        for _ in range(2):
            for fn, t in zip(sides, times, strict=True):
                t.append(_wall_and_cpu(fn, (params, x), rounds, repeats)[0])
        rows.append((name, min(times[0]), min(times[1]), diff))
    return rows


def _print_conv1(rows):
    print("\nconv1 + PReLU + max pool (ms per call, xla.jit):")
    print(
        f"  {'input':20} {'3x3 conv':>9} {'2x2 blocks':>10} {'speed-up':>8} {'diff':>8}"
    )
    for name, plain, block, diff in rows:
        print(
            f"  {name:20} {plain * 1e3:9.2f} {block * 1e3:10.2f}"
            f" {plain / block:8.2f} {diff:8.1e}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, "
        f"{platform.processor() or platform.machine()}, "
        f"{args.rounds} alternating rounds of {args.repeats} calls, medians"
    )
    rows = []
    print(f"\n{'op':34} {'jaxcnn ms':>10} {'raw ms':>10} {'ratio':>7}")
    for name, ours, raw, inputs in cases():
        ours, raw = jax.jit(ours), jax.jit(raw)
        t_ours, t_raw = compare(ours, raw, inputs, args.rounds, args.repeats)
        print(
            f"{name:34} {t_ours * 1e3:10.3f} {t_raw * 1e3:10.3f} {t_ours / t_raw:7.2f}"
        )
        rows.append((name, hlo_counts(ours, inputs), hlo_counts(raw, inputs)))
    print("\nOptimised HLO op counts (jaxcnn | raw):")
    for name, c_ours, c_raw in rows:
        flag = "same" if c_ours == c_raw else "DIFFERENT"
        print(f"  {name:34} {flag:9} {_fmt_counts(c_ours)} | {_fmt_counts(c_raw)}")
    t_ours, t_raw, same, c_ours, c_raw = max_pool_grad(args.rounds, args.repeats)
    print("\nmax_pool gradient, 128x26x26x32, window 2, stride 2:")
    print(f"  reduce_window autodiff (select-and-scatter): {t_raw * 1e3:8.2f} ms")
    print(f"  jaxcnn (tiles + first-maximum mask):         {t_ours * 1e3:8.2f} ms")
    print(f"  speed-up {t_raw / t_ours:.1f}x; gradients identical: {same}")
    print(f"  HLO jaxcnn: {_fmt_counts(c_ours)}")
    print(f"  HLO raw:    {_fmt_counts(c_raw)}")
    _print_lowerings(lowerings(args.rounds, args.repeats))
    _print_conv1(conv1_blocks(args.rounds, args.repeats))


if __name__ == "__main__":
    main()
