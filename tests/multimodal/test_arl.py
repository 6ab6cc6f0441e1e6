"""ARL's shared-head logits, entropy, coefficients, gradient scaling and loss against float64 NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.multimodal import (
    arl_coefficients,
    arl_gradient_scale,
    arl_loss,
    prediction_entropy,
    shared_head_logits,
)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _entropy_np(z):
    p = _softmax(z)
    return -np.sum(p * np.log(np.maximum(p, 1e-300)), -1)


def _coeff_np(za, zv, t, c):
    h = np.array([_entropy_np(za).mean(), _entropy_np(zv).mean()])
    h = np.maximum(h / h.sum(), c)
    w = (1 / h) / np.sum(1 / h)
    d = np.array([np.abs(za).mean(0).sum(), np.abs(zv).mean(0).sum()])
    d = d / d.sum()
    s = t * np.array([d[1] * w[0], d[0] * w[1]])
    return np.exp(s) / np.exp(s).sum()


def _ce_np(z, y):
    return -np.log(_softmax(z)[np.arange(len(y)), y])


@pytest.mark.parametrize("jit", [False, True])
def test_shared_head_and_loss_match_numpy(jit):
    rng = np.random.default_rng(0)
    ha, hv, w, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=(5, 4)), rng.normal(size=4)
    y = rng.integers(0, 4, 6)
    head = jax.jit(shared_head_logits) if jit else shared_head_logits
    out = head(*(jnp.asarray(a, jnp.float32) for a in (ha, hv, w, b)))
    za, zv = ha @ w[:3] + b, hv @ w[3:] + b
    z = np.concatenate([ha, hv], 1) @ w + b
    for got, ref in zip(out, (z, za, zv)):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    loss = (jax.jit(arl_loss) if jit else arl_loss)(*out, jnp.asarray(y), gamma=3.0)
    np.testing.assert_allclose(loss, _ce_np(z, y) + 3.0 * (_ce_np(za, y) + _ce_np(zv, y)), rtol=1e-5)
    with jax.enable_x64(True):
        f = lambda a, b, c: jnp.sum(arl_loss(a, b, c, jnp.asarray(y), gamma=4.0))
        check_grads(f, tuple(jnp.asarray(t) for t in (z, za, zv)), order=1, modes=["rev"])


@pytest.mark.parametrize("jit", [False, True])
def test_entropy_and_coefficients_match_numpy(jit):
    rng = np.random.default_rng(1)
    za, zv = rng.normal(size=(16, 5)) * 3, rng.normal(size=(16, 5)) * 0.7
    np.testing.assert_allclose(prediction_entropy(jnp.asarray(za, jnp.float32)), _entropy_np(za), rtol=1e-5)
    fn = jax.jit(arl_coefficients, static_argnames="mode") if jit else arl_coefficients
    for t, c in ((4.0, 0.3), (8.0, 0.0), (1.0, 0.5)):
        k = fn(jnp.asarray(za, jnp.float32), jnp.asarray(zv, jnp.float32), temperature=t, clamp_min=c)
        np.testing.assert_allclose(k, _coeff_np(za, zv, t, c), rtol=1e-5)
        # swapping the modalities swaps the coefficients
        k2 = fn(jnp.asarray(zv, jnp.float32), jnp.asarray(za, jnp.float32), temperature=t, clamp_min=c)
        np.testing.assert_allclose(k2, k[::-1], rtol=1e-5)
    np.testing.assert_allclose(fn(jnp.asarray(za, jnp.float32), jnp.asarray(zv, jnp.float32),
                                  mode="released_code"), [0.5, 0.5])


def test_coefficients_push_dependence_towards_the_inverse_variance_ratio():
    # Equal dependence (equal mean |logit|), audio certain and visual uncertain: the
    # inverse-variance target favours audio more than the current (equal) dependence does.
    za = jnp.array([[3.0, -3.0], [-3.0, 3.0]])
    zv = jnp.array([[3.0, 3.0], [-3.0, -3.0]])
    k = arl_coefficients(za, zv, temperature=4.0)
    assert float(k[0]) > float(k[1])
    # ... and once audio already dominates the logits more than the target ratio, the boost flips
    k = arl_coefficients(za * 10, zv * 0.1, temperature=4.0)
    assert float(k[0]) < float(k[1])


def test_coefficients_edge_cases_are_finite():
    certain = jnp.array([[100.0, 0.0], [0.0, 100.0]])
    k = arl_coefficients(certain, certain, clamp_min=0.0)
    np.testing.assert_allclose(k, [0.5, 0.5], atol=1e-6)
    k = arl_coefficients(jnp.zeros((3, 4)), jnp.zeros((3, 4)))
    np.testing.assert_allclose(k, [0.5, 0.5], atol=1e-6)
    assert not bool(jnp.any(jnp.isnan(jax.grad(lambda z: arl_coefficients(z, z)[0])(certain))))


def test_gradient_scale_multiplies_only_the_backward_pass():
    x = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_array_equal(arl_gradient_scale(x, jnp.array(0.7)), x)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(arl_gradient_scale(x, jnp.array(0.7)))))(x)
    np.testing.assert_allclose(g, 1.7 * np.cos(np.asarray(x)), rtol=1e-6)
    gk = jax.grad(lambda k: jnp.sum(arl_gradient_scale(x, k) ** 2))(jnp.array(0.7))
    assert float(gk) == 0.0
    g = jax.jit(jax.grad(lambda x, k: jnp.sum(arl_gradient_scale(x, k) ** 2)))(x, jnp.array(0.25))
    np.testing.assert_allclose(g, 2.5 * np.asarray(x), rtol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.floats(-50, 50), st.floats(-50, 50), st.floats(0.0, 0.5), st.floats(0.1, 10))
def test_coefficients_property_sum_to_one(a, b, c, t):
    za = jnp.array([[a, 0.0], [0.0, b]])
    zv = jnp.array([[b, a], [0.0, 0.0]])
    k = arl_coefficients(za, zv, temperature=t, clamp_min=c)
    assert bool(jnp.all(jnp.isfinite(k))) and abs(float(jnp.sum(k)) - 1) < 1e-5


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="kernel"):
        shared_head_logits(jnp.ones((2, 3)), jnp.ones((2, 2)), jnp.ones((4, 3)), jnp.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        arl_loss(jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="mode"):
        arl_coefficients(jnp.ones((2, 3)), jnp.ones((2, 3)), mode="code")
