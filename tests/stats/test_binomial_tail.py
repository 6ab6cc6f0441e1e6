"""binom_cdf and the exact McNemar test at large counts, in float32 and float64, against SciPy.

The binomial tail is summed from Loader's saddle-point probability, not taken from
``betainc`` (whose float32 log-gamma prefactor is 3.5% off at b + c = 2e5), so both
dtypes are compared with ``scipy.stats.binom.cdf`` / ``scipy.stats.binomtest`` on a grid
of counts from 12 standard deviations below the mean to 12 above.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from jax.test_util import check_grads

from bvjax import stats

SIZES = [10, 1_000, 200_000, 1_000_000]
RTOL = {jnp.float32: 2e-5, jnp.float64: 1e-11}


def _grid(n, p):
    sd = math.sqrt(n * p * (1 - p))
    ks = np.round(n * p + sd * np.linspace(-12.0, 12.0, 97))
    return np.unique(np.clip(ks, -1, n + 1))


def _check(got, expected, rtol):
    got = np.asarray(got, np.float64)
    rtol = np.broadcast_to(rtol, expected.shape)
    tiny = expected < 1e-30  # below float32's comfortable range: absolute comparison
    np.testing.assert_array_less(np.abs(got[~tiny] - expected[~tiny]), rtol[~tiny] * expected[~tiny])
    np.testing.assert_allclose(got[tiny], expected[tiny], rtol=0, atol=1e-30)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("p", [0.5, 0.1, 0.83])
def test_binom_cdf_large_n_matches_scipy(dtype, n, p):
    with jax.enable_x64(dtype == jnp.float64):
        ks = _grid(n, p)
        p_in = float(np.asarray(p, dtype))  # the reference at the probability the function sees
        expected = scipy.stats.binom.cdf(ks, n, p_in)
        rtol = RTOL[dtype]
        if dtype == jnp.float32 and p != 0.5:
            # n * p is rounded in float32: the documented |k - np| * 2**-24 relative limit
            rtol = rtol + 2.0**-22 * np.abs(ks - n * p_in)
        args = (jnp.asarray(ks, dtype), jnp.asarray(float(n), dtype), jnp.asarray(p, dtype))
        calls = (stats.binom_cdf(*args), jax.jit(stats.binom_cdf)(*args)) if n == 1_000 else (stats.binom_cdf(*args),)
        for got in calls:
            assert got.dtype == dtype
            _check(got, expected, rtol)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("n", SIZES)
def test_exact_mcnemar_matches_binomtest(dtype, n):
    with jax.enable_x64(dtype == jnp.float64):
        sd = math.sqrt(n) / 2
        smaller = np.unique(np.clip(np.round(n / 2 - sd * np.array([0.0, 0.5, 1.0, 2.24, 3.0, 5.0, 8.0])), 0, n // 2))
        tables = np.array([[[3, b], [n - b, 7]] for b in smaller], np.float64)
        expected = np.array([scipy.stats.binomtest(int(b), n, 0.5).pvalue for b in smaller])
        t = jnp.asarray(tables, dtype)
        got = jax.jit(jax.vmap(lambda tab: stats.mcnemar(tab, exact=True).pvalue))(t)
        assert got.dtype == dtype
        _check(got, expected, RTOL[dtype])
        # the larger count in the first cell: the same p-value
        swapped = jax.jit(jax.vmap(lambda tab: stats.mcnemar(tab.T, exact=True).pvalue))(t)
        np.testing.assert_allclose(swapped, got, rtol=RTOL[dtype])


def test_exact_mcnemar_at_2e5_is_scipys_value():
    # b + c = 2e5 at p ~ 0.025, where float32 betainc gave 0.0260 instead of 0.0251.
    table = jnp.array([[0, 99_500], [100_500, 0]])
    expected = scipy.stats.binomtest(99_500, 200_000, 0.5).pvalue
    got = float(stats.mcnemar(table, exact=True).pvalue)
    assert abs(got - expected) <= 2e-5 * expected, (got, expected)


def test_binom_cdf_edges_and_invalid_input():
    k = jnp.array([-1.0, 0.0, 2.5, 5.0, 7.0, 0.0, 3.0, 3.0, 3.0, jnp.nan, 1.0, 1.0, 1.0, jnp.inf])
    n = jnp.array([5.0, 0.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.5, 5.0, -1.0, jnp.inf, 5.0, 5.0])
    p = jnp.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.0, 1.0, 1.2, 0.3, 0.3, 0.3, 0.3, jnp.nan, 0.3])
    got = np.asarray(stats.binom_cdf(k, n, p))
    expected = [0.0, 1.0, scipy.stats.binom.cdf(2, 5, 0.3), 1.0, 1.0, 1.0, 0.0] + [np.nan] * 6 + [1.0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)


def test_binom_cdf_gradient_in_p(x64):
    k, n, p = (np.array(c, np.float64) for c in zip(*[(k, n, p) for k, n in [(0, 1), (0, 9), (3, 9), (8, 9), (40, 100)]
                                                          for p in (0.2, 0.5, 0.9)]))
    grad = jax.jit(jax.vmap(jax.grad(stats.binom_cdf, argnums=2)))(jnp.asarray(k), jnp.asarray(n), jnp.asarray(p))
    # -n * P(Y = k), Y ~ Bin(n - 1, p), from scipy
    np.testing.assert_allclose(grad, -n * scipy.stats.binom.pmf(k, n - 1, p), rtol=1e-10)
    f = jax.jit(lambda q: stats.binom_cdf(jnp.asarray(k), jnp.asarray(n), q))
    check_grads(f, (jnp.asarray(p),), order=1, modes=("fwd", "rev"))
