"""float16/bfloat16 into gp_posterior and variance_inflation_factor: computed in float32 and
returned in the input dtype (was NotImplementedError); references: statsmodels and a float64
NumPy GP posterior."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from statsmodels.stats.outliers_influence import variance_inflation_factor as sm_vif

from bvjax.selection import gp_posterior, variance_inflation_factor


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_vif_half(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    x[:, 2] += 0.5 * x[:, 0]
    xh = jnp.asarray(x, dtype)
    x64 = np.asarray(xh.astype(jnp.float32), np.float64)
    design = np.column_stack([np.ones(40), x64])
    ref = [sm_vif(design, j) for j in range(1, 4)]
    out = variance_inflation_factor(xh)
    assert out.dtype == dtype
    np.testing.assert_allclose(np.asarray(out, np.float64), ref, rtol=2e-2)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_gp_posterior_half(dtype):
    rng = np.random.default_rng(1)
    xt = jnp.asarray(rng.uniform(-1, 1, (8, 1)), dtype)
    yt = jnp.asarray(np.sin(3 * np.asarray(xt.astype(jnp.float32), np.float64)[:, 0]), dtype)
    xq = jnp.asarray(np.linspace(-1, 1, 5)[:, None], dtype)
    post = gp_posterior(xt, yt, xq, lengthscale=0.5, signal_variance=1.0, noise=1e-2)
    assert post.mean.dtype == dtype and post.variance.dtype == dtype
    a, y, b = (np.asarray(v.astype(jnp.float32), np.float64) for v in (xt, yt, xq))
    k = lambda u, w: np.exp(-0.5 * (u[:, None, 0] - w[None, :, 0]) ** 2 / 0.25)  # RBF, signal variance 1
    kinv = np.linalg.inv(k(a, a) + 1e-2 * np.eye(8))
    np.testing.assert_allclose(np.asarray(post.mean, np.float64), k(b, a) @ kinv @ y, atol=3e-2)
