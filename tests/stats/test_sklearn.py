"""The mlxtend-style estimator wrappers against mlxtend itself, on the same seeds (float64)."""

import functools

import jax
import mlxtend.evaluate as mx
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from bvjax import stats

RTOL = 1e-10


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _pair():
    return DecisionTreeClassifier(max_depth=1, random_state=1), DecisionTreeClassifier(max_depth=3, random_state=1)


def _assert_same(got, expected):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(expected, np.float64), rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("ours,theirs", [(stats.paired_ttest_5x2cv, mx.paired_ttest_5x2cv),
                                         (stats.combined_ftest_5x2cv, mx.combined_ftest_5x2cv)])
def test_5x2cv_wrappers_match_mlxtend(ours, theirs, iris, x64):
    X, y = iris
    est1, est2 = _pair()
    expected = theirs(est1, est2, X, y, random_seed=3)
    _assert_same(ours(est1, est2, X, y, random_seed=3), expected)
    jitted = jax.jit(functools.partial(ours, est1, est2, random_seed=3))(X, y)  # fits via pure_callback
    _assert_same(jitted, expected)


def test_5x2cv_spec_end_to_end(iris, x64):
    # mlxtend with scikit-learn 1.9.1: LR vs depth-1 tree on iris, seed 1.
    X, y = iris
    lr, tree = LogisticRegression(random_state=1, max_iter=1000), DecisionTreeClassifier(max_depth=1, random_state=1)
    t, p = stats.paired_ttest_5x2cv(lr, tree, X, y, random_seed=1)
    np.testing.assert_allclose([t, p], [7.8279368766412984, 0.0005457306045383688], rtol=1e-8)


def test_resampled_and_kfold_wrappers_match_mlxtend(iris, x64):
    X, y = iris
    est1, est2 = _pair()
    _assert_same(stats.paired_ttest_resampled(est1, est2, X, y, num_rounds=8, test_size=0.25, random_seed=2),
                 mx.paired_ttest_resampled(est1, est2, X, y, num_rounds=8, test_size=0.25, random_seed=2))
    for shuffle in (False, True):
        _assert_same(stats.paired_ttest_kfold_cv(est1, est2, X, y, cv=5, shuffle=shuffle, random_seed=4),
                     mx.paired_ttest_kfold_cv(est1, est2, X, y, cv=5, shuffle=shuffle, random_seed=4))


def test_regressor_wrappers_use_r2_like_mlxtend(x64):
    X, y = make_regression(n_samples=80, n_features=4, noise=5.0, random_state=0)
    est1, est2 = LinearRegression(), DecisionTreeRegressor(max_depth=2, random_state=0)
    _assert_same(stats.paired_ttest_5x2cv(est1, est2, X, y, random_seed=0),
                 mx.paired_ttest_5x2cv(est1, est2, X, y, random_seed=0))


@pytest.mark.parametrize("method", ["oob", ".632", ".632+"])
def test_bootstrap_point632_matches_mlxtend_unguarded(method, iris, x64):
    X, y = iris
    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    expected = mx.bootstrap_point632_score(tree, X, y, n_splits=50, method=method, random_seed=1)
    got = stats.bootstrap_point632_score(tree, X, y, n_splits=50, method=method, random_seed=1, safeguards=False)
    _assert_same(got, expected)


def test_bootstrap_point632_spec_means(iris, x64):
    # Depth-2 tree, 50 rounds, seed 1 (mlxtend, and the safeguarded
    # figure re-derived there from the per-round triples).
    X, y = iris
    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    run = functools.partial(stats.bootstrap_point632_score, tree, X, y, n_splits=50, random_seed=1)
    np.testing.assert_allclose(float(run(method=".632+", safeguards=False).mean()), 0.9477084040233504, rtol=1e-12)
    np.testing.assert_allclose(float(run(method=".632+").mean()), 0.9477377613024578, rtol=1e-12)
    np.testing.assert_allclose(float(run(method=".632").mean()), 0.9479414214288967, rtol=1e-12)


def test_bootstrap_point632_regressor_and_jit(x64):
    X, y = make_regression(n_samples=60, n_features=3, noise=10.0, random_state=1)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0)
    for method in (".632", ".632+"):
        expected = mx.bootstrap_point632_score(tree, X, y, n_splits=20, method=method, random_seed=5)
        fn = functools.partial(stats.bootstrap_point632_score, tree, n_splits=20, method=method,
                               random_seed=5, safeguards=False)
        _assert_same(fn(X, y), expected)
        _assert_same(jax.jit(fn)(X, y), expected)


def test_bootstrap_point632_predict_proba_matches_mlxtend(x64):
    X, y = load_iris(return_X_y=True)
    keep = y < 2
    X, y = X[keep], y[keep]
    lr = DecisionTreeClassifier(max_depth=1, random_state=0)
    expected = mx.bootstrap_point632_score(lr, X, y, n_splits=10, method=".632", scoring_func=roc_auc_score,
                                           predict_proba=True, random_seed=0)
    got = stats.bootstrap_point632_score(lr, X, y, n_splits=10, method=".632", scoring_func=roc_auc_score,
                                         predict_proba=True, random_seed=0)
    _assert_same(got, expected)


def test_wrapper_contract_errors(iris):
    X, y = iris
    est1, est2 = _pair()
    with pytest.raises(ValueError, match="y"):
        stats.paired_ttest_5x2cv(est1, est2, X, y[:-1])
    with pytest.raises(ValueError, match="X"):
        stats.bootstrap_point632_score(est1, X[:, 0], y)
    with pytest.raises(ValueError, match="method"):
        stats.bootstrap_point632_score(est1, X, y, method=".5")


def test_pandas_inputs_are_accepted(iris, x64):
    pd = pytest.importorskip("pandas")
    X, y = iris
    est1, est2 = _pair()
    got = stats.paired_ttest_5x2cv(est1, est2, pd.DataFrame(X), pd.Series(y), random_seed=0)
    _assert_same(got, mx.paired_ttest_5x2cv(est1, est2, X, y, random_seed=0))
