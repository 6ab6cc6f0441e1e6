"""The trained in-context regression experiment runs through the launch path; its pieces behave as stated."""

import json

import jax
import numpy as np

from launch import train
from launch.configs import lla_icl
from launch.experiments import lla_icl as experiment


def _tiny():
    config = lla_icl.get_config()
    config.update({"num_steps": 6, "batch_size": 8, "num_seeds": 2, "seq_len": 12, "eval_sequences": 32,
                   "d_model": 16, "cg_iters": 8, "eval_every": 3, "log_every": 3, "checkpoint_every": 6,
                   "bucket_edges": (1, 4, 8), "num_devices": 1})
    return config


def test_lla_icl_small_run(tmp_path):
    # One device: the 8-fake-device SPMD train step holding the global fit's batched solves hung on XLA:CPU.
    config = _tiny()
    out = train.train_and_evaluate(config, tmp_path)
    assert [r["step"] for r in out["history"]] == [0, 3, 6]
    last = out["history"][-1]
    assert all(np.isfinite(v) for v in last.values())
    assert len([k for k in last if k.startswith("pmse/")]) == 4 * 2 * 11  # mechanisms x seeds x positions
    report = (tmp_path / "report.md").read_text()
    for row in ("| softmax |", "| global |", "| lla_fixed |", "| lla |", "| ridge_ols (untrained, raw x) |"):
        assert row in report
    assert "Where LLA wins and where it does not" in report and (tmp_path / "lla_icl.png").exists()
    summary = json.loads((tmp_path / "mse.json").read_text())
    assert [tuple(b) for b in summary["buckets"]] == [(1, 4), (4, 8), (8, 12)]
    assert summary["mechanisms"]["lla_fixed"]["ridge"] is not None


def test_tasks_are_linear_or_piecewise_linear():
    config = _tiny()
    config.update({"seq_len": 64, "noise_std": 0.0})
    for task, linear in (("linear", True), ("piecewise", False)):
        config.task = task
        x, y, f = (np.asarray(a, np.float64) for a in experiment.sample_tasks(config, jax.random.key(1), (3,)))
        np.testing.assert_allclose(y, f)  # noise_std = 0
        for xs, fs in zip(x, f):
            design = np.concatenate([xs, np.ones((len(xs), 1))], 1)
            resid = fs - design @ np.linalg.lstsq(design, fs, rcond=None)[0]
            assert (np.max(np.abs(resid)) < 1e-4) == linear


def test_lla_with_huge_ridge_predicts_like_softmax():
    # The model is shared; LLA with ridge -> infinity is softmax attention (docs/notes/lla.md).
    config = _tiny()
    config.fixed_ridge = 1e6
    params = experiment.init_params(config, jax.random.key(0))
    x, y, _ = experiment.sample_tasks(config, jax.random.key(2), (4,))
    soft = experiment.predict(config, "softmax", params, x, y)
    for impl in ("chunked", "xla"):
        config.lla_impl = impl
        lla = experiment.predict(config, "lla_fixed", params, x, y)
        np.testing.assert_allclose(np.asarray(lla), np.asarray(soft), atol=1e-3)
