"""The RAMP union-accuracy experiment runs through the launch path on a tiny override."""

import numpy as np

from launch import train
from launch.configs import ramp_union


def test_ramp_union_small_run(tmp_path):
    config = ramp_union.get_config()
    config.update({"methods": ("natural", "ramp_gp"), "num_seeds": 1, "hidden": 16, "learning_rate": 0.01, "epochs": 3, "train_batch": 64,
                   "train_steps": 2, "eval_steps": 3, "eval_restarts": 1})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    for method in ("natural", "ramp_gp"):
        # union accuracy can exceed no single-norm accuracy, which cannot exceed clean accuracy
        union = record[f"union/{method}/s0"]
        assert union <= min(record[f"{n}/{method}/s0"] for n in ("linf", "l2", "l1")) + 1e-9
        assert max(record[f"{n}/{method}/s0"] for n in ("linf", "l2", "l1")) <= record[f"clean/{method}/s0"] + 1e-9
    assert record["clean/natural/s0"] > 0.3  # chance is 0.1
    report = (tmp_path / "report.md").read_text()
    assert "| ramp_gp |" in report and (tmp_path / "ramp_union.png").exists()
