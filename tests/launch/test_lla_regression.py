"""The test-time regression measurement runs through the launch path and shows LLA's local-linear gain."""

import json

from launch import train
from launch.configs import lla_regression


def test_lla_regression_small_run(tmp_path):
    config = lla_regression.get_config()
    config.update({"batch_size": 8, "seq_len": 128, "scales": (16.0,), "ridges": (0.01, 1.0),
                   "bucket_edges": (1, 16, 64)})
    out = train.train_and_evaluate(config, tmp_path)
    assert out["history"][0]["step"] == 0
    report = (tmp_path / "report.md").read_text()
    assert "| lla_s16_r0.01 |" in report and "Where LLA does not win" in report
    assert (tmp_path / "lla_regression.png").exists()
    mse = json.loads((tmp_path / "mse.json").read_text())
    assert len(mse) == 3 * 5 * 3  # settings x (2 global + 1 softmax + 2 lla) x buckets
    # Static stream, late positions: the local linear fit beats the local constant one at the
    # same bandwidth, and both beat the global linear fit on a piecewise-linear target.
    assert mse["mse/static/lla_s16_r0.01/b2"] < mse["mse/static/softmax_s16/b2"]
    assert mse["mse/static/softmax_s16/b2"] < mse["mse/static/global_r1/b2"]
