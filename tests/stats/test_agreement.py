"""bvjax.stats._agreement against float64 NumPy written from Pieper and Voran's equations, and by simulation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import stats

RTOL = 1e-10


def _np_bounds(mos_var, vote_var, n):
    mse = vote_var / n
    return np.sqrt(mse), np.sqrt(1 - vote_var / (n * mos_var))


def test_mos_bounds_spec_values(x64):
    # Computed with the NTIA reference code's formulas (mos_agreement.bounds).
    got = stats.mos_bounds(jnp.array(0.8), 0.9, 24)
    np.testing.assert_allclose(got, [0.19364916731037085, 0.9762812094883317], rtol=1e-12)
    avg = stats.binovotes_avg_vote_var(jnp.array(3.2), 0.8, 24)
    np.testing.assert_allclose(avg, 0.7983157894736843, rtol=1e-12)
    np.testing.assert_allclose(stats.mos_bounds(jnp.array(0.8), avg, 24),
                               [0.1823819012257983, 0.9789898123226712], rtol=1e-12)


def test_mos_bounds_broadcast_and_jit(x64):
    rng = np.random.default_rng(0)
    mos_var, vote_var, n = rng.uniform(0.5, 1.5, 5), rng.uniform(0.3, 1.0, 5), rng.integers(8, 40, 5)
    got = jax.jit(stats.mos_bounds)(jnp.asarray(mos_var), jnp.asarray(vote_var), jnp.asarray(n))
    np.testing.assert_allclose(got, _np_bounds(mos_var, vote_var, n), rtol=RTOL)
    # No quality signal left: PCC bound 0, not NaN.
    assert float(stats.mos_bounds(jnp.array(0.01), 1.0, 4).pcc_max) == 0.0


@pytest.mark.parametrize("ddofs", [(1, 1), (0, 0)])
def test_mos_bounds_from_votes_matches_numpy(ddofs, x64):
    vote_ddof, mos_ddof = ddofs
    rng = np.random.default_rng(1)
    quality = rng.uniform(1.5, 4.5, size=(30, 1))
    votes = np.clip(np.round(quality + rng.normal(0, 0.8, size=(30, 12))), 1, 5)
    mask = rng.uniform(size=votes.shape) < 0.8
    mask[:, :3] = True
    mos = np.array([v[m].mean() for v, m in zip(votes, mask)])
    file_var = np.array([v[m].var(ddof=vote_ddof) for v, m in zip(votes, mask)])
    expected = _np_bounds(mos.var(ddof=mos_ddof), file_var.mean(), mask.sum(1).mean())
    fn = jax.jit(functools.partial(stats.mos_bounds_from_votes, vote_ddof=vote_ddof, mos_ddof=mos_ddof))
    np.testing.assert_allclose(fn(jnp.asarray(votes), mask=jnp.asarray(mask)), expected, rtol=RTOL)


def test_binovotes_variance_and_quality_bounds(x64):
    q = np.linspace(1, 5, 9)
    np.testing.assert_allclose(stats.binovotes_variance(jnp.asarray(q)), (q - 1) * (5 - q) / 4, rtol=RTOL)
    # A 0-100 slider with 11 levels (step 10).
    np.testing.assert_allclose(stats.binovotes_variance(jnp.asarray([30.0]), low=0, high=100, num_levels=11),
                               [30 * 70 / 10], rtol=RTOL)
    mu, var_q, n = 3.1, 0.6, 20
    mse = ((mu - 1) * (5 - mu) - var_q) / (n * 4)
    got = jax.jit(stats.binovotes_quality_bounds)(jnp.array(mu), var_q, n)
    np.testing.assert_allclose(got, [np.sqrt(mse), np.sqrt(var_q / (var_q + mse))], rtol=RTOL)
    nb, nm = 24.0, 16.0
    np.testing.assert_allclose(stats.effective_votes(jnp.array(nb), nm),
                               1 / (1 / nb + 1 / nm - 1 / (nb * nm * 4)), rtol=RTOL)


def test_binovotes_avg_vote_var_is_exact_under_the_model(x64):
    # Population moments under BinoVotes: plugging the exact MOS mean/variance back in
    # recovers the exact average vote variance (the two moment equations).
    q = np.linspace(1.5, 4.5, 7)
    n_v = 10
    vote_var = (q - 1) * (5 - q) / 4
    mos_mean, mos_var = q.mean(), q.var() + vote_var.mean() / n_v
    got = stats.binovotes_avg_vote_var(jnp.array(mos_mean), mos_var, n_v)
    np.testing.assert_allclose(got, vote_var.mean(), rtol=1e-12)


def test_binovotes_samples_have_model_moments(x64):
    q = jnp.array([1.0, 1.8, 3.0, 4.6, 5.0])
    votes = stats.binovotes_sample(jax.random.key(0), q, num_votes=5000)
    assert set(np.unique(votes)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    np.testing.assert_allclose(votes.mean(1), q, atol=0.05)
    np.testing.assert_allclose(votes.var(1), stats.binovotes_variance(q), atol=0.06)
    mos = jax.jit(functools.partial(stats.binomos_sample, num_votes=6))(jax.random.key(1), jnp.repeat(q, 2000))
    mos = np.asarray(mos).reshape(5, 2000)
    np.testing.assert_allclose(np.round(mos * 6), mos * 6, atol=1e-9)  # values s_L + j / n_v
    np.testing.assert_allclose(mos.mean(1), q, atol=0.04)
    np.testing.assert_allclose(mos.var(1), stats.binovotes_variance(q) / 6, atol=0.02)


def _simulate(key, num_files, num_votes):
    kq, kv = jax.random.split(key)
    q = jax.random.uniform(kq, (num_files,), minval=1.5, maxval=4.5)
    votes = stats.binovotes_sample(kv, q, num_votes=num_votes)
    mos = votes.mean(1)
    pcc_oracle = jnp.corrcoef(q, mos)[0, 1]
    mse_oracle = jnp.mean((q - mos) ** 2)
    bound = stats.mos_bounds_from_votes(votes)
    return pcc_oracle, mse_oracle, bound.pcc_max, bound.rmse_min


def test_oracle_cannot_beat_the_bounds_beyond_sampling_error(x64):
    # The oracle estimator (the true quality) attains the bounds in expectation; no
    # estimator should beat them by more than sampling error.
    sim = jax.jit(jax.vmap(functools.partial(_simulate, num_files=200, num_votes=8)))
    pcc, mse, pcc_max, rmse_min = (np.asarray(a) for a in sim(jax.random.split(jax.random.key(0), 200)))
    excess = pcc - pcc_max
    assert abs(excess.mean()) < 3 * excess.std() / np.sqrt(len(excess)) + 1e-3
    assert np.mean(excess > 0) < 0.6
    np.testing.assert_allclose(mse.mean(), (rmse_min**2).mean(), rtol=0.02)
    # A noisy objective measure stays under the bound.
    q_noisy_pcc = pcc * 0.9
    assert np.all(q_noisy_pcc < pcc_max + 0.05)


def test_bad_scale_raises():
    with pytest.raises(ValueError, match="num_levels"):
        stats.binovotes_variance(jnp.array([0.5]), low=0.0, high=1.5)
