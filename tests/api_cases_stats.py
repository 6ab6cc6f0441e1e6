"""Contract-test cases for bvjax.stats (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tests.api_cases import Case

_Y = jnp.array([0, 1, 1, 0, 1, 0, 0, 1])
_P1 = jnp.array([0, 1, 0, 0, 1, 1, 0, 1])
_P2 = jnp.array([1, 1, 1, 0, 0, 0, 0, 1])
_P3 = jnp.array([0, 0, 1, 0, 1, 0, 1, 1])
_SHORT = _P3[:-1]


def _diffs(r=5):
    return jnp.linspace(-0.02, 0.05, 2 * r).reshape(r, 2)


def _idx(bad=False):
    idx = jax.random.randint(jax.random.key(0), (6, 8), 0, 8)
    return idx[0] if bad else idx


def _xy(n=40):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.int64)


def _trees():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=1, random_state=0), DecisionTreeClassifier(max_depth=2, random_state=0)


def _wrapper_case(extra, static_extra=()):
    def good():
        X, y = _xy()
        return (*_trees(), X, y), dict(extra)

    def bad():
        X, y = _xy()
        return (*_trees(), X, y[:-1]), dict(extra)

    return Case(good=good, bad=bad, bad_arg="y:",
                static=("estimator1", "estimator2", "scoring", "random_seed") + tuple(static_extra))


def _boot632_good(bad=False):
    X, y = _xy()
    return (_trees()[1], X, y[:-1] if bad else y), {"n_splits": 4, "method": ".632+", "random_seed": 0}


_V = jnp.array([0.5, 1.5])

CASES: dict[str, Case] = {
    "bvjax.stats.t_sf": Case(good=lambda: ((_V, jnp.array([3.0, 9.0])), {}),
                             bad=lambda: ((_V, jnp.ones(3)), {}), bad_arg="df"),
    "bvjax.stats.f_sf": Case(good=lambda: ((_V, 3.0, jnp.array([4.0, 7.0])), {}),
                             bad=lambda: ((_V, 3.0, jnp.ones(3)), {}), bad_arg="dfd"),
    "bvjax.stats.chi2_sf": Case(good=lambda: ((_V, jnp.array([1.0, 2.0])), {}),
                                bad=lambda: ((_V, jnp.ones(3)), {}), bad_arg="df"),
    "bvjax.stats.binom_cdf": Case(good=lambda: ((jnp.array([1, 3]), jnp.array([5, 9]), jnp.array([0.5, 0.2])), {}),
                                  bad=lambda: ((jnp.array([1, 3]), 9, jnp.ones(3) / 2), {}), bad_arg="p:"),
    "bvjax.stats.mcnemar": Case(good=lambda: ((jnp.array([[9, 5], [2, 4]]),), {"exact": True}),
                                bad=lambda: ((jnp.ones((2, 3)),), {"exact": True}), bad_arg="table",
                                static=("exact", "corrected", "clamp_correction")),
    "bvjax.stats.mcnemar_table": Case(good=lambda: ((_Y, _P1, _P2), {}), bad=lambda: ((_Y, _P1, _SHORT), {}),
                                      bad_arg="y_pred2"),
    "bvjax.stats.mcnemar_tables": Case(good=lambda: ((_Y, _P1, _P2, _P3), {}),
                                       bad=lambda: ((_Y, _P1, _P2, _SHORT), {}), bad_arg=r"y_preds\[2\]"),
    "bvjax.stats.cochrans_q": Case(good=lambda: ((_Y, _P1, _P2, _P3), {}),
                                   bad=lambda: ((_Y, _P1, _SHORT), {}), bad_arg=r"y_preds\[1\]"),
    "bvjax.stats.ftest": Case(good=lambda: ((_Y, _P1, _P2, _P3), {"denominator_df": "paper"}),
                              bad=lambda: ((_Y, _SHORT, _P2), {}), bad_arg=r"y_preds\[0\]",
                              static=("denominator_df",)),
    "bvjax.stats.paired_ttest": Case(good=lambda: ((_diffs()[:, 0],), {"test_train_ratio": 0.25}),
                                     bad=lambda: ((_diffs(),), {}), bad_arg="score_diffs",
                                     static=("test_train_ratio",)),
    "bvjax.stats.ttest_5x2cv": Case(good=lambda: ((_diffs(),), {}), bad=lambda: ((_diffs()[:, 0],), {}),
                                    bad_arg="score_diffs"),
    "bvjax.stats.ftest_5x2cv": Case(good=lambda: ((_diffs(),), {}), bad=lambda: ((_diffs().T[None],), {}),
                                    bad_arg="score_diffs"),
    "bvjax.stats.bootstrap_indices": Case(
        good=lambda: ((jax.random.key(0),), {"num_items": 5, "num_resamples": 3}),
        bad=lambda: ((jnp.zeros(3, jnp.uint32),), {"num_items": 5, "num_resamples": 3}),
        bad_arg="key", static=("num_items", "num_resamples", "generator")),
    "bvjax.stats.out_of_bag_mask": Case(good=lambda: ((_idx(),), {}), bad=lambda: ((_idx(bad=True),), {}),
                                        bad_arg="indices", static=("num_items",)),
    "bvjax.stats.bootstrap_ci": Case(
        good=lambda: ((jnp.arange(8.0), _idx()), {"confidence": 0.9}),
        bad=lambda: ((jnp.arange(8.0), _idx(bad=True)), {"confidence": 0.9}),
        bad_arg="indices", static=("statistic", "confidence", "ddof", "quantile_rule")),
    "bvjax.stats.bootstrap_mean_ci": Case(
        good=lambda: ((jnp.arange(8.0), jax.random.key(0)), {"num_resamples": 6, "weights": jnp.ones(8)}),
        bad=lambda: ((jnp.arange(8.0), jax.random.key(0)), {"num_resamples": 6, "weights": jnp.ones(7)}),
        bad_arg="weights", static=("num_resamples", "statistic", "generator", "confidence", "ddof", "quantile_rule")),
    "bvjax.stats.normal_approx_ci": Case(good=lambda: ((jnp.array([0.8, 0.9]), jnp.array([100, 50])), {}),
                                         bad=lambda: ((jnp.array([0.8, 0.9]), jnp.ones(3)), {}),
                                         bad_arg="num_items", static=("confidence",)),
    "bvjax.stats.no_information_error": Case(good=lambda: ((_Y, _P1), {"num_classes": 2}),
                                             bad=lambda: ((_Y, _SHORT), {"num_classes": 2}),
                                             bad_arg="y_pred", static=("loss", "num_classes")),
    "bvjax.stats.point632_combine": Case(
        good=lambda: ((jnp.array([0.3, 0.2]), jnp.array([0.1, 0.0]), jnp.array([0.5, 0.5])), {}),
        bad=lambda: ((jnp.array([0.3, 0.2]), jnp.array([0.1, 0.0]), jnp.ones(3) / 2), {}),
        bad_arg="no_info_error", static=("method", "safeguards")),
    "bvjax.stats.kfold_masks": Case(good=lambda: ((jnp.arange(7),), {"num_folds": 3}),
                                    bad=lambda: ((jnp.arange(7)[:, None],), {"num_folds": 3}),
                                    bad_arg="order", static=("num_folds",)),
    "bvjax.stats.stratified_kfold_masks": Case(good=lambda: ((_Y,), {"num_folds": 2, "num_classes": 2}),
                                               bad=lambda: ((_Y[:, None],), {"num_folds": 2, "num_classes": 2}),
                                               bad_arg="y:", static=("num_folds", "num_classes")),
    "bvjax.stats.nested_kfold_masks": Case(good=lambda: ((jnp.arange(9),), {"outer_folds": 3, "inner_folds": 2}),
                                           bad=lambda: ((jnp.arange(9)[None],), {"outer_folds": 3, "inner_folds": 2}),
                                           bad_arg="order", static=("outer_folds", "inner_folds")),
    "bvjax.stats.sharpe_ratio_at_k": Case(
        good=lambda: ((jnp.arange(5.0), jnp.array([1.5, 1.0, 3.5, 2.0, 4.8]), 2.5), {"max_k": 4}),
        bad=lambda: ((jnp.arange(5.0), jnp.ones(4), 2.5), {"max_k": 4}),
        bad_arg="estimated_values", static=("max_k", "ddof", "clip_return", "clip_sharpe_ratio")),
    "bvjax.stats.behavior_policy_baseline": Case(
        good=lambda: ((jnp.ones((6, 3)),), {"gamma": 0.9, "kind": "cvar", "alpha": 0.5}),
        bad=lambda: ((jnp.ones(6),), {"gamma": 0.9, "kind": "cvar", "alpha": 0.5}),
        bad_arg="rewards", static=("kind", "alpha")),
    "bvjax.stats.permutation_test": Case(
        good=lambda: ((_V, jnp.array([2.0, 0.0, 3.0])), {}),
        bad=lambda: ((_V, jnp.array([2.0, 0.0, 3.0])), {"paired": True}), bad_arg="y",
        static=("func", "method", "paired", "num_rounds", "rtol", "atol", "max_exact")),
    "bvjax.stats.proportion_difference": Case(good=lambda: ((jnp.array([0.8, 0.9]), jnp.array([0.7, 0.9]), 100), {}),
                                              bad=lambda: ((jnp.array([0.8, 0.9]), 0.7, jnp.ones(3)), {}),
                                              bad_arg="n_1"),
    "bvjax.stats.paired_ttest_5x2cv": _wrapper_case({"random_seed": 0}),
    "bvjax.stats.combined_ftest_5x2cv": _wrapper_case({"random_seed": 0}),
    "bvjax.stats.paired_ttest_resampled": _wrapper_case({"num_rounds": 4, "random_seed": 0},
                                                        ("num_rounds", "test_size")),
    "bvjax.stats.paired_ttest_kfold_cv": _wrapper_case({"cv": 4}, ("cv", "shuffle")),
    "bvjax.stats.bootstrap_point632_score": Case(
        good=_boot632_good, bad=lambda: _boot632_good(bad=True), bad_arg="y:",
        static=("estimator", "n_splits", "method", "scoring_func", "predict_proba", "random_seed",
                "clone_estimator", "safeguards", "greater_is_better")),
}
