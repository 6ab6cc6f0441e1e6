"""The double-descent measurement runs through the launch path at a tiny size and peaks at the threshold."""

import numpy as np

from launch import train
from launch.configs import double_descent


def test_double_descent_small_run(tmp_path):
    config = double_descent.get_config()
    config.update({"num_train": 20, "num_test": 50, "dim": 5, "widths": (4, 20, 200), "num_seeds": 3,
                   "num_rounds": 4})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for k, v in record.items() if k != "step")
    # The interpolation threshold p = n is worse than far below or far above it.
    assert record["test_mse/p20"] > max(record["test_mse/p4"], record["test_mse/p200"])
    for p in (4, 20, 200):  # loss = bias^2 + variance (mlxtend's mse decomposition)
        np.testing.assert_allclose(record[f"expected_loss/p{p}"],
                                   record[f"bias_squared/p{p}"] + record[f"variance/p{p}"], rtol=1e-4)
    report = (tmp_path / "report.md").read_text()
    assert "| 20 | 1.00 |" in report and (tmp_path / "double_descent.png").exists()
