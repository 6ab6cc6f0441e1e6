"""bvjax.stats: model evaluation — p-values, classifier-comparison tests, bootstrap and
cross-validation, as pure jit-able functions, with mlxtend-style estimator wrappers."""

from bvjax.stats._bootstrap import (
    BootstrapCI,
    bootstrap_ci,
    bootstrap_indices,
    no_information_error,
    normal_approx_ci,
    out_of_bag_mask,
    point632_combine,
)
from bvjax.stats._cv import kfold_masks, nested_kfold_masks, stratified_kfold_masks
from bvjax.stats._distributions import binom_cdf, chi2_sf, f_sf, t_sf
from bvjax.stats._sharpe import TopkMetrics, behavior_policy_baseline, sharpe_ratio_at_k
from bvjax.stats._significance import (
    TestResult,
    cochrans_q,
    ftest,
    ftest_5x2cv,
    mcnemar,
    mcnemar_table,
    mcnemar_tables,
    paired_ttest,
    ttest_5x2cv,
)
from bvjax.stats._sklearn import (
    bootstrap_point632_score,
    combined_ftest_5x2cv,
    paired_ttest_5x2cv,
    paired_ttest_kfold_cv,
    paired_ttest_resampled,
)

__all__ = [
    "BootstrapCI",
    "TestResult",
    "TopkMetrics",
    "behavior_policy_baseline",
    "binom_cdf",
    "bootstrap_ci",
    "bootstrap_indices",
    "bootstrap_point632_score",
    "chi2_sf",
    "cochrans_q",
    "combined_ftest_5x2cv",
    "f_sf",
    "ftest",
    "ftest_5x2cv",
    "kfold_masks",
    "mcnemar",
    "mcnemar_table",
    "mcnemar_tables",
    "nested_kfold_masks",
    "no_information_error",
    "normal_approx_ci",
    "out_of_bag_mask",
    "paired_ttest",
    "paired_ttest_5x2cv",
    "paired_ttest_kfold_cv",
    "paired_ttest_resampled",
    "point632_combine",
    "sharpe_ratio_at_k",
    "stratified_kfold_masks",
    "t_sf",
    "ttest_5x2cv",
]
