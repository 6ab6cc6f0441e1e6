"""The MQAR experiment runs through the launch path and writes its accuracy table."""

import json

import numpy as np

from launch import train
from launch.configs import mqar
from launch.experiments import mqar as experiment


def _tiny():
    config = mqar.get_config()
    config.update({"num_steps": 4, "batch_size": 8, "num_seeds": 2, "seq_len": 16, "vocab_size": 24,
                   "train_pairs": (2, 4), "eval_pairs": (2, 4), "head_dim": 4, "mlp_dim": 16, "cg_iters": 4,
                   "eval_sequences": 16, "eval_every": 2, "log_every": 2, "checkpoint_every": 4})
    return config


def test_mqar_small_run(tmp_path):
    config = _tiny()
    out = train.train_and_evaluate(config, tmp_path)
    assert [r["step"] for r in out["history"]] == [0, 2, 4]
    last = out["history"][-1]
    assert all(np.isfinite(v) for v in last.values())
    for a in config.attentions:
        for n in config.eval_pairs:
            for s in range(2):
                assert 0.0 <= last[f"acc/{a}/p{n}/s{s}"] <= 1.0
    report = (tmp_path / "report.md").read_text()
    assert "| softmax |" in report and "| lla |" in report and "| linear_regression |" in report
    summary = json.loads((tmp_path / "mqar.json").read_text())
    assert summary["param_count"] == experiment.param_count(config) > 0
    assert (tmp_path / "mqar.png").exists()


def test_batch_mixes_pair_counts_and_differs_per_seed():
    config = _tiny()
    import jax

    batch = experiment.make_batch(config, jax.random.key(0))
    assert batch["inputs"].shape == (8, 2, 16)
    counts = np.asarray(batch["mask"]).sum(-1)
    assert sorted(set(counts.ravel().tolist())) == [2, 4]
    assert not np.array_equal(np.asarray(batch["inputs"][:, 0]), np.asarray(batch["inputs"][:, 1]))
