"""The (mis)alignment miniature through train_and_evaluate: a short run, its report, and misalignment working."""

from __future__ import annotations

import jax
import numpy as np

from launch import train
from launch.configs import misalignment
from launch.experiments import misalignment as experiment


def test_short_run_misaligns_then_realigns(tmp_path):
    config = misalignment.get_config()
    config.update({"align_steps": 100, "misalign_steps": 8, "num_steps": 12, "num_seeds": 2, "hidden": 32,
                   "batch_size": 16, "eval_size": 32, "eval_every": 4, "log_every": 10,
                   "checkpoint_every": 12, "methods": ("sft", "dpo", "orpo")})
    out = train.train_and_evaluate(config, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| aligned |" in report and "| orpo → dpo |" in report
    assert (tmp_path / "misalignment.png").stat().st_size > 0
    assert all(np.isfinite(v) for r in out["history"] for v in r.values())
    aligned = out["history"][0]
    misaligned = next(r for r in out["history"] if r["step"] == config.misalign_steps)
    final = out["history"][-1]
    assert aligned["unsafe_sampled/sft>sft"] < 0.2  # the aligning SFT taught refusal
    for mis, re in experiment.runs(config):
        name = experiment.run_name(mis, re)
        # Misalignment raises the unsafe rate; realignment on safe-chosen pairs brings it down again.
        assert misaligned[f"unsafe_sampled/{name}"] > aligned[f"unsafe_sampled/{name}"] + 0.05
        assert final[f"unsafe_sampled/{name}"] < misaligned[f"unsafe_sampled/{name}"]


def test_lora_phase_boundary_merges_adapters_and_restarts_them():
    config = misalignment.get_config()
    config.update({"align_steps": 0, "misalign_steps": 2, "num_steps": 4, "num_seeds": 1, "hidden": 8,
                   "batch_size": 4, "eval_size": 8, "lora_rank": 2, "learning_rate": 0.05,
                   "methods": ("sft", "dpo")})
    state = jax.jit(lambda k: experiment.init(config, k))(jax.random.key(0))
    step = jax.jit(lambda s, k: experiment.train_step(config, s, experiment.make_batch(config, k)))
    for i in range(config.misalign_steps):
        state, _ = step(state, jax.random.key(i))
    merged = experiment._merged(config, state)
    base = state["params"]
    state, _ = step(state, jax.random.key(9))  # the first realignment step
    for new, old in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(merged)):
        np.testing.assert_allclose(new, old, rtol=1e-6, atol=1e-6)  # the base now holds the misaligned model
    for new, ref in zip(jax.tree.leaves(state["reference"]), jax.tree.leaves(merged)):
        np.testing.assert_allclose(new, ref, rtol=1e-6, atol=1e-6)  # and is DPO's reference
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(base)))
    # One step into the new phase, the B factors are one Adam step (<= lr in size) from zero.
    b_factors = [ad["b"] for ad in jax.tree.leaves(state["adapters"], is_leaf=lambda x: isinstance(x, dict)
                                                   and "b" in x)]
    assert b_factors and all(float(np.max(np.abs(b))) <= config.learning_rate * 1.01 for b in b_factors)
