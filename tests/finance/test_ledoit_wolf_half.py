"""Ledoit-Wolf in float16/bfloat16: the shrinkage of scikit-learn on the same (rounded) data,
not 0 (fourth moments of 1e-2 returns underflow in half precision)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.covariance import LedoitWolf as SkLedoitWolf

from bvjax.finance import ledoit_wolf_covariance


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_half_precision_shrinkage_matches_sklearn(dtype):
    rng = np.random.default_rng(0)
    r = jnp.asarray(0.01 * rng.standard_normal((60, 5)), dtype)
    ref = SkLedoitWolf().fit(np.asarray(r.astype(jnp.float32), np.float64))
    out = ledoit_wolf_covariance(r)
    assert out.covariance.dtype == dtype and out.shrinkage.dtype == dtype
    np.testing.assert_allclose(float(out.shrinkage), ref.shrinkage_, rtol=1e-2)
    np.testing.assert_allclose(np.asarray(out.covariance, np.float64), ref.covariance_, rtol=2e-2, atol=1e-6)
