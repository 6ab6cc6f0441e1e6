"""Tajwar et al's bandit: the exact binned tanh-Cauchy against SciPy and against the authors' sampled recipe."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from bvjax.data import tajwar_bandit


@pytest.mark.parametrize("jit", [False, True])
def test_reference_and_reward_match_scipy(jit):
    fn = jax.jit(tajwar_bandit, static_argnames=("num_bins",)) if jit else tajwar_bandit
    bandit = fn(num_bins=100, peak=70.0, width=10.0)
    inner_edges = np.linspace(-1, 1, 101)[1:-1]  # the outer edges -1, 1 map to -inf, inf
    cdf = np.concatenate([[0.0], scipy.stats.cauchy.cdf(np.arctanh(inner_edges), loc=-0.7, scale=0.4), [1.0]])
    np.testing.assert_allclose(np.exp(bandit.reference_logps), np.diff(cdf), rtol=2e-4, atol=1e-7)
    bins = np.arange(100)
    np.testing.assert_allclose(bandit.rewards, np.exp(-((bins - 70.0) / 10.0) ** 2), rtol=2e-5, atol=1e-30)  # float32 exponent of up to 49


def test_matches_a_large_sampled_histogram():
    """The authors histogram tanh of Cauchy draws over [-1, 1]; ours is that histogram's expectation."""
    rng = np.random.default_rng(0)
    n = 400_000
    samples = np.tanh(scipy.stats.cauchy.rvs(loc=-0.7, scale=0.4, size=n, random_state=rng))
    hist, _ = np.histogram(samples, range=(-1.0, 1.0), bins=100)
    p = np.exp(np.asarray(tajwar_bandit().reference_logps, np.float64))
    assert np.all(np.abs(hist / n - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-5)


def test_reference_reward_off_and_on_the_mode():
    for peak, lo, hi in ((70.0, 0.02, 0.06), (20.0, 0.3, 0.45)):
        b = tajwar_bandit(peak=peak)
        value = float(jnp.exp(b.reference_logps) @ b.rewards)
        assert lo < value < hi, (peak, value)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="peak"):
        tajwar_bandit(peak=jnp.zeros(2))
    with pytest.raises(ValueError, match="num_bins"):
        tajwar_bandit(num_bins=1)
    with pytest.raises(ValueError, match="scale"):
        tajwar_bandit(scale=0.0)
