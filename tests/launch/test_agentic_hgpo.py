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
        assert np.isfinite(last[f"centred_bias_squared/{name}"])
    report = (tmp_path / "report.md").read_text()
    assert "| 4 | hgpo |" in report and "| gigpo |" in report and (tmp_path / "agentic_hgpo.png").exists()


def _exact_q_uniform(width, max_steps, gamma, position, has_key, time):
    """Q(s, a) of the uniform random policy by backward induction over (position, key, time)."""
    moves = {0: 0, 1: 1, 2: 0, 3: -1}  # a corridor: up and down stay put
    door = width - 1

    def step(p, k, a):
        q = min(max(p + moves[a], 0), width - 1)
        if q == door and not k:
            q = p
        k = k or q == 0
        return q, k, float(q == door and k)

    value = {}
    for t in range(max_steps, -1, -1):
        for p in range(width):
            for k in (False, True):
                if t == max_steps:
                    value[p, k, t] = 0.0
                    continue
                qs = []
                for a in range(4):
                    q, k2, r = step(p, k, a)
                    qs.append(r + (0.0 if r or t + 1 == max_steps else gamma * value[q, k2, t + 1]))
                value[p, k, t] = float(np.mean(qs))
    out = []
    for a in range(4):
        q, k2, r = step(position, has_key, a)
        out.append(r + (0.0 if r or time + 1 == max_steps else gamma * value[q, k2, time + 1]))
    return np.array(out)


def test_ground_truth_advantage_matches_exact_dynamic_programming():
    """Under the initial (uniform) policy, A* = Q(a_t) - mean_a Q(a) is known exactly by backward induction."""
    config = agentic_hgpo.get_config()
    config.update({**TINY, "meter_rollouts": 4096})
    params = jax.tree.map(lambda x: x[0], experiment.init(config, jax.random.key(0))["params"]["gigpo"])
    reset_key = jax.random.key(7)
    _, start = key_door_reset(reset_key, width=5, max_steps=10)
    prefix = [3, 3, 3, 1]  # towards the key, then back: at t = 4 the agent may hold the key
    actions = jnp.array(prefix + [1] * 6, jnp.int32)
    t = 4
    state, _ = key_door_reset(reset_key, width=5, max_steps=10)
    for a in prefix:
        state, *_ = key_door_step(state, a)
    probs = jnp.full((4,), 0.25)
    truth, noise, centred = experiment._ground_truth(config, params, reset_key, actions, jnp.int32(t), probs,
                                                     jax.random.key(3))
    q = _exact_q_uniform(5, 10, config.gamma, int(state.position), bool(state.has_key), t)
    expected = q[1] - q.mean()
    assert int(start) in (1, 2, 3)
    assert abs(float(truth) - expected) < 5 * np.sqrt(float(noise)) + 1e-6, (float(truth), expected)
    assert abs(expected) > 10 * np.sqrt(float(noise))  # the check is not vacuous
    np.testing.assert_allclose(np.asarray(centred), q - q.mean(), atol=10 * np.sqrt(float(noise)))
    assert np.isclose(float(centred[1]), float(truth), atol=1e-6)
