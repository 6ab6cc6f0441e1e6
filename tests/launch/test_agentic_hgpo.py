"""The GRPO/GiGPO/HGPO agentic experiment runs through the launch path; its rollouts replay exactly."""

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.envs import key_door_reset, key_door_step
from launch import train
from launch.configs import agentic_hgpo
from launch.experiments import agentic_hgpo as experiment

TINY = {"num_steps": 4, "eval_every": 2, "log_every": 2, "checkpoint_every": 4, "num_seeds": 2, "group_size": 4,
        "width": 5, "max_steps": 10, "hidden": 16, "eval_episodes": 16, "meter_steps": (4,), "meter_seeds": 1,
        "meter_probes": 4, "meter_rollouts": 16, "meter_draws": 8, "meter_chunk": 8,
        # One device: on 8 fake CPU devices the replicated meter runs 8 times over and, on 2 loaded
        # cores, XLA:CPU collectives can time out waiting for the slowest device.
        "num_devices": 1}


def test_forced_rollout_replays_the_environment():
    config = agentic_hgpo.get_config()
    config.update(TINY)
    params = jax.tree.map(lambda x: x[0], experiment.init(config, jax.random.key(0))["params"]["hgpo"])
    actions = jnp.array([3, 3, 1, 1, 1, 1, 1, 0, 2, 3], jnp.int32)
    traj = experiment._rollout(config, params, jax.random.key(1), jax.random.key(2), actions, 10)
    state, obs = key_door_reset(jax.random.key(1), width=5, max_steps=10)
    rewards = []
    for t in range(10):
        assert int(traj["obs"][t]) == int(obs) and bool(traj["valid"][t]) == (not bool(state.done))
        state, obs, r, _ = key_door_step(state, actions[t])
        rewards.append(float(r))
    np.testing.assert_array_equal(np.asarray(traj["reward"]), rewards)
    returns = experiment._step_returns(config, traj["reward"])
    expected = [sum(config.gamma ** (k - t) * rewards[k] for k in range(t, 10)) for t in range(10)]
    np.testing.assert_allclose(np.asarray(returns), expected, rtol=1e-6)


def test_agentic_hgpo_small_run(tmp_path):
    config = agentic_hgpo.get_config()
    config.update(TINY)
    out = train.train_and_evaluate(config, tmp_path)
    history = out["history"]
    assert [r["step"] for r in history] == [0, 2, 4]
    assert np.isnan(history[1]["ref_noise"])  # the meter runs at meter_steps only
    last = history[-1]
    assert all(np.isfinite(v) for v in last.values())
    for name in ("grpo", "gigpo", "hgpo"):
        assert 0.0 <= last[f"success/{name}"] <= 1.0
        assert np.isclose(last[f"mse/{name}"], last[f"bias_squared/{name}"] + last[f"variance/{name}"], rtol=1e-4)
    report = (tmp_path / "report.md").read_text()
    assert "| 4 | hgpo |" in report and "| gigpo |" in report and (tmp_path / "agentic_hgpo.png").exists()
