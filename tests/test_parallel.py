"""Data parallelism over 8 host devices matches the single-device step.

``--xla_force_host_platform_device_count`` must be set before jax is imported,
so the 8-device check runs in a subprocess with a timeout (a hung collective
fails the test instead of hanging CI).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxcnn import parallel
from tests.tolerances import assert_close

TIMEOUT_S = 300  # ~20 s on an idle 2-core machine; generous for a loaded one

SCRIPT = """
import json, sys
import jax, numpy as np, optax
from jaxcnn import models, parallel, train

assert jax.device_count() == 8, jax.devices()
rng = np.random.default_rng(0)
images = rng.normal(size=(16, 8, 8, 1)).astype(np.float32)
labels = rng.integers(0, 10, 16).astype(np.int32)
model = models.build("simple_cnn", stages=((4,),), hidden=(8,))
optimizer = optax.sgd(0.1, momentum=0.9)
state = train.create_train_state(model, optimizer, 0, images[:2])
step = train.make_train_step(model, optimizer)

single, m1 = jax.jit(step)(state, (images, labels))

mesh = parallel.make_mesh()
sharded_batch = parallel.shard_batch((images, labels), mesh)
assert len(sharded_batch[0].addressable_shards) == 8
assert sharded_batch[0].addressable_shards[0].data.shape == (2, 8, 8, 1)
multi, m8 = parallel.data_parallel_step(step, mesh)(
    parallel.replicate(state, mesh), sharded_batch
)
assert len(multi.params["Dense_0"]["kernel"].sharding.device_set) == 8
try:
    parallel.shard_batch((images[:12], labels[:12]), mesh)
    raise AssertionError("a batch of 12 must not split over 8 devices")
except ValueError as err:
    assert "divisible by the 8 devices" in str(err)
flat = lambda s: [np.asarray(x).tolist() for x in jax.tree_util.tree_leaves(s)]
json.dump(
    {"loss": [float(m1["loss"]), float(m8["loss"])], "single": flat(single),
     "multi": flat(multi)},
    open(sys.argv[1], "w"),
)
"""


def test_one_step_on_8_host_devices_matches_one_device(tmp_path):
    script, out = tmp_path / "dp.py", tmp_path / "out.json"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    }
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(out)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the 8-device step did not finish within {TIMEOUT_S} s (hang?)")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert_close(result["loss"][1], result["loss"][0], np.float32)
    assert len(result["single"]) == len(result["multi"])
    for multi, single in zip(result["multi"], result["single"], strict=True):
        # Parameters, batch statistics and momentum, all float32 (step and key
        # are integers and must match exactly, which the tolerance implies).
        assert_close(np.asarray(multi), np.asarray(single), np.float32)


def test_make_mesh_and_initialize_distributed_check_arguments():
    mesh = parallel.make_mesh()
    assert mesh.axis_names == ("data",) and mesh.devices.size >= 1
    with pytest.raises(ValueError, match="num_devices"):
        parallel.make_mesh(10_000)
    with pytest.raises(ValueError, match="num_devices"):
        parallel.make_mesh(0)
    with pytest.raises(ValueError, match="together"):
        parallel.initialize_distributed("localhost:1234")
    with pytest.raises(ValueError, match="process_id"):
        parallel.initialize_distributed("localhost:1234", 2, 5)


def test_shard_batch_rejects_scalars():
    mesh = parallel.make_mesh(1)
    with pytest.raises(ValueError, match="leading axis"):
        parallel.shard_batch(np.float32(1.0), mesh)
    placed = parallel.shard_batch(np.zeros((3, 2), np.float32), mesh)
    assert placed.shape == (3, 2)
