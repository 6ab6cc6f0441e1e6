"""Mean-variance weights vs brute-force constrained optimisation, performance ratios vs float64 NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from scipy.optimize import minimize

from bvjax.finance import (
    cumulative_wealth,
    information_ratio,
    max_drawdown,
    mean_variance_weights,
    min_variance_weights,
    portfolio_returns,
    sharpe_ratio,
    tangency_weights,
)


def _problem(n=5, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    return rng.normal(0.05, 0.03, n), a @ a.T / n + 0.1 * np.eye(n)


def _constrained(obj, n):
    res = minimize(obj, np.full(n, 1 / n), method="SLSQP",
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"ftol": 1e-15, "maxiter": 500})
    return res.x


def test_min_variance_and_mean_variance_match_slsqp():
    mu, cov = _problem()
    with jax.enable_x64(True):
        w_mv = np.asarray(jax.jit(min_variance_weights)(jnp.asarray(cov)))
        w_g = np.asarray(mean_variance_weights(jnp.asarray(mu), jnp.asarray(cov), risk_aversion=3.0))
        w_t = np.asarray(tangency_weights(jnp.asarray(mu), jnp.asarray(cov), risk_free=0.01))
    np.testing.assert_allclose(w_mv, _constrained(lambda w: w @ cov @ w, 5), atol=1e-6)
    np.testing.assert_allclose(w_g, _constrained(lambda w: -(mu @ w - 1.5 * w @ cov @ w), 5), atol=1e-6)
    np.testing.assert_allclose(w_t, _constrained(lambda w: -(mu @ w - 0.01) / np.sqrt(w @ cov @ w), 5), atol=1e-5)
    for w in (w_mv, w_g, w_t):
        assert abs(w.sum() - 1) < 1e-12
    # closed forms
    inv = np.linalg.inv(cov)
    np.testing.assert_allclose(w_mv, inv @ np.ones(5) / (np.ones(5) @ inv @ np.ones(5)), rtol=1e-10)
    np.testing.assert_allclose(w_t, inv @ (mu - 0.01) / np.sum(inv @ (mu - 0.01)), rtol=1e-10)


def test_large_risk_aversion_is_min_variance_and_singular_cov():
    mu, cov = _problem()
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(mean_variance_weights(jnp.asarray(mu), jnp.asarray(cov), risk_aversion=1e9)),
                                   np.asarray(min_variance_weights(jnp.asarray(cov))), atol=1e-8)
        # singular sample covariance (T < N): minimum-norm solution, finite, on budget
        r = np.random.default_rng(1).normal(size=(3, 6))
        s = np.cov(r, rowvar=False)
        w = np.asarray(min_variance_weights(jnp.asarray(s)))
        np.testing.assert_allclose(w, np.linalg.pinv(s) @ np.ones(6) / (np.ones(6) @ np.linalg.pinv(s) @ np.ones(6)),
                                   rtol=1e-8)
    zero = min_variance_weights(jnp.zeros((3, 3)))
    np.testing.assert_allclose(np.asarray(zero), np.full(3, 1 / 3), rtol=1e-6)
    flat = tangency_weights(jnp.zeros(3), jnp.eye(3))  # no tangency portfolio: min variance
    np.testing.assert_allclose(np.asarray(flat), np.full(3, 1 / 3), rtol=1e-6)


def test_ratios_match_numpy_and_spec_check():
    # float64 NumPy: r below, A = 252: Sharpe (r_f = 0) = 2.8117400934192296.
    r = np.array([0.01, -0.005, 0.007, 0.002, -0.01, 0.004])
    with jax.enable_x64(True):
        np.testing.assert_allclose(float(sharpe_ratio(jnp.asarray(r))), 2.8117400934192296, rtol=1e-12)
        b = np.random.default_rng(0).normal(0, 0.01, 6)
        ref = np.sqrt(12) * np.mean(r - b) / np.std(r - b, ddof=1)
        np.testing.assert_allclose(float(jax.jit(information_ratio, static_argnames=("periods_per_year",))(
            jnp.asarray(r), jnp.asarray(b), periods_per_year=12)), ref, rtol=1e-12)
        np.testing.assert_allclose(float(sharpe_ratio(jnp.asarray(r), risk_free=0.001, ddof=0)),
                                   np.sqrt(252) * np.mean(r - 0.001) / np.std(r, ddof=0), rtol=1e-12)
    assert float(sharpe_ratio(jnp.full(5, 0.01))) == 0.0  # zero dispersion: 0, never inf
    assert float(sharpe_ratio(jnp.array([0.01]))) == 0.0
    assert sharpe_ratio(jnp.zeros((3, 7))).shape == (3,)


@pytest.mark.parametrize("x64", [False, True])
def test_constant_returns_have_zero_ratio(x64):
    # Zero dispersion reads 0 also when the mean rounds: 0.001 x 12 had a float32 sd of
    # ~1e-10 and a Sharpe ratio of ~1.3e8.
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        for value in (0.001, 0.1, 0.0003):
            for t in (12, 252):
                r = jnp.full((2, t), value, dtype)
                np.testing.assert_array_equal(np.asarray(sharpe_ratio(r)), 0.0)
                np.testing.assert_array_equal(float(information_ratio(r[0] + 0.01, jnp.full(t, 0.01, dtype))), 0.0)
                np.testing.assert_array_equal(float(sharpe_ratio(r[0], risk_free=value / 3)), 0.0)


def test_wealth_drawdown_portfolio_returns():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.3, (50, 4))
    w = rng.dirichlet(np.ones(4), 50)
    pr = (w * r).sum(1)
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(portfolio_returns(jnp.asarray(w), jnp.asarray(r))), pr, rtol=1e-12)
        wealth = np.cumprod(np.maximum(1 + pr, 0))
        np.testing.assert_allclose(np.asarray(cumulative_wealth(jnp.asarray(pr))), wealth, rtol=1e-12)
        peak = np.maximum(np.maximum.accumulate(wealth), 1.0)
        np.testing.assert_allclose(float(max_drawdown(jnp.asarray(pr))), np.max(1 - wealth / peak), rtol=1e-12)
    ruin = cumulative_wealth(jnp.array([0.5, -1.5, 2.0]))
    np.testing.assert_allclose(np.asarray(ruin), [1.5, 0.0, 0.0])
    assert float(max_drawdown(jnp.array([0.5, -1.5, 2.0]))) == 1.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="risk_aversion"):
        mean_variance_weights(jnp.ones(2), jnp.eye(2), risk_aversion=0.0)
    with pytest.raises(ValueError, match="benchmark"):
        information_ratio(jnp.ones(4), jnp.ones((2, 4)))


def test_gradients():
    mu, cov = _problem(4)
    r = np.random.default_rng(5).normal(0.001, 0.01, 30)
    with jax.enable_x64(True):
        jax.test_util.check_grads(lambda x: sharpe_ratio(x), (jnp.asarray(r),), order=1, modes=("rev",), eps=1e-7)
        jax.test_util.check_grads(lambda c: min_variance_weights((c + c.T) / 2), (jnp.asarray(cov),), order=1,
                                  modes=("rev",), eps=1e-6)
        jax.test_util.check_grads(lambda m: mean_variance_weights(m, jnp.asarray(cov), risk_aversion=2.0),
                                  (jnp.asarray(mu),), order=1, modes=("fwd", "rev"))


def test_vmap_over_portfolios():
    _, cov = _problem(4)
    covs = jnp.stack([jnp.asarray(cov, jnp.float32) * s for s in (1.0, 2.0, 0.5)])
    out = jax.vmap(min_variance_weights)(covs)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(min_variance_weights(covs[i])), rtol=1e-5)
