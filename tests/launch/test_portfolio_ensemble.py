"""The portfolio measurement runs through the launch path and shows shrinkage winning when T/N is small."""

import numpy as np

from launch import train
from launch.configs import portfolio_ensemble


def test_portfolio_ensemble_small_run(tmp_path):
    config = portfolio_ensemble.get_config()
    config.update({"num_assets": 12, "num_periods": 400, "regime_change": 300, "windows": (15, 120),
                   "num_seeds": 2})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    report = (tmp_path / "report.md").read_text()
    assert "| ledoit_wolf_mv |" in report and (tmp_path / "portfolio_ensemble.png").exists()
    # T/N = 1.25: the sample covariance's min-variance portfolio is far noisier than Ledoit-Wolf's.
    assert record["vol/w15/ledoit_wolf_mv"] < 0.9 * record["vol/w15/sample_mv"]
    # the true covariance is the floor every estimator is measured against
    assert record["vol/w120/oracle_mv"] <= min(record[f"vol/w120/{e}_mv"] for e in ("sample", "ledoit_wolf", "factor"))
    # buy-and-hold over strategies never ends above the best component
    assert record["beats_best/w120/ens_wealth"] == 0.0
