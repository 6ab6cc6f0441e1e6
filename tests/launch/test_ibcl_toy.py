"""The IBCL two-task experiment runs through the launch path on a tiny override."""

import numpy as np

from launch import train
from launch.configs import ibcl_toy


def test_ibcl_toy_small_run(tmp_path):
    config = ibcl_toy.get_config()
    config.update({"num_seeds": 1, "num_train": 100, "num_test": 200, "num_population": 2000, "vi_steps": 200,
                   "num_preferences": 3, "num_models": 4})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    # the extreme preferences: theta*_w solves one task alone, so it beats the other task there
    assert record["acc_a/pareto/w1.00/s0"] > record["acc_b/pareto/w1.00/s0"]
    assert record["acc_b/pareto/w0.00/s0"] > record["acc_a/pareto/w0.00/s0"]
    # the official code's box (mass alpha per coordinate) is contained in the 1 - alpha box
    for w in ("0.00", "0.50", "1.00"):
        assert record[f"in_code_box/w{w}/s0"] <= record[f"in_box/w{w}/s0"]
    report = (tmp_path / "report.md").read_text()
    assert "IBCL HDR centre" in report and (tmp_path / "ibcl_toy.png").exists()
