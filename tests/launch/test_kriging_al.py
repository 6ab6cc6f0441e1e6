"""The Kriging active-learning experiment runs through the launch path on a tiny pool."""

import numpy as np

from launch import train
from launch.configs import kriging_al


def test_kriging_al_small_run(tmp_path):
    config = kriging_al.get_config()
    config.update({"num_seeds": 2, "curve_pool": 31, "curve_steps": 4, "hartmann_pool": 30, "hartmann_steps": 3,
                   "lengthscale_grid": 3, "noise_fracs": (0.1,),
                   "utilities": ("max_variance", "knowledge_gradient")})
    out = train.train_and_evaluate(config, tmp_path)
    last = out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0]
    assert all(np.isfinite(v) for v in last.values())
    assert "nrmse/forrester/noise0.1/knowledge_gradient/n7" in last and "auc/hartmann3/noise0.1/max_variance" in last
    report = (tmp_path / "report.md").read_text()
    assert "| MV |" in report and "| KG |" in report and (tmp_path / "kriging_al.png").exists()
    # More experiments never hurt the max-variance design much: the error falls from n0 to the budget.
    assert last["nrmse/forrester/noise0.1/max_variance/n7"] < last["nrmse/forrester/noise0.1/max_variance/n3"]
