"""Tajwar's bandit through train_and_evaluate: a few rounds, report, metrics, and the headline ordering."""

from __future__ import annotations

import numpy as np

from launch import train
from launch.configs import tajwar_bandit


def test_few_rounds_write_report_and_move_mass(tmp_path):
    config = tajwar_bandit.get_config()
    config.update({"num_steps": 6, "batch_size": 8, "num_seeds": 2, "eval_every": 3, "log_every": 3, "checkpoint_every": 6,
                   "runs": ("offline/sft", "offline/dpo", "on_policy/reinforce", "on_policy/ppo")})
    out = train.train_and_evaluate(config, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| on_policy/ppo |" in report and "| π_ref |" in report
    assert (tmp_path / "tajwar_bandit.png").stat().st_size > 0
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())
    first, last = out["history"][0], out["history"][-1]
    for run in config.runs:  # every method improves on pi_ref for the off-mode peak
        assert last[f"reward/70/{run}"] > first[f"reward/70/{run}"]
    # With the peak off the reference mode, the on-policy method is ahead of offline SFT already.
    assert last["reward/70/on_policy/reinforce"] > last["reward/70/offline/sft"]
