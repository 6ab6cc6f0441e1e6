"""The leaderboard runs end to end at tiny sizes, writes its table and plot, and every family builds."""

import pathlib
import subprocess
import sys

import jax
import numpy as np

from launch import leaderboard

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_leaderboard_smoke(tmp_path):
    out = subprocess.run([sys.executable, "-m", "launch.leaderboard", f"--output_dir={tmp_path}", "--small",
                          "--families=mi_bounds,ci_coverage", "--num_draws=16", "--timing_draws=4", "--repeats=1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    assert "InfoNCE" in out.stdout and "bootstrap" in out.stdout, out.stdout
    table = (tmp_path / "leaderboard.md").read_text()
    assert table.count("](https://") == 5, table  # every estimator linked to its paper
    assert (tmp_path / "leaderboard.png").stat().st_size > 0


def test_every_family_builds_and_matches_its_truth_shape():
    for family, build in leaderboard.BUILDERS.items():
        for entry in build(True):
            out = jax.eval_shape(entry.estimate, jax.random.key(0))
            assert out.shape == np.shape(entry.truth), (family, entry.name)
            assert entry.paper in leaderboard.PAPERS


def test_mse_decomposes_in_the_table_rows():
    row = leaderboard.measure(leaderboard.mi_bounds(True)[1], num_draws=32, timing_draws=4, repeats=1,
                              key=jax.random.key(0))
    np.testing.assert_allclose(row["mse"], row["bias_squared"] + row["variance"], rtol=1e-5)
    assert row["us_per_estimate"] > 0


def test_step_advantages_truth_is_the_env_monte_carlo_advantage():
    # Independent of the backward induction: Q(h, a) by rolling out bvjax.envs itself from each probe.
    from bvjax.envs import key_door_reset, key_door_step

    width, steps, start, n = 5, 8, 2, 20000
    q = leaderboard.key_door_q_values(width=width, max_steps=steps)
    truth = leaderboard._kd_probe_truth(q, start)
    policy = np.asarray(leaderboard._KD_POLICY)
    logits = jax.numpy.log(jax.numpy.asarray(policy, jax.numpy.float32))

    def episode(key, actions, num_forced):
        state, _ = key_door_reset(key, width=width, max_steps=steps, start_cell=start)

        def body(state, t):
            sampled = jax.random.categorical(jax.random.fold_in(key, t), logits)
            state, _, reward, _ = key_door_step(state, jax.numpy.where(t < num_forced, actions[t], sampled))
            return state, reward

        return jax.lax.scan(body, state, jax.numpy.arange(steps))[1]

    episodes = jax.jit(jax.vmap(episode, (0, None, None)))
    for i, prefix in enumerate(leaderboard._KD_PROBES):
        t = len(prefix) - 1
        returns = []
        for a in range(4):
            actions = np.zeros(steps, np.int32)
            actions[:t + 1] = prefix[:-1] + (a,)
            rewards = np.asarray(episodes(jax.random.split(jax.random.key(10 * i + a), n), actions, t + 1))
            returns.append(rewards[:, t:] @ (0.95 ** np.arange(steps - t)))
        means = np.array([r.mean() for r in returns])
        weights = np.eye(4)[prefix[-1]] - policy  # A = Q(a_probe) - sum_a pi(a) Q(a)
        se = np.sqrt(sum(w**2 * r.var() / n for w, r in zip(weights, returns)))
        assert abs(weights @ means - truth[i]) < 5 * se + 1e-6, (i, weights @ means, truth[i], se)
