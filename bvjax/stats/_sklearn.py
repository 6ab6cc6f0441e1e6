"""mlxtend-style wrappers that fit scikit-learn estimators and call bvjax's pure tests.

Fitting happens on the host (inside `jax.pure_callback` when traced), on exactly the
index streams mlxtend draws, and returns only score arrays; every statistic is then
computed by the pure functions of `bvjax.stats`. scikit-learn is imported lazily, so
`bvjax` does not depend on it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax.stats._bootstrap import point632_combine
from bvjax.stats._significance import TestResult, ftest_5x2cv, paired_ttest, ttest_5x2cv


def _values(x):
    """pandas DataFrame / Series -> NumPy, as mlxtend accepts them; anything else unchanged."""
    return x.to_numpy() if type(x).__module__.split(".")[0] == "pandas" else x


def _check_xy(X, y):
    X, y = _values(X), _values(y)
    _checks.dims(X=(X, "[N, D]", "number"), y=(y, "[N]", "number"))
    return X, y


def _host(fn, shape, X, y):
    """Runs host function ``fn(X, y) -> [shape] float`` eagerly, or via pure_callback when traced."""
    dtype = jnp.result_type(float)
    if isinstance(X, jax.core.Tracer) or isinstance(y, jax.core.Tracer):
        return jax.pure_callback(lambda a, b: np.asarray(fn(np.asarray(a), np.asarray(b)), dtype),
                                 jax.ShapeDtypeStruct(shape, dtype), X, y)
    return jnp.asarray(fn(np.asarray(X), np.asarray(y)), dtype)


def _scorer(scoring, estimator):
    from sklearn.base import is_classifier, is_regressor
    from sklearn.metrics import get_scorer

    if scoring is None:
        if is_classifier(estimator):
            scoring = "accuracy"
        elif is_regressor(estimator):
            scoring = "r2"
        else:
            raise ValueError("estimator1: expected a scikit-learn classifier or regressor when scoring=None, "
                             f"got {type(estimator).__name__}")
    return get_scorer(scoring) if isinstance(scoring, str) else scoring


def _diff(est1, est2, X, y, train, test, scorer):
    from sklearn.base import clone

    m1 = clone(est1).fit(X[train], y[train])
    m2 = clone(est2).fit(X[train], y[train])
    return scorer(m1, X[test], y[test]) - scorer(m2, X[test], y[test])


def _five_by_two(estimator1, estimator2, scoring, random_seed):
    def run(X, y):
        from sklearn.model_selection import train_test_split

        rng = np.random.RandomState(random_seed)
        scorer = _scorer(scoring, estimator1)
        items = np.arange(X.shape[0])
        out = np.empty((5, 2))
        for i in range(5):
            first, second = train_test_split(items, test_size=0.5, random_state=rng.randint(low=0, high=32767))
            out[i, 0] = _diff(estimator1, estimator2, X, y, first, second, scorer)
            out[i, 1] = _diff(estimator1, estimator2, X, y, second, first, scorer)
        return out
    return run


def paired_ttest_5x2cv(estimator1: Any, estimator2: Any, X: jax.Array, y: jax.Array, *,
                       scoring: Any = None, random_seed: int | None = None) -> TestResult:
    r"""Dietterich's 5x2cv paired t-test of two scikit-learn estimators (mlxtend's interface).

    Five times, draw ``r = RandomState(random_seed).randint(0, 32767)``, split the data
    50/50 with ``train_test_split(test_size=0.5, random_state=r)`` (not stratified), fit
    both estimators on each half and score them on the other; the [5, 2] score
    differences go to `ttest_5x2cv`:

    .. math::  t = p_1^{(1)} \big/ \sqrt{\tfrac15 \textstyle\sum_i s_i^2} \sim t_5.

    Args:
        estimator1: a scikit-learn estimator (cloned before each fit).
        estimator2: a scikit-learn estimator.
        X: [N, D] features.
        y: [N] targets.
        scoring: static scorer name or callable ``scorer(est, X, y)``; ``None`` uses
            accuracy for classifiers and R^2 for regressors.
        random_seed: static int or None, the seed of mlxtend's split stream.

    Returns:
        `TestResult` ``(t, pvalue)`` (mlxtend returns Python floats).

    Departures from mlxtend: the estimators are cloned rather than refitted in place;
    degenerate (zero-variance) differences follow `ttest_5x2cv`.

    Examples:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> from bvjax.stats import paired_ttest_5x2cv
        >>> X, y = load_iris(return_X_y=True)
        >>> t, p = paired_ttest_5x2cv(DecisionTreeClassifier(max_depth=1, random_state=0),
        ...                           DecisionTreeClassifier(max_depth=3, random_state=0),
        ...                           X, y, random_seed=1)
        >>> bool(p < 0.05)
        True

    References:
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
    """
    X, y = _check_xy(X, y)
    return ttest_5x2cv(_host(_five_by_two(estimator1, estimator2, scoring, random_seed), (5, 2), X, y))


def combined_ftest_5x2cv(estimator1: Any, estimator2: Any, X: jax.Array, y: jax.Array, *,
                         scoring: Any = None, random_seed: int | None = None) -> TestResult:
    r"""Alpaydin's combined 5x2cv F-test of two scikit-learn estimators (mlxtend's interface).

    Same splits as `paired_ttest_5x2cv`; the [5, 2] score differences go to `ftest_5x2cv`:

    .. math::  f = \textstyle\sum_{i,j} (p_i^{(j)})^2 \big/ \big(2 \sum_i s_i^2\big) \sim F(10, 5).

    Args:
        estimator1: a scikit-learn estimator (cloned before each fit).
        estimator2: a scikit-learn estimator.
        X: [N, D] features.
        y: [N] targets.
        scoring: static scorer name or callable; ``None`` uses accuracy or R^2.
        random_seed: static int or None, the seed of mlxtend's split stream.

    Returns:
        `TestResult` ``(f, pvalue)``.

    Examples:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> from bvjax.stats import combined_ftest_5x2cv
        >>> X, y = load_iris(return_X_y=True)
        >>> f, p = combined_ftest_5x2cv(DecisionTreeClassifier(max_depth=1, random_state=0),
        ...                             DecisionTreeClassifier(max_depth=3, random_state=0),
        ...                             X, y, random_seed=1)
        >>> bool(p < 0.05)
        True

    References:
        Alpaydin, Combined 5x2 cv F Test for Comparing Supervised Classification Learning
        Algorithms, 1999.
    """
    X, y = _check_xy(X, y)
    return ftest_5x2cv(_host(_five_by_two(estimator1, estimator2, scoring, random_seed), (5, 2), X, y))


def paired_ttest_resampled(estimator1: Any, estimator2: Any, X: jax.Array, y: jax.Array, *,
                           num_rounds: int = 30, test_size: float = 0.3, scoring: Any = None,
                           random_seed: int | None = None) -> TestResult:
    r"""Resampled paired t-test of two scikit-learn estimators (mlxtend's interface).

    Each round draws ``r = RandomState(random_seed).randint(0, 32767)``, splits with
    ``train_test_split(test_size=test_size, random_state=r)``, fits both estimators on
    the training part and scores them on the test part; the differences go to
    `paired_ttest` (:math:`t = \bar p\sqrt R / s \sim t_{R-1}`).

    Args:
        estimator1: a scikit-learn estimator (cloned before each fit).
        estimator2: a scikit-learn estimator.
        X: [N, D] features.
        y: [N] targets.
        num_rounds: static int R >= 2.
        test_size: static float fraction or int count of test items.
        scoring: static scorer name or callable; ``None`` uses accuracy or R^2.
        random_seed: static int or None.

    Returns:
        `TestResult` ``(t, pvalue)``.

    Examples:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> from bvjax.stats import paired_ttest_resampled
        >>> X, y = load_iris(return_X_y=True)
        >>> t, p = paired_ttest_resampled(DecisionTreeClassifier(max_depth=1, random_state=0),
        ...                               DecisionTreeClassifier(max_depth=3, random_state=0),
        ...                               X, y, num_rounds=5, random_seed=1)
        >>> bool(t < 0)
        True

    References:
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
    """
    X, y = _check_xy(X, y)
    _checks.positive_int(num_rounds=num_rounds)

    def run(X, y):
        from sklearn.model_selection import train_test_split

        rng = np.random.RandomState(random_seed)
        scorer = _scorer(scoring, estimator1)
        items = np.arange(X.shape[0])
        out = np.empty((num_rounds,))
        for i in range(num_rounds):
            train, test = train_test_split(items, test_size=test_size, random_state=rng.randint(low=0, high=32767))
            out[i] = _diff(estimator1, estimator2, X, y, train, test, scorer)
        return out

    return paired_ttest(_host(run, (num_rounds,), X, y))


def paired_ttest_kfold_cv(estimator1: Any, estimator2: Any, X: jax.Array, y: jax.Array, *,
                          cv: int = 10, scoring: Any = None, shuffle: bool = False,
                          random_seed: int | None = None) -> TestResult:
    r"""K-fold cross-validated paired t-test of two scikit-learn estimators (mlxtend's interface).

    Folds are scikit-learn's ``KFold(cv, shuffle=shuffle, random_state=random_seed if
    shuffle)`` (the same as `kfold_masks` with ``order = RandomState(seed).permutation(N)``);
    the per-fold score differences go to `paired_ttest` (:math:`t \sim t_{K-1}`).

    Args:
        estimator1: a scikit-learn estimator (cloned before each fit).
        estimator2: a scikit-learn estimator.
        X: [N, D] features.
        y: [N] targets.
        cv: static int K >= 2 folds.
        scoring: static scorer name or callable; ``None`` uses accuracy or R^2.
        shuffle: static bool.
        random_seed: static int or None, used only with ``shuffle=True``.

    Returns:
        `TestResult` ``(t, pvalue)``.

    Examples:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> from bvjax.stats import paired_ttest_kfold_cv
        >>> X, y = load_iris(return_X_y=True)
        >>> t, p = paired_ttest_kfold_cv(DecisionTreeClassifier(max_depth=1, random_state=0),
        ...                              DecisionTreeClassifier(max_depth=3, random_state=0),
        ...                              X, y, cv=5, shuffle=True, random_seed=1)
        >>> bool(t < 0)
        True

    References:
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
    """
    X, y = _check_xy(X, y)
    _checks.positive_int(cv=cv)

    def run(X, y):
        from sklearn.model_selection import KFold

        folds = KFold(n_splits=cv, shuffle=shuffle, random_state=random_seed if shuffle else None)
        scorer = _scorer(scoring, estimator1)
        return np.array([_diff(estimator1, estimator2, X, y, train, test, scorer)
                         for train, test in folds.split(X)])

    return paired_ttest(_host(run, (cv,), X, y))


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def _mse(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))


def _no_information_score(y_true, y_pred, scoring_func):
    """The score over all N^2 (target, prediction) pairs."""
    if scoring_func is _accuracy:
        labels, inverse = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
        p = np.bincount(inverse[: len(y_true)], minlength=len(labels)) / len(y_true)
        q = np.bincount(inverse[len(y_true):], minlength=len(labels)) / len(y_pred)
        return float(np.sum(p * q))
    if scoring_func is _mse:
        return float(np.mean(y_true**2) - 2.0 * np.mean(y_true) * np.mean(y_pred) + np.mean(y_pred**2))
    return scoring_func(np.repeat(y_true, len(y_pred)), np.tile(y_pred, len(y_true)))


def bootstrap_point632_score(estimator: Any, X: jax.Array, y: jax.Array, *, n_splits: int = 200,
                             method: str = ".632", scoring_func: Any = None, predict_proba: bool = False,
                             random_seed: int | None = None, clone_estimator: bool = True,
                             safeguards: bool = True, greater_is_better: bool | None = None,
                             **fit_params: Any) -> jax.Array:
    r"""Per-round OOB, .632 or .632+ bootstrap scores of a scikit-learn estimator (mlxtend's interface).

    Round r draws ``RandomState(random_seed).choice(N, N)`` (mlxtend's
    ``BootstrapOutOfBag`` stream), fits the estimator on that resample, and scores it
    on the out-of-bag items (:math:`\epsilon_1`), on the whole data set
    (resubstitution, :math:`\epsilon_0`) and on all N^2 (target, prediction) pairs
    (no-information, :math:`\gamma`, always from ``predict``); `point632_combine` then
    gives

    .. math::  \mathrm{Err}^{.632} = 0.368\,\epsilon_0 + 0.632\,\epsilon_1,\qquad
               \mathrm{Err}^{.632+} = (1 - w)\,\epsilon_0 + w\,\epsilon_1,\ w = \frac{0.632}{1 - 0.368R}.

    Scores are turned into errors as ``1 - score`` when greater is better and used as
    they are otherwise, and the combined error is turned back.

    Args:
        estimator: a scikit-learn estimator.
        X: [N, D] features.
        y: [N] targets.
        n_splits: static int B >= 1, bootstrap rounds.
        method: static ``".632"`` (default, as mlxtend), ``".632+"`` or ``"oob"``.
        scoring_func: static ``f(y_true, y_pred) -> float``; ``None`` uses accuracy for
            classifiers and the mean squared error for regressors.
        predict_proba: static bool; score ``predict_proba`` outputs (column 1 for binary
            targets), as mlxtend does.
        random_seed: static int or None, the seed of the resampling stream.
        clone_estimator: static bool; fit a clone rather than ``estimator`` itself.
        safeguards: static bool, Efron and Tibshirani's .632+ safeguards (default True).
        greater_is_better: static bool or None: whether ``scoring_func`` is a score
            (accuracy) rather than a loss (MSE); ``None`` infers it (True for a custom
            ``scoring_func``, as mlxtend assumes). It only matters for the safeguards.
        **fit_params: passed to ``estimator.fit``.

    Returns:
        [B] float per-round scores, like mlxtend; take the mean (and percentiles for an
        interval) yourself.

    Departures from mlxtend: ``.632+`` applies the Efron–Tibshirani safeguards unless
    ``safeguards=False`` (mlxtend's unguarded form); a round whose resample contains
    every item (no out-of-bag items, where mlxtend gets NaN) uses its resubstitution
    score as its out-of-bag score.

    Examples:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> from bvjax.stats import bootstrap_point632_score
        >>> X, y = load_iris(return_X_y=True)
        >>> scores = bootstrap_point632_score(DecisionTreeClassifier(random_state=0), X, y,
        ...                                   n_splits=20, method=".632+", random_seed=1)
        >>> scores.shape, bool(0.9 < scores.mean() < 1.0)
        ((20,), True)

    References:
        Efron and Tibshirani, Improvements on Cross-Validation: The .632+ Bootstrap
        Method, 1997.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    X, y = _check_xy(X, y)
    _checks.positive_int(n_splits=n_splits)
    _checks.one_of("method", method, (".632", ".632+", "oob"))
    from sklearn.base import clone, is_classifier, is_regressor

    model = clone(estimator) if clone_estimator else estimator
    if scoring_func is None:
        if is_classifier(model):
            scoring_func = _accuracy
        elif is_regressor(model):
            scoring_func = _mse
        else:
            raise ValueError("estimator: expected a scikit-learn classifier or regressor when scoring_func=None, "
                             f"got {type(model).__name__}")
    if greater_is_better is None:
        greater_is_better = scoring_func is not _mse

    def run(X, y):
        rng = np.random.RandomState(random_seed)
        n = X.shape[0]
        items = np.arange(n)
        binary = predict_proba and len(np.unique(y)) == 2
        out = np.empty((n_splits, 3))
        for r in range(n_splits):
            train = rng.choice(items, size=n, replace=True)
            oob = np.setdiff1d(items, train)
            model.fit(X[train], y[train], **fit_params)
            predict = model.predict_proba if predict_proba else model.predict
            full = predict(X)
            full = full[:, 1] if binary else full
            resub = scoring_func(y, full)
            out[r, 0] = scoring_func(y[oob], full[oob]) if oob.size else resub
            out[r, 1] = resub
            out[r, 2] = _no_information_score(y, model.predict(X), scoring_func) if method == ".632+" else 0.0
        return out

    scores = _host(run, (n_splits, 3), X, y)
    errors = 1.0 - scores if greater_is_better else scores
    combined = point632_combine(errors[:, 0], errors[:, 1], errors[:, 2], method=method, safeguards=safeguards)
    return 1.0 - combined if greater_is_better else combined
