"""A workdir a pod can trust: config record, lock, crash-proof metrics, checks up front, process 0 writes.

Each test reproduces one way the launch path used to lose or mislabel results and
checks the run now refuses with one line (and leaves the workdir as it was) or repairs
what it may.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from launch import experiments, train
from launch import workdir as workdir_lib
from launch.configs import common, reinforce_baselines

ROOT = pathlib.Path(__file__).resolve().parents[2]


def small_config(**overrides):
    config = reinforce_baselines.get_config()
    config.update({"num_steps": 4, "num_seeds": 2, "meter_draws": 16, "eval_every": 2, "log_every": 4,
                   "checkpoint_every": 2})
    config.update(overrides)
    return config


def snapshot(workdir: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished 4-step run, copied by each test that changes it."""
    workdir = tmp_path_factory.mktemp("finished") / "w"
    out = train.train_and_evaluate(small_config(), workdir)
    return workdir, out


def copy_of(finished, tmp_path) -> pathlib.Path:
    import shutil

    target = tmp_path / "w"
    shutil.copytree(finished[0], target)
    return target


# ---------------------------------------------------------------- 1, 2: the config record


def test_config_is_recorded(finished):
    recorded = json.loads((finished[0] / "config.json").read_text())
    assert recorded["noise_std"] == 0.5 and recorded["optimizer"]["name"] == "sgd"
    assert not (finished[0] / "lock.json").exists(), "the lock is released at the end"


@pytest.mark.parametrize("overrides, fields", [
    ({"noise_std": 2.0, "seed": 7}, ["config.noise_std: recorded 0.5, now 2.0", "config.seed: recorded 0, now 7"]),
    ({"num_arms": 5}, ["config.num_arms: recorded 10, now 5"]),
    ({"num_steps": 2}, ["config.num_steps: recorded 4, now 2 (num_steps may only grow)"]),
    ({"optimizer": {"name": "adam", "learning_rate": 1.0}}, ["config.optimizer.name: recorded 'sgd', now 'adam'"]),
])
def test_changed_config_is_refused_before_any_work(finished, tmp_path, caplog, overrides, fields):
    workdir = copy_of(finished, tmp_path)
    before = snapshot(workdir)
    with caplog.at_level(logging.WARNING), pytest.raises(workdir_lib.ConfigMismatchError) as err:
        train.train_and_evaluate(small_config(**overrides), workdir)
    lines = str(err.value).splitlines()
    assert lines[1:] == fields
    assert "config.json" in lines[0] and "--fresh" in lines[0]
    assert not any("falling back" in r.getMessage() for r in caplog.records), "no checkpoint was touched"
    assert snapshot(workdir) == before


def test_extending_num_steps_and_cadence_fields_may_change(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    out = train.train_and_evaluate(small_config(num_steps=6, eval_every=1, log_every=1, checkpoint_every=3),
                                   workdir)
    assert [r["step"] for r in out["history"]] == [0, 2, 4, 5, 6]
    assert json.loads((workdir / "config.json").read_text())["num_steps"] == 6


def test_fresh_moves_the_old_workdir_to_a_dated_sibling(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    before = snapshot(workdir)
    out = train.train_and_evaluate(small_config(num_steps=2, noise_std=2.0), workdir, fresh=True)
    siblings = [p for p in tmp_path.iterdir() if p.name.startswith("w.")]
    assert len(siblings) == 1 and snapshot(siblings[0]) == before, "the old run is kept whole"
    assert [r["step"] for r in out["history"]] == [0, 2]
    assert json.loads((workdir / "config.json").read_text())["noise_std"] == 2.0


def test_compare_configs_unit():
    recorded = workdir_lib.flatten_config(small_config())
    assert workdir_lib.compare_configs(recorded, small_config(num_steps=9, eval_every=3)) == []
    extra = small_config()
    extra.new_field = 1
    assert workdir_lib.compare_configs(recorded, extra) == ["config.new_field: recorded '<absent>', now 1"]


# ---------------------------------------------------------------- 3: one run per workdir


def test_a_live_lock_is_refused_naming_its_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        tmp_path.mkdir(exist_ok=True)
        record = {"host": socket.gethostname(), "pid": holder.pid, "start": "2026-01-01T00:00:00+00:00"}
        (tmp_path / "lock.json").write_text(json.dumps(record))
        with pytest.raises(workdir_lib.LockError) as err:
            train.train_and_evaluate(small_config(), tmp_path)
        message = str(err.value)
        assert "\n" not in message
        assert socket.gethostname() in message and str(holder.pid) in message and "2026-01-01" in message
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lock.json"], "nothing else was written"
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_on_another_host_is_refused(tmp_path):
    (tmp_path / "lock.json").write_text(json.dumps({"host": "other-host", "pid": 1, "start": "x"}))
    with pytest.raises(workdir_lib.LockError, match="other-host"):
        workdir_lib.WorkdirLock(tmp_path).acquire()


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "lock.json").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "start": "x"}))
    with caplog.at_level(logging.WARNING):
        out = train.train_and_evaluate(small_config(num_steps=2), tmp_path)
    assert any("stale lock" in r.getMessage() and str(dead.pid) in r.getMessage() for r in caplog.records)
    assert [r["step"] for r in out["history"]] == [0, 2]
    assert not (tmp_path / "lock.json").exists()


def test_lock_is_exclusive_within_one_host(tmp_path):
    first = workdir_lib.WorkdirLock(tmp_path)
    first.acquire()
    (tmp_path / "lock.json").write_text(json.dumps({**first.record, "pid": os.getppid()}))  # a live pid
    with pytest.raises(workdir_lib.LockError, match=f"pid {os.getppid()}"):
        workdir_lib.WorkdirLock(tmp_path).acquire()


# ---------------------------------------------------------------- 4: metrics survive crashes


def test_torn_tail_and_orphan_rows_are_repaired_on_resume(finished, tmp_path, caplog):
    workdir = copy_of(finished, tmp_path)
    with (workdir / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 5, "orphan": 1.0}) + "\n")  # past the last checkpoint (4)
        f.write('{"step": 6, "J[mean]": 1.2')                    # a torn append (disk full)
    with caplog.at_level(logging.WARNING):
        out = train.train_and_evaluate(small_config(num_steps=6), workdir)
    assert any("torn last line" in r.getMessage() and "metrics.jsonl" in r.getMessage() for r in caplog.records)
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 2, 4, 6]
    assert all("orphan" not in r for r in rows)
    assert rows == out["history"]


def test_a_damaged_row_inside_the_file_names_the_file(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    path = workdir / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:10]
    path.write_text("\n".join(lines) + "\n")
    before = snapshot(workdir)
    with pytest.raises(workdir_lib.MetricsError, match=r"metrics.jsonl: line 2 "):
        train.train_and_evaluate(small_config(num_steps=6), workdir)
    after = snapshot(workdir)
    assert after["metrics.jsonl"] == before["metrics.jsonl"]


def test_append_row_writes_whole_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    with path.open("a") as f:
        workdir_lib.append_row(f, {"step": 1, "x": 0.5})
        workdir_lib.append_row(f, {"step": 2, "x": float("nan")})
    rows = workdir_lib.read_metrics(path, up_to_step=10)
    assert [r["step"] for r in rows] == [1, 2] and np.isnan(rows[1]["x"])
    assert workdir_lib.read_metrics(path, up_to_step=1) == [{"step": 1, "x": 0.5}]


# ---------------------------------------------------------------- 5: configs checked up front


@pytest.mark.parametrize("overrides, message", [
    ({"num_steps": -5}, "config.num_steps=-5: expected int >= 1"),
    ({"num_steps": 0}, "config.num_steps=0: expected int >= 1"),
    ({"batch_size": 0}, "config.batch_size=0: expected int >= 1"),
    ({"eval_every": 0}, "config.eval_every=0: expected int >= 1"),
    ({"group_size": 1}, "config.group_size=1: expected int >= 2"),
    ({"noise_std": -1.0}, "config.noise_std=-1.0: expected float >= 0"),
    ({"estimators": ("none", "loo")}, "config.estimators=['none', 'loo']: expected tuple/list one of"),
    ({"num_devices": 9}, "config.num_devices=9: expected 0 (all) or 1..8"),
    ({"batch_size": 6, "num_devices": 4}, "config.batch_size=6: expected a multiple of the 4 devices"),
])
def test_bad_values_fail_in_one_line_before_the_workdir_exists(tmp_path, overrides, message):
    with pytest.raises(common.ConfigError) as err:
        train.train_and_evaluate(small_config(**overrides), tmp_path / "w")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert not (tmp_path / "w").exists()


def test_a_measurement_may_have_zero_steps():
    config = small_config(num_steps=0)
    common.validate(config, trains=False)
    with pytest.raises(common.ConfigError, match="num_steps=0"):
        common.validate(config, trains=True)


def test_unknown_field_suggests_the_closest_name():
    config = small_config()
    assert common.unknown_fields(config, ["noise_std", "optimizer.learning_rate"]) == []
    assert common.unknown_fields(config, ["nosie_std"]) == [
        "--config.nosie_std: no such field; did you mean config.noise_std?"]
    assert "did you mean config.optimizer.learning_rate?" in common.unknown_fields(
        config, ["optimizer.learnig_rate"])[0]


def _main(*args, env=None, timeout=120):
    cmd = [sys.executable, "-m", "launch.main", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_cli_refusals_are_one_line_with_exit_1(tmp_path):
    config = "--config=launch/configs/reinforce_baselines.py"
    unknown = _main(config, f"--workdir={tmp_path / 'w'}", "--config.nonexistent=1")
    assert unknown.returncode == 1
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("launch.main: --config.nonexistent: no such field; "), lines
    negative = _main(config, f"--workdir={tmp_path / 'w'}", "--config.num_steps=-5")
    assert negative.returncode == 1
    assert negative.stderr.strip().splitlines()[-1] == "launch.main: config.num_steps=-5: expected int >= 1"
    assert "Traceback" not in negative.stderr
    assert not (tmp_path / "w").exists()
    described = _main(config, "--describe_config")
    assert described.returncode == 0, described.stderr
    shown = {line.split(" = ")[0] for line in described.stdout.splitlines()}
    assert shown == {f"config.{name}" for name in workdir_lib.flatten_config(reinforce_baselines.get_config())}
    assert "config.num_arms = 10  [int >= 2]  # arms K" in described.stdout.splitlines()


# ---------------------------------------------------------------- 6: corrupted checkpoint


def test_corrupted_step_is_moved_aside_quietly_and_saved_again(finished, tmp_path, capfd, caplog):
    workdir = copy_of(finished, tmp_path)
    data = list((workdir / "checkpoints" / "4" / "default" / "d").iterdir())
    assert data
    for p in data:
        p.write_bytes(b"")
    capfd.readouterr()
    with caplog.at_level(logging.WARNING):
        out = train.train_and_evaluate(small_config(), workdir)
    captured = capfd.readouterr()
    assert "Event loop is closed" not in captured.err + captured.out
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("step 4" in m and "falling back" in m for m in warned), warned
    moved = list((workdir / "checkpoints.corrupted").iterdir())
    assert [p.name.split(".")[0] for p in moved] == ["4"] and (moved[0] / "default").is_dir()
    assert (workdir / "checkpoints" / "4" / "commit_success.txt").exists(), "step 4 was saved again"
    for x, y in zip(jax.tree_util.tree_leaves(finished[1]["state"]), jax.tree_util.tree_leaves(out["state"])):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- 7: only process 0 writes


def test_other_processes_write_only_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "is_writer", lambda: False)
    out = train.train_and_evaluate(small_config(num_steps=2), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]
    assert [r["step"] for r in out["history"]] == [0, 2]


# ---------------------------------------------------------------- 8: user experiments


def test_import_launch_main_imports_no_experiment():
    code = ("import sys, launch.main; "
            "bad = [m for m in sys.modules if m.startswith('launch.experiments.') or m == 'matplotlib']; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_unknown_experiment_suggests_and_lists():
    with pytest.raises(experiments.UnknownExperimentError, match="did you mean 'reinforce_baselines'"):
        experiments.get("reinforce_baseline")
    with pytest.raises(experiments.UnknownExperimentError, match="PYTHONPATH"):
        experiments.get("no_such_package.no_such_module")


_USER_EXPERIMENT = '''
"""A user's experiment: fit the mean of N(3, 1) by SGD on the squared error."""
import jax
import jax.numpy as jnp

def init(config, key):
    return {"mu": jnp.zeros(())}

def make_batch(config, key):
    return {"x": 3.0 + jax.random.normal(key, (config.batch_size,))}

def train_step(config, state, batch):
    grad = jnp.mean(state["mu"] - batch["x"])
    return {"mu": state["mu"] - config.learning_rate * grad}, {"loss": jnp.mean((state["mu"] - batch["x"]) ** 2)}

def evaluate(config, state, key):
    return {"mu": state["mu"]}

def progress(record):
    return f"mu={record['mu']:.3f}"

def report(config, workdir, history):
    return f"final mu {history[-1]['mu']:.3f}\\n"
'''

_USER_CONFIG = '''
"""Config for my_experiments.mean_fit."""
import ml_collections

def get_config():
    config = ml_collections.ConfigDict()
    config.experiment = "my_experiments.mean_fit"
    config.seed = 0
    config.num_steps = 40
    config.batch_size = 8
    config.learning_rate = 0.3
    config.eval_every = 10
    config.log_every = 20
    config.checkpoint_every = 20
    config.max_checkpoints = 2
    config.num_devices = 0
    return config
'''


def test_a_user_experiment_runs_through_launch_main(tmp_path):
    package = tmp_path / "src" / "my_experiments"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mean_fit.py").write_text(_USER_EXPERIMENT)
    (tmp_path / "mean_fit_config.py").write_text(_USER_CONFIG)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "src"), str(ROOT)]))
    result = _main(f"--config={tmp_path / 'mean_fit_config.py'}", f"--workdir={tmp_path / 'w'}", env=env,
                   timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 10, 20, 30, 40]
    assert abs(rows[-1]["mu"] - 3.0) < 0.5  # SGD at rate 0.3 on batches of 8 draws of N(3, 1)
    assert (tmp_path / "w" / "report.md").read_text().startswith("final mu")
