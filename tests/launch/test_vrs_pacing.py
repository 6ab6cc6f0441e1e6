"""The VRS pacing simulation runs through the launch path and its controller lowers the impression variance."""

import numpy as np

from launch import train
from launch.configs import vrs_pacing


def test_vrs_pacing_small_run(tmp_path):
    config = vrs_pacing.get_config()
    config.update({"num_ads": 6, "num_steps": 12, "batch_size": 2048, "eval_users": 8192, "eval_every": 6,
                   "log_every": 6, "checkpoint_every": 12})
    out = train.train_and_evaluate(config, tmp_path)
    first, last = out["history"][0], out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0, 6, 12]
    assert all(np.isfinite(v) for v in last.values())
    assert first["tv_mean/vrs"] == first["tv_mean/baseline"]          # no multipliers yet
    assert last["tv_mean/vrs"] < 0.6 * last["tv_mean/baseline"]       # the controller lowers the variance
    assert 0.5 < last["value_kept"] <= 1.0
    report = (tmp_path / "report.md").read_text()
    assert "| 12 |" in report and (tmp_path / "vrs_pacing.png").exists()
