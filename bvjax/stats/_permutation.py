"""Permutation tests (exact and Monte Carlo, paired and unpaired) and the two-proportion
z-test, with mlxtend's statistics and conventions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.stats._significance import TestResult

_FUNCS = ("x_mean != y_mean", "x_mean > y_mean", "x_mean < y_mean")
_CHUNK = 4096  # rearrangements evaluated per vmapped batch


def _statistic(func):
    if callable(func):
        return func
    _checks.one_of("func", func, _FUNCS)
    if func == "x_mean != y_mean":
        return lambda x, y: jnp.abs(jnp.mean(x) - jnp.mean(y))
    if func == "x_mean > y_mean":
        return lambda x, y: jnp.mean(x) - jnp.mean(y)
    return lambda x, y: jnp.mean(y) - jnp.mean(x)


def _extreme(stat, reference, rtol, atol):
    """``args -> bool``: the statistic is > reference or np.isclose to it."""
    def fn(args):
        d = stat(*args)
        return (d > reference) | (jnp.abs(d - reference) <= atol + rtol * jnp.abs(reference))
    return fn


def _count(fn, xs, total):
    """Number of True results of ``fn`` over the leading axis of ``xs``, vmapped in batches."""
    return jnp.sum(jax.lax.map(fn, xs, batch_size=min(_CHUNK, total)))


def permutation_test(x: jax.Array, y: jax.Array, *, func: str | Callable = "x_mean != y_mean",
                     method: str = "exact", paired: bool = False, num_rounds: int = 1000,
                     key: jax.Array | None = None, rtol: float = 1e-5, atol: float = 1e-8,
                     max_exact: int = 2_000_000) -> jax.Array:
    r"""Nonparametric permutation test of two samples (mlxtend's statistics and counting).

    With statistic :math:`s = f(x, y)` and its value :math:`s_0` on the data, the p-value
    is the fraction of rearrangements of the data under the null whose statistic is at
    least as extreme, :math:`s > s_0` or ``isclose(s, s_0)`` (NumPy's ``isclose`` with
    ``rtol``, ``atol``):

    * unpaired, exact: all :math:`\binom{m+n}{m}` splits of the pooled sample into
      groups of sizes m and n; :math:`p = \#\{\text{extreme}\} / \binom{m+n}{m}`.
    * paired, exact: all :math:`2^m` ways to swap :math:`x_i` with :math:`y_i`;
      :math:`p = \#\{\text{extreme}\} / 2^m`.
    * ``method="approximate"``: R random splits (uniform permutations of the pool) or
      R random swap patterns (fair coins), counting the observed data once:
      :math:`p = (\#\{\text{extreme}\} + 1) / (R + 1)`.

    ``func`` is one of mlxtend's strings: ``"x_mean != y_mean"`` (two-sided,
    :math:`|\bar x - \bar y|`), ``"x_mean > y_mean"`` (:math:`\bar x - \bar y`),
    ``"x_mean < y_mean"`` (:math:`\bar y - \bar x`), or a callable ``f(x, y) -> scalar``
    written in ``jax.numpy`` (it is vmapped over rearrangements).

    Args:
        x: [M] first sample (e.g. treatment).
        y: [N] second sample; N = M when ``paired``.
        func: static string or callable statistic.
        method: static ``"exact"`` or ``"approximate"``.
        paired: static bool; swap within pairs instead of splitting the pool.
        num_rounds: static int R >= 1 (approximate method).
        key: PRNG key, required by the approximate method.
        rtol, atol: static tolerances of the ties rule (NumPy's ``isclose`` defaults).
        max_exact: static bound on the number of rearrangements the exact method may
            enumerate.

    Returns:
        Float scalar p-value. A non-finite statistic on the data gives NaN.

    Raises:
        ValueError: empty samples, ``paired`` with different lengths, an unknown
            ``func`` or ``method``, no ``key`` for the approximate method, or more than
            ``max_exact`` exact rearrangements.

    Departures from mlxtend: the approximate method draws from a JAX key (mlxtend uses
    ``RandomState(seed)``), so its p-values agree with mlxtend's only in distribution;
    the exact p-values are equal.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import permutation_test
        >>> treatment = jnp.array([28.44, 29.32, 31.22, 29.58, 30.34, 28.76, 29.21, 30.4])
        >>> control = jnp.array([33.51, 30.63, 32.38, 32.52, 29.41, 30.93, 49.78, 28.96])
        >>> round(float(permutation_test(treatment, control, func="x_mean < y_mean")), 4)  # mlxtend: 0.0123
        0.0123

    References:
        Fisher, The Design of Experiments, 1935.
        Good, Permutation, Parametric, and Bootstrap Tests of Hypotheses, 2005.
        Raschka, MLxtend: Providing machine learning and data science utilities and
        extensions to Python's scientific computing stack, 2018.
    """
    _checks.rank(x=x, expected="[M]", kind="number")
    _checks.rank(y=y, expected="[N]", kind="number")
    _checks.one_of("method", method, ("exact", "approximate"))
    _checks.positive_int(num_rounds=num_rounds, max_exact=max_exact)
    stat = _statistic(func)
    m, n = x.shape[0], y.shape[0]
    for name, size in (("x", m), ("y", n)):
        if size == 0:
            raise ValueError(f"{name}: expected at least one element, got shape (0,)")
    if paired and m != n:
        raise ValueError(f"y: expected shape ({m},) like x when paired=True, got shape ({n},)")
    if method == "approximate" and key is None:
        raise ValueError("key: expected a PRNG key for method='approximate', got None")
    dtype = compute_dtype(x, y)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    reference = jnp.asarray(stat(x, y), dtype)
    if reference.shape != ():
        raise ValueError(f"func: expected a scalar statistic, got shape {reference.shape}")

    if method == "exact":
        total = 2**m if paired else math.comb(m + n, m)
        if total > max_exact:
            raise ValueError(f"max_exact: expected at least the {total} exact rearrangements "
                             f"(or method='approximate'), got {max_exact}")
        if paired:
            swap = jnp.asarray((np.arange(total)[:, None] >> np.arange(m)) & 1, bool)  # [2^m, m]
            inputs = (jnp.where(swap, y, x), jnp.where(swap, x, y))
        else:
            pooled = jnp.concatenate([x, y])
            first = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(m + n), m)),
                                np.int32, count=total * m).reshape(total, m)
            in_first = np.zeros((total, m + n), bool)
            np.put_along_axis(in_first, first, True, axis=1)
            rest = np.nonzero(~in_first)[1].reshape(total, n).astype(np.int32)
            inputs = (pooled[first], pooled[rest])
        p = _count(_extreme(stat, reference, rtol, atol), inputs, total) / total
    else:
        keys = jax.random.split(key, num_rounds)
        if paired:
            def rearrange(k):
                swap = jax.random.bernoulli(k, 0.5, (m,))
                return jnp.where(swap, y, x), jnp.where(swap, x, y)
        else:
            pooled = jnp.concatenate([x, y])

            def rearrange(k):
                shuffled = jax.random.permutation(k, pooled)
                return shuffled[:m], shuffled[m:]
        extreme = _extreme(stat, reference, rtol, atol)
        hits = _count(lambda k: extreme(rearrange(k)), keys, num_rounds)
        p = (hits + 1.0) / (num_rounds + 1.0)
    return jnp.where(jnp.isfinite(reference), p, jnp.nan).astype(dtype)


def proportion_difference(proportion_1: jax.Array, proportion_2: jax.Array, n_1: jax.Array,
                          n_2: jax.Array | None = None) -> TestResult:
    r"""Two-proportion z-test (mlxtend's statistic and lower-tail p-value).

    .. math::  z = \frac{p_1 - p_2}{\sqrt{p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2}},\qquad
               p = \Phi(z),

    the unpooled (Wald) statistic; :math:`\Phi(z)` is the one-sided p-value for
    :math:`H_1: p_1 < p_2` (two-sided: :math:`2\min(\Phi(z), 1-\Phi(z))`).

    Args:
        proportion_1: float array, the first proportion (e.g. an accuracy) in [0, 1].
        proportion_2: float array broadcastable with it.
        n_1: int or float array, the first sample size.
        n_2: the second sample size; ``None`` means ``n_1``.

    Returns:
        `TestResult` ``(z, pvalue)``, broadcast over the inputs. When both variances are
        zero (proportions of 0 or 1) equal proportions give z = 0 and p = 0.5 where
        mlxtend gives NaN, and different ones give z = ±inf.

    Examples:
        >>> from bvjax.stats import proportion_difference
        >>> z, p = proportion_difference(0.84, 0.92, 100)
        >>> round(float(z), 4), round(float(p), 4)  # mlxtend: (-1.7541, 0.0397)
        (-1.7541, 0.0397)

    References:
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
        Agresti, Categorical Data Analysis, 2002.
    """
    n_2 = n_1 if n_2 is None else n_2
    _checks.broadcastable(proportion_1=proportion_1, proportion_2=proportion_2, n_1=n_1, n_2=n_2)
    _checks.dtype_kind("number", proportion_1=proportion_1, proportion_2=proportion_2, n_1=n_1, n_2=n_2)
    dtype = compute_dtype(proportion_1, proportion_2)
    p1, p2, n1, n2 = (jnp.asarray(a, dtype) for a in (proportion_1, proportion_2, n_1, n_2))
    var = p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2
    diff = p1 - p2
    z = jnp.where(var > 0, diff / jnp.sqrt(jnp.where(var > 0, var, 1.0)),
                  jnp.where(diff == 0, 0.0, jnp.sign(diff) * jnp.inf))
    z = jnp.where(jnp.isnan(var) | jnp.isnan(diff), jnp.nan, z)
    return TestResult(z, jax.scipy.stats.norm.cdf(z))
