"""Covariance estimators for mean-variance portfolios: sample, Ledoit–Wolf shrinkage, factor models.

Every estimator takes returns [T, N] (T periods, N assets) and returns an [N, N]
covariance; none of them divides by zero (a single period, constant returns or a
singular sample covariance each have a documented result).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _centre(returns: jax.Array) -> jax.Array:
    return returns - jnp.mean(returns, axis=0, keepdims=True)


def sample_covariance(returns: jax.Array, *, ddof: int = 1) -> jax.Array:
    r"""Sample covariance of asset returns.

    .. math::  \hat\Sigma = \frac{1}{T - \text{ddof}} \sum_t (r_t - \bar r)(r_t - \bar r)^\top

    Args:
        returns: [T, N] float, one row per period.
        ddof: 1 (``np.cov``, pandas) or 0 (scikit-learn's ``EmpiricalCovariance``).

    Returns:
        [N, N] float. With ``T <= ddof`` the divisor is taken as 1 (a zero matrix for
        T = 1), never a division by zero. Singular whenever T <= N.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import sample_covariance
        >>> sample_covariance(jnp.array([[1., 0.], [3., 2.]]))
        Array([[2., 2.],
               [2., 2.]], dtype=float32)

    References:
        Markowitz, Portfolio Selection, 1952 (the plug-in estimator of mean-variance).
    """
    _checks.rank(returns=returns, expected="[T, N]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    _checks.one_of("ddof", ddof, (0, 1))
    t = returns.shape[0]
    x = _centre(returns)
    return x.T @ x / max(t - ddof, 1)


class LedoitWolf(NamedTuple):
    """Ledoit–Wolf shrinkage estimate.

    Attributes:
        covariance: [N, N] the shrunk covariance (1 - δ) S + δ μ I (S with divisor T).
        shrinkage: [] the intensity δ in [0, 1].
    """

    covariance: jax.Array
    shrinkage: jax.Array


def ledoit_wolf_covariance(returns: jax.Array, *, assume_centered: bool = False) -> LedoitWolf:
    r"""Ledoit and Wolf's (2004) shrinkage of the sample covariance towards a scaled identity.

    With S the covariance with divisor T of the (de-meaned) returns :math:`x_t`,
    :math:`\mu = \mathrm{tr}(S)/N`, :math:`d^2 = \lVert S - \mu I\rVert_F^2`,
    :math:`\bar b^2 = T^{-2} \sum_t \lVert x_t x_t^\top - S\rVert_F^2` and
    :math:`b^2 = \min(\bar b^2, d^2)`:

    .. math::  \hat\Sigma = \delta \mu I + (1 - \delta) S,\qquad \delta = b^2 / d^2.

    Args:
        returns: [T, N] float.
        assume_centered: if True the returns are not de-meaned (as scikit-learn's flag).

    Returns:
        `LedoitWolf`. When :math:`d^2 = 0` (S is already a multiple of I, e.g. N = 1 or
        constant returns) δ = 0 and the estimate is S. Matches
        ``sklearn.covariance.LedoitWolf`` (``covariance_``, ``shrinkage_``). Computed in
        float32 for float16/bfloat16 returns (whose fourth moments underflow) and
        returned in their dtype. A NaN or infinite return makes the estimate and δ NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import ledoit_wolf_covariance
        >>> r = ledoit_wolf_covariance(jnp.array([[1., 0.], [0., 1.], [1., 1.], [0., 0.]]))
        >>> round(float(r.shrinkage), 4)
        0.0

    References:
        Ledoit and Wolf, A Well-Conditioned Estimator for Large-Dimensional Covariance
        Matrices, J. Multivariate Analysis 2004. The oracle is scikit-learn's LedoitWolf.
    """
    _checks.rank(returns=returns, expected="[T, N]", kind="float")
    t, n = returns.shape
    out_dtype = returns.dtype
    returns = returns.astype(jnp.promote_types(out_dtype, jnp.float32))  # half precision: fourth moments underflow
    x = returns if assume_centered else _centre(returns)
    s = x.T @ x / t
    mu = jnp.trace(s) / n
    target = mu * jnp.eye(n, dtype=s.dtype)
    d2 = jnp.sum((s - target) ** 2)
    b2_bar = (jnp.sum(jnp.sum(x**2, axis=1) ** 2) - t * jnp.sum(s**2)) / t**2
    b2 = jnp.clip(b2_bar, 0.0, d2)
    delta = jnp.where(d2 > 0, b2 / jnp.where(d2 > 0, d2, 1.0), 0.0)
    # a NaN or infinite return: d2 or b2 is NaN, not 0, and so is the whole estimate
    delta = jnp.where(jnp.all(jnp.isfinite(returns)), delta, jnp.nan)
    return LedoitWolf((delta * target + (1.0 - delta) * s).astype(out_dtype), delta.astype(out_dtype))


def pca_factor_covariance(returns: jax.Array, *, num_factors: int, ddof: int = 1) -> jax.Array:
    r"""Statistical factor-model covariance: the top principal components plus a diagonal residual.

    .. math::  \hat\Sigma = V_k \Lambda_k V_k^\top + \mathrm{diag}\big(\max(\mathrm{diag}(S - V_k\Lambda_k V_k^\top), 0)\big)

    with :math:`S` the sample covariance and :math:`(\Lambda_k, V_k)` its k largest
    eigenpairs.

    Args:
        returns: [T, N] float.
        num_factors: static k in [1, N].
        ddof: divisor convention of the sample covariance (see `sample_covariance`).

    Returns:
        [N, N] float, symmetric positive semi-definite (definite when every residual
        variance is positive); the diagonal equals the sample variances.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import pca_factor_covariance
        >>> r = jnp.array([[1., 2., 0.], [2., 1., 1.], [0., 1., 3.], [1., 0., 1.]])
        >>> c = pca_factor_covariance(r, num_factors=1)
        >>> bool(jnp.allclose(jnp.diag(c), jnp.var(r, axis=0, ddof=1)))
        True

    References:
        Connor and Korajczyk, Performance Measurement with the Arbitrage Pricing Theory,
        1986 (statistical factors); Fan, Liao and Mincheva, POET, 2013.
    """
    _checks.rank(returns=returns, expected="[T, N]", kind="float")
    returns = returns.astype(compute_dtype(returns))  # the dtype policy
    _checks.positive_int(num_factors=num_factors)
    n = returns.shape[1]
    if num_factors > n:
        raise ValueError(f"num_factors: expected at most N = {n}, got {num_factors}")
    s = sample_covariance(returns, ddof=ddof)
    vals, vecs = jnp.linalg.eigh(s)
    vals, vecs = vals[-num_factors:], vecs[:, -num_factors:]
    common = (vecs * jnp.maximum(vals, 0.0)) @ vecs.T
    resid = jnp.maximum(jnp.diag(s) - jnp.diag(common), 0.0)
    return common + jnp.diag(resid)


def factor_model_covariance(returns: jax.Array, factors: jax.Array, *, ddof: int = 1) -> jax.Array:
    r"""Covariance implied by a linear factor model with given (observed) factors.

    Regress each asset on the factors with an intercept, :math:`r_t = \alpha + B^\top f_t + \epsilon_t`
    (ordinary least squares), then

    .. math::  \hat\Sigma = B^\top \hat\Sigma_f B + \mathrm{diag}(\hat\sigma^2_\epsilon).

    Args:
        returns: [T, N] float.
        factors: [T, K] float, the factor returns over the same periods.
        ddof: divisor convention for the factor covariance and the residual variances.

    Returns:
        [N, N] float. Collinear factors are handled by a least-squares pseudo-inverse
        (the fitted values are unique even when B is not). A NaN or infinite return or
        factor gives NaN throughout.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.finance import factor_model_covariance
        >>> f = jnp.array([[1.], [-1.], [2.], [0.]])
        >>> c = factor_model_covariance(2.0 * f, f)  # an exact one-factor asset: variance 4 var(f)
        >>> round(float(c[0, 0]), 4)
        6.6667

    References:
        Sharpe, A Simplified Model for Portfolio Analysis, 1963; Fama and French, 1993.
    """
    _checks.dims(returns=(returns, "[T, N]", "float"), factors=(factors, "[T, K]", "float"))
    dt = compute_dtype(returns, factors)  # the dtype policy
    returns, factors = returns.astype(dt), factors.astype(dt)
    _checks.one_of("ddof", ddof, (0, 1))
    t = returns.shape[0]
    x, f = _centre(returns), _centre(factors)
    beta = jnp.linalg.pinv(f) @ x                       # [K, N]
    resid = x - f @ beta
    div = max(t - ddof, 1)
    cov_f = f.T @ f / div
    out = beta.T @ cov_f @ beta + jnp.diag(jnp.sum(resid**2, axis=0) / div)
    # a NaN or infinite return or factor: the pseudo-inverse would give a finite, wrong fit
    return jnp.where(jnp.all(jnp.isfinite(returns)) & jnp.all(jnp.isfinite(factors)), out, jnp.nan)
