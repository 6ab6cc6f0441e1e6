"""The benchmark-variance experiment runs through the launch path and reports its measurements."""

import numpy as np

from launch import train
from launch.configs import benchmark_variance


def test_benchmark_variance_small_run(tmp_path):
    config = benchmark_variance.get_config()
    config.update({"num_items": 60, "num_seeds": 4, "num_checkpoints": 6, "num_ref_models": 40, "irt_steps": 30,
                   "num_resamples": 50, "num_replications": 3, "keep_fractions": (1.0, 0.5),
                   "noisy_fractions": (0.3,)})
    out = train.train_and_evaluate(config, tmp_path)
    rec = out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0]
    assert all(np.isfinite(v) for v in rec.values())
    for nf in config.noisy_fractions:
        p = f"nf{nf:g}/"
        assert rec[p + "boot_ci_width"] > 0 and rec[p + "seed_std"] > 0
        assert -1 <= rec[p + "mono/discrete"] <= 1 and rec[p + "mono/continuous"] > 0.5
        # Keeping every item is the full benchmark, whatever the selector.
        assert np.isclose(rec[p + "ratio_of_means/point_biserial/keep1"], rec[p + "ratio_of_means/full"])
    report = (tmp_path / "report.md").read_text()
    assert "| seed std of the final accuracy" in report and "point_biserial" in report
    assert (tmp_path / "benchmark_variance.png").exists()
