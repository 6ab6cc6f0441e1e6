"""The simplicity-bias experiment runs through the launch path; its AUC matches scikit-learn's."""

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import roc_auc_score

from launch import train
from launch.configs import simplicity_bias
from launch.experiments.simplicity_bias import roc_auc


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + y, 1)  # many ties
    np.testing.assert_allclose(jax.jit(roc_auc)(jnp.asarray(scores), jnp.asarray(y)), roc_auc_score(y, scores),
                               atol=1e-6)


def test_simplicity_bias_small_run(tmp_path):
    config = simplicity_bias.get_config()
    config.update({"dim": 10, "num_seeds": 2, "width": 32, "num_steps": 300, "batch_size": 128, "num_test": 2000,
                   "eval_every": 150, "log_every": 150, "checkpoint_every": 300})
    out = train.train_and_evaluate(config, tmp_path)
    last = out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0, 150, 300]
    assert all(np.isfinite(v) for v in last.values())
    assert "| AUC, linear coordinate randomised |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "simplicity_bias.png").exists()
    # The network learns LMS-5 and leans on the linear coordinate.
    assert last["auc"] > 0.99
    assert last["auc_complex_randomized"] > 0.95
    assert last["auc_simple_randomized"] < 0.8
