"""Jit-able tail probabilities of the Student t, F, chi-square and binomial laws.

JAX has no ``t.sf`` or ``f.sf``; every tail needed by the tests in `bvjax.stats` is a
regularised incomplete beta or gamma function, which `jax.scipy.special` provides.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, gammaincc

from bvjax import _checks


def _float_dtype(*arrays):
    """The float dtype results are computed in: the inputs' float type, else the default float."""
    floats = [jnp.asarray(a).dtype for a in arrays if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)]
    return jnp.result_type(*floats) if floats else jnp.result_type(float)


def _broadcastable(**arrays):
    """Checks that the arrays broadcast together and are numeric, naming the first misfit."""
    _checks.broadcastable(**arrays)
    _checks.dtype_kind("number", **arrays)


def t_sf(x: jax.Array, df: jax.Array) -> jax.Array:
    r"""Survival function :math:`P(T > x)` of Student's t distribution.

    .. math::  P(T > x) = \tfrac12 I_{\nu/(\nu + x^2)}(\nu/2, 1/2) \text{ for } x \ge 0,
               \qquad 1 - P(T > -x) \text{ for } x < 0,

    with :math:`I` the regularised incomplete beta function. A two-sided p-value is
    ``2 * t_sf(abs(t), df)``.

    Args:
        x: [...] float, the quantile(s).
        df: [...] float or int > 0, degrees of freedom (broadcasts with ``x``).

    Returns:
        [...] float, the broadcast shape of ``x`` and ``df``; ``x = +inf`` gives 0 and
        ``x = -inf`` gives 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import t_sf
        >>> round(float(2 * t_sf(jnp.array(0.9428090415820634), 5)), 4)  # scipy: 0.389068
        0.3891

    References:
        Abramowitz and Stegun, Handbook of Mathematical Functions, 1964 (26.5.27 and 26.7.1).
    """
    _broadcastable(x=x, df=df)
    _checks.in_range("df", df, low=0.0, low_inclusive=False)  # eager only; a traced df <= 0 gives NaN
    dtype = _float_dtype(x, df)
    x = jnp.asarray(x, dtype)
    df = jnp.asarray(df, dtype)
    half = 0.5 * betainc(0.5 * df, jnp.asarray(0.5, dtype), df / (df + x * x))
    return jnp.where(x >= 0, half, 1.0 - half)


def f_sf(x: jax.Array, dfn: jax.Array, dfd: jax.Array) -> jax.Array:
    r"""Survival function :math:`P(F > x)` of the F distribution with (dfn, dfd) degrees of freedom.

    .. math::  P(F > x) = I_{d_2/(d_2 + d_1 x)}(d_2/2,\ d_1/2) \text{ for } x > 0, \quad 1 \text{ for } x \le 0.

    Args:
        x: [...] float, the quantile(s).
        dfn: [...] float or int > 0, numerator degrees of freedom :math:`d_1`.
        dfd: [...] float or int > 0, denominator degrees of freedom :math:`d_2`.

    Returns:
        [...] float, the broadcast shape of the inputs; ``x = inf`` gives 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import f_sf
        >>> round(float(f_sf(jnp.array(0.9111111111111111), 10, 5)), 6)  # scipy: 0.580893
        0.580893

    References:
        Abramowitz and Stegun, Handbook of Mathematical Functions, 1964 (26.6.2).
    """
    _broadcastable(x=x, dfn=dfn, dfd=dfd)
    dtype = _float_dtype(x, dfn, dfd)
    x = jnp.asarray(x, dtype)
    dfn = jnp.asarray(dfn, dtype)
    dfd = jnp.asarray(dfd, dtype)
    safe_x = jnp.maximum(x, 0.0)
    tail = betainc(0.5 * dfd, 0.5 * dfn, dfd / (dfd + dfn * safe_x))
    return jnp.where(x > 0, tail, jnp.ones_like(tail))


def chi2_sf(x: jax.Array, df: jax.Array) -> jax.Array:
    r"""Survival function :math:`P(X > x)` of the chi-square distribution with ``df`` degrees of freedom.

    .. math::  P(X > x) = Q(\nu/2,\ x/2) \text{ for } x > 0, \quad 1 \text{ for } x \le 0,

    with :math:`Q` the regularised upper incomplete gamma function.

    Args:
        x: [...] float, the quantile(s).
        df: [...] float or int > 0, degrees of freedom (broadcasts with ``x``).

    Returns:
        [...] float, the broadcast shape of ``x`` and ``df``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import chi2_sf
        >>> round(float(chi2_sf(jnp.array(2.025), 1)), 6)  # scipy: 0.154729
        0.154729

    References:
        Abramowitz and Stegun, Handbook of Mathematical Functions, 1964 (26.4.2 and 6.5.2).
    """
    _broadcastable(x=x, df=df)
    dtype = _float_dtype(x, df)
    x = jnp.asarray(x, dtype)
    df = jnp.asarray(df, dtype)
    tail = gammaincc(0.5 * df, 0.5 * jnp.maximum(x, 0.0))
    return jnp.where(x > 0, tail, jnp.ones_like(tail))


def binom_cdf(k: jax.Array, n: jax.Array, p: jax.Array) -> jax.Array:
    r"""Lower tail :math:`P(X \le k)` of the binomial distribution :math:`X \sim \mathrm{Bin}(n, p)`.

    .. math::  P(X \le k) = I_{1-p}(n - k,\ k + 1) \text{ for } 0 \le k < n,

    1 for :math:`k \ge n` and 0 for :math:`k < 0`; a non-integer ``k`` is floored.

    Args:
        k: [...] int or float, the count(s).
        n: [...] int or float >= 0, the number(s) of trials.
        p: [...] float in [0, 1], the success probability.

    Returns:
        [...] float, the broadcast shape of the inputs. ``n = 0`` gives 1 for any
        ``k >= 0``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import binom_cdf
        >>> round(float(2 * binom_cdf(15, 40, 0.5)), 4)  # scipy: 2 * binom.cdf(15, 40, .5) = 0.153860
        0.1539

    References:
        Abramowitz and Stegun, Handbook of Mathematical Functions, 1964 (26.5.24).
    """
    _broadcastable(k=k, n=n, p=p)
    dtype = _float_dtype(k, n, p)
    k = jnp.floor(jnp.asarray(k, dtype))
    n = jnp.asarray(n, dtype)
    p = jnp.asarray(p, dtype)
    inside = (k >= 0) & (k < n)
    a = jnp.where(inside, n - k, 1.0)
    b = jnp.where(inside, k + 1.0, 1.0)
    cdf = betainc(a, b, 1.0 - p)
    return jnp.where(inside, cdf, jnp.where(k < 0, 0.0, 1.0))
