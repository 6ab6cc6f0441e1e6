"""Two protocols: measurements run by launch/measure.py (no mesh, no checkpoints), training by the loop.

Also the shared pieces: `common.loop_config` / `measure_config`, `get_config(variant)`
variants, the report helpers of launch/report.py, and parameter sharding on a model
with real weight matrices.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import ml_collections
import numpy as np
import pytest

from launch import experiments, measure, report, train
from launch import workdir as workdir_lib
from launch.configs import common, simplicity_bias

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.stem for p in (ROOT / "launch" / "configs").glob("*.py")
                 if not p.stem.startswith("_") and p.stem != "common")

# A user's measurement and a user's training module that evaluates the same thing: the
# measurement must see the key the loop's step-0 evaluation sees.
_MEASUREMENT = '''
"""Draws 4 uniforms from the key; reports them in a table and a figure."""
import jax
from launch.report import plt, save_figure, table

def measure(config, key):
    u = jax.random.uniform(key, (4,))
    return {f"u{i}": u[i] * config.scale for i in range(4)}

def report(config, workdir, history):
    rec = history[-1]
    fig, ax = plt.subplots()
    ax.plot([rec[f"u{i}"] for i in range(4)])
    link = save_figure(fig, workdir / "u.png")
    return "\\n".join(table(["i", "u"], [[i, f"{rec[f'u{i}']:.6f}"] for i in range(4)]) + [link])
'''

_TRAINING = '''
"""The same draws as a training module's step-0 evaluation."""
import jax
import jax.numpy as jnp

def init(config, key):
    return {"w": jnp.zeros(())}

def make_batch(config, key):
    return {"x": jnp.zeros((config.batch_size,))}

def train_step(config, state, batch):
    return state, {}

def evaluate(config, state, key):
    u = jax.random.uniform(key, (4,))
    return {f"u{i}": u[i] * config.scale for i in range(4)}

def progress(record):
    return ""

def report(config, workdir, history):
    return "done"
'''


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    package = tmp_path / "mods" / "user_protocols"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "draws.py").write_text(textwrap.dedent(_MEASUREMENT))
    (package / "draws_trained.py").write_text(textwrap.dedent(_TRAINING))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    yield tmp_path / "mods"
    for name in [m for m in sys.modules if m.startswith("user_protocols")]:
        del sys.modules[name]


def measurement_config(seed: int = 3) -> ml_collections.ConfigDict:
    config = common.measure_config("user_protocols.draws", seed=seed)
    config.scale = 2.0
    return config


# ---------------------------------------------------------------- the measurement runner


def test_a_measurement_runs_without_mesh_or_checkpoints(user_modules, tmp_path, monkeypatch):
    def no_mesh(*args, **kwargs):
        raise AssertionError("a measurement built a mesh")

    monkeypatch.setattr(train, "make_mesh", no_mesh)
    out = train.train_and_evaluate(measurement_config(), tmp_path / "w")
    (row,) = out["history"]
    expected = 2.0 * np.asarray(jax.random.uniform(measure.measurement_key(3), (4,)))
    np.testing.assert_allclose([row[f"u{i}"] for i in range(4)], expected, rtol=1e-6)
    assert row["step"] == 0 and out["measured"] and "state" not in out
    names = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert names == ["config.json", "metrics.jsonl", "report.md", "u.png"]
    assert [json.loads(line) for line in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()] == [row]
    assert (tmp_path / "w" / "report.md").read_text().startswith("| i | u |\n|---|---|\n| 0 |")


def test_the_measurement_key_is_the_loops_step_0_evaluation_key(user_modules, tmp_path):
    measured = measure.measure_and_report(measurement_config(seed=11), tmp_path / "m")["history"][0]
    config = common.loop_config("user_protocols.draws_trained", seed=11, num_steps=1)
    config.scale = 2.0
    trained = train.train_and_evaluate(config, tmp_path / "t")["history"][0]
    assert trained["step"] == 0
    np.testing.assert_allclose([measured[f"u{i}"] for i in range(4)], [trained[f"u{i}"] for i in range(4)],
                               rtol=1e-6)


def test_a_rerun_reuses_the_row_and_a_changed_config_is_refused(user_modules, tmp_path):
    first = measure.measure_and_report(measurement_config(), tmp_path / "w")
    again = measure.measure_and_report(measurement_config(), tmp_path / "w")
    assert not again["measured"] and again["history"] == first["history"]
    changed = measurement_config()
    changed.scale = 3.0
    before = {p.name: p.read_bytes() for p in (tmp_path / "w").iterdir()}
    with pytest.raises(workdir_lib.ConfigMismatchError, match="config.scale: recorded 2.0, now 3.0"):
        measure.measure_and_report(changed, tmp_path / "w")
    assert {p.name: p.read_bytes() for p in (tmp_path / "w").iterdir()} == before
    fresh = measure.measure_and_report(changed, tmp_path / "w", fresh=True)
    assert fresh["measured"] and fresh["history"][0]["u0"] == pytest.approx(1.5 * first["history"][0]["u0"])
    assert len(list(tmp_path.glob("w.*"))) == 1  # the old workdir, moved aside


def test_a_record_with_the_old_loop_fields_may_resume(user_modules, tmp_path):
    measure.measure_and_report(measurement_config(), tmp_path / "w")
    recorded = json.loads((tmp_path / "w" / "config.json").read_text())
    recorded.update({"num_steps": 0, "batch_size": 8, "eval_every": 1, "checkpoint_every": 1})
    (tmp_path / "w" / "config.json").write_text(json.dumps(recorded))
    assert not measure.measure_and_report(measurement_config(), tmp_path / "w")["measured"]


def test_only_process_0_writes_a_measurement(user_modules, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "is_writer", lambda: False)
    out = measure.measure_and_report(measurement_config(), tmp_path / "w")
    assert len(out["history"]) == 1 and not (tmp_path / "w").exists()


def test_bad_measurement_config_fails_before_the_workdir_exists(user_modules, tmp_path):
    config = measurement_config()
    config.seed = -1
    with pytest.raises(common.ConfigError, match="config.seed=-1"):
        measure.measure_and_report(config, tmp_path / "w")
    del config["seed"]
    with pytest.raises(common.ConfigError, match="config.seed: missing; the measurement needs it"):
        measure.measure_and_report(config, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_user_measurement_runs_through_launch_main(user_modules, tmp_path):
    config_file = tmp_path / "draws_config.py"
    config_file.write_text(textwrap.dedent('''
        from launch.configs import common

        def get_config():
            config = common.measure_config("user_protocols.draws")
            config.scale = 1.0
            return config
    '''))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(user_modules), str(ROOT)]))
    result = subprocess.run([sys.executable, "-m", "launch.main", f"--config={config_file}",
                             f"--workdir={tmp_path / 'w'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "w" / "checkpoints").exists() and (tmp_path / "w" / "u.png").exists()


def test_train_step_makes_a_training_module(tmp_path, monkeypatch):
    package = tmp_path / "user_both"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "both.py").write_text(_TRAINING + "\ndef measure(config, key):\n    return {}\n")
    (package / "bare.py").write_text("def measure(config, key):\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    both = experiments.get("user_both.both")  # train_step wins: its measure is a helper
    assert both.trains and both.measure is None
    with pytest.raises(experiments.UnknownExperimentError, match="lacks report"):
        experiments.get("user_both.bare")


@pytest.mark.parametrize("name", CONFIGS)
def test_built_in_experiments_follow_one_protocol(name):
    config = importlib.import_module(f"launch.configs.{name}").get_config()
    experiment = experiments.get(config.experiment)
    module = experiments.module_for(config.experiment)
    if experiment.measure is not None:
        assert not experiment.trains and "num_steps" not in config and "checkpoint_every" not in config
        assert not hasattr(module, "evaluate") and not hasattr(module, "jit_evaluate")
    else:
        assert experiment.trains and config.num_steps >= 1


# ---------------------------------------------------------------- configs: loop fields and variants


def test_loop_config_defaults_and_overrides():
    config = common.loop_config("reinforce_baselines", num_steps=300, eval_every=5)
    assert workdir_lib.flatten_config(config) == {"experiment": "reinforce_baselines", **common.LOOP_DEFAULTS,
                                                  "num_steps": 300, "eval_every": 5}
    with pytest.raises(ValueError, match="noise_std not loop fields"):
        common.loop_config("reinforce_baselines", noise_std=1.0)
    assert workdir_lib.flatten_config(common.measure_config("x", seed=2)) == {"experiment": "x", "seed": 2}


VARIANTS = [(name, variant) for name in CONFIGS
            for variant in getattr(importlib.import_module(f"launch.configs.{name}"), "VARIANTS", {})]


def test_the_flag_recipes_became_variants():
    assert {("reinforce_baselines", "accelerator"), ("agentic_hgpo", "mean_std_norm"), ("agentic_hgpo", "accelerator"),
            ("dcpo_entropy", "entropy_base_1"), ("dcpo_entropy", "accelerator"), ("lla_icl", "linear"),
            ("lla_icl", "accelerator"), ("misalignment", "lora"), ("mqar", "accelerator"),
            ("simplicity_bias", "ms57")} <= set(VARIANTS)
    for name in CONFIGS:
        doc = importlib.import_module(f"launch.configs.{name}").__doc__
        assert "--config." not in doc, f"{name}: a flag recipe is left in the docstring; make it a variant"


@pytest.mark.parametrize("name,variant", VARIANTS)
def test_each_variant_loads_and_validates(name, variant):
    module = importlib.import_module(f"launch.configs.{name}")
    default, config = module.get_config(), module.get_config(variant)
    for field, value in module.VARIANTS[variant].items():
        assert config[field] == value
    changed = {k for k, v in workdir_lib.flatten_config(config).items()
               if workdir_lib.flatten_config(default)[k] != v}
    assert changed == set(module.VARIANTS[variant])
    experiment = experiments.get(config.experiment)
    common.validate(config, experiment.config_fields, trains=experiment.trains)


@pytest.mark.parametrize("name", sorted({name for name, _ in VARIANTS}))
def test_an_unknown_variant_lists_the_valid_ones(name):
    module = importlib.import_module(f"launch.configs.{name}")
    with pytest.raises(ValueError, match=f"unknown variant 'nope'; valid: '', {next(iter(module.VARIANTS))!r}"):
        module.get_config("nope")


def test_apply_variant_refuses_a_field_the_config_lacks():
    with pytest.raises(ValueError, match="no such field"):
        common.apply_variant(common.loop_config("x"), "v", {"v": {"nosuch": 1}}, name="x")


# ---------------------------------------------------------------- report helpers


def test_report_helpers(tmp_path):
    assert report.table(["a", "b"], [[1, 2.5]]) == ["| a | b |", "|---|---|", "| 1 | 2.5 |"]
    assert report.pm(1.23456, 0.0123) == "1.235 ± 0.012" and report.pm(2.5, 0.04, ".3g", ".1g") == "2.5 ± 0.04"
    fig, ax = report.plt.subplots()
    report.errorbars(ax, [1, 2], [1.0, 2.0], [0.1, 0.2], label="x")
    report.label_axes(ax, xlabel="x", ylabel="y", title="t", xscale="log", xbase=2, yscale="log")
    assert ax.get_xscale() == "log" and ax.get_title() == "t" and ax.get_legend() is not None
    assert report.save_figure(fig, tmp_path / "f.png") == "![figure](f.png)"
    assert (tmp_path / "f.png").stat().st_size > 0 and not report.plt.get_fignums()
    values = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0]])
    mean, se = report.mean_se(values)
    np.testing.assert_allclose(mean, values.mean(0))
    np.testing.assert_allclose(se, values.std(0, ddof=1) / np.sqrt(3))
    steps, v = report.series([{"step": 0, "a": 1.0}, {"step": 5}, {"step": 10, "a": 3.0}], "a")
    assert steps.tolist() == [0, 10] and v.tolist() == [1.0, 3.0]


# ---------------------------------------------------------------- parameter sharding, an MLP


def small_mlp(**overrides):
    config = simplicity_bias.get_config()
    config.update({"dim": 10, "num_seeds": 2, "width": 32, "num_steps": 3, "batch_size": 32, "num_test": 256,
                   "eval_every": 3, "log_every": 3, "checkpoint_every": 3, "num_devices": 0})
    config.update(overrides)
    return config


def test_training_configs_declare_param_shards():
    for name in ("mqar", "lla_icl", "misalignment", "simplicity_bias"):
        assert importlib.import_module(f"launch.configs.{name}").get_config().param_shards == 1


def test_mlp_sharded_over_param_axis_equals_replicated(tmp_path):
    assert jax.device_count() == 8, "tests need XLA_FLAGS=--xla_force_host_platform_device_count=8"
    config = small_mlp(param_shards=2)
    experiment = experiments.get(config.experiment)
    abstract = jax.eval_shape(lambda k: experiment.init(config, k), jax.random.key(0))
    layout = train.state_sharding(train.make_mesh(0, 2), abstract)
    split = [s.spec for s in jax.tree_util.tree_leaves(layout) if "param" in tuple(s.spec)]
    assert len(split) >= 2, "the MLP's weight matrices should be split over the param axis"
    replicated = train.train_and_evaluate(small_mlp(), tmp_path / "replicated")
    sharded = train.train_and_evaluate(config, tmp_path / "sharded")
    for x, y in zip(jax.tree_util.tree_leaves(replicated["state"]), jax.tree_util.tree_leaves(sharded["state"])):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for r1, r2 in zip(replicated["history"], sharded["history"], strict=True):
        assert r1.keys() == r2.keys()
        np.testing.assert_allclose([r1[k] for k in r1], [r2[k] for k in r1], rtol=1e-4, atol=1e-6)
