"""MI-alpha, InfoNCE and NWJ bounds vs float64 NumPy loops, their limits and the Gaussian ground truth."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import enable_x64
from jax.test_util import check_grads

from bvjax.distill import bilinear_critic, infonce_bound, mi_alpha_bound, nwj_bound


def mi_alpha64(s, log_q, alpha):
    """Poole et al.'s leave-one-out interpolated estimator, straight from the equations."""
    k = s.shape[0]
    b = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            m = np.mean([math.exp(s[i, kk]) for kk in range(k) if kk != j])
            b[i, j] = math.log(alpha * m + (1 - alpha) * math.exp(log_q[i]))
    joint = np.mean([s[i, i] - b[i, j] for i in range(k) for j in range(k) if i != j])
    marg = np.mean([math.exp(s[i, j] - b[i, i]) for i in range(k) for j in range(k) if i != j])
    return 1 + joint - marg


def infonce64(s):
    k = s.shape[0]
    return np.mean([s[i, i] - math.log(np.mean(np.exp(s[i]))) for i in range(k)])


def nwj64(s):
    k = s.shape[0]
    return np.mean(np.diag(s)) - np.mean([math.exp(s[i, j] - 1) for i in range(k) for j in range(k) if i != j])


def _scores(seed=0, k=6, scale=1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(k, k)) + 2 * scale * np.eye(k), rng.normal(size=k)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.3, 0.9, 1.0])
def test_mi_alpha_matches_numpy(jit, alpha):
    s, log_q = _scores()
    fn = jax.jit(mi_alpha_bound) if jit else mi_alpha_bound
    got = fn(jnp.asarray(s, jnp.float32), jnp.asarray(log_q, jnp.float32), alpha=alpha)
    np.testing.assert_allclose(got, mi_alpha64(s, log_q, alpha), rtol=2e-5, atol=2e-5)
    # No baseline means q = 1.
    np.testing.assert_allclose(fn(jnp.asarray(s, jnp.float32), alpha=alpha), mi_alpha64(s, np.zeros(6), alpha),
                               rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_infonce_and_nwj_match_numpy(jit):
    s, _ = _scores(1, k=7)
    nce, nwj = (jax.jit(infonce_bound), jax.jit(nwj_bound)) if jit else (infonce_bound, nwj_bound)
    np.testing.assert_allclose(nce(jnp.asarray(s, jnp.float32)), infonce64(s), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nwj(jnp.asarray(s, jnp.float32)), nwj64(s), rtol=1e-5, atol=1e-5)


def test_alpha_one_is_held_out_infonce_and_alpha_zero_is_nwj():
    with enable_x64(True):
        s, log_q = _scores(2, k=9)
        s = jnp.asarray(s)
        # alpha = 1: InfoNCE on the K-1 pairs left after holding pair j out, averaged over j.
        nce = jax.jit(infonce_bound)
        held_out = np.mean([nce(jnp.asarray(np.delete(np.delete(np.asarray(s), j, 0), j, 1)))
                            for j in range(9)])
        np.testing.assert_allclose(mi_alpha_bound(s, jnp.asarray(log_q), alpha=1.0), held_out, rtol=1e-12)
        # alpha = 0 with log q = 1 is NWJ; with any baseline it is TUBA (checked via NumPy above).
        np.testing.assert_allclose(mi_alpha_bound(s, jnp.ones(9), alpha=0.0), nwj_bound(s), rtol=1e-12)
        # A traced alpha (one jit for a sweep) gives the same as a Python float.
        sweep = jax.jit(jax.vmap(lambda a: mi_alpha_bound(s, alpha=a)))(jnp.array([0.0, 0.5, 1.0]))
        np.testing.assert_allclose(sweep, [mi_alpha64(np.asarray(s), np.zeros(9), a) for a in (0.0, 0.5, 1.0)],
                                   rtol=1e-10)


def test_gradients():
    with enable_x64(True):
        s, log_q = _scores(3, k=5)
        bound = jax.jit(mi_alpha_bound)
        for alpha in (0.0, 0.4, 1.0):
            check_grads(lambda a, b, alpha=alpha: bound(a, b, alpha=alpha), (jnp.asarray(s), jnp.asarray(log_q)),
                        order=1, modes=("rev",))
        check_grads(jax.jit(infonce_bound), (jnp.asarray(s),), order=1, modes=("rev",))
        check_grads(jax.jit(nwj_bound), (jnp.asarray(s),), order=1, modes=("rev",))
        w = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)))
        x = jnp.asarray(np.random.default_rng(1).normal(size=(5, 3)))
        y = jnp.asarray(np.random.default_rng(2).normal(size=(5, 4)))
        check_grads(jax.jit(lambda w: mi_alpha_bound(bilinear_critic(x, y, w), alpha=0.5)), (w,), order=1,
                    modes=("rev",))


def test_bilinear_critic_and_shapes():
    x, y, w = np.ones((3, 2)), np.arange(12.0).reshape(3, 4), np.arange(8.0).reshape(2, 4)
    np.testing.assert_allclose(bilinear_critic(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w)), x @ w @ y.T)
    with pytest.raises(ValueError, match="weight"):
        bilinear_critic(jnp.asarray(x), jnp.asarray(y), jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="scores"):
        mi_alpha_bound(jnp.ones((1, 1)), alpha=0.5)
    with pytest.raises(ValueError, match="log_baseline"):
        mi_alpha_bound(jnp.ones((3, 3)), jnp.ones(4), alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        mi_alpha_bound(jnp.ones((3, 3)), alpha=1.5)


def test_extreme_scores_stay_finite():
    # A dominant positive (exp would overflow float32) and huge negatives: no NaN, exact LOO.
    s = np.full((4, 4), -50.0)
    np.fill_diagonal(s, 200.0)
    got = jax.jit(mi_alpha_bound)(jnp.asarray(s, jnp.float32), alpha=1.0)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, math.log(3.0), rtol=1e-5)  # perfect critic: capped at log(K - 1)
    g = jax.jit(jax.grad(lambda a: mi_alpha_bound(a, alpha=0.5)))(jnp.asarray(s, jnp.float32))
    assert np.all(np.isfinite(g))
    # An overflowing NWJ marginal term gives -inf, not NaN.
    assert jax.jit(nwj_bound)(jnp.full((3, 3), 500.0)) == -jnp.inf


def _gaussian_scores(key, k, dim, rho):
    """Correlated Gaussians x, y = rho x + sqrt(1 - rho^2) e; optimal critic log p(y|x) - log p(y)."""
    kx, ke = jax.random.split(key)
    x = jax.random.normal(kx, (k, dim))
    y = rho * x + jnp.sqrt(1 - rho**2) * jax.random.normal(ke, (k, dim))
    var = 1 - rho**2
    d2 = jnp.sum((y[:, None, :] - rho * x[None, :, :]) ** 2, -1)  # rows: y_i, columns: x_j
    return -0.5 * d2 / var - 0.5 * dim * jnp.log(var) + 0.5 * jnp.sum(y**2, -1)[:, None]


def test_gaussian_ground_truth():
    dim, rho, k = 2, 0.8, 64
    true_mi = -0.5 * dim * math.log(1 - rho**2)
    keys = jax.random.split(jax.random.key(0), 400)
    est = jax.jit(jax.vmap(lambda kk: jnp.stack([mi_alpha_bound(_gaussian_scores(kk, k, dim, rho), alpha=a)
                                                 for a in (0.0, 1.0)])))(keys)
    mean, se = est.mean(0), est.std(0) / math.sqrt(len(keys))
    assert abs(mean[0] - true_mi) < 4 * se[0]  # alpha = 0 with the optimal critic: unbiased
    assert mean[1] < true_mi and mean[1] <= math.log(k - 1)  # InfoNCE: biased low, capped
    assert est[:, 1].std() < est[:, 0].std()  # and lower variance


_jitted_bound = jax.jit(mi_alpha_bound)


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float64, (5, 5), elements=st.floats(-30, 30)), st.floats(0.0, 1.0))
def test_property_finite_and_capped(s, alpha):
    got = float(_jitted_bound(jnp.asarray(s, jnp.float32), alpha=alpha))
    assert not math.isnan(got)
    if alpha > 0:
        assert got <= 1 + math.log(4 / alpha) + 1e-3  # joint term <= log((K - 1) / alpha), marginal >= 0
    if alpha == 1.0:
        assert got <= math.log(4) + 1e-3
