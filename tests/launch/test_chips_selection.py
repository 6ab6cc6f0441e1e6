"""The CHIPS selection experiment runs through the launch path on a tiny pool."""

import numpy as np

from launch import train
from launch.configs import chips_selection


def test_chips_selection_small_run(tmp_path):
    config = chips_selection.get_config()
    config.update({"pretrain_size": 256, "pretrain_steps": 40, "pool_size": 320, "dev_size": 64, "test_size": 64,
                   "finetune_steps": 20, "score_batch": 32, "curvature_batch": 16, "sketch_dim": 32,
                   "num_seeds": 1, "feature_dim": 8, "embed_dim": 4, "alpha_sweep": (0.0, 1.0)})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for k, v in record.items() if k != "step")
    report = (tmp_path / "report.md").read_text()
    assert "| chips |" in report and "| α | 0 | 1 |" in report and (tmp_path / "chips_selection.png").exists()
    # Random selection keeps the pool's mix; the full pool is the whole pool; scores select a budget.
    assert record["full/frac_target"] == 0.3
    for m in ("tracin", "chips"):
        assert 0.0 <= record[f"{m}/frac_target"] <= 1.0
