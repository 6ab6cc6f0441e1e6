"""The aggregate-responses measurement runs through the launch path and shows its headline effects."""

import numpy as np

from launch import train
from launch.configs import aggregate_responses


def test_aggregate_responses_small_run(tmp_path):
    config = aggregate_responses.get_config()
    config.update({"num_samples": 48, "dim": 8, "bag_sizes": (1, 4), "rhos": (0.0, 1.0), "meter_draws": 64})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    report = (tmp_path / "report.md").read_text()
    assert "| 4 |" in report and (tmp_path / "aggregate_responses.png").exists()
    # k = 1 reveals every response: rho does not matter and the risk is OLS's.
    np.testing.assert_allclose(record["risk/plain/k1/rho0"], record["risk/plain/k1/rho1"], rtol=1e-4)
    # Aggregation loses information: bags of 4 have a higher risk than single responses.
    assert record["risk/plain/k4/rho1"] > record["risk/plain/k1/rho1"]
    # DP noise on bag means shrinks as 1/k: bags of 4 beat k = 1 under the same budget.
    assert record["risk/dp/k4/rho1"] < record["risk/dp/k1/rho1"]
