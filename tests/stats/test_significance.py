"""bvjax.stats._significance against mlxtend and scipy, in float64, jitted and not."""

import functools
import itertools

import jax
import jax.numpy as jnp
import mlxtend.evaluate as mx
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax import stats

RTOL = 1e-10


_JITTED = {}


def _both(fn, *args, **kwargs):
    """The eager result and the jitted one; jitted functions are cached across tests."""
    key = (fn, tuple(sorted(kwargs.items())))
    if key not in _JITTED:
        _JITTED[key] = jax.jit(functools.partial(fn, **kwargs))
    return fn(*args, **kwargs), _JITTED[key](*args)


def _check_close(got, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=rtol, atol=1e-300)


def _predictions(seed, n=60, m=3, classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    preds = [np.where(rng.random(n) < 0.6 + 0.1 * i, y, rng.integers(0, classes, n)) for i in range(m)]
    return y, preds


# Worked tables plus random ones; mlxtend computes the reference.
TABLES = [[[9945, 25], [15, 15]], [[9959, 11], [1, 29]], [[4, 2], [1, 3]], [[10, 7], [7, 3]],
          [[0, 1], [0, 0]], [[3, 40], [2, 9]], [[1, 150], [160, 2]]]


def test_mcnemar_matches_mlxtend(x64):
    tables = np.array(TABLES)
    for exact, corrected in [(False, True), (False, False), (True, True)]:
        expected = [mx.mcnemar(t, corrected=corrected, exact=exact) for t in tables]
        eager = stats.mcnemar(jnp.asarray(tables[0]), exact=exact, corrected=corrected)
        _check_close(eager.pvalue, expected[0][1])
        batched = jax.jit(jax.vmap(functools.partial(stats.mcnemar, exact=exact, corrected=corrected)))
        got = batched(jnp.asarray(tables))
        _check_close(got.pvalue, [p for _, p in expected])
        if exact:
            np.testing.assert_array_equal(got.statistic, np.minimum(tables[:, 0, 1], tables[:, 1, 0]))
        else:
            _check_close(got.statistic, [c for c, _ in expected])


def test_mcnemar_spec_values(x64):
    # Numbers from mlxtend (statsmodels agrees on them).
    assert abs(float(stats.mcnemar(jnp.array([[9945, 25], [15, 15]])).pvalue) - 0.15472892348537437) < 1e-12
    assert abs(float(stats.mcnemar(jnp.array([[9959, 11], [1, 29]]), exact=True).pvalue) - 0.00634765625) < 1e-12


def test_mcnemar_no_discordant_pairs_is_defined(x64):
    table = jnp.array([[5, 0], [0, 7]])
    for exact, corrected in [(False, True), (False, False), (True, True)]:
        stat, p = stats.mcnemar(table, exact=exact, corrected=corrected)
        assert float(stat) == 0.0 and float(p) == 1.0


def test_mcnemar_clamped_correction(x64):
    stat, p = stats.mcnemar(jnp.array([[5, 4], [4, 1]]), clamp_correction=True)
    assert float(stat) == 0.0 and float(p) == 1.0
    stat, _ = stats.mcnemar(jnp.array([[5, 4], [4, 1]]))
    assert float(stat) == pytest.approx(1 / 8)  # mlxtend's unclamped (|b-c|-1)^2/(b+c)


@settings(max_examples=40, deadline=None)
@given(table=st.lists(st.integers(0, 500), min_size=4, max_size=4), exact=st.booleans(),
       corrected=st.booleans())
def test_mcnemar_pvalue_in_unit_interval_and_symmetric(table, exact, corrected):
    t = jnp.array(table, jnp.int32).reshape(2, 2)
    a = stats.mcnemar(t, exact=exact, corrected=corrected)
    b = stats.mcnemar(t.T, exact=exact, corrected=corrected)
    assert 0.0 <= float(a.pvalue) <= 1.0
    assert float(a.pvalue) == float(b.pvalue) and float(a.statistic) == float(b.statistic)


def test_mcnemar_tables_match_mlxtend():
    y, preds = _predictions(0, m=4)
    expected = mx.mcnemar_tables(y, *preds)
    got = stats.mcnemar_tables(jnp.asarray(y), *map(jnp.asarray, preds))
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    np.testing.assert_array_equal(stats.mcnemar_table(y, preds[0], preds[1]), mx.mcnemar_table(y, preds[0], preds[1]))
    jitted = jax.jit(stats.mcnemar_table)(y, preds[2], preds[3])
    np.testing.assert_array_equal(jitted, mx.mcnemar_table(y, preds[2], preds[3]))


def test_mcnemar_table_spec_example():
    # mlxtend's code (not its docstring) gives [[4, 2], [1, 3]].
    y = jnp.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    table = stats.mcnemar_table(y, jnp.array([0, 1, 0, 0, 0, 1, 1, 0, 0, 0]), jnp.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0]))
    assert table.tolist() == [[4, 2], [1, 3]]


@pytest.mark.parametrize("seed,m", [(0, 2), (3, 5)])
def test_cochrans_q_and_ftest_match_mlxtend(seed, m, x64):
    y, preds = _predictions(seed, m=m)
    for ours, theirs in [(stats.cochrans_q, mx.cochrans_q), (stats.ftest, mx.ftest)]:
        stat, p = theirs(y, *preds)
        for got in _both(ours, jnp.asarray(y), *map(jnp.asarray, preds)):
            _check_close(got.statistic, stat)
            _check_close(got.pvalue, p)


def test_ftest_paper_degrees_of_freedom(x64):
    y, preds = _predictions(5, n=40, m=3)
    f, p = stats.ftest(jnp.asarray(y), *map(jnp.asarray, preds), denominator_df="paper")
    _check_close(p, scipy.stats.f.sf(float(f), 2, 2 * 39))


def test_spec_three_model_values(x64):
    # mlxtend and statsmodels agree on Q.
    y = jnp.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    preds = [jnp.array(v) for v in ([0, 1, 0, 0, 0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1, 1, 0, 0, 0],
                                    [0, 1, 1, 1, 0, 1, 0, 0, 0, 0])]
    q, p = stats.cochrans_q(y, *preds)
    assert abs(float(q) - 3.5) < 1e-12 and abs(float(p) - 0.1737739434504451) < 1e-12
    f, p = stats.ftest(y, *preds)
    assert abs(float(f) - 1.9090909090908992) < 1e-10 and abs(float(p) - 0.17426649445866849) < 1e-10


def test_degenerate_all_models_agree(x64):
    y = jnp.array([0, 1, 1, 0, 1])
    same = jnp.array([0, 1, 0, 0, 0])
    for fn in (stats.cochrans_q, stats.ftest):
        stat, p = fn(y, same, same, same)
        assert float(stat) == 0.0 and float(p) == 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(2, 4))
def test_multi_model_tests_are_probabilities_and_permutation_invariant(seed, m):
    y, preds = _predictions(seed, n=25, m=m)
    for fn in (stats.cochrans_q, stats.ftest):
        a = fn(jnp.asarray(y), *map(jnp.asarray, preds))
        b = fn(jnp.asarray(y), *map(jnp.asarray, preds[::-1]))
        assert 0.0 <= float(a.pvalue) <= 1.0
        np.testing.assert_allclose(a.statistic, b.statistic, rtol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_paired_ttest_matches_scipy_and_mlxtend_formula(seed, x64):
    diffs = np.random.default_rng(seed).normal(0.01, 0.02, size=10)
    ref = scipy.stats.ttest_1samp(diffs, 0.0)
    for got in _both(stats.paired_ttest, jnp.asarray(diffs)):
        _check_close(got.statistic, ref.statistic)
        _check_close(got.pvalue, ref.pvalue)
    # Nadeau-Bengio corrected variance: float64 loop from the equation.
    ratio = 0.3 / 0.7
    mean = diffs.mean()
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    t = mean / np.sqrt((1 / len(diffs) + ratio) * var)
    got = stats.paired_ttest(jnp.asarray(diffs), test_train_ratio=ratio)
    _check_close(got.statistic, t)
    _check_close(got.pvalue, 2 * scipy.stats.t.sf(abs(t), len(diffs) - 1))


def test_paired_ttest_zero_variance_is_defined(x64):
    t, p = stats.paired_ttest(jnp.zeros(5))
    assert float(t) == 0.0 and float(p) == 1.0
    t, p = stats.paired_ttest(jnp.full(5, -0.1))
    assert float(t) == -np.inf and float(p) == 0.0


def _five_by_two_reference(p):
    """Float64 loops straight from Dietterich (1998) and Alpaydin (1999)."""
    s2 = [(p[i, 0] - p[i].mean()) ** 2 + (p[i, 1] - p[i].mean()) ** 2 for i in range(5)]
    t = p[0, 0] / np.sqrt(sum(s2) / 5)
    f = sum(p[i, j] ** 2 for i in range(5) for j in range(2)) / (2 * sum(s2))
    return t, 2 * scipy.stats.t.sf(abs(t), 5), f, scipy.stats.f.sf(f, 10, 5)


@pytest.mark.parametrize("seed", range(2))
def test_5x2cv_tests_match_reference(seed, x64):
    p = np.random.default_rng(seed).normal(0.0, 0.03, size=(5, 2))
    t, pt, f, pf = _five_by_two_reference(p)
    for got in _both(stats.ttest_5x2cv, jnp.asarray(p)):
        _check_close(got.statistic, t)
        _check_close(got.pvalue, pt)
    for got in _both(stats.ftest_5x2cv, jnp.asarray(p)):
        _check_close(got.statistic, f)
        _check_close(got.pvalue, pf)


def test_5x2cv_spec_values(x64):
    # The pure-formula check (Dietterich's 5x2cv t statistic by hand).
    p = jnp.array([[.02, -.01], [.03, 0], [.01, .02], [-.01, .04], [.02, .01]])
    t, pt = stats.ttest_5x2cv(p)
    f, pf = stats.ftest_5x2cv(p)
    assert abs(float(t) - 0.9428090415820634) < 1e-12 and abs(float(pt) - 0.3890676006998134) < 1e-12
    assert abs(float(f) - 0.9111111111111111) < 1e-12 and abs(float(pf) - 0.5808933659390889) < 1e-12


def test_5x2cv_zero_variance_is_defined(x64):
    flat = jnp.full((5, 2), 0.02)
    assert tuple(map(float, stats.ttest_5x2cv(flat))) == (np.inf, 0.0)
    assert tuple(map(float, stats.ftest_5x2cv(flat))) == (np.inf, 0.0)
    assert tuple(map(float, stats.ttest_5x2cv(jnp.zeros((5, 2))))) == (0.0, 1.0)
    assert tuple(map(float, stats.ftest_5x2cv(jnp.zeros((5, 2))))) == (0.0, 1.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_t_tests_are_probabilities_and_sign_symmetric(seed):
    p = np.random.default_rng(seed).normal(0.0, 0.05, size=(5, 2)).astype(np.float32)
    for fn, x in [(stats.ttest_5x2cv, p), (stats.paired_ttest, p[:, 0])]:
        a, b = fn(jnp.asarray(x)), fn(jnp.asarray(-x))
        assert 0.0 <= float(a.pvalue) <= 1.0
        assert float(a.statistic) == -float(b.statistic) and float(a.pvalue) == float(b.pvalue)
    a, b = stats.ftest_5x2cv(jnp.asarray(p)), stats.ftest_5x2cv(jnp.asarray(-p))
    assert 0.0 <= float(a.pvalue) <= 1.0 and float(a.pvalue) == float(b.pvalue)


def test_vmap_over_batches():
    p = jax.random.normal(jax.random.key(0), (7, 5, 2))
    batched = jax.jit(jax.vmap(stats.ttest_5x2cv))(p)
    one = jax.jit(stats.ttest_5x2cv)
    for i in (0, 6):
        np.testing.assert_allclose(batched.pvalue[i], one(p[i]).pvalue, rtol=1e-5)
    tables = jnp.array(list(itertools.product(range(3), repeat=4))).reshape(-1, 2, 2)
    pv = jax.jit(jax.vmap(lambda t: stats.mcnemar(t, exact=True).pvalue))(tables)
    assert bool(jnp.all((pv >= 0) & (pv <= 1)))


def test_contract_errors_name_the_argument():
    y = jnp.zeros(5, jnp.int32)
    with pytest.raises(ValueError, match="table"):
        stats.mcnemar(jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"y_preds\[1\]"):
        stats.cochrans_q(y, y, jnp.zeros(4, jnp.int32))
    with pytest.raises(ValueError, match="y_preds"):
        stats.ftest(y, y)
    with pytest.raises(ValueError, match="score_diffs"):
        stats.paired_ttest(jnp.zeros(1))
    with pytest.raises(ValueError, match="score_diffs"):
        stats.ttest_5x2cv(jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="denominator_df"):
        stats.ftest(y, y, y, denominator_df="other")


def test_float32_is_accurate_on_large_test_sets():
    # Near-equal accuracies on 40k items: the textbook M*sum(G^2) - T^2 cancels badly in float32.
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 40_000)
    preds = [np.where(rng.random(40_000) < 0.8, y, 1 - y) for _ in range(3)]
    for ours, theirs in [(stats.cochrans_q, mx.cochrans_q), (stats.ftest, mx.ftest)]:
        got = jax.jit(ours)(jnp.asarray(y), *map(jnp.asarray, preds))
        assert got.statistic.dtype == jnp.float32
        np.testing.assert_allclose(got, theirs(y, *preds), rtol=2e-4, atol=1e-30)


def test_mcnemar_and_cochrans_q_match_statsmodels(x64):
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    for table in TABLES[:4]:
        t = np.array(table)
        for exact, corrected in [(False, True), (False, False), (True, True)]:
            ref = sm.mcnemar(t, exact=exact, correction=corrected)
            got = stats.mcnemar(jnp.asarray(t), exact=exact, corrected=corrected)
            _check_close(got.statistic, ref.statistic)  # statsmodels' exact statistic is min(b, c) too
            _check_close(got.pvalue, ref.pvalue)
    y, preds = _predictions(7, m=4)
    correct = np.stack([p == y for p in preds], axis=1).astype(int)
    ref = sm.cochrans_q(correct)
    got = stats.cochrans_q(jnp.asarray(y), *map(jnp.asarray, preds))
    _check_close(got.statistic, ref.statistic)
    _check_close(got.pvalue, ref.pvalue)
