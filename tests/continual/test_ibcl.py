"""IBCL's credal-set operations against NumPy/SciPy references, and the HDR coverage of Pareto-optimal parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy import stats

from bvjax.continual import (
    HDRBox,
    combine_gaussians,
    diag_gaussian_kl,
    fgcs_distance,
    fgcs_match,
    gaussian_hdr_box,
    in_gaussian_hdr,
    preference_weights,
    sample_hdr_box,
)


@pytest.mark.parametrize("jit", [False, True])
def test_kl_and_distance_match_numpy(jit):
    rng = np.random.default_rng(0)
    mq, mp = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    sq, sp = rng.uniform(0.2, 2, size=(4, 5)), rng.uniform(0.2, 2, size=(4, 5))
    kl = (jax.jit(diag_gaussian_kl) if jit else diag_gaussian_kl)(*(jnp.asarray(a, jnp.float32) for a in (mq, sq, mp, sp)))
    ref = np.sum(np.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5, axis=-1)
    np.testing.assert_allclose(kl, ref, rtol=1e-5)
    d = (jax.jit(fgcs_distance) if jit else fgcs_distance)(*(jnp.asarray(a, jnp.float32) for a in (mq, sq, mp, sp)))
    np.testing.assert_allclose(d, (np.linalg.norm(mq - mp, axis=-1) + np.linalg.norm(sq - sp, axis=-1)) / 5, rtol=1e-5)
    # a shared scalar prior broadcasts
    kl0 = diag_gaussian_kl(jnp.asarray(mq, jnp.float32), jnp.asarray(sq, jnp.float32), 0.0, 1.0)
    np.testing.assert_allclose(kl0, np.sum(-np.log(sq) + (sq**2 + mq**2) / 2 - 0.5, -1), rtol=1e-5)
    with jax.enable_x64(True):
        check_grads(lambda m, s: diag_gaussian_kl(m, s, jnp.asarray(mp), jnp.asarray(sp)).sum(),
                    (jnp.asarray(mq), jnp.asarray(sq)), order=1, modes=["rev"])


def test_preference_weights_split_and_edge_cases():
    ids = jnp.array([0, 0, 0, 1, 1, 2])
    w = preference_weights(jnp.array([0.2, 0.3, 0.5]), ids, num_tasks=3)
    np.testing.assert_allclose(w, [0.2 / 3] * 3 + [0.15, 0.15, 0.5], rtol=1e-6)
    # unnormalised preference, and a task with no extreme point drops out
    w = preference_weights(jnp.array([2.0, 0.0, 6.0, 4.0]), ids, num_tasks=4)
    np.testing.assert_allclose(w, [2 / 3 / 8] * 3 + [0, 0, 6 / 8], rtol=1e-6)
    w = preference_weights(jnp.array([0.0, 0.0, 0.0, 1.0]), ids, num_tasks=4)
    np.testing.assert_allclose(w, np.full(6, 1 / 6), rtol=1e-6)
    with pytest.raises(ValueError, match="preference"):
        preference_weights(jnp.ones(2), ids, num_tasks=3)


def test_combine_gaussians_matches_numpy():
    rng = np.random.default_rng(1)
    m, s, b = rng.normal(size=(6, 4)), rng.uniform(0.1, 1, size=(6, 4)), rng.dirichlet(np.ones(6))
    g = jax.jit(combine_gaussians)(*(jnp.asarray(a, jnp.float32) for a in (m, s, b)))
    np.testing.assert_allclose(g.mean, b @ m, rtol=1e-5)
    np.testing.assert_allclose(g.sigma, b @ s, rtol=1e-5)


@pytest.mark.parametrize("mass", ["joint", "per_coordinate", "code"])
def test_hdr_box_mass_matches_scipy(mass):
    mean, sigma, alpha, p = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.3, 2.0]), 0.1, 3
    box = gaussian_hdr_box(jnp.asarray(mean), jnp.asarray(sigma), alpha=alpha, mass=mass)
    per = stats.norm.cdf(np.asarray(box.upper), mean, sigma) - stats.norm.cdf(np.asarray(box.lower), mean, sigma)
    want = {"joint": (1 - alpha) ** (1 / p), "per_coordinate": 1 - alpha, "code": alpha}[mass]
    np.testing.assert_allclose(per, want, rtol=1e-4)
    if mass == "joint":
        np.testing.assert_allclose(np.prod(per), 1 - alpha, rtol=1e-4)


def test_exact_hdr_matches_chi2_and_has_the_stated_mass():
    rng = np.random.default_rng(2)
    mean, sigma = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    theta = mean + sigma * rng.normal(size=(4000, 5))
    inside = np.asarray(jax.jit(in_gaussian_hdr)(jnp.asarray(theta), jnp.asarray(mean), jnp.asarray(sigma), alpha=0.1))
    r2 = np.sum(((theta - mean) / sigma) ** 2, axis=1)
    np.testing.assert_array_equal(inside, r2 <= stats.chi2.ppf(0.9, 5))
    assert abs(inside.mean() - 0.9) < 3 * np.sqrt(0.09 / 4000)
    # a zero sigma admits only the mean on that coordinate
    got = in_gaussian_hdr(jnp.array([[0.0, 0.1], [0.0, 0.0]]), jnp.zeros(2), jnp.array([1.0, 0.0]), alpha=0.05)
    np.testing.assert_array_equal(got, [False, True])


def test_sample_hdr_box_modes():
    box = HDRBox(jnp.array([0.0, -1.0, 2.0]), jnp.array([1.0, 1.0, 2.5]))
    for mode in ("per_coordinate", "diagonal"):
        x = np.asarray(sample_hdr_box(box, jax.random.key(0), num_samples=50, mode=mode))
        assert x.shape == (50, 3) and np.all(x >= np.asarray(box.lower)) and np.all(x <= np.asarray(box.upper))
        u = (x - np.asarray(box.lower)) / (np.asarray(box.upper) - np.asarray(box.lower))
        assert (np.ptp(u, axis=1).max() < 1e-6) == (mode == "diagonal")


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 5), min_size=2, max_size=2), st.lists(st.integers(0, 1), min_size=1, max_size=5))
def test_preference_weights_property(pref, ids):
    w = np.asarray(preference_weights(jnp.asarray(pref, jnp.float32), jnp.asarray(ids), num_tasks=2))
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-5 and np.all(np.isfinite(w))


def _two_task_posteriors(rng, draws, n, p, prior_scales, noise):
    """Exact conjugate posteriors of Bayesian linear regression, X^T X = n I so they are mean-field."""
    q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    x = np.sqrt(n) * q                                        # [n, p], X^T X = n I
    theta = rng.normal(size=(draws, 2, p))                    # true task parameters ~ N(0, I)
    y = theta @ x.T + noise * rng.normal(size=(draws, 2, n))  # [draws, 2, n]
    xty = y @ x                                               # [draws, 2, p]
    means, sigmas, ids = [], [], []
    for task in range(2):
        for s in prior_scales:
            prec = n / noise**2 + 1 / s**2
            means.append(xty[:, task] / noise**2 / prec)
            sigmas.append(np.full((draws, p), 1 / np.sqrt(prec)))
            ids.append(task)
    return theta, np.stack(means, 1), np.stack(sigmas, 1), np.asarray(ids)


def test_hdr_holds_the_pareto_optimal_parameters_at_the_stated_rate():
    """Two regression tasks with quadratic risks ||theta - theta_k||^2 (E[x x^T] = I): the Pareto-optimal
    parameter for preference w is sum_k w_k theta_k. Over 2,000 draws of the true parameters and the data,
    the 1 - alpha HDR of the preference's Gaussian holds it at least at rate 1 - alpha (up to 3 SE); the
    official code's box of mass alpha per coordinate almost never does."""
    rng = np.random.default_rng(3)
    draws, alpha = 2000, 0.1
    theta, means, sigmas, ids = _two_task_posteriors(rng, draws, n=4, p=3, prior_scales=(0.8, 1.0, 1.25), noise=1.0)
    se = np.sqrt(alpha * (1 - alpha) / draws)
    for w1 in (0.2, 0.5, 0.9):
        w = jnp.array([w1, 1 - w1])
        beta = preference_weights(w, jnp.asarray(ids), num_tasks=2)
        g = jax.vmap(combine_gaussians, in_axes=(0, 0, None))(jnp.asarray(means), jnp.asarray(sigmas), beta)
        target = jnp.asarray(w1 * theta[:, 0] + (1 - w1) * theta[:, 1])
        rate = float(jnp.mean(in_gaussian_hdr(target, g.mean, g.sigma, alpha=alpha)))
        box = gaussian_hdr_box(g.mean, g.sigma, alpha=alpha)
        box_rate = float(jnp.mean(jnp.all((target >= box.lower) & (target <= box.upper), -1)))
        code = gaussian_hdr_box(g.mean, g.sigma, alpha=alpha, mass="code")
        code_rate = float(jnp.mean(jnp.all((target >= code.lower) & (target <= code.upper), -1)))
        assert rate >= 1 - alpha - 3 * se, (w1, rate)
        assert box_rate >= 1 - alpha - 3 * se, (w1, box_rate)
        assert code_rate < 0.05, (w1, code_rate)
        # when theta* is drawn from the preference's Gaussian itself (the guarantee's premise), the rate is 1 - alpha
        sample = g.mean + g.sigma * jax.random.normal(jax.random.key(int(10 * w1)), g.mean.shape)
        exact = float(jnp.mean(in_gaussian_hdr(sample, g.mean, g.sigma, alpha=alpha)))
        assert abs(exact - (1 - alpha)) < 3 * se, (w1, exact)


def test_fgcs_match_matches_numpy_and_reuses_repeated_tasks():
    rng = np.random.default_rng(4)
    kb_m, kb_s = rng.normal(size=(5, 7)), rng.uniform(0.1, 1, size=(5, 7))
    new_m, new_s = kb_m[3] + 1e-3 * rng.normal(size=7), kb_s[3].copy()
    got = jax.jit(fgcs_match)(*(jnp.asarray(a, jnp.float32) for a in (new_m, new_s, kb_m, kb_s)), threshold=0.01)
    d = (np.linalg.norm(kb_m - new_m, axis=1) + np.linalg.norm(kb_s - new_s, axis=1)) / 7
    assert int(got.index) == int(np.argmin(d)) == 3 and bool(got.redundant)
    np.testing.assert_allclose(got.distance, d.min(), rtol=1e-4)
    far = fgcs_match(jnp.full(7, 5.0), jnp.ones(7), jnp.asarray(kb_m, jnp.float32), jnp.asarray(kb_s, jnp.float32))
    assert not bool(far.redundant)
    with pytest.raises(ValueError, match="means"):
        fgcs_match(jnp.zeros(7), jnp.ones(7), jnp.zeros((0, 7)), jnp.zeros((0, 7)))
