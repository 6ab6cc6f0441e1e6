"""Mean-variance portfolio weights under the budget constraint 1ᵀw = 1 (shorting allowed).

All three use the Moore–Penrose pseudo-inverse Σ⁺ of the covariance: it is Σ⁻¹ when Σ is
invertible, and for a singular sample covariance (T <= N) gives the minimum-norm
solution rather than a failed solve.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _budget(x: jax.Array, fallback: jax.Array) -> jax.Array:
    """x / 1ᵀx, or `fallback` where |1ᵀx| is negligible; NaN where x is not finite
    (a NaN in the covariance or the means must not turn into the 1/N fallback)."""
    total = jnp.sum(x)
    ok = jnp.abs(total) > 1e-12 * jnp.maximum(jnp.sum(jnp.abs(x)), 1e-30)
    out = jnp.where(ok, x / jnp.where(ok, total, 1.0), fallback)
    return jnp.where(jnp.all(jnp.isfinite(x)), out, jnp.nan)


def min_variance_weights(cov: jax.Array) -> jax.Array:
    r"""Global minimum-variance portfolio under the budget constraint.

    .. math::  w = \frac{\Sigma^{+}\mathbf 1}{\mathbf 1^\top \Sigma^{+}\mathbf 1}

    Args:
        cov: [N, N] float, a symmetric covariance estimate.

    Returns:
        [N] float, weights summing to 1. If :math:`\mathbf 1^\top\Sigma^+\mathbf 1 = 0`
        (e.g. an all-zero covariance) the equal-weight portfolio 1/N is returned; a
        non-finite covariance (a NaN return upstream) gives NaN weights, never 1/N.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import min_variance_weights
        >>> min_variance_weights(jnp.diag(jnp.array([1., 4.])))
        Array([0.8, 0.2], dtype=float32)

    References:
        Markowitz, Portfolio Selection, 1952; Merton, An Analytic Derivation of the
        Efficient Portfolio Frontier, 1972.
    """
    _checks.dims(cov=(cov, "[N, N]", "float"))
    cov = cov.astype(compute_dtype(cov))  # the dtype policy
    n = cov.shape[0]
    x = jnp.linalg.pinv(cov, hermitian=True) @ jnp.ones(n, cov.dtype)
    return _budget(x, jnp.full(n, 1.0 / n, cov.dtype))


def mean_variance_weights(mean: jax.Array, cov: jax.Array, *, risk_aversion: float) -> jax.Array:
    r"""Mean-variance (risk-aversion form) portfolio under the budget constraint.

    .. math::  w = \arg\max_{\mathbf 1^\top w = 1}\ \mu^\top w - \tfrac{\gamma}{2} w^\top\Sigma w
               = w_{\mathrm{mv}} + \tfrac1\gamma\big(\Sigma^{+}\mu - (\mathbf 1^\top\Sigma^{+}\mu)\, w_{\mathrm{mv}}\big)

    with :math:`w_{\mathrm{mv}}` the `min_variance_weights`. :math:`\gamma \to \infty`
    recovers the minimum-variance portfolio.

    Args:
        mean: [N] float, expected (excess) returns μ.
        cov: [N, N] float, covariance Σ.
        risk_aversion: γ > 0.

    Returns:
        [N] float, weights summing to 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import mean_variance_weights
        >>> mean_variance_weights(jnp.array([0.1, 0.0]), jnp.eye(2), risk_aversion=1.0)
        Array([0.55, 0.45], dtype=float32)

    References:
        Markowitz, Portfolio Selection, 1952; Merton, 1972 (the closed form with the
        budget constraint).
    """
    _checks.dims(mean=(mean, "[N]", "float"), cov=(cov, "[N, N]", "float"))
    dt = compute_dtype(mean, cov)  # the dtype policy
    mean, cov = mean.astype(dt), cov.astype(dt)
    _checks.in_range("risk_aversion", risk_aversion, low=0.0, low_inclusive=False)
    n = cov.shape[0]
    inv = jnp.linalg.pinv(cov, hermitian=True)
    w_mv = _budget(inv @ jnp.ones(n, cov.dtype), jnp.full(n, 1.0 / n, cov.dtype))
    a = inv @ mean.astype(cov.dtype)
    # the 1/N fallback is not Σ⁺1-proportional, so project a's budget out explicitly
    return w_mv + (a - jnp.sum(a) * w_mv) / risk_aversion


def tangency_weights(mean: jax.Array, cov: jax.Array, *, risk_free: float = 0.0) -> jax.Array:
    r"""Tangency (maximum Sharpe ratio) portfolio under the budget constraint.

    .. math::  w = \frac{\Sigma^{+}(\mu - r_f\mathbf 1)}{\mathbf 1^\top\Sigma^{+}(\mu - r_f\mathbf 1)}

    When the denominator is negative the formula gives the portfolio on the lower
    branch of the frontier (the textbook caveat, kept as is). When it is 0 the tangency
    portfolio does not exist and the minimum-variance portfolio is returned.

    Args:
        mean: [N] float, expected returns.
        cov: [N, N] float, covariance.
        risk_free: the risk-free rate per period.

    Returns:
        [N] float, weights summing to 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import tangency_weights
        >>> [round(float(v), 4) for v in tangency_weights(jnp.array([0.1, 0.05]), jnp.eye(2))]
        [0.6667, 0.3333]

    References:
        Tobin, Liquidity Preference as Behavior Towards Risk, 1958; Sharpe, 1964.
    """
    _checks.dims(mean=(mean, "[N]", "float"), cov=(cov, "[N, N]", "float"))
    dt = compute_dtype(mean, cov)  # the dtype policy
    mean, cov = mean.astype(dt), cov.astype(dt)
    n = cov.shape[0]
    inv = jnp.linalg.pinv(cov, hermitian=True)
    w_mv = _budget(inv @ jnp.ones(n, cov.dtype), jnp.full(n, 1.0 / n, cov.dtype))
    return _budget(inv @ (mean.astype(cov.dtype) - risk_free), w_mv)
