"""Significance tests for comparing classifiers: McNemar, Cochran's Q, Looney's F and
the paired t-tests (resampled, k-fold, Dietterich's 5x2cv) with Alpaydin's 5x2cv F."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.stats._distributions import binom_cdf, chi2_sf, f_sf, t_sf


class TestResult(NamedTuple):
    """A test statistic and its p-value; unpacks as ``statistic, pvalue`` like mlxtend's tuples."""

    statistic: jax.Array
    pvalue: jax.Array


TestResult.__test__ = False  # not a pytest test class


def _check_predictions(y_true, y_preds, *, minimum):
    _checks.rank(y_true=y_true, expected="[N]")
    if len(y_preds) < minimum:
        raise ValueError(f"y_preds: expected at least {minimum} arrays of predictions, got {len(y_preds)}")
    for i, pred in enumerate(y_preds):
        _checks.dims(y_true=(y_true, "[N]"), **{f"y_preds[{i}]": (pred, "[N]")})


def _correct(y_true, y_preds):
    """[M, N] bool: whether model m predicts item n correctly."""
    return jnp.stack([jnp.asarray(p) == jnp.asarray(y_true) for p in y_preds])


def _count_terms(correct):
    r"""From the [M, N] correctness matrix, the two sums both Q and F are built from.

    ``spread`` :math:`= M\sum_m G_m^2 - T^2 = M \sum_m (G_m - \bar G)^2` and ``discord``
    :math:`= MT - \sum_j L_j^2 = \sum_j L_j (M - L_j)`, written without cancellation so
    that float32 stays accurate for large test sets and equal accuracies give exactly 0.
    """
    m = correct.shape[0]
    g = jnp.sum(correct, axis=1)
    l_ = jnp.sum(correct, axis=0)
    spread = m * jnp.sum((g - jnp.mean(g)) ** 2)
    discord = jnp.sum(l_ * (m - l_))
    return spread, discord


def mcnemar_table(y_true: jax.Array, y_pred1: jax.Array, y_pred2: jax.Array) -> jax.Array:
    r"""2x2 contingency table of two classifiers' correct and wrong predictions.

    .. math::  T = \begin{pmatrix} a & b \\ c & d \end{pmatrix},\quad
               b = \#\{1\text{ right}, 2\text{ wrong}\},\ c = \#\{1\text{ wrong}, 2\text{ right}\},

    with :math:`a` the items both get right and :math:`d` those both get wrong
    (mlxtend's orientation).

    Args:
        y_true: [N] int (or any comparable dtype), the true labels.
        y_pred1: [N], the first model's predicted labels.
        y_pred2: [N], the second model's predicted labels.

    Returns:
        [2, 2] int32 counts.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import mcnemar_table
        >>> y = jnp.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        >>> mcnemar_table(y, jnp.array([0, 1, 0, 0, 0, 1, 1, 0, 0, 0]),
        ...               jnp.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0]))
        Array([[4, 2],
               [1, 3]], dtype=int32)

    References:
        McNemar, Note on the Sampling Error of the Difference between Correlated Proportions
        or Percentages, 1947.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    _checks.dims(y_true=(y_true, "[N]"), y_pred1=(y_pred1, "[N]"), y_pred2=(y_pred2, "[N]"))
    right1, right2 = _correct(y_true, (y_pred1, y_pred2))
    count = lambda m: jnp.sum(m, dtype=jnp.int32)
    return jnp.array([[count(right1 & right2), count(right1 & ~right2)],
                      [count(~right1 & right2), count(~right1 & ~right2)]], dtype=jnp.int32)


def mcnemar_tables(y_true: jax.Array, *y_preds: jax.Array) -> dict[str, jax.Array]:
    r"""McNemar tables for every pair of M >= 2 classifiers.

    Entry ``"model_i vs model_j"`` (:math:`i < j`) is ``mcnemar_table(y_true, y_preds[i],
    y_preds[j])``, keyed as mlxtend does.

    Args:
        y_true: [N], the true labels.
        *y_preds: M >= 2 arrays [N] of predicted labels.

    Returns:
        dict from ``"model_i vs model_j"`` to a [2, 2] int32 table. mlxtend returns float
        tables with the same counts.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import mcnemar_tables
        >>> y = jnp.array([0, 1, 1, 0])
        >>> tables = mcnemar_tables(y, jnp.array([0, 1, 0, 0]), jnp.array([0, 1, 1, 1]),
        ...                         jnp.array([1, 1, 1, 0]))
        >>> sorted(tables)
        ['model_0 vs model_1', 'model_0 vs model_2', 'model_1 vs model_2']
        >>> tables["model_0 vs model_1"].tolist()
        [[2, 1], [1, 0]]

    References:
        McNemar, Note on the Sampling Error of the Difference between Correlated Proportions
        or Percentages, 1947.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    _check_predictions(y_true, y_preds, minimum=2)
    return {f"model_{i} vs model_{j}": mcnemar_table(y_true, y_preds[i], y_preds[j])
            for i in range(len(y_preds)) for j in range(i + 1, len(y_preds))}


def mcnemar(table: jax.Array, *, exact: bool = False, corrected: bool = True,
            clamp_correction: bool = False) -> TestResult:
    r"""McNemar's test that two classifiers have the same error rate, from their 2x2 table.

    With :math:`b = T_{01}` and :math:`c = T_{10}` the discordant counts,

    .. math::  \chi^2 = \frac{(|b - c| - \delta)^2}{b + c} \sim \chi^2_1,\qquad
               p_\text{exact} = \min\big(1,\ 2\,P(X \le \min(b, c))\big),\ X \sim \mathrm{Bin}(b + c, \tfrac12),

    where :math:`\delta = 1` applies Edwards' continuity correction (``corrected=True``)
    and :math:`\delta = 0` does not. The exact p-value sums the binomial tail
    (`binom_cdf`): about 1e-5 relative accuracy in float32 and 1e-12 in float64 up to
    b + c = 1e6 (``scipy.stats.binomtest``'s value, which is the same two-sided p at 1/2).

    Args:
        table: [2, 2] int or float counts, e.g. from `mcnemar_table`.
        exact: static bool; the exact binomial test instead of the chi-square one.
        corrected: static bool; Edwards' continuity correction (chi-square test only).
        clamp_correction: static bool; use :math:`\max(|b-c|-1, 0)` so that
            :math:`b = c` gives :math:`\chi^2 = 0`. Off by default to match mlxtend and
            statsmodels, which give :math:`1/(b+c)` there.

    Returns:
        `TestResult` ``(statistic, pvalue)`` of float scalars. ``b + c = 0`` (no
        discordant pairs) gives statistic 0 and p-value 1 in every mode, where mlxtend
        divides by zero.

    Departures from mlxtend: with ``exact=True`` the statistic is :math:`\min(b, c)` (as
    in statsmodels) rather than ``None``, so the result is always a pair of arrays.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import mcnemar
        >>> chi2, p = mcnemar(jnp.array([[9945, 25], [15, 15]]))
        >>> round(float(chi2), 4), round(float(p), 4)  # mlxtend: (2.025, 0.1547)
        (2.025, 0.1547)

    References:
        McNemar, Note on the Sampling Error of the Difference between Correlated Proportions
        or Percentages, 1947.
        Edwards, Note on the "Correction for Continuity" in Testing the Significance of the
        Difference between Correlated Proportions, 1948.
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
    """
    _checks.dims(table=(table, "[2, 2]", "number"))
    dtype = compute_dtype(table)
    table = jnp.asarray(table, dtype)
    b, c = table[0, 1], table[1, 0]
    total = b + c
    if exact:
        stat = jnp.minimum(b, c)
        pvalue = jnp.minimum(1.0, 2.0 * binom_cdf(stat, total, jnp.asarray(0.5, dtype)))
        return TestResult(stat, jnp.where(total > 0, pvalue, 1.0).astype(dtype))
    diff = jnp.abs(b - c) - (1.0 if corrected else 0.0)
    if clamp_correction:
        diff = jnp.maximum(diff, 0.0)
    stat = jnp.where(total > 0, diff**2 / jnp.where(total > 0, total, 1.0), 0.0)
    return TestResult(stat, chi2_sf(stat, 1))


def cochrans_q(y_true: jax.Array, *y_preds: jax.Array) -> TestResult:
    r"""Cochran's Q test that M >= 2 classifiers have the same accuracy on one test set.

    With :math:`G_m` the number of items model :math:`m` gets right, :math:`T = \sum_m G_m`
    and :math:`L_j` the number of models right on item :math:`j`,

    .. math::  Q = (M - 1)\,\frac{M \sum_m G_m^2 - T^2}{M T - \sum_j L_j^2} \sim \chi^2_{M-1}.

    Args:
        y_true: [N], the true labels.
        *y_preds: M >= 2 arrays [N] of predicted labels.

    Returns:
        `TestResult` ``(q, pvalue)``, float scalars. When every item is right for all
        models or for none (denominator 0, where mlxtend returns NaN) the models cannot
        differ: Q = 0 and p = 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import cochrans_q
        >>> y = jnp.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        >>> q, p = cochrans_q(y, jnp.array([0, 1, 0, 0, 0, 1, 1, 0, 0, 0]),
        ...                   jnp.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0]),
        ...                   jnp.array([0, 1, 1, 1, 0, 1, 0, 0, 0, 0]))
        >>> round(float(q), 4), round(float(p), 4)  # mlxtend: (3.5, 0.1738)
        (3.5, 0.1738)

    References:
        Cochran, The Comparison of Percentages in Matched Samples, 1950.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    _check_predictions(y_true, y_preds, minimum=2)
    dtype = compute_dtype()
    m = float(len(y_preds))
    spread, discord = _count_terms(_correct(y_true, y_preds).astype(dtype))
    ok = discord > 0
    q = jnp.where(ok, (m - 1.0) * spread / jnp.where(ok, discord, 1.0), 0.0)
    return TestResult(q, chi2_sf(q, m - 1.0))


def ftest(y_true: jax.Array, *y_preds: jax.Array, denominator_df: str = "mlxtend") -> TestResult:
    r"""Looney's F-test that M >= 2 classifiers have the same accuracy on one test set.

    With accuracies :math:`a_m`, mean :math:`\bar a`, test size :math:`n` and
    :math:`L_j` the number of models right on item :math:`j`,

    .. math::
        SSA = n\textstyle\sum_m a_m^2 - nM\bar a^2,\quad SSB = \frac1M\sum_j L_j^2 - nM\bar a^2,\quad
        SST = nM\bar a(1 - \bar a),

    :math:`SSAB = SST - SSA - SSB` and :math:`F = \frac{SSA/(M-1)}{SSAB/((M-1)(n-1))}`,
    computed without cancellation so that equal accuracies give exactly 0.

    Args:
        y_true: [N], the true labels.
        *y_preds: M >= 2 arrays [N] of predicted labels.
        denominator_df: ``"mlxtend"`` (default) takes the p-value from
            :math:`F(M-1, (M-1)n)` as mlxtend does; ``"paper"`` from
            :math:`F(M-1, (M-1)(n-1))`, the degrees of freedom of the
            :math:`SSAB` divisor.

    Returns:
        `TestResult` ``(f, pvalue)``, float scalars. Equal accuracies give F = 0 and
        p = 1; :math:`SSAB = 0` with unequal accuracies gives F = inf and p = 0.

    Departures: mlxtend's p-value uses :math:`(M-1)n` denominator degrees of freedom,
    not the :math:`(M-1)(n-1)` of the statistic's divisor; ``denominator_df`` picks.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import ftest
        >>> y = jnp.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        >>> f, p = ftest(y, jnp.array([0, 1, 0, 0, 0, 1, 1, 0, 0, 0]),
        ...              jnp.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0]),
        ...              jnp.array([0, 1, 1, 1, 0, 1, 0, 0, 0, 0]))
        >>> round(float(f), 4), round(float(p), 4)  # mlxtend: (1.9091, 0.1743)
        (1.9091, 0.1743)

    References:
        Looney, A Statistical Technique for Comparing the Accuracies of Several Classifiers,
        1988.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    _check_predictions(y_true, y_preds, minimum=2)
    _checks.one_of("denominator_df", denominator_df, ("mlxtend", "paper"))
    dtype = compute_dtype()
    correct = _correct(y_true, y_preds).astype(dtype)
    m = float(len(y_preds))
    n = float(correct.shape[1])
    spread, discord = _count_terms(correct)
    ssa = spread  # n*M*SSA
    ssab = n * discord - spread  # n*M*SSAB
    f = jnp.where(ssa > 0, (n - 1.0) * ssa / jnp.where(ssab > 0, ssab, 1.0), 0.0)
    f = jnp.where((ssa > 0) & (ssab <= 0), jnp.inf, f)
    dfd = (m - 1.0) * (n if denominator_df == "mlxtend" else n - 1.0)
    return TestResult(f, f_sf(f, m - 1.0, dfd))


def _t_result(numerator, denominator, df):
    """t = numerator / denominator with the degenerate cases defined, and its two-sided p."""
    ok = denominator > 0
    t = jnp.where(ok, numerator / jnp.where(ok, denominator, 1.0),
                  jnp.where(numerator == 0, 0.0, jnp.sign(numerator) * jnp.inf))
    t = jnp.where(jnp.isnan(denominator), jnp.nan, t)  # a non-finite difference: undefined, not +-inf
    return TestResult(t, 2.0 * t_sf(jnp.abs(t), df))


def paired_ttest(score_diffs: jax.Array, *, test_train_ratio: float | None = None) -> TestResult:
    r"""Paired t-test on per-split score differences (resampled or k-fold cross-validated).

    With :math:`p_i` the score difference of model 1 minus model 2 on split
    :math:`i = 1..r` and :math:`s^2 = \frac{1}{r-1}\sum_i (p_i - \bar p)^2`,

    .. math::  t = \frac{\bar p \sqrt r}{s} \sim t_{r-1}.

    ``test_train_ratio`` :math:`= n_\text{test}/n_\text{train}` gives Nadeau and
    Bengio's corrected resampled t-test, :math:`t = \bar p / \sqrt{(1/r + n_\text{test}/n_\text{train})\, s^2}`.

    This is what mlxtend's ``paired_ttest_resampled`` and ``paired_ttest_kfold_cv``
    compute once the models are scored (see the estimator wrappers of those names).

    Args:
        score_diffs: [R] float, R >= 2 per-split differences (scores, e.g. accuracy,
            of model 1 minus model 2; error differences flip the sign of t only).
        test_train_ratio: optional static float > 0 for the corrected test.

    Returns:
        `TestResult` ``(t, pvalue)``, two-sided p. Zero-variance differences give
        t = 0, p = 1 when they are all 0, and t = ±inf, p = 0 otherwise (mlxtend: NaN
        or ±inf with a warning).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import paired_ttest
        >>> t, p = paired_ttest(jnp.array([0.02, 0.03, 0.01, -0.01, 0.02]))
        >>> round(float(t), 4), round(float(p), 4)  # scipy.stats.ttest_1samp: (2.0642, 0.1079)
        (2.0642, 0.1079)

    References:
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
        Nadeau and Bengio, Inference for the Generalization Error, 2003.
    """
    shape = _checks.dims(score_diffs=(score_diffs, "[R]", "float"))
    r = shape["R"]
    if r < 2:
        raise ValueError(f"score_diffs: expected [R] float with R >= 2, got shape {tuple(score_diffs.shape)}")
    if test_train_ratio is not None:
        _checks.in_range("test_train_ratio", test_train_ratio, low=0.0, low_inclusive=False)
    score_diffs = _pow2_scaled(score_diffs)  # t is scale-free: no overflow in the squares
    # Shifted two-pass: equal differences centre to exactly 0 (variance 0, t = +-inf as
    # documented), where the rounded mean of 8 equal floats can leave a 1e-7 spread.
    shifted = score_diffs - score_diffs[0]
    centre = jnp.mean(shifted)
    mean = score_diffs[0] + centre
    var = jnp.sum((shifted - centre) ** 2) / (r - 1)
    scale = 1.0 / r + (0.0 if test_train_ratio is None else test_train_ratio)
    return _t_result(mean, jnp.sqrt(scale * var), r - 1.0)


def _pow2_scaled(x):
    """``x`` divided by the power of two just above its largest finite magnitude (exact).

    The t and F statistics are invariant to a common scale of the differences, so this
    keeps their squares from overflowing (differences of 1e20 in float32) or
    underflowing, without changing a digit of the result.
    """
    x = jnp.asarray(x)
    x = x.astype(compute_dtype(x))  # at least float32: half precision would round the statistics
    top = jnp.max(jnp.where(jnp.isfinite(x), jnp.abs(x), 0.0))
    _, e = jnp.frexp(top)
    return jnp.ldexp(x, -e)


def _check_5x2(score_diffs):
    _checks.dims(score_diffs=(score_diffs, "[R, 2]", "float"))
    mean = jnp.mean(score_diffs, axis=1, keepdims=True)
    return jnp.sum((score_diffs - mean) ** 2, axis=1)  # s_i^2, [R]


def ttest_5x2cv(score_diffs: jax.Array) -> TestResult:
    r"""Dietterich's 5x2cv paired t-test from the score differences of five 2-fold splits.

    With :math:`p_i^{(j)}` the difference on fold :math:`j` of replication :math:`i`,
    :math:`\bar p_i = (p_i^{(1)} + p_i^{(2)})/2` and
    :math:`s_i^2 = (p_i^{(1)} - \bar p_i)^2 + (p_i^{(2)} - \bar p_i)^2`,

    .. math::  t = \frac{p_1^{(1)}}{\sqrt{\frac15 \sum_{i=1}^5 s_i^2}} \sim t_5.

    Only the first fold of the first replication enters the numerator. R replications
    other than 5 are accepted (t then has R degrees of freedom).

    Args:
        score_diffs: [R, 2] float (R = 5 for the published test), row i the two folds of
            replication i, fold 1 being "train on the first half, test on the second".

    Returns:
        `TestResult` ``(t, pvalue)``, two-sided p. All :math:`s_i^2 = 0` gives t = 0,
        p = 1 when :math:`p_1^{(1)} = 0` and t = ±inf, p = 0 otherwise.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import ttest_5x2cv
        >>> diffs = jnp.array([[.02, -.01], [.03, 0.], [.01, .02], [-.01, .04], [.02, .01]])
        >>> t, p = ttest_5x2cv(diffs)
        >>> round(float(t), 4), round(float(p), 4)  # by hand: (0.9428, 0.3891)
        (0.9428, 0.3891)

    References:
        Dietterich, Approximate Statistical Tests for Comparing Supervised Classification
        Learning Algorithms, 1998.
    """
    _check_5x2(score_diffs)
    r = score_diffs.shape[0]
    score_diffs = _pow2_scaled(score_diffs)
    return _t_result(score_diffs[0, 0], jnp.sqrt(jnp.mean(_check_5x2(score_diffs))), float(r))


def ftest_5x2cv(score_diffs: jax.Array) -> TestResult:
    r"""Alpaydin's combined 5x2cv F-test from the score differences of five 2-fold splits.

    With :math:`p_i^{(j)}` and :math:`s_i^2` as in `ttest_5x2cv`,

    .. math::  f = \frac{\sum_{i=1}^5 \sum_{j=1}^2 (p_i^{(j)})^2}{2 \sum_{i=1}^5 s_i^2} \sim F(10, 5).

    R replications other than 5 give :math:`F(2R, R)`.

    Args:
        score_diffs: [R, 2] float, row i the two folds of replication i.

    Returns:
        `TestResult` ``(f, pvalue)``. All :math:`s_i^2 = 0` gives f = 0, p = 1 when all
        differences are 0 and f = inf, p = 0 otherwise.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import ftest_5x2cv
        >>> diffs = jnp.array([[.02, -.01], [.03, 0.], [.01, .02], [-.01, .04], [.02, .01]])
        >>> f, p = ftest_5x2cv(diffs)
        >>> round(float(f), 4), round(float(p), 4)  # by hand: (0.9111, 0.5809)
        (0.9111, 0.5809)

    References:
        Alpaydin, Combined 5x2 cv F Test for Comparing Supervised Classification Learning
        Algorithms, 1999.
    """
    _checks.dims(score_diffs=(score_diffs, "[R, 2]", "float"))
    score_diffs = _pow2_scaled(score_diffs)
    s2 = _check_5x2(score_diffs)
    r = score_diffs.shape[0]
    numerator = jnp.sum(score_diffs**2)
    denominator = 2.0 * jnp.sum(s2)
    ok = denominator > 0
    f = jnp.where(ok, numerator / jnp.where(ok, denominator, 1.0), jnp.where(numerator > 0, jnp.inf, 0.0))
    return TestResult(f, f_sf(f, 2.0 * r, float(r)))
