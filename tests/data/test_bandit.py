"""The softmax bandit: closed forms vs float64 NumPy, and the estimators' known bias and variance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from bvjax.data import (
    bandit_expected_return,
    bandit_policy_gradient,
    bandit_reinforce_gradient,
    sample_bandit,
)
from bvjax.diagnostics import bias_variance

LOGITS = np.array([0.3, -1.0, 0.8, 0.0])
MEANS = np.array([1.0, 2.0, 0.5, 1.5])
SIGMA = 0.7


def softmax64(x):
    z = np.exp(x - x.max())
    return z / z.sum()


@pytest.mark.parametrize("jit", [False, True])
def test_expected_return_and_exact_gradient(jit):
    ret, grad = bandit_expected_return, bandit_policy_gradient
    if jit:
        ret, grad = jax.jit(ret), jax.jit(grad)
    logits, means = jnp.asarray(LOGITS, jnp.float32), jnp.asarray(MEANS, jnp.float32)
    pi = softmax64(LOGITS)
    np.testing.assert_allclose(ret(logits, means), pi @ MEANS, rtol=1e-6)
    # Central finite differences of J in float64, independent of the closed form.
    fd = np.array([(softmax64(LOGITS + h) @ MEANS - softmax64(LOGITS - h) @ MEANS) / 2e-6
                   for h in 1e-6 * np.eye(4)])
    np.testing.assert_allclose(grad(logits, means), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad(logits, means), jax.grad(bandit_expected_return)(logits, means),
                               rtol=1e-5, atol=1e-7)
    batched = grad(jnp.stack([logits, 2 * logits]), means)
    np.testing.assert_allclose(batched[1], grad(2 * logits, means), rtol=1e-6)


def reinforce64(logits, actions, rewards, baseline):
    pi = softmax64(logits)
    g = len(actions)
    out = np.zeros_like(pi)
    for i in range(g):
        if baseline == "none":
            b = 0.0
        elif baseline == "mean":
            b = rewards.mean()
        else:
            b = (rewards.sum() - rewards[i]) / (g - 1)
        out += (rewards[i] - b) * (np.eye(len(pi))[actions[i]] - pi)
    return out / g


@pytest.mark.parametrize("baseline", ["none", "mean", "leave_one_out"])
@pytest.mark.parametrize("jit", [False, True])
def test_reinforce_gradient_matches_float64_loop(baseline, jit):
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, size=(3, 5))
    rewards = rng.normal(size=(3, 5))
    logits = rng.normal(size=(3, 4))
    fn = bandit_reinforce_gradient
    if jit:
        fn = jax.jit(fn, static_argnames="baseline")
    got = fn(jnp.asarray(logits, jnp.float32), jnp.asarray(actions, jnp.int32),
             jnp.asarray(rewards, jnp.float32), baseline=baseline)
    want = np.stack([reinforce64(logits[p], actions[p], rewards[p], baseline) for p in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _single_group(baseline, group):
    logits, means = jnp.asarray(LOGITS, jnp.float32), jnp.asarray(MEANS, jnp.float32)

    def estimator(key):
        actions, rewards = sample_bandit(key, logits, means, num_samples=group, noise_std=SIGMA)
        return bandit_reinforce_gradient(logits, actions, rewards, baseline=baseline)

    return estimator, bandit_policy_gradient(logits, means)


@pytest.mark.parametrize("group", [2, 4])
def test_meter_finds_the_known_biases(group):
    """No baseline and leave-one-out are unbiased; the mean baseline's bias is -∇J/G."""
    meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws", "chunk_size"))
    for baseline, expected_bias_sq in (("none", 0.0), ("leave_one_out", 0.0), ("mean", None)):
        estimator, exact = _single_group(baseline, group)
        r = meter(estimator, exact, jax.random.key(group), num_draws=20_000, chunk_size=10_000)
        if expected_bias_sq is None:
            expected_bias_sq = float(np.sum(np.asarray(exact, np.float64) ** 2)) / group**2
        assert abs(float(r.bias_squared) - expected_bias_sq) < 3 * float(r.bias_squared_stderr) + 1e-7


def test_meter_finds_the_closed_form_variance_without_baseline():
    # Var[r (e_a - pi)] summed over coordinates: E[r^2 |e_a - pi|^2] - |grad J|^2, with
    # E[r^2 | a] = mu_a^2 + sigma^2; a group of G averages G independent terms.
    group = 3
    pi = softmax64(LOGITS)
    second = sum(pi[a] * (MEANS[a] ** 2 + SIGMA**2) * np.sum((np.eye(4)[a] - pi) ** 2) for a in range(4))
    grad = pi * (MEANS - pi @ MEANS)
    variance = (second - grad @ grad) / group
    estimator, exact = _single_group("none", group)
    r = bias_variance(estimator, exact, jax.random.key(5), num_draws=20_000, chunk_size=10_000)
    assert abs(float(r.variance) - variance) < 3 * float(r.variance_stderr)


def test_sample_bandit_frequencies_and_reward_means():
    logits, means = jnp.asarray(LOGITS, jnp.float32), jnp.asarray(MEANS, jnp.float32)
    actions, rewards = sample_bandit(jax.random.key(0), logits, means, num_samples=20_000, noise_std=SIGMA)
    counts = np.bincount(np.asarray(actions), minlength=4)
    assert scipy.stats.chisquare(counts, 20_000 * softmax64(LOGITS)).pvalue > 1e-3
    for a in range(4):
        sel = np.asarray(rewards)[np.asarray(actions) == a]
        assert abs(sel.mean() - MEANS[a]) < 4 * SIGMA / np.sqrt(len(sel))


def test_edge_cases_raise_naming_the_argument():
    with pytest.raises(ValueError, match="rewards: baseline='leave_one_out' needs G >= 2"):
        bandit_reinforce_gradient(jnp.zeros(3), jnp.zeros(1, jnp.int32), jnp.ones(1))
    with pytest.raises(ValueError, match="baseline"):
        bandit_reinforce_gradient(jnp.zeros(3), jnp.zeros(2, jnp.int32), jnp.ones(2), baseline="median")
    with pytest.raises(ValueError, match="actions: expected leading dims"):
        bandit_reinforce_gradient(jnp.zeros((2, 3)), jnp.zeros((3, 2), jnp.int32), jnp.ones((3, 2)))
    with pytest.raises(TypeError, match="actions"):
        bandit_reinforce_gradient(jnp.zeros(3), jnp.zeros(2), jnp.ones(2))
    with pytest.raises(ValueError, match="noise_std"):
        sample_bandit(jax.random.key(0), jnp.zeros(3), jnp.zeros(3), num_samples=2, noise_std=-1.0)
    # A single pull with no or mean baseline is defined: the mean baseline gives exactly 0.
    g = bandit_reinforce_gradient(jnp.zeros(3), jnp.zeros(1, jnp.int32), jnp.ones(1), baseline="mean")
    np.testing.assert_array_equal(g, np.zeros(3))
