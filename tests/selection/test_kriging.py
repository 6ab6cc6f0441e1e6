"""Kriging active learning vs scikit-learn's GP, scipy's normal law and NumPy references."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy import stats
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern

from bvjax.selection import (
    expected_improvement,
    forrester_curve,
    gp_kernel,
    gp_log_marginal_likelihood,
    gp_posterior,
    hartmann3,
    knowledge_gradient,
    kriging_active_learning,
    max_variance_utility,
    upper_confidence_bound,
)

NU = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _sk_kernel(kernel, ls, s2):
    base = RBF(length_scale=ls) if kernel == "rbf" else Matern(length_scale=ls, nu=NU[kernel])
    return ConstantKernel(s2, constant_value_bounds="fixed") * base


def _data(seed=0, n=12, m=9, d=2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, d))
    y = np.sin(4 * x[:, 0]) + x[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    xq = rng.uniform(size=(m, d))
    return x, y, xq


@pytest.mark.parametrize("kernel", ["rbf", "matern12", "matern32", "matern52"])
def test_kernel_matches_sklearn(x64, kernel):
    x, _, xq = _data()
    ls = np.array([0.3, 0.7])
    got = gp_kernel(jnp.asarray(x), jnp.asarray(xq), kernel=kernel, lengthscale=jnp.asarray(ls), signal_variance=2.5)
    want = _sk_kernel(kernel, ls, 2.5)(x, xq)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
@pytest.mark.parametrize("jit", [False, True])
def test_posterior_matches_sklearn(x64, kernel, jit):
    x, y, xq = _data()
    ls, s2, noise = np.array([0.4, 0.6]), 1.7, 0.05
    gpr = GaussianProcessRegressor(_sk_kernel(kernel, ls, s2), alpha=noise, optimizer=None).fit(x, y)
    mu, cov = gpr.predict(xq, return_cov=True)
    fn = lambda a, b, c: gp_posterior(a, b, c, kernel=kernel, lengthscale=jnp.asarray(ls), signal_variance=s2,
                                      noise=noise, full_cov=True)
    post = (jax.jit(fn) if jit else fn)(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq))
    np.testing.assert_allclose(post.mean, mu, atol=1e-6)
    np.testing.assert_allclose(post.covariance, cov, atol=1e-6)
    np.testing.assert_allclose(post.variance, np.diag(cov), atol=1e-6)
    lml = gp_log_marginal_likelihood(jnp.asarray(x), jnp.asarray(y), kernel=kernel, lengthscale=jnp.asarray(ls),
                                     signal_variance=s2, noise=noise)
    np.testing.assert_allclose(lml, gpr.log_marginal_likelihood(), rtol=1e-9)


def _ordinary64(x, y, xq, ls, s2, noise):
    """Ordinary kriging from the equations, float64."""
    def k(a, b):
        d = (a[:, None, :] - b[None, :, :]) / ls
        return s2 * np.exp(-0.5 * np.sum(d * d, -1))
    a = k(x, x) + noise * np.eye(len(x))
    ainv = np.linalg.inv(a)
    one = np.ones(len(x))
    m = one @ ainv @ y / (one @ ainv @ one)
    kq = k(x, xq)
    mu = m + kq.T @ ainv @ (y - m * one)
    u = 1 - one @ ainv @ kq
    cov = k(xq, xq) - kq.T @ ainv @ kq + np.outer(u, u) / (one @ ainv @ one)
    return mu, cov


def test_ordinary_kriging_matches_numpy(x64):
    x, y, xq = _data(1)
    y = y + 5.0
    post = gp_posterior(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq), lengthscale=0.5, signal_variance=2.0,
                        noise=0.01, mean="ordinary", full_cov=True)
    mu, cov = _ordinary64(x, y, xq, 0.5, 2.0, 0.01)
    np.testing.assert_allclose(post.mean, mu, atol=1e-8)
    np.testing.assert_allclose(post.covariance, cov, atol=1e-8)
    np.testing.assert_allclose(post.variance, np.diag(cov), atol=1e-8)


@pytest.mark.parametrize("mean", ["zero", "ordinary"])
def test_masked_buffer_equals_subset(x64, mean):
    x, y, xq = _data(2, n=10)
    mask = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0, 1], bool)
    y_junk = np.where(mask, y, 1e6)  # masked targets must not matter
    kw = {"lengthscale": 0.5, "signal_variance": 1.3, "noise": 0.02, "mean": mean, "full_cov": True}
    full = gp_posterior(jnp.asarray(x), jnp.asarray(y_junk), jnp.asarray(xq), train_mask=jnp.asarray(mask), **kw)
    sub = gp_posterior(jnp.asarray(x[mask]), jnp.asarray(y[mask]), jnp.asarray(xq), **kw)
    for a, b in zip(full[:3], sub[:3]):
        np.testing.assert_allclose(a, b, atol=1e-9)
    l_full = gp_log_marginal_likelihood(jnp.asarray(x), jnp.asarray(y_junk), lengthscale=0.5, signal_variance=1.3,
                                        noise=0.02, train_mask=jnp.asarray(mask))
    l_sub = gp_log_marginal_likelihood(jnp.asarray(x[mask]), jnp.asarray(y[mask]), lengthscale=0.5,
                                       signal_variance=1.3, noise=0.02)
    np.testing.assert_allclose(l_full, l_sub, rtol=1e-10)


@pytest.mark.parametrize("mean", ["zero", "ordinary"])
def test_no_observation_gives_the_prior(mean):
    x, y, xq = _data(3)
    post = gp_posterior(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.asarray(xq, jnp.float32),
                        signal_variance=2.0, mean=mean, train_mask=jnp.zeros(len(x), bool))
    np.testing.assert_allclose(post.mean, 0.0)
    np.testing.assert_allclose(post.variance, 2.0, rtol=1e-6)
    lml = gp_log_marginal_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                                     train_mask=jnp.zeros(len(x), bool))
    assert float(lml) == 0.0


def test_lml_gradient(x64):
    x, y, _ = _data(4, n=8)
    f = jax.jit(lambda ls, s2: gp_log_marginal_likelihood(jnp.asarray(x), jnp.asarray(y), kernel="matern52",
                                                  lengthscale=ls, signal_variance=s2, noise=0.05))
    check_grads(f, (jnp.array([0.4, 0.8]), jnp.array(1.5)), order=1, modes=("rev",))


def test_shape_errors():
    x, y, xq = (jnp.asarray(a, jnp.float32) for a in _data())
    with pytest.raises(ValueError, match="y_train"):
        gp_posterior(x, y[:-1], xq)
    with pytest.raises(ValueError, match="x_query"):
        gp_posterior(x, y, xq[:, :1])
    with pytest.raises(ValueError, match="lengthscale"):
        gp_posterior(x, y, xq, lengthscale=jnp.ones(3))
    with pytest.raises(ValueError, match="kernel"):
        gp_kernel(x, xq, kernel="cubic")
    with pytest.raises(ValueError, match="covariance"):
        knowledge_gradient(jnp.zeros(3), jnp.eye(4), noise=0.1)
    with pytest.raises(ValueError, match="x"):
        hartmann3(jnp.zeros((2, 4)))


def _ei64(mu, sd, best, xi):
    z = (mu - best - xi) / sd
    return (mu - best - xi) * stats.norm.cdf(z) + sd * stats.norm.pdf(z)


@pytest.mark.parametrize("jit", [False, True])
def test_expected_improvement_closed_form(x64, jit):
    # A check value of the closed form (scipy.stats.norm): mu = 1, sigma = 0.5, f* = 1.2, xi = 0.
    fn = jax.jit(expected_improvement) if jit else expected_improvement
    np.testing.assert_allclose(fn(jnp.array([1.0]), jnp.array([0.5]), 1.2), [0.11521941847372653], rtol=1e-12)
    rng = np.random.default_rng(5)
    mu, sd = rng.normal(size=20), rng.uniform(0.01, 2, 20)
    got = expected_improvement(jnp.asarray(mu), jnp.asarray(sd), 0.3, xi=0.05)
    np.testing.assert_allclose(got, _ei64(mu, sd, 0.3, 0.05), rtol=1e-10, atol=1e-14)
    # Zero std: the limit max(mu - f* - xi, 0), no NaN.
    np.testing.assert_allclose(expected_improvement(jnp.array([2.0, 0.0]), jnp.zeros(2), 1.0), [1.0, 0.0])
    check_grads(jax.jit(lambda m, s: expected_improvement(m, s, 0.3)), (jnp.asarray(mu), jnp.asarray(sd)), order=1)


@settings(max_examples=25, deadline=None)
@given(mu=hnp.arrays(np.float32, 5, elements=st.floats(-1e4, 1e4, width=32)),
       sd=hnp.arrays(np.float32, 5, elements=st.floats(0, 1e4, width=32)),
       best=st.floats(-1e4, 1e4, width=32))
def test_expected_improvement_finite_nonnegative(mu, sd, best):
    ei = np.asarray(expected_improvement(jnp.asarray(mu), jnp.asarray(sd), best))
    assert np.all(np.isfinite(ei)) and np.all(ei >= 0)


def test_ucb_and_mv():
    mu, sd = jnp.array([1.0, 0.0, -1.0]), jnp.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(upper_confidence_bound(mu, sd, kappa=0.5), [1.0, 0.5, 0.5])
    u = upper_confidence_bound(mu, sd, kappa=0.5, available=jnp.array([True, False, True]))
    assert np.isneginf(u[1])
    np.testing.assert_allclose(max_variance_utility(sd**2), sd**2)


def _kg_numpy(mu, cov, noise):
    """KG by integrating max_i(a_i + b_i z) on a dense z grid (trapezoid), float64."""
    z = np.linspace(-12, 12, 48001)
    phi = stats.norm.pdf(z)
    out = np.zeros(len(mu))
    for j in range(len(mu)):
        b = cov[:, j] / np.sqrt(cov[j, j] + noise)
        m = np.max(mu[:, None] + b[:, None] * z[None, :], axis=0)
        out[j] = np.trapezoid(m * phi, z) - mu.max()
    return out


@pytest.mark.parametrize("jit", [False, True])
def test_knowledge_gradient_vs_numpy(x64, jit):
    x, y, _ = _data(6)
    xq = np.linspace(0, 1, 15)[:, None] * np.ones((1, 2))
    post = gp_posterior(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq), lengthscale=0.3, signal_variance=1.0,
                        noise=0.05, full_cov=True)
    fn = jax.jit(knowledge_gradient, static_argnames=("method", "num_nodes")) if jit else knowledge_gradient
    exact = fn(post.mean, post.covariance, noise=0.05)
    want = _kg_numpy(np.asarray(post.mean), np.asarray(post.covariance), 0.05)
    np.testing.assert_allclose(exact, want, atol=1e-6)
    gh = fn(post.mean, post.covariance, noise=0.05, method="gauss_hermite", num_nodes=128)
    np.testing.assert_allclose(gh, want, atol=2e-3)


def test_knowledge_gradient_ties_and_zero_variance(x64):
    # Two identical lines, one flat, one independent: the classic 2-arm value sd/sqrt(2pi)... per arm.
    mu = jnp.array([0.0, 0.0, 0.0])
    cov = jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    kg = knowledge_gradient(mu, cov, noise=0.0)
    want = _kg_numpy(np.asarray(mu), np.asarray(cov) + 0.0, 1e-300)
    np.testing.assert_allclose(kg, want, atol=1e-6)
    assert float(kg[2]) == 0.0 and np.all(np.isfinite(kg))


def test_test_functions(x64):
    # Check values: Hartmann-3's known global minimum (-3.86278) and its value at the centre.
    np.testing.assert_allclose(hartmann3(jnp.array([0.114614, 0.555649, 0.852547])), -3.8627797869493365, rtol=1e-12)
    np.testing.assert_allclose(hartmann3(jnp.array([0.5, 0.5, 0.5])), -0.6280220150705937, rtol=1e-12)
    x = np.linspace(0, 1, 7)
    np.testing.assert_allclose(forrester_curve(jnp.asarray(x)[:, None]), (6 * x - 2) ** 2 * np.sin(12 * x - 4), rtol=1e-12)
    assert hartmann3(jnp.zeros((4, 5, 3))).shape == (4, 5)


def _pool(m=41):
    x = jnp.linspace(0, 1, m)[:, None]
    return x, forrester_curve(x), jnp.array([0, m // 2, m - 1])


def test_max_variance_loop_follows_the_variance():
    x, y, init = _pool()
    kw = {"lengthscale": 0.15, "signal_variance": 40.0, "noise": 1e-4, "mean": "zero"}
    tr = kriging_active_learning(jax.random.key(0), x, y, init, num_steps=4, utility="max_variance", **kw)
    observed = jnp.zeros(41, bool).at[init].set(True)
    for t in range(4):
        post = gp_posterior(x, y, x, train_mask=observed, **kw)
        np.testing.assert_allclose(tr.means[t], post.mean, atol=1e-4)
        v = np.where(np.asarray(observed), -np.inf, np.asarray(post.variance))
        assert v[int(tr.chosen[t])] >= v.max() - 1e-5
        observed = observed.at[tr.chosen[t]].set(True)
    assert int(tr.train_mask.sum()) == 7 and len(set(np.asarray(tr.chosen).tolist())) == 4


@pytest.mark.parametrize("utility", ["expected_improvement", "knowledge_gradient", "ucb", "random"])
def test_every_utility_runs_jitted(utility):
    x, y, init = _pool(25)
    fn = jax.jit(kriging_active_learning, static_argnames=("num_steps", "utility", "kernel", "mean", "kg_method"))
    tr = fn(jax.random.key(1), x, y, init, num_steps=5, utility=utility, lengthscale=0.15, signal_variance=40.0,
            noise=1e-3, lengthscale_grid=jnp.array([0.05, 0.1, 0.2, 0.4]))
    chosen = np.asarray(tr.chosen)
    assert len(set(chosen.tolist())) == 5 and not set(chosen.tolist()) & set(np.asarray(init).tolist())
    assert np.all(np.isfinite(tr.means)) and tr.means.shape == (6, 25)


def test_max_variance_error_falls():
    x, y, init = _pool(61)
    fn = jax.jit(kriging_active_learning, static_argnames=("num_steps",))
    tr = fn(jax.random.key(2), x, y, init, num_steps=8, lengthscale=0.1, signal_variance=40.0, noise=1e-4)
    rmse = np.sqrt(np.mean((np.asarray(tr.means) - np.asarray(y)[None]) ** 2, axis=1))
    assert rmse[-1] < 0.1 * rmse[0]


def test_posterior_vmaps_over_targets(x64):
    x, y, xq = _data(7)
    ys = np.stack([y, 2 * y - 1, np.cos(y)])
    kw = {"lengthscale": 0.4, "signal_variance": 1.5, "noise": 0.05, "mean": "ordinary"}
    batched = jax.vmap(lambda t: gp_posterior(jnp.asarray(x), t, jnp.asarray(xq), **kw))(jnp.asarray(ys))
    for i, t in enumerate(ys):
        mu, cov = _ordinary64(x, t, xq, 0.4, 1.5, 0.05)
        np.testing.assert_allclose(batched.mean[i], mu, atol=1e-8)
        np.testing.assert_allclose(batched.variance[i], np.diag(cov), atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), scale=st.floats(1e-3, 1e3), noise=st.floats(0.0, 1.0))
def test_knowledge_gradient_nonnegative_and_finite(seed, scale, noise):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(6, 3))
    cov = scale * (a @ a.T)  # rank 3: degenerate directions and equal slopes are common
    mu = scale * rng.normal(size=6)
    kg = np.asarray(jax.jit(knowledge_gradient)(jnp.asarray(mu, jnp.float32), jnp.asarray(cov, jnp.float32),
                                                noise=noise))
    assert np.all(np.isfinite(kg)) and np.all(kg >= 0)
