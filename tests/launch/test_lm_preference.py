"""lm_preference: pair construction against plain Python, and a short run through launch.main."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

from launch.configs import lm_preference as pref_config
from launch.experiments import lm_preference as experiment

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_pairs_are_first_correct_and_first_wrong():
    rng = np.random.default_rng(0)
    config = pref_config.get_config()
    prompts, group, length = 40, 4, 10
    tokens = rng.integers(0, 14, (prompts * group, length)).astype(np.int32)
    rewards = (rng.random((prompts, group)) < 0.4).astype(np.float32)
    rewards[0], rewards[1] = 1.0, 0.0  # all correct, all wrong: no pair
    chosen, rejected, valid = (np.asarray(x) for x in experiment.pairs(config, tokens, rewards))
    for p in range(prompts):
        rows = tokens[p * group:(p + 1) * group]
        good = [i for i in range(group) if rewards[p, i] > 0.5]
        bad = [i for i in range(group) if rewards[p, i] <= 0.5]
        assert valid[p] == bool(good and bad)
        if valid[p]:
            np.testing.assert_array_equal(chosen[p], rows[good[0]])
            np.testing.assert_array_equal(rejected[p], rows[bad[0]])
    assert not valid[0] and not valid[1] and valid.sum() > 10


def test_short_run_through_launch_main_writes_the_report(tmp_path):
    overrides = {"sft_steps": 2, "num_steps": 4, "num_layers": 1, "num_heads": 2, "head_dim": 8, "mlp_dim": 32,
                 "group_size": 4, "batch_size": 4, "bootstrap_resamples": 50, "eval_problems": 32,
                 "eval_samples": 2, "offline_prompts": 8, "eval_every": 2, "log_every": 2, "checkpoint_every": 2}
    workdir = tmp_path / "w"
    result = subprocess.run([sys.executable, "-m", "launch.main", "--config=launch/configs/lm_preference.py",
                             f"--workdir={workdir}", *(f"--config.{k}={v}" for k, v in overrides.items())],
                            cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 2, 4]
    for m in ["sft", *experiment.METHODS]:
        assert rows[-1][f"pass1_lo/{m}"] <= rows[-1][f"pass1/{m}"] <= rows[-1][f"pass1_hi/{m}"]
    for m in experiment.METHODS:
        assert np.isfinite(rows[-1][f"train_loss/{m}"]) and 0.0 <= rows[-1][f"train_pairs/{m}"] <= 1.0
    report = (workdir / "report.md").read_text()
    assert all(f"| {m} |" in report for m in experiment.METHODS)
    assert set(json.loads((workdir / "lm_preference.json").read_text())["models"]) == {"sft", *experiment.METHODS}
