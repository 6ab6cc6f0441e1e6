"""MCTS-DPO in miniature through train_and_evaluate: a few iterations, report, metrics, improvement."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from launch import train
from launch.configs import mcts_dpo
from launch.experiments import mcts_dpo as experiment


def test_few_iterations_write_report_and_improve(tmp_path):
    config = mcts_dpo.get_config()
    config.update({"num_steps": 6, "num_seeds": 2, "batch_size": 8, "eval_every": 3, "log_every": 3,
                   "checkpoint_every": 6})
    out = train.train_and_evaluate(config, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| cdpo |" in report and (tmp_path / "mcts_dpo.png").stat().st_size > 0
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())
    first, last = out["history"][0], out["history"][-1]
    for run in ("cdpo", "dpo"):
        assert last[f"success/{run}"] > first[f"success/{run}"] + 0.05


def test_search_finds_a_solution_and_exact_success_is_a_probability():
    config = mcts_dpo.get_config()
    logits = jnp.zeros((config.depth, config.modulus, config.modulus, experiment.num_actions(config)))
    _, _, finals = experiment._tables(config)
    target = int(finals[4, 17])
    _, n, values, solved = experiment.search(config, logits, jnp.asarray(4), jnp.asarray(target))
    assert bool(solved) and int(values[0]) == 4
    assert float(n[0].sum()) == config.num_simulations
    success, greedy = experiment._exact(config, logits)
    assert 0.0 < float(success) < 1.0 and 0.0 <= float(greedy) <= 1.0
