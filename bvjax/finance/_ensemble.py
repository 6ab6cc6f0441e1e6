"""Ensembles of sequential portfolio strategies (after Lam 2024), in price-relative notation.

Price relatives x_t in R^N_+ (x_t = 1 + r_t), component strategy k proposes portfolio
b_t^(k) before period t, and its wealth is S_t^(k) = prod_{τ<=t} <b_τ^(k), x_τ>.
An ensemble chooses a mixture m_t over the K strategies from information up to t − 1 and
holds b_t = Σ_k m_{t,k} b_t^(k).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks

RULES = ("wealth", "uniform", "exp_gradient")


class EnsembleResult(NamedTuple):
    """Result of `combine_strategies`.

    Attributes:
        weights: [T, N] the combined portfolio b_t held in period t.
        mixture: [T, K] the weights m_t on the strategies (rows sum to 1).
        wealth: [T] the combined strategy's wealth S_t (S_0 = 1).
        component_wealth: [K, T] each strategy's wealth.
    """

    weights: jax.Array
    mixture: jax.Array
    wealth: jax.Array
    component_wealth: jax.Array


def combine_strategies(strategy_weights: jax.Array, price_relatives: jax.Array, *, rule: str = "wealth",
                       power: float = 1.0, learning_rate: float = 0.05) -> EnsembleResult:
    r"""Combines K sequential portfolio strategies into one, distribution-free (no model of returns).

    Rules (``m_t`` uses only the strategies' wealth up to t − 1):

    * ``"wealth"``: :math:`m_{t,k} \propto (S^{(k)}_{t-1})^{p}`. With ``power`` p = 1 this
      is buy-and-hold over strategies (the universal-portfolio mixture): the combined
      wealth is exactly the average :math:`\frac1K\sum_k S^{(k)}_T \ge \max_k S^{(k)}_T/K`,
      for every price sequence. ``power > 1`` follows the leaders faster (our
      "accelerated" variant: more wealth when one strategy keeps leading, more risk).
    * ``"uniform"``: :math:`m_t = 1/K` (rebalanced each period to equal strategy weights).
    * ``"exp_gradient"``: Helmbold et al.'s EG over strategies,
      :math:`m_{t+1,k} \propto m_{t,k}\exp(\eta\, x^{(k)}_t / \langle m_t, x_t^{(\cdot)}\rangle)`
      with :math:`x^{(k)}_t = \langle b^{(k)}_t, x_t\rangle`.

    Args:
        strategy_weights: [K, T, N] float, each strategy's portfolio for each period
            (rows should sum to 1; shorting is allowed).
        price_relatives: [T, N] float, :math:`x_t = 1 + r_t`.
        rule: one of ``"wealth"``, ``"uniform"``, ``"exp_gradient"``.
        power: p > 0 for ``"wealth"``.
        learning_rate: η > 0 for ``"exp_gradient"``.

    Returns:
        `EnsembleResult`. Period returns at or below −100% ruin a strategy (its wealth
        stays 0; see `cumulative_wealth`); the mixture is computed from log-wealth, so it
        never overflows, and if every strategy is ruined it falls back to uniform.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import combine_strategies
        >>> b = jnp.array([[[1., 0.]] * 2, [[0., 1.]] * 2])  # all-in asset 0, all-in asset 1
        >>> x = jnp.array([[2., 1.], [2., 1.]])
        >>> combine_strategies(b, x).wealth  # the average of 4 and 1 at the end
        Array([1.5, 2.5], dtype=float32)

    References:
        Lam, Ensembling Portfolio Strategies for Long-Term Investments: A
        Distribution-Free Preference Framework for Decision-Making and Algorithms, 2024
        (arXiv 2406.03652). Its §3 construction (and accelerated variant) was NOT
        readable to us; the rules here are standard meta-strategies
        in its place (Cover, Universal Portfolios, 1991; Helmbold et al, On-Line
        Portfolio Selection Using Multiplicative Updates, 1998), and ``power > 1`` is
        our own stand-in for acceleration, not the paper's.
    """
    dims = _checks.dims(strategy_weights=(strategy_weights, "[K, T, N]", "float"),
                        price_relatives=(price_relatives, "[T, N]", "float"))
    _checks.one_of("rule", rule, RULES)
    _checks.in_range("power", power, low=0.0, low_inclusive=False)
    _checks.in_range("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    k = dims["K"]
    dtype = strategy_weights.dtype
    growth = jnp.einsum("ktn,tn->kt", strategy_weights, price_relatives.astype(dtype))  # [K, T]
    growth = jnp.maximum(growth, 0.0)
    tiny = jnp.finfo(dtype).tiny
    log_growth = jnp.log(jnp.maximum(growth, tiny))
    log_wealth = jnp.cumsum(log_growth, axis=1)
    ruined = jnp.cumsum(growth <= 0, axis=1) > 0
    component_wealth = jnp.where(ruined, 0.0, jnp.exp(log_wealth))
    uniform = jnp.full((growth.shape[1], k), 1.0 / k, dtype)
    if rule == "uniform":
        mixture = uniform
    elif rule == "wealth":
        prev = jnp.concatenate([jnp.zeros((k, 1), dtype), log_wealth[:, :-1]], axis=1)
        prev_ruined = jnp.concatenate([jnp.zeros((k, 1), bool), ruined[:, :-1]], axis=1)
        logits = jnp.where(prev_ruined, -jnp.inf, power * prev).T          # [T, K]
        alive = jnp.any(jnp.isfinite(logits), axis=1, keepdims=True)
        mixture = jnp.where(alive, jax.nn.softmax(jnp.where(alive, logits, 0.0), axis=1), uniform)
    else:
        def step(log_m, g):
            m = jax.nn.softmax(log_m)
            port = jnp.sum(m * g)
            log_m = log_m + learning_rate * g / jnp.where(port > 0, port, 1.0)
            return log_m, m
        _, mixture = jax.lax.scan(step, jnp.zeros(k, dtype), growth.T)
    weights = jnp.einsum("tk,ktn->tn", mixture, strategy_weights)
    period = jnp.maximum(jnp.sum(weights * price_relatives.astype(dtype), axis=1), 0.0)
    wealth = jnp.cumprod(period)
    return EnsembleResult(weights, mixture, wealth, component_wealth)
