"""bvjax.stats._bootstrap against mlxtend, NumPy and scipy; coverage of the bootstrap CI."""

import functools

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


def _mlxtend_stream(seed, n, rounds):
    """mlxtend's resampling stream: RandomState(seed).choice(n, n) once per round."""
    rng = np.random.RandomState(seed)
    return np.stack([rng.choice(np.arange(n), size=n, replace=True) for _ in range(rounds)])


@pytest.mark.parametrize("seed,rounds,ci", [(123, 1000, 0.95), (7, 301, 0.9)])
def test_bootstrap_ci_matches_mlxtend(seed, rounds, ci, x64):
    x = np.random.RandomState(123).normal(loc=5, size=100)
    expected = mx.bootstrap(x, func=np.mean, num_rounds=rounds, ci=ci, ddof=1, seed=seed)
    idx = jnp.asarray(_mlxtend_stream(seed, 100, rounds))
    fn = functools.partial(stats.bootstrap_ci, confidence=ci)
    for got in (fn(jnp.asarray(x), idx), jax.jit(fn)(jnp.asarray(x), idx)):
        np.testing.assert_allclose(got.original, expected[0], rtol=RTOL)
        np.testing.assert_allclose(got.standard_error, expected[1], rtol=RTOL)
        np.testing.assert_allclose(got.ci, expected[2], rtol=RTOL)


def test_bootstrap_ci_spec_value(x64):
    # Produced by mlxtend.
    x = jnp.asarray(np.random.RandomState(123).normal(loc=5, size=100))
    got = stats.bootstrap_ci(x, jnp.asarray(_mlxtend_stream(123, 100, 1000)))
    np.testing.assert_allclose([got.original, got.standard_error, *got.ci],
                               [5.02710907349036, 0.11424913005131243, 4.804439668238974, 5.257622739784622],
                               rtol=1e-12)


def test_bootstrap_ci_linear_rule_and_custom_statistic(x64):
    x = np.random.default_rng(0).exponential(size=(40, 2))
    idx = _mlxtend_stream(3, 40, 200)

    def stat(s):
        return jnp.median(s[:, 0]) - jnp.mean(s[:, 1])

    replicates = np.array([np.median(x[i, 0]) - np.mean(x[i, 1]) for i in idx])
    got = jax.jit(functools.partial(stats.bootstrap_ci, statistic=stat, quantile_rule="linear", ddof=0))(
        jnp.asarray(x), jnp.asarray(idx))
    np.testing.assert_allclose(got.original, np.median(x[:, 0]) - np.mean(x[:, 1]), rtol=RTOL)
    np.testing.assert_allclose(got.standard_error, np.std(replicates), rtol=RTOL)
    np.testing.assert_allclose(got.ci, np.percentile(replicates, [2.5, 97.5]), rtol=RTOL)


def test_linear_rule_matches_scipy_bootstrap(x64):
    # scipy 1.17 draws its resamples as default_rng(seed).integers(0, n, (B, n)); replay that stream.
    x = np.random.default_rng(1).normal(size=30)
    res = scipy.stats.bootstrap((x,), np.mean, n_resamples=500, method="percentile",
                                rng=np.random.default_rng(0), confidence_level=0.95)
    idx = jnp.asarray(np.random.default_rng(0).integers(0, 30, (500, 30)))
    got = stats.bootstrap_ci(jnp.asarray(x), idx, quantile_rule="linear")
    np.testing.assert_allclose(got.ci, [res.confidence_interval.low, res.confidence_interval.high], rtol=RTOL)
    np.testing.assert_allclose(got.standard_error, res.standard_error, rtol=RTOL)


@pytest.mark.parametrize("generator", ["jax", "hash"])
def test_bootstrap_ci_covers_the_mean_at_the_nominal_rate(generator):
    # 500 data sets of 50 N(1, 2^2) draws, 500 resamples each, all in one vmapped call; the
    # mlxtend rank rule on even data sets, the linear rule on odd ones.
    reps, n, b = 500, 50, 500

    def one(key, linear):
        data_key, boot_key = jax.random.split(key)
        x = 1.0 + 2.0 * jax.random.normal(data_key, (n,))
        idx = stats.bootstrap_indices(boot_key, num_items=n, num_resamples=b, generator=generator)
        ordered = jnp.sort(jax.vmap(lambda i: jnp.mean(x[i]))(idx))
        lo, hi = stats.bootstrap_ci(x, idx, quantile_rule="linear").ci
        rank_lo, rank_hi = ordered[round(0.025 * b) - 1], ordered[round(0.975 * b) - 1]  # mlxtend's rule
        lo, hi = jnp.where(linear, lo, rank_lo), jnp.where(linear, hi, rank_hi)
        return (lo <= 1.0) & (1.0 <= hi)

    keys = jax.random.split(jax.random.key(0), reps)
    covered = np.asarray(jax.jit(jax.vmap(one))(keys, jnp.arange(reps) % 2 == 1))
    # Percentile intervals under-cover slightly at n = 50 (about 0.94); 3 binomial sds is 0.03.
    assert abs(covered.mean() - 0.95) < 0.03, covered.mean()
    assert abs(covered[0::2].mean() - 0.95) < 0.045 and abs(covered[1::2].mean() - 0.95) < 0.045


def test_normal_approx_ci_matches_scipy(x64):
    acc = np.array([0.5, 0.9, 0.97, 1.0])
    n = np.array([100, 30, 1000, 10])
    for conf in (0.9, 0.95, 0.99):
        z = scipy.stats.norm.ppf(1 - (1 - conf) / 2)
        half = z * np.sqrt(acc * (1 - acc) / n)
        fn = functools.partial(stats.normal_approx_ci, confidence=conf)
        for lo, hi in (fn(jnp.asarray(acc), jnp.asarray(n)), jax.jit(fn)(jnp.asarray(acc), jnp.asarray(n))):
            np.testing.assert_allclose(lo, acc - half, rtol=RTOL)
            np.testing.assert_allclose(hi, acc + half, rtol=RTOL)


def test_normal_approx_ci_covers_binomial_accuracy():
    reps, n, p = 2000, 400, 0.8
    acc = jnp.asarray(np.random.default_rng(1).binomial(n, p, reps) / n, jnp.float32)
    lo, hi = jax.jit(stats.normal_approx_ci)(acc, n)
    rate = float(jnp.mean((lo <= p) & (p <= hi)))
    assert abs(rate - 0.95) < 0.02, rate


def test_bootstrap_indices_and_out_of_bag_mask():
    idx = stats.bootstrap_indices(jax.random.key(0), num_items=20, num_resamples=300)
    assert idx.shape == (300, 20) and idx.dtype == jnp.int32
    assert int(idx.min()) >= 0 and int(idx.max()) < 20
    mask = jax.jit(stats.out_of_bag_mask)(idx)
    expected = np.array([[i not in set(row) for i in range(20)] for row in np.asarray(idx)])
    np.testing.assert_array_equal(mask, expected)
    # About (1 - 1/n)^n of the items are out of bag.
    assert abs(float(mask.mean()) - (1 - 1 / 20) ** 20) < 0.02
    np.testing.assert_array_equal(stats.out_of_bag_mask(jnp.array([[0, 0]]), num_items=3), [[False, True, True]])


@pytest.mark.parametrize("num_classes", [None, 4])
def test_no_information_error_zero_one(num_classes, x64):
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    expected = np.mean([[yi != pj for pj in pred] for yi in y])
    fn = functools.partial(stats.no_information_error, num_classes=num_classes)
    for got in (fn(jnp.asarray(y), jnp.asarray(pred)), jax.jit(fn)(jnp.asarray(y), jnp.asarray(pred))):
        np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_no_information_error_squared(x64):
    rng = np.random.default_rng(1)
    y, pred = rng.normal(size=30), rng.normal(size=30)
    expected = np.mean([[(yi - pj) ** 2 for pj in pred] for yi in y])
    np.testing.assert_allclose(stats.no_information_error(jnp.asarray(y), jnp.asarray(pred), loss="squared"),
                               expected, rtol=RTOL)


def _combine_reference(e1, e0, gamma, method, safeguards):
    """Float64 loop from Efron and Tibshirani (1997) eqs. 24, 27-32 and mlxtend's unguarded form."""
    out = []
    for a, b, g in zip(e1, e0, gamma):
        if method == "oob":
            out.append(a)
        elif method == ".632":
            out.append(0.368 * b + 0.632 * a)
        elif not safeguards:
            r = (a - b) / (g - b)
            w = 0.632 / (1 - 0.368 * r)
            out.append(w * a + (1 - w) * b)
        else:
            a_capped = min(a, g)
            r = (a_capped - b) / (g - b) if (a > b and g > b) else 0.0
            r = min(max(r, 0.0), 1.0)
            out.append(0.368 * b + 0.632 * a + (a_capped - b) * 0.368 * 0.632 * r / (1 - 0.368 * r))
    return np.array(out)


@pytest.mark.parametrize("method,safeguards", [("oob", True), (".632", True), (".632+", True), (".632+", False)])
def test_point632_combine_matches_reference(method, safeguards, x64):
    rng = np.random.default_rng(2)
    e0 = rng.uniform(0.0, 0.2, 64)
    e1 = rng.uniform(0.0, 0.7, 64)
    gamma = rng.uniform(0.3, 0.8, 64)
    e1[:5] = gamma[:5] + 0.1  # exercise the min(e1, gamma) cap
    e1[5:10] = e0[5:10] - 0.01  # and the e1 <= e0 branch
    expected = _combine_reference(e1, e0, gamma, method, safeguards)
    fn = functools.partial(stats.point632_combine, method=method, safeguards=safeguards)
    args = tuple(map(jnp.asarray, (e1, e0, gamma)))
    for got in (fn(*args), jax.jit(fn)(*args)):
        np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_point632_combine_degenerate_gamma_equals_resubstitution(x64):
    got = stats.point632_combine(jnp.array(0.3), jnp.array(0.2), jnp.array(0.2), safeguards=False)
    np.testing.assert_allclose(got, 0.368 * 0.2 + 0.632 * 0.3)  # R taken as 0, never NaN


@settings(max_examples=50, deadline=None)
@given(e1=st.floats(0, 1), e0=st.floats(0, 1), gamma=st.floats(0, 1))
def test_safeguarded_632_plus_stays_between_resub_and_noinfo(e1, e0, gamma):
    with jax.enable_x64(True):
        got = float(stats.point632_combine(jnp.asarray(e1), jnp.asarray(e0), jnp.asarray(gamma)))
    dot632 = 0.368 * e0 + 0.632 * e1
    assert np.isfinite(got)
    assert min(dot632, e0, e1) - 1e-12 <= got <= max(dot632, e1, gamma, e0) + 1e-12


def test_contract_errors():
    with pytest.raises(ValueError, match="indices"):
        stats.bootstrap_ci(jnp.zeros(5), jnp.zeros(5, jnp.int32))
    with pytest.raises(TypeError, match="indices"):
        stats.out_of_bag_mask(jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="no_info_error"):
        stats.point632_combine(jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match="confidence"):
        stats.normal_approx_ci(jnp.array(0.5), 10, confidence=1.5)


def test_multiply_shift_is_exact_and_uniform():
    from bvjax.stats._bootstrap import _mul_hi

    bits = np.random.default_rng(0).integers(0, 2**32, 50_000, dtype=np.uint64)
    for n in (1, 7, 10_000, 123_456_789, 2**31 - 1):
        expected = (bits * np.uint64(n)) >> np.uint64(32)  # float-free 64-bit reference
        np.testing.assert_array_equal(np.asarray(_mul_hi(jnp.asarray(bits.astype(np.uint32)), n)),
                                      expected.astype(np.uint32))
    idx = stats.bootstrap_indices(jax.random.key(3), num_items=7, num_resamples=20_000)
    counts = np.bincount(np.asarray(idx).ravel(), minlength=7)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    rbg = stats.bootstrap_indices(jax.random.key(3, impl="rbg"), num_items=7, num_resamples=4)
    assert rbg.shape == (4, 7) and int(rbg.max()) < 7


def test_hash_generator_is_uniform_and_its_resamples_independent():
    n, b = 37, 20_000
    idx = np.asarray(jax.jit(functools.partial(stats.bootstrap_indices, num_items=n, num_resamples=b,
                                               generator="hash"))(jax.random.key(5)))
    assert idx.min() >= 0 and idx.max() < n
    assert scipy.stats.chisquare(np.bincount(idx.ravel(), minlength=n)).pvalue > 1e-3
    # Successive draws (within a row and across rows) carry no information about each other.
    pairs = np.bincount((idx[:, :-1] * n + idx[:, 1:]).ravel(), minlength=n * n)
    assert scipy.stats.chisquare(pairs).pvalue > 1e-3
    across = np.bincount((idx[:-1, :] * n + idx[1:, :]).ravel(), minlength=n * n)  # same item, next resample
    assert scipy.stats.chisquare(across).pvalue > 1e-3
    lag2 = np.bincount((idx[:, :-2] * n + idx[:, 2:]).ravel(), minlength=n * n)
    assert scipy.stats.chisquare(lag2).pvalue > 1e-3
    # Resample means: variance sigma^2/n as for i.i.d. draws, no correlation between rows.
    x = np.random.default_rng(0).normal(size=n)
    means = x[idx].mean(axis=1)
    ratio = means.var() / (x.var() / n)
    assert abs(ratio - 1) < 4 * np.sqrt(2 / b), ratio
    assert abs(np.corrcoef(means[:-1], means[1:])[0, 1]) < 4 / np.sqrt(b)
    # Every bit of the underlying words is fair, and distinct keys give distinct streams.
    from bvjax.stats._bootstrap import _hash_bits

    bits = np.asarray(_hash_bits(jax.random.key(6), 1000, 100)).ravel()
    ones = np.array([((bits >> k) & 1).mean() for k in range(32)])
    assert np.all(np.abs(ones - 0.5) < 4 * 0.5 / np.sqrt(bits.size)), ones
    other = np.asarray(stats.bootstrap_indices(jax.random.key(7), num_items=n, num_resamples=50, generator="hash"))
    assert np.mean(other == idx[:50]) < 2 / n


def _fmix32_inverse(h: int) -> int:
    """The inverse of murmur3's fmix32 (each step is a bijection on 32-bit words)."""
    mask = 2**32 - 1
    h ^= h >> 16
    h = (h * pow(0xC2B2AE35, -1, 2**32)) & mask
    h ^= (h >> 13) ^ (h >> 26)
    h = (h * pow(0x85EBCA6B, -1, 2**32)) & mask
    return h ^ (h >> 16)


def _transitions(x: int) -> int:
    return ((x ^ (x >> 1)) & 0x7FFFFFFF).bit_count()


@pytest.mark.parametrize("weak", [1, 0xFFFFFFFF, 0x0000FFFF, 0x80000001])
def test_hash_generator_repairs_a_weak_multiplier(weak):
    from bvjax._numerics import fmix32
    from bvjax.stats._bootstrap import _hash_rows, _weyl_gamma

    seed = _fmix32_inverse(weak & ~1)  # the seed whose multiplier f(seed) | 1 would be `weak`
    assert int(fmix32(jnp.uint32(seed))) | 1 == weak
    gamma = int(_weyl_gamma(jnp.uint32(seed)))
    assert gamma % 2 == 1 and _transitions(gamma) >= 12, hex(gamma)
    # The stream of such a key is as uniform and as serially independent as any other.
    n, b = 37, 20_000
    seeds = jnp.asarray([seed, 12345], jnp.uint32)
    bits = np.asarray(_hash_rows(seeds, 0, b, n)).astype(np.uint64)
    idx = ((bits * np.uint64(n)) >> np.uint64(32)).astype(np.int64)
    assert scipy.stats.chisquare(np.bincount(idx.ravel(), minlength=n)).pvalue > 1e-3
    for a, c in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
        assert scipy.stats.chisquare(np.bincount((a * n + c).ravel(), minlength=n * n)).pvalue > 1e-3


def test_hash_generator_multipliers_are_odd_with_many_transitions():
    from bvjax.stats._bootstrap import _weyl_gamma

    seeds = np.random.default_rng(0).integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32)
    gammas = np.asarray(_weyl_gamma(jnp.asarray(seeds))).astype(np.int64)
    assert np.all(gammas % 2 == 1)
    assert min(_transitions(int(g)) for g in gammas) >= 12
    assert len(np.unique(gammas)) > 19_990  # distinct keys, distinct multipliers


def test_hash_generator_words_are_independent_at_short_lags():
    from bvjax.stats._bootstrap import _hash_bits

    # 4M consecutive words of one stream: the top 6 bits of a word and of the word `lag`
    # later are independent (a chi-square test of the 64 x 64 table, expected from the margins).
    top = np.asarray(_hash_bits(jax.random.key(11), 1, 4_000_000)).ravel().astype(np.int64) >> 26
    for lag in (1, 2, 3, 4, 8, 16):
        table = np.bincount((top[:-lag] << 6) + top[lag:], minlength=4096).reshape(64, 64)
        assert scipy.stats.chi2_contingency(table)[1] > 1e-3, lag


def test_hash_generator_rejects_counter_overflow():
    with pytest.raises(ValueError, match="num_resamples"):
        stats.bootstrap_indices(jax.random.key(0), num_items=2**16, num_resamples=2**16, generator="hash")
    with pytest.raises(ValueError, match="generator"):
        stats.bootstrap_indices(jax.random.key(0), num_items=5, num_resamples=3, generator="numpy")
