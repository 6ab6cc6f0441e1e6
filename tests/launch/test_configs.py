"""Every launch config names a registered experiment and documents how to run it."""

import importlib
import pathlib

import pytest

from launch import experiments
from launch.configs import common

CONFIGS = sorted(p.stem for p in (pathlib.Path(__file__).resolve().parents[2] / "launch" / "configs").glob("*.py")
                 if not p.stem.startswith("_") and p.stem != "common")


def test_there_are_configs():
    assert "reinforce_baselines" in CONFIGS


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_documented_and_registered(name):
    module = importlib.import_module(f"launch.configs.{name}")
    doc = module.__doc__ or ""
    assert f"--config=launch/configs/{name}.py" in doc, f"{name}: docstring lacks the exact command"
    assert "CPU" in doc and "Expected" in doc, f"{name}: docstring lacks runtime on CPU or expected figures"
    config = module.get_config()
    assert config.experiment in experiments.EXPERIMENTS
    experiment = experiments.get(config.experiment)
    if experiment.measure is not None:  # a measurement: launch/measure.py reads experiment and seed only
        needed, runner = common.MEASURE_FIELDS, "launch/measure.py"
    else:
        needed, runner = [n for n in common.LOOP_FIELDS if n != "param_shards"], "launch/train.py"
    for field in needed:
        assert field in config, f"{name}: config lacks {field!r}, which {runner} needs"


@pytest.mark.parametrize("name", CONFIGS)
def test_default_config_passes_validation(name):
    config = importlib.import_module(f"launch.configs.{name}").get_config()
    experiment = experiments.get(config.experiment)
    common.validate(config, experiment.config_fields, trains=experiment.trains)
