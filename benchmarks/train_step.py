"""Train-step throughput: the Fashion-MNIST CNN in jaxcnn against PyTorch.

Both sides run the same network (research/fashion_mnist.py's default: three
conv-BN-ReLU-maxpool stages of 32, 64 and 128 channels, dense 256, dropout,
dense 10), the same AdamW update, label-smoothed cross-entropy and batch size,
on the same random uint8 batch. Each framework lives in its own worker
process (so neither's thread pool or allocator disturbs the other's), started
by this one run, which asks them for timed rounds in turn (JAX, then PyTorch,
repeated) while the other waits idle; the median of each is compared.

    python benchmarks/train_step.py --batch-size 128 --threads 2 --devices 4
    python benchmarks/train_step.py --devices 1 --rounds 9 --steps 20

``--devices N`` splits the JAX batch over N host devices (it sets
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before importing jax),
which lets XLA use several cores for the convolutions (XLA's CPU convolutions
run on one thread each); 4 devices on 2 cores was the fastest here. PyTorch
gets ``torch.set_num_threads(--threads)``.
"""

import argparse
import importlib.util
import multiprocessing
import os
import platform
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    p.add_argument("--devices", type=int, default=4, help="JAX host devices")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = p.parse_args(argv)
    for name in ("batch_size", "threads", "devices", "steps", "rounds"):
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            p.error(f"{flag} must be at least 1; got {getattr(args, name)}")
    if args.batch_size % args.devices:
        p.error(
            f"--batch-size must be a multiple of --devices; got "
            f"{args.batch_size} and {args.devices}"
        )
    return args


def jax_step_fn(batch_size, devices):
    import jax
    import jax.numpy as jnp
    import numpy as np

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "research"))
    import fashion_mnist as fm

    from jaxcnn import parallel, train

    config = fm.Config(batch_size=batch_size)
    model = fm.build_model(config)
    optimizer = fm.make_optimizer(config, 10_000)

    def normalise(key, images, train_mode):
        return (images.astype(jnp.float32) / 255.0 - fm.PIXEL_MEAN) / fm.PIXEL_STD

    step = train.make_train_step(
        model, optimizer, transform=normalise, label_smoothing=config.label_smoothing
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, batch_size).astype(np.int32)
    state = train.create_train_state(model, optimizer, 0, x[:2])
    if devices > 1:
        mesh = parallel.make_mesh(devices)
        step = parallel.data_parallel_step(step, mesh, donate=True)
        state, batch = (
            parallel.replicate(state, mesh),
            parallel.shard_batch((x, y), mesh),
        )
    else:
        step, batch = jax.jit(step, donate_argnums=0), (jnp.asarray(x), jnp.asarray(y))
    holder = {"state": state}

    def run(n):
        for _ in range(n):
            holder["state"], metrics = step(holder["state"], batch)
        jax.block_until_ready(metrics["loss"])

    return run


def torch_step_fn(batch_size, threads):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers, cin = [], 1
    for width in (32, 64, 128):
        layers += [
            nn.Conv2d(cin, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        cin = width
    net = nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128 * 3 * 3, 256),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(256, 10),
    )
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    x = torch.randint(0, 256, (batch_size, 1, 28, 28), dtype=torch.uint8)
    y = torch.randint(0, 10, (batch_size,))

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            inputs = (x.float() / 255.0 - 0.2860) / 0.3530
            loss = loss_fn(net(inputs), y)
            loss.backward()
            opt.step()
        loss.item()

    return run


def _worker(name, args, conn):
    """Build one framework's step in this process, then time ``run(n)`` on
    request, so that neither framework's threads or allocator share a process
    with the other's."""
    if name == "jaxcnn":
        run = jax_step_fn(args.batch_size, args.devices)
    else:
        run = torch_step_fn(args.batch_size, args.threads)
    run(args.steps)  # compile, then warm up
    conn.send("ready")
    while (n := conn.recv()) is not None:
        start = time.perf_counter()
        run(n)
        conn.send((time.perf_counter() - start) / n)


def _start_workers(args):
    if args.devices > 1:
        # Read by the jax worker when it imports jax; this process never does.
        flag = f"--xla_force_host_platform_device_count={args.devices}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    # glibc's default malloc returns large buffers to the system after each
    # step and maps them again on the next; torch's step time then swung from
    # 45 to 800 ms here. Large thresholds keep them (both workers inherit).
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        os.environ.setdefault(name, str(2**30))
    context = multiprocessing.get_context("spawn")
    workers = {}
    try:
        for name in ("jaxcnn", "pytorch"):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(name, args, child))
            process.start()
            child.close()  # so that a dead worker reads as EOF here
            workers[name] = (process, parent)
            _receive(name, workers[name])
    except BaseException:
        _stop(workers)
        raise
    return workers


def _receive(name, worker):
    """The worker's next message; an error if it died (its traceback is above)."""
    process, conn = worker
    try:
        return conn.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"the {name} worker exited with status {process.exitcode}"
        ) from None


def _stop(workers):
    for process, conn in workers.values():
        try:
            conn.send(None)
        except OSError:  # already gone
            pass
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join()


def main(argv=None):
    args = parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        sys.exit(
            "benchmarks/train_step.py compares with PyTorch and needs torch: "
            "pip install torch==2.13.0"
        )
    workers = _start_workers(args)
    times = {name: [] for name in workers}
    try:
        for _ in range(args.rounds):
            for name, worker in workers.items():
                worker[1].send(args.steps)
                times[name].append(_receive(name, worker))
    finally:
        _stop(workers)
    med = {name: statistics.median(t) for name, t in times.items()}
    best = {name: min(t) for name, t in times.items()}
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"batch {args.batch_size}, jax devices {args.devices}, torch threads "
        f"{args.threads}, {args.rounds} rounds x {args.steps} steps"
    )
    print("| framework | median ms / step | fastest round ms / step | images / s |")
    print("|---|---:|---:|---:|")
    for name, t in med.items():
        row = f"{t * 1e3:.1f} | {best[name] * 1e3:.1f} | {args.batch_size / t:.0f}"
        print(f"| {name} | {row} |")
    for name, t in times.items():
        print(f"{name} ms / step per round: " + " ".join(f"{x * 1e3:.0f}" for x in t))
    ratio = med["pytorch"] / med["jaxcnn"]
    print(f"ratio (jaxcnn throughput / pytorch throughput): {ratio:.2f}x")
    ratio = best["pytorch"] / best["jaxcnn"]
    print(f"ratio of the fastest rounds: {ratio:.2f}x")


if __name__ == "__main__":
    main()
