"""Covariance estimators vs scikit-learn's LedoitWolf, numpy.cov and float64 NumPy factor models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.covariance import LedoitWolf as SkLedoitWolf

from bvjax.finance import (
    factor_model_covariance,
    ledoit_wolf_covariance,
    pca_factor_covariance,
    sample_covariance,
)


def _returns(t, n, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(t, 2))
    return 0.01 * (f @ rng.normal(size=(2, n)) + rng.normal(size=(t, n))) + 0.001, f


@pytest.mark.parametrize("t, n", [(40, 10), (8, 20), (200, 5), (3, 3)])
@pytest.mark.parametrize("centered", [False, True])
def test_ledoit_wolf_matches_sklearn(t, n, centered):
    r, _ = _returns(t, n, seed=t + n)
    sk = SkLedoitWolf(assume_centered=centered).fit(r)
    with jax.enable_x64(True):
        out = jax.jit(ledoit_wolf_covariance, static_argnames="assume_centered")(jnp.asarray(r),
                                                                                 assume_centered=centered)
    np.testing.assert_allclose(float(out.shrinkage), sk.shrinkage_, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out.covariance), sk.covariance_, atol=1e-6 * np.abs(sk.covariance_).max())
    np.testing.assert_allclose(np.asarray(out.covariance), sk.covariance_, rtol=1e-9, atol=1e-15)


def test_ledoit_wolf_edge_cases_and_float32():
    r, _ = _returns(30, 6)
    out32 = ledoit_wolf_covariance(jnp.asarray(r, jnp.float32))
    np.testing.assert_allclose(float(out32.shrinkage), SkLedoitWolf().fit(r).shrinkage_, atol=1e-4)
    one = ledoit_wolf_covariance(jnp.asarray(r[:, :1]))          # N = 1: S is already μI
    assert float(one.shrinkage) == 0.0
    const = ledoit_wolf_covariance(jnp.ones((5, 3)))              # constant returns
    assert float(const.shrinkage) == 0.0 and np.all(np.asarray(const.covariance) == 0)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([(2, 3), (5, 12), (30, 1), (30, 4)]), st.integers(0, 1000))
def test_ledoit_wolf_property(shape, seed):
    r = np.random.default_rng(seed).standard_t(3, size=shape)
    with jax.enable_x64(True):
        out = ledoit_wolf_covariance(jnp.asarray(r))
    assert 0.0 <= float(out.shrinkage) <= 1.0
    np.testing.assert_allclose(float(out.shrinkage), SkLedoitWolf().fit(r).shrinkage_, atol=1e-6)


def test_sample_covariance_matches_numpy():
    r, _ = _returns(25, 4)
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(sample_covariance(jnp.asarray(r))), np.cov(r, rowvar=False), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(sample_covariance(jnp.asarray(r), ddof=0)),
                                   np.cov(r, rowvar=False, ddof=0), rtol=1e-12)
    assert np.all(np.asarray(sample_covariance(jnp.ones((1, 3)))) == 0)  # T = 1: zero, not NaN


def test_pca_factor_covariance_matches_numpy():
    r, _ = _returns(60, 8)
    s = np.cov(r, rowvar=False)
    vals, vecs = np.linalg.eigh(s)
    v, lam = vecs[:, -2:], vals[-2:]
    common = v @ np.diag(lam) @ v.T
    ref = common + np.diag(np.diag(s) - np.diag(common))
    with jax.enable_x64(True):
        out = pca_factor_covariance(jnp.asarray(r), num_factors=2)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="num_factors"):
        pca_factor_covariance(jnp.asarray(r), num_factors=9)


def test_factor_model_covariance_matches_ols():
    r, f = _returns(80, 5, seed=3)
    x = np.column_stack([np.ones(len(f)), f])
    coef = np.linalg.lstsq(x, r, rcond=None)[0]
    resid = r - x @ coef
    beta = coef[1:]
    ref = beta.T @ np.cov(f, rowvar=False) @ beta + np.diag(resid.var(axis=0, ddof=1))
    with jax.enable_x64(True):
        out = factor_model_covariance(jnp.asarray(r), jnp.asarray(f))
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-9)
