"""Portfolio returns, cumulative wealth, Sharpe ratio, information ratio and maximum drawdown."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def portfolio_returns(weights: jax.Array, asset_returns: jax.Array) -> jax.Array:
    r"""Per-period simple return of a portfolio, :math:`r^p_t = \langle w_t, r_t\rangle`.

    Args:
        weights: [N] float (held fixed, rebalanced every period) or [T, N] (the weights
            chosen before period t).
        asset_returns: [T, N] float, simple returns per period.

    Returns:
        [T] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import portfolio_returns
        >>> portfolio_returns(jnp.array([0.5, 0.5]), jnp.array([[0.1, -0.1], [0.2, 0.0]]))
        Array([0. , 0.1], dtype=float32)

    References:
        Markowitz, Portfolio Selection, 1952.
    """
    _checks.dims(weights=(weights, ("[N]", "[T, N]"), "float"), asset_returns=(asset_returns, "[T, N]", "float"))
    dt = compute_dtype(weights, asset_returns)  # the dtype policy
    weights, asset_returns = weights.astype(dt), asset_returns.astype(dt)
    return jnp.sum(jnp.broadcast_to(weights, asset_returns.shape) * asset_returns, axis=-1)


def cumulative_wealth(returns: jax.Array, *, initial: float = 1.0) -> jax.Array:
    r"""Wealth path :math:`S_t = S_0 \prod_{\tau \le t} (1 + r_\tau)`, absorbing at ruin.

    Args:
        returns: [..., T] float, simple returns (time on the last axis).
        initial: :math:`S_0`.

    Returns:
        [..., T] float. A period with :math:`r_\tau \le -1` ruins the investor: the
        wealth is 0 from then on (never negative), as a leveraged portfolio would be
        liquidated.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import cumulative_wealth
        >>> cumulative_wealth(jnp.array([0.1, -0.5, 0.2]))
        Array([1.1 , 0.55, 0.66], dtype=float32)

    References:
        Cover, Universal Portfolios, 1991 (wealth as the product of price relatives).
    """
    _checks.rank(returns=returns, expected="[..., T]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    return initial * jnp.cumprod(jnp.maximum(1.0 + returns, 0.0), axis=-1)


def _ratio(active: jax.Array, periods_per_year: float, ddof: int) -> jax.Array:
    t = active.shape[-1]
    # shifted by the first period: constant returns have sd exactly 0 (a rounded mean gave
    # 0.001 x 12 an sd of ~1e-10 and a Sharpe ratio of ~1e8)
    shift = active[..., :1]
    mean = jnp.sum(shift, axis=-1) + jnp.mean(active - shift, axis=-1)  # T = 0: NaN, as before
    sd = jnp.std(active - shift, axis=-1, ddof=ddof if t > ddof else 0)
    ok = sd > 0
    ratio = jnp.where(ok, jnp.sqrt(periods_per_year) * mean / jnp.where(ok, sd, 1.0), 0.0)
    # zero dispersion reads 0; an undefined one (a NaN or inf return: sd is NaN) stays NaN
    return jnp.where(jnp.isnan(sd) | jnp.isnan(mean), jnp.nan, ratio)


def sharpe_ratio(returns: jax.Array, *, risk_free: float = 0.0, periods_per_year: float = 252.0,
                 ddof: int = 1) -> jax.Array:
    r"""Annualised Sharpe ratio :math:`\sqrt{A}\,\overline{(r - r_f)} / \mathrm{sd}(r)`.

    Args:
        returns: [..., T] float, per-period simple returns (time last).
        risk_free: per-period risk-free rate.
        periods_per_year: A (252 for daily stock returns, 12 monthly, 1 for none).
        ddof: 1 (sample sd, the default) or 0.

    Returns:
        [...] float. Zero dispersion (constant returns, or a single period with
        ``ddof=1``) gives 0: the ratio is undefined and reported as 0, never inf or NaN. A
        NaN or infinite return gives NaN for its series.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import sharpe_ratio
        >>> r = jnp.array([.01, -.005, .007, .002, -.01, .004])
        >>> round(float(sharpe_ratio(r)), 4)  # 2.8117400934192296 in float64 NumPy
        2.8117

    References:
        Sharpe, The Sharpe Ratio, J. Portfolio Management 1994.
    """
    _checks.rank(returns=returns, expected="[..., T]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    _checks.one_of("ddof", ddof, (0, 1))
    _checks.in_range("periods_per_year", periods_per_year, low=0.0, low_inclusive=False)
    return _ratio(returns - risk_free, periods_per_year, ddof)


def information_ratio(returns: jax.Array, benchmark: jax.Array, *, periods_per_year: float = 252.0,
                      ddof: int = 1) -> jax.Array:
    r"""Annualised information ratio against a benchmark, :math:`\sqrt{A}\,\overline{(r - r_b)} / \mathrm{sd}(r - r_b)`.

    This is the conventional definition (active return over tracking error), not the
    ARC/ASD ratio some portfolio papers also call "IR" (e.g. Wysocki and Sakowski, 2025).

    Args:
        returns: [..., T] float.
        benchmark: float broadcastable to ``returns`` (e.g. [T]), the benchmark's returns.
        periods_per_year: A.
        ddof: 1 or 0.

    Returns:
        [...] float; zero tracking error gives 0; a NaN or infinite return (or benchmark
        return) gives NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import information_ratio
        >>> r = jnp.array([.01, -.005, .007, .002])
        >>> ir = information_ratio(r + jnp.array([.001, 0., .001, 0.]), r, periods_per_year=1.0)
        >>> round(float(ir), 3)  # mean .0005 / sd .000577
        0.866

    References:
        Grinold and Kahn, Active Portfolio Management, 2000.
    """
    _checks.rank(returns=returns, expected="[..., T]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    _checks.broadcastable(returns=returns, benchmark=benchmark)
    dt = compute_dtype(returns, benchmark)
    returns, benchmark = returns.astype(dt), jnp.asarray(benchmark).astype(dt)
    if jnp.broadcast_shapes(returns.shape, jnp.shape(benchmark)) != returns.shape:
        raise ValueError(f"benchmark: expected a shape that broadcasts to returns' {returns.shape}, "
                         f"got shape {jnp.shape(benchmark)}")
    _checks.one_of("ddof", ddof, (0, 1))
    _checks.in_range("periods_per_year", periods_per_year, low=0.0, low_inclusive=False)
    return _ratio(returns - benchmark, periods_per_year, ddof)


def max_drawdown(returns: jax.Array) -> jax.Array:
    r"""Maximum drawdown :math:`\max_t (1 - S_t / \max_{\tau \le t} S_\tau)` of the wealth path (with :math:`S_0 = 1`).

    Args:
        returns: [..., T] float, simple returns.

    Returns:
        [...] float in [0, 1] (1 after ruin); 0 for an empty series (T = 0).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import max_drawdown
        >>> max_drawdown(jnp.array([0.1, -0.5, 0.2]))
        Array(0.5, dtype=float32)

    References:
        Magdon-Ismail and Atiya, Maximum Drawdown, Risk 2004.
    """
    _checks.rank(returns=returns, expected="[..., T]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    wealth = cumulative_wealth(returns)
    peak = jnp.maximum(jax.lax.cummax(wealth, axis=wealth.ndim - 1), 1.0)
    return jnp.max(1.0 - wealth / peak, axis=-1, initial=0.0)  # T = 0: no drawdown, 0
