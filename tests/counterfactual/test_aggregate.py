"""Aggregate-response losses, the interpolating closed form and the Laplace mechanism vs float64 NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.counterfactual import (
    aggregate_interpolated_loss,
    aggregate_linear_regression,
    bag_level_loss,
    bag_means,
    instance_level_loss,
    laplace_bag_means,
)


def _data(n=60, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ np.arange(1.0, d + 1) + rng.normal(size=n)
    ids = rng.permutation(np.repeat(np.arange(n // k), k))
    ybar = np.array([y[ids == a].mean() for a in range(n // k)])
    return x, y, ids, ybar


def losses64(pred, ybar, ids, rho):
    m = len(ybar)
    bag, inst, interp = np.zeros(m), np.zeros(len(pred)), np.zeros(m)
    for a in range(m):
        members = np.flatnonzero(ids == a)
        if members.size == 0:
            continue
        fbar = pred[members].mean()
        bag[a] = (ybar[a] - fbar) ** 2
        interp[a] = bag[a] + rho * np.mean((pred[members] - fbar) ** 2)
    for i in range(len(pred)):
        inst[i] = (ybar[ids[i]] - pred[i]) ** 2
    return bag, inst, interp


@pytest.mark.parametrize("jit", [False, True])
def test_losses_match_numpy_and_instance_is_regularised_bag(jit):
    x, _, ids, ybar = _data()
    pred = x @ np.array([0.5, -1.0, 2.0, 0.0])
    fns = [bag_level_loss, instance_level_loss, aggregate_interpolated_loss]
    if jit:
        fns = [jax.jit(f) for f in fns]
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    args = (f32(pred), f32(ybar), jnp.asarray(ids, jnp.int32))
    bag, inst, interp = losses64(pred, ybar, ids, 0.3)
    np.testing.assert_allclose(fns[0](*args), bag, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fns[1](*args), inst, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fns[2](*args, rho=0.3), interp, rtol=1e-4, atol=1e-5)
    # Equal bag sizes: mean instance loss = mean of the rho = 1 interpolated loss; rho = 0 is the bag loss.
    np.testing.assert_allclose(np.mean(fns[1](*args)), np.mean(fns[2](*args, rho=1.0)), rtol=1e-5)
    np.testing.assert_allclose(fns[2](*args, rho=0.0), fns[0](*args), rtol=1e-6)


def test_bag_means_and_empty_bags():
    x, y, ids, ybar = _data()
    np.testing.assert_allclose(bag_means(jnp.asarray(y, jnp.float32), jnp.asarray(ids), num_bags=20), ybar,
                               rtol=1e-5, atol=1e-5)
    xbar = bag_means(jnp.asarray(x, jnp.float32), jnp.asarray(ids), num_bags=22)  # two empty bags
    np.testing.assert_allclose(xbar[:20], [x[ids == a].mean(0) for a in range(20)], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(xbar[20:], 0.0)
    ybar_empty = jnp.concatenate([jnp.asarray(ybar, jnp.float32), jnp.ones(2)])
    pred = jnp.asarray(x[:, 0], jnp.float32)
    out = aggregate_interpolated_loss(pred, ybar_empty, jnp.asarray(ids), rho=0.5)
    assert np.all(np.isfinite(out)) and np.all(np.asarray(out[20:]) == 0.0)


def closed_form64(x, ybar, ids, rho, ridge):
    n, d = x.shape
    m = len(ybar)
    p = np.zeros((n, n))
    for a in range(m):
        members = np.flatnonzero(ids == a)
        p[np.ix_(members, members)] = 1.0 / members.size
    s = np.zeros((m, n))
    s[ids, np.arange(n)] = 1.0
    s /= s.sum(1, keepdims=True)
    xbar = s @ x
    a = xbar.T @ xbar / m + rho * x.T @ (np.eye(n) - p) @ x / n + ridge * np.eye(d)
    return np.linalg.solve(a, xbar.T @ ybar / m)


@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0, 2.0])
def test_closed_form_matches_numpy_and_minimises_the_loss(rho):
    x, _y, ids, ybar = _data()
    fn = jax.jit(aggregate_linear_regression)
    got = fn(jnp.asarray(x, jnp.float32), jnp.asarray(ybar, jnp.float32), jnp.asarray(ids), rho=rho)
    np.testing.assert_allclose(got, closed_form64(x, ybar, ids, rho, 0.0), rtol=1e-4, atol=1e-4)
    # The gradient of the mean interpolated loss vanishes at the closed form (float64 check).
    with jax.enable_x64():
        theta = aggregate_linear_regression(jnp.asarray(x), jnp.asarray(ybar), jnp.asarray(ids), rho=rho)
        g = jax.grad(lambda t: jnp.mean(aggregate_interpolated_loss(jnp.asarray(x) @ t, jnp.asarray(ybar),
                                                                    jnp.asarray(ids), rho=rho)))(theta)
        np.testing.assert_allclose(g, 0.0, atol=1e-10)
    if rho == 1.0:  # OLS of each instance on its bag's mean label
        ols = np.linalg.lstsq(x, ybar[ids], rcond=None)[0]
        np.testing.assert_allclose(got, ols, rtol=1e-4, atol=1e-4)


def test_bag_level_with_more_features_than_bags_needs_ridge():
    x, _, ids, ybar = _data(n=30, d=12, k=3)  # m = 10 bags < d = 12
    got = aggregate_linear_regression(jnp.asarray(x, jnp.float32), jnp.asarray(ybar, jnp.float32),
                                      jnp.asarray(ids), rho=0.0, ridge=1e-2)
    np.testing.assert_allclose(got, closed_form64(x, ybar, ids, 0.0, 1e-2), rtol=1e-3, atol=1e-3)


def test_laplace_mechanism_scale_and_clipping():
    n, k = 4000, 4
    ids = jnp.repeat(jnp.arange(n // k), k)
    y = jnp.where(jnp.arange(n) % 2 == 0, 5.0, -0.5)  # clipped to 1 and -0.5
    keys = jax.random.split(jax.random.key(0), 4)
    draws = jax.vmap(lambda kk: laplace_bag_means(kk, y, ids, num_bags=n // k, clip=1.0, epsilon=0.5))(keys)
    noise = np.asarray(draws - 0.25).ravel()  # each bag's clipped mean is (1 - 0.5 + 1 - 0.5) / 4 = 0.25
    b = 2 * 1.0 / (k * 0.5)
    # Laplace(b): mean 0, variance 2 b^2; within 4 standard errors.
    assert abs(noise.mean()) < 4 * np.sqrt(2) * b / np.sqrt(noise.size)
    assert abs(noise.var() / (2 * b**2) - 1) < 0.1
    empty = laplace_bag_means(keys[0], y[:8], ids[:8], num_bags=3)
    np.testing.assert_array_equal(empty[2], 0.0)


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match="bag_ids"):
        bag_level_loss(jnp.ones(4), jnp.ones(2), jnp.zeros(5, jnp.int32))
    with pytest.raises(ValueError, match="x"):
        aggregate_linear_regression(jnp.ones(4), jnp.ones(2), jnp.zeros(4, jnp.int32))
    with pytest.raises(ValueError, match="rho"):
        aggregate_interpolated_loss(jnp.ones(4), jnp.ones(2), jnp.zeros(4, jnp.int32), rho=-1.0)
