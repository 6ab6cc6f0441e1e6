"""A NaN return upstream gives NaN portfolio weights, not the 1/N fallback (reference: the
closed form in float64 NumPy for the finite case)."""

from __future__ import annotations

import numpy as np
import pytest

from bvjax.finance import ledoit_wolf_covariance, min_variance_weights, sample_covariance, tangency_weights


@pytest.mark.parametrize("cov_fn", [sample_covariance, lambda r: ledoit_wolf_covariance(r).covariance])
def test_nan_return_gives_nan_weights(cov_fn):
    rng = np.random.default_rng(0)
    r = (0.01 * rng.standard_normal((50, 4))).astype(np.float32)
    cov = np.asarray(cov_fn(r), np.float64)
    w_ref = np.linalg.solve(cov, np.ones(4))
    np.testing.assert_allclose(min_variance_weights(cov_fn(r)), w_ref / w_ref.sum(), rtol=1e-3, atol=1e-4)
    r[7, 2] = np.nan
    assert np.all(np.isnan(np.asarray(min_variance_weights(cov_fn(r)))))
    assert np.all(np.isnan(np.asarray(tangency_weights(np.nanmean(r, 0), cov_fn(r)))))
