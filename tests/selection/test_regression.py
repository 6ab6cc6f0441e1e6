"""VIF vs statsmodels, the multinomial lasso vs scikit-learn's saga, and its k-fold CV vs per-fold sklearn fits."""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.outliers_influence import variance_inflation_factor as sm_vif
from statsmodels.tools import add_constant

from bvjax.selection import (
    lasso_lambda_path,
    multinomial_lasso_cv,
    multinomial_lasso_fit,
    variance_inflation_factor,
    vif_screen,
)
from bvjax.stats import kfold_masks


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _spec_design():
    # A check design: x2 = x1 + 0.5 eps, default_rng(0), n = 200.
    rng = np.random.default_rng(0)
    x1 = rng.normal(5, 1, 200)
    x2 = x1 + 0.5 * rng.normal(size=200)
    x3 = rng.normal(3, 1, 200)
    return np.column_stack([x1, x2, x3])


def _sm_vif_const(x):
    xc = add_constant(x)
    return np.array([sm_vif(xc, j, standardize=False) for j in range(1, xc.shape[1])])


@pytest.mark.parametrize("jit", [False, True])
def test_vif_matches_statsmodels_with_constant(x64, jit):
    x = _spec_design()
    fn = jax.jit(variance_inflation_factor, static_argnames="center") if jit else variance_inflation_factor
    got = fn(jnp.asarray(x))
    np.testing.assert_allclose(got, _sm_vif_const(x), rtol=1e-6)
    np.testing.assert_allclose(got, [4.292623, 4.306148, 1.007433], atol=1e-6)  # statsmodels' values
    np.testing.assert_allclose(got, np.diag(np.linalg.inv(np.corrcoef(x.T))), rtol=1e-9)


def test_vif_uncentred_matches_statsmodels_without_constant(x64):
    x = _spec_design()
    want = [sm_vif(x, j, standardize=False) for j in range(3)]
    np.testing.assert_allclose(variance_inflation_factor(jnp.asarray(x), center=False), want, rtol=1e-6)


def test_vif_edge_cases(x64):
    x = _spec_design()
    collinear = np.column_stack([x, x[:, 0] - 2 * x[:, 2]])
    v = np.asarray(variance_inflation_factor(jnp.asarray(collinear)))
    assert np.isinf(v[[0, 2, 3]]).all() and np.isfinite(v[1])
    const = np.column_stack([x, np.full(200, 3.0)])
    v = np.asarray(variance_inflation_factor(jnp.asarray(const)))
    assert np.isinf(v[3]) and np.allclose(v[:3], _sm_vif_const(x), rtol=1e-6)
    np.testing.assert_allclose(variance_inflation_factor(jnp.asarray(x[:, :1])), [1.0])
    with pytest.raises(ValueError, match="x"):
        variance_inflation_factor(jnp.ones(5))


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float32, (12, 3), elements=st.floats(-1e3, 1e3, width=32)))
def test_vif_never_nan_and_at_least_one(x):
    v = np.asarray(variance_inflation_factor(jnp.asarray(x)))
    assert not np.isnan(v).any() and (v >= 1 - 1e-3).all()


def _screen64(x, threshold):
    keep = list(range(x.shape[1]))
    while len(keep) > 1:
        v = _sm_vif_const(x[:, keep])
        if v.max() <= threshold:
            break
        keep.pop(int(np.argmax(v)))
    return keep, _sm_vif_const(x[:, keep])


def test_vif_screen_matches_iterative_statsmodels(x64):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(100, 3))
    x = np.column_stack([base, base[:, 0] + 0.1 * rng.normal(size=100), base[:, 1] + base[:, 2]
                         + 0.05 * rng.normal(size=100), rng.normal(size=100)])
    keep, vif = _screen64(x, 5.0)
    got = vif_screen(jnp.asarray(x), threshold=5.0)
    assert np.flatnonzero(np.asarray(got.keep)).tolist() == keep
    np.testing.assert_allclose(np.asarray(got.vif)[keep], vif, rtol=1e-6)
    assert (np.asarray(got.vif)[~np.asarray(got.keep)] > 5.0).all()
    jitted = jax.jit(vif_screen, static_argnames=("threshold", "max_drop", "center"))(jnp.asarray(x), threshold=5.0)
    np.testing.assert_array_equal(jitted.keep, got.keep)
    assert vif_screen(jnp.asarray(x), threshold=5.0, max_drop=1).keep.sum() == 5
    with pytest.raises(ValueError, match="max_drop"):
        vif_screen(jnp.asarray(x), max_drop=6)


def _objective64(x, y, coef, intercept, lam):
    logits = x @ coef.T + intercept
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean() + lam * np.abs(coef).sum()


def _sklearn_fit(x, y, lam):
    model = LogisticRegression(l1_ratio=1.0, C=1.0 / (len(y) * lam), solver="saga", max_iter=200_000, tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(x, y)


def _iris():
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x), y


@pytest.mark.parametrize("jit", [False, True])
def test_lasso_matches_sklearn_saga_on_iris(x64, jit):
    x, y = _iris()
    lam = 1.0 / (0.5 * 150)  # scikit-learn's C = 0.5
    fn = jax.jit(multinomial_lasso_fit, static_argnames=("num_classes", "num_iters", "standardize")) if jit \
        else multinomial_lasso_fit
    fit = fn(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=lam, num_iters=20_000, standardize=False)
    sk = _sklearn_fit(x, y, lam)
    ours = _objective64(x, y, np.asarray(fit.coef), np.asarray(fit.intercept), lam)
    theirs = _objective64(x, y, sk.coef_, sk.intercept_, lam)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    np.testing.assert_allclose(fit.objective, ours, rtol=1e-12)
    # Well conditioned here, so the coefficients agree too (sparsity pattern included).
    np.testing.assert_allclose(fit.coef, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(fit.intercept, sk.intercept_, atol=1e-6)
    assert float(fit.step_norm) < 1e-8
    np.testing.assert_allclose(fit.coef[1], 0.0)  # scikit-learn's pattern: class 1 all zero


def test_lasso_standardize_and_mask(x64):
    x, y = load_wine(return_X_y=True)
    x = x[:, :6]
    lam = 0.02
    fit = multinomial_lasso_fit(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=lam, num_iters=20_000)
    mu, sd = x.mean(0), x.std(0)
    sk = _sklearn_fit((x - mu) / sd, y, lam)
    np.testing.assert_allclose(fit.coef, sk.coef_ / sd, atol=1e-5)
    np.testing.assert_allclose(fit.intercept, sk.intercept_ - (sk.coef_ / sd) @ mu, atol=1e-5)
    mask = np.arange(len(y)) % 3 != 0
    masked = multinomial_lasso_fit(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=lam, num_iters=20_000,
                                   sample_mask=jnp.asarray(mask))
    sub = multinomial_lasso_fit(jnp.asarray(x[mask]), jnp.asarray(y[mask]), num_classes=3, lam=lam,
                                num_iters=20_000)
    np.testing.assert_allclose(masked.coef, sub.coef, atol=1e-9)
    empty = multinomial_lasso_fit(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=lam, num_iters=10,
                                  sample_mask=jnp.zeros(len(y), bool))
    assert np.all(np.asarray(empty.coef) == 0) and np.all(np.isfinite(empty.intercept))


def test_lambda_path_starts_at_the_first_nonzero(x64):
    x, y = _iris()
    path = np.asarray(lasso_lambda_path(jnp.asarray(x), jnp.asarray(y), num_classes=3, num=5, eps=0.01))
    np.testing.assert_allclose(path, path[0] * np.geomspace(1, 0.01, 5), rtol=1e-12)
    yoh = np.eye(3)[y]
    np.testing.assert_allclose(path[0], np.abs((x - x.mean(0)).T @ (yoh - yoh.mean(0))).max() / 150, rtol=1e-12)
    at = multinomial_lasso_fit(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=path[0] * 1.001, num_iters=3000)
    below = multinomial_lasso_fit(jnp.asarray(x), jnp.asarray(y), num_classes=3, lam=path[0] * 0.95, num_iters=3000)
    assert np.all(np.asarray(at.coef) == 0) and np.any(np.asarray(below.coef) != 0)


def test_cv_matches_per_fold_sklearn(x64):
    x, y = _iris()
    masks = np.asarray(kfold_masks(jnp.asarray(np.random.RandomState(0).permutation(150)), num_folds=5))
    lams = np.array([0.1, 0.02, 0.005])
    cv = multinomial_lasso_cv(jnp.asarray(x), jnp.asarray(y), jnp.asarray(masks), jnp.asarray(lams), num_classes=3,
                              num_iters=5000, standardize=False)
    want = np.zeros((5, 3))
    for k, test in enumerate(masks):
        for j, lam in enumerate(lams):
            sk = _sklearn_fit(x[~test], y[~test], lam)
            p = sk.predict_log_proba(x[test])
            want[k, j] = -p[np.arange(test.sum()), y[test]].mean()
    np.testing.assert_allclose(cv.fold_loss, want, atol=1e-5)
    np.testing.assert_allclose(cv.cv_loss, want.mean(0), atol=1e-5)
    np.testing.assert_allclose(cv.cv_se, want.std(0, ddof=1) / np.sqrt(5), atol=1e-5)
    assert int(cv.best_index) == int(np.argmin(want.mean(0)))
    m, s = want.mean(0), want.std(0, ddof=1) / np.sqrt(5)
    assert int(cv.index_1se) == int(np.flatnonzero(m <= m.min() + s[np.argmin(m)])[0])
    mis = multinomial_lasso_cv(jnp.asarray(x), jnp.asarray(y), jnp.asarray(masks), jnp.asarray(lams),
                               num_classes=3, num_iters=3000, criterion="misclassification")
    assert np.all((np.asarray(mis.cv_loss) >= 0) & (np.asarray(mis.cv_loss) <= 1))


@pytest.mark.parametrize("lam", [0.0, 0.01])
def test_lasso_constant_columns_change_nothing(x64, lam):
    # A constant column standardises to 0 (sd 1), so it gets coefficient 0 and the fit is
    # the fit without it. A rounded mean had given the column 0.1 an sd of ~2e-8 and, at
    # lam = 0, a coefficient of ~2.5e5 with intercepts of ~3e4 (same predictions).
    rng = np.random.default_rng(0)
    xr = rng.normal(size=(200, 3))
    y = (xr[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(np.int32)
    x = np.column_stack([xr, np.full(200, 0.1), np.full(200, 0.7)])
    for dtype in (np.float32, np.float64):
        with_const = multinomial_lasso_fit(jnp.asarray(x, dtype), jnp.asarray(y), num_classes=2, lam=lam,
                                           num_iters=5000)
        without = multinomial_lasso_fit(jnp.asarray(x[:, :3], dtype), jnp.asarray(y), num_classes=2, lam=lam,
                                        num_iters=5000)
        np.testing.assert_array_equal(np.asarray(with_const.coef)[:, 3:], 0.0)
        np.testing.assert_allclose(with_const.objective, without.objective, rtol=1e-6)
        # two classes: only the difference of the class coefficients is identified at lam = 0
        np.testing.assert_allclose(np.diff(with_const.coef[:, :3], axis=0), np.diff(without.coef, axis=0), atol=1e-3)
        np.testing.assert_allclose(np.diff(with_const.intercept), np.diff(without.intercept), atol=1e-3)


def test_lasso_shape_errors():
    x, y = jnp.ones((5, 2)), jnp.zeros(5, jnp.int32)
    with pytest.raises(ValueError, match="y"):
        multinomial_lasso_fit(x, y[:4], num_classes=2, lam=0.1)
    with pytest.raises(TypeError, match="y"):
        multinomial_lasso_fit(x, y.astype(jnp.float32), num_classes=2, lam=0.1)
    with pytest.raises(ValueError, match="num_classes"):
        multinomial_lasso_fit(x, y, num_classes=1, lam=0.1)
    with pytest.raises(ValueError, match="test_masks"):
        multinomial_lasso_cv(x, y, jnp.ones((2, 4), bool), jnp.ones(3), num_classes=2)


def test_vif_float32_with_columns_on_different_scales():
    # Wine: columns from ~0.1 (hue) to ~1000 (proline); float32 must still match float64 statsmodels.
    x, _ = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _sm_vif_const(x)
    np.testing.assert_allclose(variance_inflation_factor(jnp.asarray(x, jnp.float32)), want, rtol=1e-4)
