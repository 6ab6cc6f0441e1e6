"""The baseline-MSE measurement runs through the launch path and shows its headline effect."""

import numpy as np

from launch import train
from launch.configs import baseline_mse


def test_baseline_mse_small_run(tmp_path):
    config = baseline_mse.get_config()
    config.update({"num_prompts": 32, "group_sizes": (2, 4), "prior_errors": (0.0, 0.5), "meter_draws": 128})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    report = (tmp_path / "report.md").read_text()
    assert "| 0.5 | 4 |" in report and (tmp_path / "baseline_mse.png").exists()
    # With an exact prior, V0.5's baseline is far closer to p than the group mean (G = 2).
    assert record["baseline_mse/G2/s0/v05"] < 0.5 * record["baseline_mse/G2/s0/mean"]
    # The prior alone is exact at s = 0 and the empirical mean is unbiased: its bias² is ~0.
    assert record["baseline_mse/G2/s0/prior"] < 1e-9
    # RLOO is unbiased for the gradient; the group mean shrinks it by (G-1)/G.
    assert abs(record["grad_bias_squared/G4/s0/rloo"]) < 0.1 * record["grad_bias_squared/G4/s0/mean"]
