"""Multi-host and sharded-parameter runs: two processes on localhost, FSDP-style layout.

The two-process test starts `python -m launch.main` twice with ``jax.distributed``
over a localhost coordinator (CPU collectives through gloo), 4 fake CPU devices per
process, on one shared workdir; the result must equal a one-process run on the 8
devices of this test process, and only process 0 may write anything but checkpoints.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from launch import train
from launch.configs import reinforce_baselines

ROOT = pathlib.Path(__file__).resolve().parents[2]

_OVERRIDES = {"num_steps": 4, "num_seeds": 2, "meter_draws": 16, "eval_every": 2, "log_every": 4,
              "checkpoint_every": 2}


def small_config(**overrides):
    config = reinforce_baselines.get_config()
    config.update(_OVERRIDES)
    config.update(overrides)
    return config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_and_write_one_metrics_file(tmp_path):
    assert jax.device_count() == 8, "tests need XLA_FLAGS=--xla_force_host_platform_device_count=8"
    port = _free_port()
    workdir = tmp_path / "two"
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_COMPILATION_CACHE_DIR")}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2")
    args = [f"--config.{k}={v}" for k, v in _OVERRIDES.items()]
    procs, logs = [], []
    for process_id in range(2):
        log = tmp_path / f"process{process_id}.log"
        logs.append(log)
        with open(log, "wb") as err:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "launch.main", "--config=launch/configs/reinforce_baselines.py",
                 f"--workdir={workdir}", *args],
                cwd=ROOT, env=dict(env, JAX_PROCESS_ID=str(process_id)), stdout=subprocess.DEVNULL, stderr=err))
    try:
        codes = [p.wait(timeout=420) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0, 0], "\n".join(log.read_text()[-2000:] for log in logs)

    one = train.train_and_evaluate(small_config(), tmp_path / "one")  # 1 process, 8 devices
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [r["step"] for r in one["history"]] == [0, 2, 4]
    for two_row, one_row in zip(rows, one["history"]):
        assert two_row.keys() == one_row.keys()
        np.testing.assert_allclose([two_row[k] for k in one_row], [one_row[k] for k in one_row],
                                   rtol=1e-4, atol=1e-6)
    written = sorted(str(p.relative_to(workdir)) for p in workdir.iterdir())
    assert written == ["checkpoints", "config.json", "metrics.jsonl", "reinforce_baselines.png", "report.md"]
    assert len(list(workdir.rglob("metrics*"))) == 1


@pytest.mark.parametrize("shape, shards, expected", [
    ((2, 10), 2, PartitionSpec(None, "param")),   # the largest divisible dimension
    ((8, 4), 4, PartitionSpec("param", None)),
    ((4, 4), 4, PartitionSpec("param", None)),    # ties: the leading one
    ((3, 5), 2, PartitionSpec()),                 # nothing divides: replicated
    ((), 4, PartitionSpec()),
    ((8, 16), 1, PartitionSpec()),
])
def test_leaf_spec_rule(shape, shards, expected):
    assert train.leaf_spec(shape, shards) == expected


def test_state_is_laid_out_over_the_param_axis():
    mesh = train.make_mesh(8, param_shards=2)
    assert dict(mesh.shape) == {"data": 4, "param": 2}
    abstract = {"w": jax.ShapeDtypeStruct((2, 10), np.float32), "count": jax.ShapeDtypeStruct((), np.int32)}
    layout = train.state_sharding(mesh, abstract)
    assert layout["w"].spec == PartitionSpec(None, "param") and layout["count"].spec == PartitionSpec()
    w = jax.device_put(np.ones((2, 10), np.float32), layout["w"])
    assert {s.data.shape for s in w.addressable_shards} == {(2, 5)}


@pytest.mark.parametrize("param_shards", [2, 4])
def test_sharded_parameters_equal_replicated(tmp_path, param_shards):
    replicated = train.train_and_evaluate(small_config(), tmp_path / "replicated")
    sharded = train.train_and_evaluate(small_config(param_shards=param_shards), tmp_path / "sharded")
    # Equal up to float32 reduction order (the same tolerances as data-axis sharding in
    # test_train.py): the meter's variance terms are differences of sums, hence atol.
    for x, y in zip(jax.tree_util.tree_leaves(replicated["state"]), jax.tree_util.tree_leaves(sharded["state"])):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for r1, r2 in zip(replicated["history"], sharded["history"]):
        assert r1.keys() == r2.keys()
        np.testing.assert_allclose([r1[k] for k in r1], [r2[k] for k in r1], rtol=1e-4, atol=1e-6)


def test_param_shards_must_divide_the_devices(tmp_path):
    with pytest.raises(ValueError, match="config.param_shards=3"):
        train.train_and_evaluate(small_config(param_shards=3), tmp_path)
