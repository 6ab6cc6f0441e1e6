"""The meter at a large common offset: float32 draws near 1e7 give the float64 figures of the
same draws (reference: float64 NumPy on the very draws the estimator returns)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.diagnostics import bias_variance


def _np_figures(draws, ref):
    x = np.asarray(draws, np.float64).reshape(len(draws), -1)
    r = np.asarray(ref, np.float64).reshape(-1)
    n = len(x)
    var = np.sum(np.var(x, axis=0, ddof=1))
    mse = np.mean(np.sum((x - r) ** 2, axis=1))
    bias2 = np.sum((x.mean(0) - r) ** 2) - var / n
    return bias2, var, mse


@pytest.mark.parametrize("offset,chunk_size", [(1e7, 1024), (1e7, 100), (-3e6, 512), (0.0, 1024)])
def test_large_offset_matches_float64_on_the_same_draws(offset, chunk_size):
    est = lambda k: offset + jax.random.normal(k, (3,))
    key = jax.random.key(0)
    n = 4096
    draws = jax.vmap(est)(jax.random.split(key, n))  # the very float32 draws the meter sees
    bias2, var, mse = _np_figures(draws, np.full(3, offset))
    r = bias_variance(est, jnp.full(3, offset), key, num_draws=n, chunk_size=chunk_size)
    assert abs(float(r.bias_squared) - bias2) < 1e-3 * max(var, 1.0)
    np.testing.assert_allclose(float(r.variance), var, rtol=1e-4)
    np.testing.assert_allclose(float(r.mse), mse, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(r.mean), np.asarray(draws, np.float64).mean(0), rtol=1e-7, atol=1e-3)


def test_large_offset_with_a_bias():
    # Noise on a 1/16 grid: every draw is exactly representable near 1e6 in float32, so
    # the draws do not depend on how XLA orders the additions.
    est = lambda k: 1e6 + 0.5 + jnp.round(4.0 * jax.random.normal(k, (2, 2))) / 16.0
    key = jax.random.key(1)
    draws = jax.vmap(est)(jax.random.split(key, 2048))
    bias2, var, mse = _np_figures(draws, np.full((2, 2), 1e6))
    r = jax.jit(lambda key: bias_variance(est, jnp.full((2, 2), 1e6), key, num_draws=2048, chunk_size=256))(key)
    np.testing.assert_allclose(float(r.bias_squared), bias2, rtol=1e-3)
    np.testing.assert_allclose(float(r.variance), var, rtol=1e-3)
    np.testing.assert_allclose(float(r.mse), mse, rtol=1e-3)
    np.testing.assert_allclose(float(r.mse), float(r.bias_squared + r.variance), rtol=1e-5)
