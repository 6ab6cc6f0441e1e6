"""The launch path: one step, resume after SIGKILL, corrupted checkpoints, sharding."""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from launch import experiments, train
from launch.configs import reinforce_baselines

ROOT = pathlib.Path(__file__).resolve().parents[2]


def small_config(**overrides):
    config = reinforce_baselines.get_config()
    config.update({"num_steps": 12, "num_seeds": 2, "meter_draws": 32, "eval_every": 2, "log_every": 4,
                       "checkpoint_every": 4})
    config.update(overrides)
    return config


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_one_step_writes_metrics_checkpoint_plot_and_report(tmp_path):
    out = train.train_and_evaluate(small_config(num_steps=1), tmp_path)
    assert (tmp_path / "checkpoints" / "1").is_dir()
    assert (tmp_path / "reinforce_baselines.png").stat().st_size > 0
    report = (tmp_path / "report.md").read_text()
    assert "| leave_one_out |" in report
    steps = [r["step"] for r in out["history"]]
    assert steps == [0, 1]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())


def test_same_seed_same_result_and_rerun_is_a_no_op(tmp_path):
    a = train.train_and_evaluate(small_config(), tmp_path / "a")
    b = train.train_and_evaluate(small_config(), tmp_path / "b")
    for x, y in zip(leaves(a["state"]), leaves(b["state"])):
        np.testing.assert_array_equal(x, y)
    again = train.train_and_evaluate(small_config(), tmp_path / "a")  # resumes at the end
    assert again["history"] == a["history"]


def test_sharded_over_8_devices_matches_one_device(tmp_path):
    assert jax.device_count() == 8, "tests need XLA_FLAGS=--xla_force_host_platform_device_count=8"
    one = train.train_and_evaluate(small_config(num_devices=1), tmp_path / "one")
    eight = train.train_and_evaluate(small_config(num_devices=8), tmp_path / "eight")
    for x, y in zip(leaves(one["state"]), leaves(eight["state"])):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for r1, r8 in zip(one["history"], eight["history"]):
        assert r1.keys() == r8.keys()
        np.testing.assert_allclose([r1[k] for k in r1], [r8[k] for k in r1], rtol=1e-4, atol=1e-6)


def test_batch_size_must_divide_over_devices(tmp_path):
    with pytest.raises(ValueError, match="config.batch_size"):
        train.train_and_evaluate(small_config(batch_size=6, num_devices=4), tmp_path)


def test_unknown_experiment_lists_valid_ones():
    with pytest.raises(KeyError, match="reinforce_baselines"):
        experiments.get("no_such_experiment")


def _corrupt(step_dir: pathlib.Path) -> None:
    data = [p for p in step_dir.rglob("*") if p.is_file() and "d" in p.parent.name]
    assert data, f"no data files under {step_dir}"
    for p in data:
        p.write_bytes(b"")


def test_corrupted_latest_checkpoint_falls_back_with_a_warning(tmp_path, caplog):
    reference = train.train_and_evaluate(small_config(num_steps=16), tmp_path / "ref")
    work = tmp_path / "work"
    train.train_and_evaluate(small_config(num_steps=12), work)
    _corrupt(work / "checkpoints" / "12")
    with caplog.at_level(logging.WARNING):
        resumed = train.train_and_evaluate(small_config(num_steps=16), work)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("step 12" in m and "falling back" in m for m in warned), warned
    for x, y in zip(leaves(reference["state"]), leaves(resumed["state"])):
        np.testing.assert_array_equal(x, y)
    assert resumed["history"] == reference["history"]


def test_no_restorable_checkpoint_raises_naming_the_steps(tmp_path):
    train.train_and_evaluate(small_config(num_steps=8), tmp_path)
    for step in (4, 8):
        _corrupt(tmp_path / "checkpoints" / str(step))
    with pytest.raises(RuntimeError, match="step 8.*step 4") as err:
        train.train_and_evaluate(small_config(num_steps=8), tmp_path)
    assert isinstance(err.value, train.workdir_lib.LaunchError)  # launch.main prints it as one line
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "checkpoints.corrupted").iterdir()) == ["4", "8"]


@pytest.mark.parametrize(
    "environ, expected",
    [({}, False), ({"SLURM_NTASKS": "1"}, False), ({"SLURM_NTASKS": "4"}, True),
     ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}, True), ({"TPU_WORKER_HOSTNAMES": "a"}, False),
     ({"TPU_WORKER_HOSTNAMES": "a,b"}, True), ({"OMPI_COMM_WORLD_SIZE": "2"}, True)])
def test_multihost_detection(environ, expected, monkeypatch):
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda: calls.append(1))
    assert train.maybe_initialize_distributed(environ) is expected
    assert calls == ([1] if expected else [])


# The SIGKILL test runs the real entry point, as a user would.
_ARGS = ["--config.num_steps=200", "--config.num_seeds=2", "--config.meter_draws=64",
         "--config.eval_every=1", "--config.checkpoint_every=10", "--config.log_every=50"]


def _launch(workdir, log):
    cmd = [sys.executable, "-m", "launch.main", "--config=launch/configs/reinforce_baselines.py",
           f"--workdir={workdir}", *_ARGS]
    with open(log, "wb") as err:  # a file, not a pipe: a full pipe would block the child
        return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL,
                                stderr=err)


def _final_params(workdir):
    path = (workdir / "checkpoints" / "200" / "default").absolute()
    return leaves(ocp.StandardCheckpointer().restore(path))


def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path):
    logs = {name: tmp_path / f"{name}.log" for name in ("full", "killed", "resumed")}
    tail = {name: lambda name=name: logs[name].read_text()[-3000:] for name in logs}
    full = _launch(tmp_path / "full", logs["full"])
    killed = _launch(tmp_path / "killed", logs["killed"])
    deadline = time.monotonic() + 120
    first = tmp_path / "killed" / "checkpoints" / "10"
    while not (first / "commit_success.txt").exists():
        assert killed.poll() is None, tail["killed"]()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (tmp_path / "killed" / "checkpoints" / "200").exists(), "the run finished before the kill"

    resumed = _launch(tmp_path / "killed", logs["resumed"])
    assert resumed.wait(timeout=300) == 0, tail["resumed"]()
    assert full.wait(timeout=300) == 0, tail["full"]()
    assert "Resumed reinforce_baselines from step" in logs["resumed"].read_text()
    for x, y in zip(_final_params(tmp_path / "full"), _final_params(tmp_path / "killed")):
        np.testing.assert_array_equal(x, y)
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == \
        (tmp_path / "killed" / "metrics.jsonl").read_text()


def test_history_mean_se_matches_numpy():
    from launch.experiments._history import mean_se

    v = np.array([[1.0, 2.0], [3.0, 5.0], [2.0, 2.0]])
    mean, se = mean_se(v)
    np.testing.assert_allclose(mean, v.mean(0))
    np.testing.assert_allclose(se, [np.std([1, 3, 2], ddof=1) / np.sqrt(3), np.std([2, 5, 2], ddof=1) / np.sqrt(3)])
    m1, s1 = mean_se([4.0])  # one seed: no spread to estimate, SE 0 rather than NaN
    assert m1 == 4.0 and s1 == 0.0
