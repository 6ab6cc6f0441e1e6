"""The BVPO toy through train_and_evaluate: a few steps, report, metrics, and the meter's headline signs."""

from __future__ import annotations

import numpy as np

from launch import train
from launch.configs import bvpo_toy


def test_few_steps_write_report_and_finite_metrics(tmp_path):
    config = bvpo_toy.get_config()  # one device: sharding is covered by test_train; compiles faster
    config.update({"num_steps": 2, "num_seeds": 2, "meter_draws": 256, "eval_every": 2, "log_every": 2,
                   "checkpoint_every": 2, "alphas": (0.0, 0.25, 0.5, 1.0), "num_devices": 1})
    out = train.train_and_evaluate(config, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| α̂ = " in report and "| α = 0.5 |" in report
    assert (tmp_path / "bvpo_toy.png").stat().st_size > 0
    assert [r["step"] for r in out["history"]] == [0, 2]
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())
    first = out["history"][0]
    mse = [first[f"mse/{a:g}"] for a in config.alphas]
    # The headline: mixing beats both pure estimators, and alpha-hat does too.
    assert min(mse[1:-1]) < min(mse[0], mse[-1])
    assert first["mse/hat"] < min(mse[0], mse[-1])
    assert 0.0 < first["alpha_hat"] < 1.0
    # At theta_0 = pi_ref, g_t is unbiased (its bias² within noise) and g_e is not.
    assert abs(first["bias_squared/1"]) < 4 * first["bias_squared_se/1"] + 1e-6
    assert first["bias_squared/0"] > 10 * first["bias_squared_se/0"]
    # Trace-induced variance scales as alpha².
    v1 = first["trace_variance/1"]
    np.testing.assert_allclose(first["trace_variance/0.5"], 0.25 * v1, rtol=1e-3)
