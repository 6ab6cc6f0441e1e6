"""Saito et al.'s pointwise losses vs float64 NumPy loops, IPS unbiasedness and clipping's trade-off."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.counterfactual import (
    ideal_pointwise_loss,
    ips_pointwise_loss,
    item_propensity,
    naive_pointwise_loss,
)
from bvjax.diagnostics import bias_variance

EPS = 1e-7


def local64(p, local):
    """(delta1, delta0) in float64, straight from the paper's definitions with the documented clamp:
    each probability the log is taken of is clamped at EPS (-log max(p, EPS), -log max(1 - p, EPS))."""
    if local == "log":
        return -math.log(max(p, EPS)), -math.log(max(1 - p, EPS))
    return (1 - p) ** 2, p**2


def ideal64(pred, gamma, local):
    out = np.zeros(pred.shape)
    for idx in np.ndindex(pred.shape):
        d1, d0 = local64(pred[idx], local)
        out[idx] = gamma[idx] * d1 + (1 - gamma[idx]) * d0
    return out


def ips64(pred, y, theta, clip, local):
    out = np.zeros(pred.shape)
    for idx in np.ndindex(pred.shape):
        d1, d0 = local64(pred[idx], local)
        t = max(theta[idx], clip)
        w = y[idx] / t if t > 0 else 0.0
        out[idx] = w * d1 + (1 - w) * d0
    return out


def _data(seed=0, shape=(5, 7)):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.02, 0.98, shape)
    gamma = rng.uniform(0, 0.5, shape)
    theta = rng.uniform(0.01, 1.0, shape)
    y = (rng.uniform(size=shape) < gamma * theta).astype(np.float64)
    return pred, gamma, theta, y


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("local", ["log", "squared"])
def test_losses_match_numpy(jit, local):
    pred, gamma, theta, y = _data()
    ideal, naive, ips = ideal_pointwise_loss, naive_pointwise_loss, ips_pointwise_loss
    if jit:
        ideal = jax.jit(ideal, static_argnames="local")
        naive = jax.jit(naive, static_argnames="local")
        ips = jax.jit(ips, static_argnames="local")
    f = lambda a: jnp.asarray(a, jnp.float32)
    np.testing.assert_allclose(ideal(f(pred), f(gamma), local=local), ideal64(pred, gamma, local), rtol=1e-5)
    np.testing.assert_allclose(naive(f(pred), f(y), local=local), ideal64(pred, y, local), rtol=1e-5)
    for clip in (0.0, 0.1, 0.5):
        np.testing.assert_allclose(ips(f(pred), f(y), f(theta), clip=clip, local=local),
                                   ips64(pred, y, theta, clip, local), rtol=1e-5, atol=1e-6)
    # clip = 1 is the naive loss; an [I] item propensity broadcasts over users.
    np.testing.assert_allclose(ips(f(pred), f(y), f(theta), clip=1.0, local=local),
                               naive(f(pred), f(y), local=local), rtol=1e-6)
    np.testing.assert_allclose(ips(f(pred), f(y), f(theta[0]), local=local),
                               ips64(pred, y, np.broadcast_to(theta[0], pred.shape), 0.0, local), rtol=1e-5)


def test_vmap_and_gradient():
    pred, _gamma, theta, y = (jnp.asarray(a, jnp.float32) for a in _data())
    batched = jax.vmap(lambda p, t, th: ips_pointwise_loss(p, t, th, clip=0.05))(pred, y, theta)
    np.testing.assert_allclose(batched, ips_pointwise_loss(pred, y, theta, clip=0.05), rtol=1e-6)
    # The gradient of the mean loss in pred, against float64 central differences.
    p64, _, th64, y64 = _data()
    g = jax.grad(lambda p: jnp.mean(ips_pointwise_loss(p, y, theta)))(pred)
    h = 1e-6
    for idx in [(0, 0), (2, 3), (4, 6)]:
        up, dn = p64.copy(), p64.copy()
        up[idx] += h
        dn[idx] -= h
        fd = (ips64(up, y64, th64, 0.0, "log").mean() - ips64(dn, y64, th64, 0.0, "log").mean()) / (2 * h)
        np.testing.assert_allclose(g[idx], fd, rtol=1e-3)


def test_zero_propensity_and_extreme_predictions_are_finite():
    pred = jnp.array([0.0, 1.0, 0.5, 0.5])
    y = jnp.array([1.0, 0.0, 1.0, 0.0])
    theta = jnp.array([0.5, 0.5, 0.0, 0.0])
    loss = ips_pointwise_loss(pred, y, theta)
    assert np.all(np.isfinite(loss))
    # theta = 0: weight defined as 0, so the pair is a negative.
    np.testing.assert_allclose(loss[2:], -np.log(0.5), rtol=1e-6)
    grad = jax.grad(lambda p, t: jnp.sum(ips_pointwise_loss(p, y, t)), argnums=(0, 1))(pred, theta)
    assert all(np.all(np.isfinite(g)) for g in grad)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, (6,), elements=st.floats(0, 1, width=32)),
       hnp.arrays(np.float32, (6,), elements=st.floats(0, 1, width=32)),
       hnp.arrays(np.bool_, (6,)), st.sampled_from([0.0, 0.01, 0.3]), st.sampled_from(["log", "squared"]))
def test_hypothesis_never_nan(pred, theta, y, clip, local):
    out = ips_pointwise_loss(jnp.asarray(pred), jnp.asarray(y), jnp.asarray(theta), clip=clip, local=local)
    np.testing.assert_allclose(out, ips64(pred.astype(np.float64), y.astype(np.float64),
                                          theta.astype(np.float64), clip, local), rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_clamp_edges(dtype):
    """The clamp sits at eps in every dtype: pred = 1 gives -log(1e-7) = 16.118 (a float32 clip of pred
    at 1 - 1e-7 would round to 1 - 2**-23 and give 15.942), values just inside the clamp are not clamped."""
    one_ulp = float(np.finfo(dtype).epsneg)  # the gap below 1 in this dtype
    edges = np.array([0.0, EPS / 2, EPS, 2 * EPS, 0.5, 1 - 4 * one_ulp, 1 - 2 * one_ulp, 1 - one_ulp, 1.0],
                     dtype)
    ctx = jax.enable_x64(True) if dtype == np.float64 else jax.enable_x64(False)
    with ctx:
        pred = jnp.asarray(edges)
        pos = ips_pointwise_loss(pred, jnp.ones(edges.shape, dtype), jnp.ones(edges.shape, dtype))
        neg = naive_pointwise_loss(pred, jnp.zeros(edges.shape, dtype))
        assert pos.dtype == dtype and neg.dtype == dtype
        want_pos = [local64(float(p), "log")[0] for p in edges]
        want_neg = [local64(float(p), "log")[1] for p in edges]
        np.testing.assert_allclose(pos, want_pos, rtol=1e-6)
        np.testing.assert_allclose(neg, want_neg, rtol=1e-6)
        np.testing.assert_allclose(neg[-1], -math.log(1e-7), rtol=1e-7)  # 16.118095650958320
        grad = jax.grad(lambda p: jnp.sum(naive_pointwise_loss(p, jnp.asarray(edges < 0.4, dtype))))(pred)
        assert np.all(np.isfinite(grad))
        assert grad[-1] == 0.0 and grad[0] == 0.0  # clamped sides are flat


def test_wrong_shapes_and_options_raise():
    pred = jnp.full((3, 4), 0.5)
    with pytest.raises(ValueError, match="clicks"):
        ips_pointwise_loss(pred, jnp.zeros((3, 5)), jnp.ones(4))
    with pytest.raises(ValueError, match="propensity"):
        ips_pointwise_loss(pred, jnp.zeros((3, 4)), jnp.ones(3))
    with pytest.raises(ValueError, match="local"):
        ips_pointwise_loss(pred, jnp.zeros((3, 4)), jnp.ones(4), local="hinge")
    with pytest.raises(ValueError, match="clip"):
        ips_pointwise_loss(pred, jnp.zeros((3, 4)), jnp.ones(4), clip=1.5)


def test_item_propensity():
    counts = np.array([9, 4, 1, 0, 16])
    expected = np.array([(c / 16) ** 0.5 for c in counts])
    np.testing.assert_allclose(item_propensity(jnp.asarray(counts)), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(item_propensity, static_argnames="power")(jnp.asarray(counts), power=1.0),
                               counts / 16, rtol=1e-6)
    np.testing.assert_array_equal(item_propensity(jnp.zeros(3, jnp.int32)), np.zeros(3))  # no positives at all
    with pytest.raises(ValueError, match="pos_counts"):
        item_propensity(jnp.ones((2, 3)))


def _setup():
    rng = np.random.default_rng(1)
    shape = (10, 20)
    pred = rng.uniform(0.05, 0.4, shape)  # low predictions: delta1 - delta0 > 0, clipping biases upwards
    gamma = rng.uniform(0.05, 0.5, shape)
    theta = rng.uniform(0.05, 0.8, shape) ** 2
    return pred, gamma, theta


def _meter(clip, num_draws=1024):
    """The meter on the mean IPS loss over 200 pairs, fresh exposure and relevance per draw."""
    pred, gamma, theta = (jnp.asarray(a, jnp.float32) for a in _setup())
    ideal = jnp.mean(ideal_pointwise_loss(pred, gamma))

    def estimator(key):
        ko, kr = jax.random.split(key)
        y = jax.random.bernoulli(ko, theta) & jax.random.bernoulli(kr, gamma)
        return jnp.mean(ips_pointwise_loss(pred, y, theta, clip=clip))

    return bias_variance(estimator, ideal, jax.random.key(7), num_draws=num_draws)


def test_ips_is_unbiased_and_clipping_trades_variance_for_bias():
    unclipped = _meter(0.0)
    assert abs(float(unclipped.bias_squared)) < 3 * float(unclipped.bias_squared_stderr)
    clipped = _meter(0.25)
    assert float(clipped.variance) < 0.5 * float(unclipped.variance)
    assert float(clipped.bias_squared) > 5 * float(clipped.bias_squared_stderr)
    # The clipped estimator's expectation in float64: E[Y / max(theta, M)] = gamma theta / max(theta, M).
    pred, gamma, theta = _setup()
    d1, d0 = -np.log(pred), -np.log1p(-pred)
    w = gamma * theta / np.maximum(theta, 0.25)
    expected = np.mean(w * d1 + (1 - w) * d0)
    assert abs(float(clipped.mean) - expected) < 4 * math.sqrt(float(clipped.variance) / 1024)
