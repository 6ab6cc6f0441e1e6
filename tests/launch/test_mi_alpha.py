"""The MI-alpha measurement runs through the launch path and shows the bias/variance trade-off in alpha."""

import math

import numpy as np

from launch import train
from launch.configs import mi_alpha


def test_mi_alpha_small_run(tmp_path):
    config = mi_alpha.get_config()
    config.update({"batch_pairs": 32, "settings": ((2, 0.8),), "alphas": (0.0, 0.5, 1.0), "meter_draws": 256,
                   "learned_steps": 20, "learned_setting": (2, 0.8), "critic_hidden": 8, "learned_draws": 64})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for k, v in record.items() if k != "step")
    report = (tmp_path / "report.md").read_text()
    assert "| 0.5 |" in report and "Learned critic" in report and (tmp_path / "mi_alpha.png").exists()
    mi = -math.log(1 - 0.8**2)
    # alpha = 0 with the optimal critic is unbiased; alpha = 1 (InfoNCE) is biased low, capped at log(K - 1).
    assert abs(record["mean/s0/a0"] - mi) < 4 * math.sqrt(record["variance/s0/a0"] / 256)
    assert record["mean/s0/a1"] < mi - 0.05 and record["mean/s0/a1"] <= math.log(31)
    assert record["variance/s0/a1"] < record["variance/s0/a0"]
