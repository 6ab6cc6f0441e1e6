"""bvjax.stats._benchmark_variance against NumPy written from the equations and scipy.stats."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax import stats

RTOL = 1e-10


@pytest.mark.parametrize("ddof", [0, 1])
def test_seed_stats_matches_numpy(ddof, x64):
    s = np.random.default_rng(0).normal(0.5, 0.02, size=(10, 3))
    fn = functools.partial(stats.seed_stats, ddof=ddof)
    for got in (fn(jnp.asarray(s)), jax.jit(fn)(jnp.asarray(s))):
        np.testing.assert_allclose(got.mean, s.mean(0), rtol=RTOL)
        np.testing.assert_allclose(got.std, s.std(0, ddof=ddof), rtol=RTOL)


def test_seed_stats_needs_more_seeds_than_ddof():
    with pytest.raises(ValueError, match="scores"):
        stats.seed_stats(jnp.ones(1))


def test_signal_to_noise(x64):
    s = np.array([0.31, 0.35, 0.33, 0.30])
    got = jax.jit(functools.partial(stats.signal_to_noise, baseline=0.25))(jnp.asarray(s))
    np.testing.assert_allclose(got, (s.mean() - 0.25) / s.std(ddof=1), rtol=RTOL)
    const = stats.signal_to_noise(jnp.full(3, 0.4), baseline=0.25)
    assert np.isinf(const) and const > 0
    assert float(stats.signal_to_noise(jnp.full(3, 0.25), baseline=0.25)) == 0.0


def test_bootstrap_score_ci_matches_numpy_percentile(x64):
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(3, 150)) < np.array([[0.3], [0.5], [0.8]])).astype(float)
    idx = rng.integers(0, 150, size=(400, 150))
    fn = jax.jit(functools.partial(stats.bootstrap_score_ci, confidence=0.9))
    got = fn(jnp.asarray(x), jnp.asarray(idx))
    reps = x[:, idx].mean(-1)  # [3, B]
    np.testing.assert_allclose(got.original, x.mean(-1), rtol=RTOL)
    np.testing.assert_allclose(got.standard_error, reps.std(-1, ddof=1), rtol=RTOL)
    np.testing.assert_allclose(np.stack(got.ci, -1), np.percentile(reps, [5, 95], axis=-1).T, rtol=RTOL)
    eager = stats.bootstrap_score_ci(jnp.asarray(x[0]), jnp.asarray(idx), confidence=0.9)
    np.testing.assert_allclose(eager.ci, np.percentile(reps[0], [5, 95]), rtol=RTOL)


def test_bootstrap_score_ci_matches_scipy_bootstrap_percentile(x64):
    # scipy draws its own resamples; with many resamples both estimate the same quantiles.
    x = np.random.default_rng(2).uniform(size=300)
    ref = scipy.stats.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    idx = stats.bootstrap_indices(jax.random.key(0), num_items=300, num_resamples=4000)
    got = stats.bootstrap_score_ci(jnp.asarray(x), idx)
    np.testing.assert_allclose(got.ci, [ref.confidence_interval.low, ref.confidence_interval.high], atol=4e-3)


def test_bootstrap_score_ci_covers_the_true_accuracy():
    # 500 benchmarks of 80 Bernoulli(0.3) items, one resample stream shared by all (vmapped).
    x = (jax.random.uniform(jax.random.key(0), (500, 80)) < 0.3).astype(jnp.float32)
    idx = stats.bootstrap_indices(jax.random.key(1), num_items=80, num_resamples=400)
    _, _, (lo, hi) = jax.jit(stats.bootstrap_score_ci)(x, idx)
    coverage = float(jnp.mean((lo <= 0.3) & (0.3 <= hi)))
    assert 0.91 <= coverage <= 0.98, coverage  # nominal 0.95; the percentile interval runs a little short


def test_normal_score_ci(x64):
    x = np.random.default_rng(3).uniform(size=(2, 80))
    lo, hi = jax.jit(functools.partial(stats.normal_score_ci, ddof=1))(jnp.asarray(x))
    half = scipy.stats.norm.ppf(0.975) * x.std(-1, ddof=1) / np.sqrt(80)
    np.testing.assert_allclose(lo, x.mean(-1) - half, rtol=RTOL)
    np.testing.assert_allclose(hi, x.mean(-1) + half, rtol=RTOL)
    b = (np.arange(60) % 3 == 0).astype(float)
    np.testing.assert_allclose(stats.normal_score_ci(jnp.asarray(b)), stats.normal_approx_ci(jnp.asarray(b.mean()), 60),
                               rtol=RTOL)


@pytest.mark.parametrize("variant", ["b", "c"])
@pytest.mark.parametrize("seed,n,levels", [(0, 30, 4), (1, 12, 3), (2, 50, 50), (3, 7, 2)])
def test_kendall_tau_matches_scipy(variant, seed, n, levels, x64):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, levels, n), rng.integers(0, levels + 1, n) + 0.5 * rng.integers(0, 2, n)
    ref = scipy.stats.kendalltau(x, y, variant=variant, method="asymptotic")
    fn = functools.partial(stats.kendall_tau, variant=variant)
    for got in (fn(jnp.asarray(x), jnp.asarray(y)), jax.jit(fn)(jnp.asarray(x), jnp.asarray(y))):
        np.testing.assert_allclose(got.statistic, ref.statistic, rtol=RTOL, atol=1e-14)
        np.testing.assert_allclose(got.pvalue, ref.pvalue, rtol=RTOL, atol=1e-14)


def test_kendall_tau_spec_values(x64):
    # scipy.stats.kendalltau's values: tau_b, its p-value, and tau_c.
    x, y = jnp.arange(5), jnp.array([1, 3, 2, 4, 4])
    tau, p = stats.kendall_tau(x, y)
    np.testing.assert_allclose([tau, p], [0.7378647873726218, 0.07697417298126674], rtol=1e-12)
    np.testing.assert_allclose(stats.kendall_tau(x, y, variant="c").statistic, 0.7466666666666667, rtol=1e-12)


def test_kendall_tau_constant_input_is_zero_not_nan():
    for variant in ("b", "c"):
        tau, p = stats.kendall_tau(jnp.ones(6), jnp.arange(6.0), variant=variant)
        assert float(tau) == 0.0 and float(p) == 1.0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=20))
def test_kendall_tau_properties(pairs):
    x = jnp.array([a for a, _ in pairs], jnp.float32)
    y = jnp.array([b for _, b in pairs], jnp.float32)
    tau, p = stats.kendall_tau(x, y)
    assert -1.0 - 1e-6 <= float(tau) <= 1.0 + 1e-6 and 0.0 <= float(p) <= 1.0
    tau2, p2 = stats.kendall_tau(y, x)
    np.testing.assert_allclose([tau, p], [tau2, p2], atol=1e-6)
    np.testing.assert_allclose(stats.kendall_tau(x, -y).statistic, -tau, atol=1e-6)


def test_monotonicity_is_mean_seed_tau(x64):
    s = np.cumsum(np.random.default_rng(4).normal(0.01, 0.02, size=(5, 21)), axis=1)
    s[0, 3] = s[0, 4]  # a tie
    expected = np.mean([scipy.stats.kendalltau(np.arange(21), row).statistic for row in s])
    for got in (stats.monotonicity(jnp.asarray(s)), jax.jit(stats.monotonicity)(jnp.asarray(s))):
        np.testing.assert_allclose(got, expected, rtol=RTOL)
    np.testing.assert_allclose(stats.monotonicity(jnp.asarray(s[1])),
                               scipy.stats.kendalltau(np.arange(21), s[1]).statistic, rtol=RTOL)
    assert float(stats.monotonicity(jnp.arange(4.0))) == 1.0


@pytest.mark.parametrize("rest", [False, True])
def test_item_analysis_matches_pointbiserial(rest, x64):
    r = (np.random.default_rng(5).uniform(size=(40, 12)) < np.linspace(0.1, 0.9, 12)).astype(np.int32)
    r[:, 3] = 1  # an item every model gets right: no correlation defined
    total = r.sum(1)
    expected = []
    for j in range(12):
        crit = total - r[:, j] if rest else total
        expected.append(0.0 if j == 3 else scipy.stats.pointbiserialr(r[:, j], crit).statistic)
    fn = functools.partial(stats.item_discrimination, rest=rest)
    for got in (fn(jnp.asarray(r)), jax.jit(fn)(jnp.asarray(r))):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.item_difficulty(jnp.asarray(r)), r.mean(0), rtol=RTOL)


def test_irt2pl_logits_and_grads(x64):
    rng = np.random.default_rng(6)
    theta, a, b = rng.normal(size=4), np.exp(rng.normal(size=3)), rng.normal(size=3)
    got = jax.jit(stats.irt2pl_logits)(jnp.asarray(theta), jnp.asarray(a), jnp.asarray(b))
    np.testing.assert_allclose(got, a[None] * (theta[:, None] - b[None]), rtol=RTOL)
    check_grads(stats.irt2pl_logits, (jnp.asarray(theta), jnp.asarray(a), jnp.asarray(b)), order=1)


def _standardised(theta, a, b):
    m, s = theta.mean(), theta.std()
    return (theta - m) / s, a * s, (b - m) / s


def test_fit_irt2pl_recovers_generated_parameters(x64):
    rng = np.random.default_rng(7)
    m, n = 400, 30
    theta, a, b = rng.normal(size=m), np.exp(rng.normal(0.0, 0.3, size=n)), rng.normal(size=n)
    p = 1 / (1 + np.exp(-a[None] * (theta[:, None] - b[None])))
    r = (rng.uniform(size=(m, n)) < p).astype(float)
    fit = jax.jit(functools.partial(stats.fit_irt2pl, num_steps=600))(jnp.asarray(r))
    t_true, a_true, b_true = _standardised(theta, a, b)
    np.testing.assert_allclose([np.mean(fit.theta), np.std(fit.theta)], [0.0, 1.0], atol=1e-8)
    assert np.all(np.asarray(fit.a) > 0)
    assert np.corrcoef(fit.theta, t_true)[0, 1] > 0.9
    assert np.sqrt(np.mean((np.asarray(fit.b) - b_true) ** 2)) < 0.2
    assert np.sqrt(np.mean((np.log(fit.a) - np.log(a_true)) ** 2)) < 0.3
    # The fit's likelihood is at least as good as the truth's (it is the MLE up to the ridge).
    z = a_true[None] * (t_true[:, None] - b_true[None])
    nll_true = np.mean(np.logaddexp(0, z) - r * z)
    assert float(fit.nll) <= nll_true + 1e-3


def test_fit_irt2pl_mask_ignores_unobserved(x64):
    rng = np.random.default_rng(8)
    r = (rng.uniform(size=(60, 8)) < 0.5).astype(float)
    mask = rng.uniform(size=r.shape) < 0.8
    garbage = np.where(mask, r, 1.0 - r)  # flipping unobserved responses must not matter
    f1 = stats.fit_irt2pl(jnp.asarray(r), mask=jnp.asarray(mask), num_steps=100)
    f2 = stats.fit_irt2pl(jnp.asarray(garbage), mask=jnp.asarray(mask), num_steps=100)
    np.testing.assert_allclose(f1.theta, f2.theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f1.a, f2.a, rtol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_equal_seed_scores_have_zero_std(dtype):
    # Equal scores have std exactly 0, so the signal-to-noise ratio is inf, also when their
    # mean rounds: seven seeds of 0.1 had a float32 std of ~1e-8 and an SNR of ~1.2e7.
    with jax.enable_x64(dtype == "float64"):
        for value in (0.1, 0.7, 1 / 3):
            scores = jnp.full((7, 3), value, dtype)
            mean, std = stats.seed_stats(scores)
            np.testing.assert_array_equal(np.asarray(std), 0.0)
            np.testing.assert_array_equal(np.asarray(mean), np.asarray(scores[0]))
            np.testing.assert_array_equal(np.asarray(stats.signal_to_noise(scores, baseline=0.05)), np.inf)
