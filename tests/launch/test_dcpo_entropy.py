"""The DCPO-vs-GRPO entropy experiment runs through the launch path on a tiny bandit."""

import numpy as np

from launch import train
from launch.configs import dcpo_entropy


def test_dcpo_entropy_small_run(tmp_path):
    config = dcpo_entropy.get_config()
    config.update({"num_steps": 20, "eval_every": 10, "log_every": 10, "checkpoint_every": 20, "num_seeds": 2,
                   "num_prompts": 4, "num_arms": 6, "num_correct": 2, "group_size": 4})
    out = train.train_and_evaluate(config, tmp_path)
    history = out["history"]
    assert [r["step"] for r in history] == [0, 10, 20]
    assert all(np.isfinite(v) for r in history for v in r.values())
    first, last = history[0], history[-1]
    assert first["entropy/grpo"] == first["entropy/dcpo"]  # same initial logits for both methods
    assert 0.0 <= last["alpha/dcpo"] <= 1.0 and last["alpha/grpo"] == 0.0
    assert 0.8 - 1e-6 <= last["temperature/dcpo"] <= 1.2 + 1e-6 and last["temperature/grpo"] == 1.0
    for name in ("grpo", "dcpo"):
        assert 0.0 <= last[f"reward/{name}"] <= 1.0 and last[f"entropy/{name}"] <= np.log(6) + 1e-6
    report = (tmp_path / "report.md").read_text()
    assert "| 20 | dcpo |" in report and (tmp_path / "dcpo_entropy.png").exists()
