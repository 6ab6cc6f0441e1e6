"""Contract-test cases for bvjax.finance (see tests/api_cases.py)."""

from __future__ import annotations

import jax.numpy as jnp

from tests.api_cases import Case


def _r(t=12, n=4):
    return 0.01 * jnp.sin(jnp.arange(t * n, dtype=jnp.float32) * 1.3).reshape(t, n)


def _cov(n=4):
    return jnp.eye(n) + 0.1


CASES = {
    "bvjax.finance.sample_covariance": Case(
        good=lambda: ((_r(),), {"ddof": 0}), bad=lambda: ((_r()[0],), {}), bad_arg="returns", static=("ddof",)),
    "bvjax.finance.ledoit_wolf_covariance": Case(
        good=lambda: ((_r(),), {}), bad=lambda: ((_r()[0],), {}), bad_arg="returns", static=("assume_centered",)),
    "bvjax.finance.pca_factor_covariance": Case(
        good=lambda: ((_r(),), {"num_factors": 2}), bad=lambda: ((_r()[0],), {"num_factors": 2}), bad_arg="returns",
        static=("num_factors", "ddof")),
    "bvjax.finance.factor_model_covariance": Case(
        good=lambda: ((_r(), _r(12, 2)), {}), bad=lambda: ((_r(), _r(11, 2)), {}), bad_arg="factors",
        static=("ddof",)),
    "bvjax.finance.min_variance_weights": Case(
        good=lambda: ((_cov(),), {}), bad=lambda: ((jnp.ones((4, 3)),), {}), bad_arg="cov"),
    "bvjax.finance.mean_variance_weights": Case(
        good=lambda: ((jnp.arange(4.0) / 10, _cov()), {"risk_aversion": 2.0}),
        bad=lambda: ((jnp.arange(3.0), _cov()), {"risk_aversion": 2.0}), bad_arg="cov"),
    "bvjax.finance.tangency_weights": Case(
        good=lambda: ((jnp.arange(1.0, 5.0) / 10, _cov()), {"risk_free": 0.01}),
        bad=lambda: ((jnp.arange(3.0), _cov()), {}), bad_arg="cov"),
    "bvjax.finance.portfolio_returns": Case(
        good=lambda: ((jnp.full(4, 0.25), _r()), {}), bad=lambda: ((jnp.full(3, 0.25), _r()), {}),
        bad_arg="asset_returns"),
    "bvjax.finance.cumulative_wealth": Case(
        good=lambda: ((_r()[:, 0],), {"initial": 2.0}), bad=lambda: ((jnp.float32(0.1),), {}), bad_arg="returns"),
    "bvjax.finance.sharpe_ratio": Case(
        good=lambda: ((_r().T,), {"periods_per_year": 12.0}), bad=lambda: ((jnp.float32(0.1),), {}),
        bad_arg="returns", static=("ddof",)),
    "bvjax.finance.information_ratio": Case(
        good=lambda: ((_r().T, _r()[:, 0]), {}), bad=lambda: ((_r().T, _r(13, 1)[:, 0]), {}), bad_arg="benchmark",
        static=("ddof",)),
    "bvjax.finance.max_drawdown": Case(
        good=lambda: ((_r().T,), {}), bad=lambda: ((jnp.float32(0.1),), {}), bad_arg="returns"),
    "bvjax.finance.combine_strategies": Case(
        good=lambda: ((jnp.full((2, 12, 4), 0.25), 1.0 + _r()), {"rule": "exp_gradient"}),
        bad=lambda: ((jnp.full((2, 12, 3), 0.25), 1.0 + _r()), {}), bad_arg="price_relatives", static=("rule",)),
}
