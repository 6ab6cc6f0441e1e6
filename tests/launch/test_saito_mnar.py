"""The Saito MNAR experiment runs through the launch path and shows the clipped estimator's trade-off."""

import numpy as np

from launch import train
from launch.configs import saito_mnar


def test_saito_mnar_small_run(tmp_path):
    config = saito_mnar.get_config()
    config.update({"num_users": 60, "num_items": 50, "num_steps": 20, "batch_size": 512, "eval_every": 10,
                   "log_every": 10, "checkpoint_every": 20, "meter_users": 30, "meter_draws": 256,
                   "meter_clips": (0.0, 0.05, 1.0), "estimators": ("naive", "ips", "clip_0.05"), "ks": (5,)})
    out = train.train_and_evaluate(config, tmp_path)
    last = out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0, 10, 20]
    assert all(np.isfinite(v) for k, v in last.items())
    assert np.isnan(out["history"][0]["meter_mse/M0"])  # the meter runs at the final step only
    report = (tmp_path / "report.md").read_text()
    assert "| clip_0.05 |" in report and "| 0.05 |" in report and (tmp_path / "saito_mnar.png").exists()
    # IPS (M = 0) is unbiased for the ideal loss; clipping cuts the variance and adds bias.
    assert abs(last["meter_bias_squared/M0"]) < 3 * last["meter_bias_squared_se/M0"]
    assert last["meter_variance/M0.05"] < last["meter_variance/M0"]
    assert last["meter_bias_squared/M0.05"] > 3 * last["meter_bias_squared_se/M0.05"]
    assert last["meter_bias_squared/M1"] > last["meter_bias_squared/M0.05"]
