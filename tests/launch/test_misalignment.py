"""The (mis)alignment miniature through train_and_evaluate: a short run, its report, and misalignment working."""

from __future__ import annotations

import numpy as np

from launch import train
from launch.configs import misalignment
from launch.experiments import misalignment as experiment


def test_short_run_misaligns_then_realigns(tmp_path):
    config = misalignment.get_config()
    config.update({"align_steps": 100, "misalign_steps": 8, "num_steps": 12, "num_seeds": 2, "hidden": 32,
                   "batch_size": 16, "eval_size": 32, "eval_every": 4, "log_every": 10,
                   "checkpoint_every": 12, "methods": ("sft", "dpo", "orpo")})
    out = train.train_and_evaluate(config, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| aligned |" in report and "| orpo → dpo |" in report
    assert (tmp_path / "misalignment.png").stat().st_size > 0
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())
    aligned = out["history"][0]
    misaligned = next(r for r in out["history"] if r["step"] == config.misalign_steps)
    final = out["history"][-1]
    assert aligned["unsafe_sampled/sft>sft"] < 0.2  # the aligning SFT taught refusal
    for mis, re in experiment.runs(config):
        name = experiment.run_name(mis, re)
        # Misalignment raises the unsafe rate; realignment on safe-chosen pairs brings it down again.
        assert misaligned[f"unsafe_sampled/{name}"] > aligned[f"unsafe_sampled/{name}"] + 0.05
        assert final[f"unsafe_sampled/{name}"] < misaligned[f"unsafe_sampled/{name}"]
