"""Data parallelism with ``jax.jit`` and shardings (no ``pmap``).

The training step of ``jaxcnn.train`` is a pure function of pytrees, so data
parallelism needs no change to it: the batch is split along its first axis over
a one-axis ``Mesh`` of devices and everything else is replicated; ``jax.jit``
with these shardings compiles one SPMD program in which XLA inserts the
gradient all-reduce. The result equals the single-device step up to float
reassociation (batch-norm statistics are over the whole global batch).

On a CPU-only machine, several host "devices" can be made with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``, set before jax is
imported; this also lets XLA keep several cores busy.

Multi-host (several processes, e.g. one per GPU host): call
``initialize_distributed`` first in every process, then build the mesh over
``jax.devices()`` (all processes' devices) and feed each process its share of
the global batch. That path is untested here: the tests run a single process.
"""

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh(num_devices: int | None = None, *, axis_name: str = DATA_AXIS) -> Mesh:
    """A one-axis mesh over the first ``num_devices`` devices (default all).

    Raises:
      ValueError: if ``num_devices`` is below 1 or more than are available.
    """
    devices = jax.devices()
    n = len(devices) if num_devices is None else num_devices
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(devices):
        raise ValueError(
            f"num_devices must be an int in [1, {len(devices)}] (the devices "
            f"available); got {num_devices!r}"
        )
    return Mesh(np.asarray(devices[:n]), (axis_name,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Splits the leading (batch) axis over the mesh's first axis."""
    return NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def shard_batch(batch, mesh: Mesh):
    """Puts every array of ``batch`` on the mesh, split along axis 0.

    Raises:
      ValueError: if a leading axis does not divide by the number of devices.
    """
    n = mesh.devices.size
    for leaf in jax.tree_util.tree_leaves(batch):
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] % n:
            raise ValueError(
                f"batch arrays need a leading axis divisible by the {n} devices; "
                f"got shape {np.shape(leaf)}"
            )
    return jax.device_put(batch, batch_sharding(mesh))


def replicate(tree, mesh: Mesh):
    """Puts every array of ``tree`` on every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))


def data_parallel_step(step: Callable, mesh: Mesh, *, donate: bool = False) -> Callable:
    """Jit-compiles ``step(state, batch) -> (state, metrics)`` data-parallel.

    The state (first argument) and both outputs are replicated, the batch
    (second argument) is split over the mesh.

    Args:
      step: a pure step, e.g. from ``jaxcnn.train.make_train_step``.
      mesh: from ``make_mesh``.
      donate: donate the input state's buffers (saves memory; the caller must
        not reuse the old state).

    Returns:
      The compiled step; feed it states from ``replicate`` and batches from
      ``shard_batch``.
    """
    rep, split = replicated(mesh), batch_sharding(mesh)
    return jax.jit(
        step,
        in_shardings=(rep, split),
        out_shardings=(rep, rep),
        donate_argnums=(0,) if donate else (),
    )


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs,
) -> None:
    """Starts multi-process JAX (``jax.distributed.initialize``).

    Call once per process, before any other JAX call. With no arguments, JAX
    detects the cluster (Slurm, Open MPI, Cloud TPU, Kubernetes); otherwise
    give the coordinator's ``host:port``, the number of processes and this
    process's id. After it, ``jax.devices()`` lists the devices of all
    processes and ``make_mesh`` spans them. Untested in this repository beyond
    its argument checks (one process, no cluster).

    Raises:
      ValueError: if only some of the three arguments are given, or
        ``process_id`` is not in ``[0, num_processes)``.
    """
    given = [a is not None for a in (coordinator_address, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError(
            "coordinator_address, num_processes and process_id must be given "
            f"together or not at all; got {coordinator_address!r}, "
            f"{num_processes!r}, {process_id!r}"
        )
    if all(given) and not 0 <= process_id < num_processes:
        raise ValueError(
            f"process_id must be in [0, num_processes={num_processes}); "
            f"got {process_id}"
        )
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        **kwargs,
    )
