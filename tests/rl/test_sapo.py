"""sapo_loss and token_entropy against float64 NumPy (value and gradient from the definitions),
with verl's and TRL's SAPO gate (``compute_policy_loss_sapo``; ``loss_type="sapo"``) transcribed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.rl import aggregate_loss, sapo_loss, token_entropy

B, T = 4, 5
TOL = {"rtol": 2e-5, "atol": 2e-6}


def np_sapo(lp, old, adv, tau_pos, tau_neg, clamp):
    """Value and d value / d lp, one token at a time."""
    val, grad = np.zeros_like(lp), np.zeros_like(lp)
    for i in range(lp.shape[0]):
        for t in range(lp.shape[1]):
            a = adv[i] if adv.ndim == 1 else adv[i, t]
            tau = tau_pos if a > 0 else tau_neg
            x = lp[i, t] - old[i, t]
            inside = clamp is None or -clamp < x < clamp
            if clamp is not None:
                x = min(max(x, -clamp), clamp)
            r = np.exp(x)
            s = 1.0 / (1.0 + np.exp(-tau * (r - 1.0)))
            val[i, t] = -4.0 / tau * s * a
            grad[i, t] = -a * 4.0 * s * (1.0 - s) * r if inside else 0.0
    return val, grad


def verl_trl_sapo(lp, old, adv, tau_pos, tau_neg, clamp):
    """The peers' per-token loss: verl clamps the log-ratio at +-20, TRL does not."""
    x = lp - old if clamp is None else np.clip(lp - old, -clamp, clamp)
    ratio = np.exp(x)
    a = adv[:, None] if adv.ndim == 1 else adv
    taus = np.where(a > 0, tau_pos, tau_neg)
    return -(1.0 / (1.0 + np.exp(-taus * (ratio - 1.0)))) * (4.0 / taus) * a


def _data(seed, spread=0.5):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.uniform(0.05, 0.95, (B, T)))
    old = lp + rng.normal(0.0, spread, (B, T))
    adv = rng.normal(size=B)
    adv[0] = 0.0  # A = 0 takes tau_neg
    return lp, old, adv


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), taus=st.sampled_from([(1.0, 1.05), (0.5, 3.0), (2.0, 2.0)]),
       clamp=st.sampled_from([20.0, None, 0.3]), token_adv=st.booleans(), jit=st.booleans())
def test_sapo_value_and_gradient(seed, taus, clamp, token_adv, jit):
    lp, old, adv = _data(seed)
    if token_adv:
        adv = np.random.default_rng(seed + 1).normal(size=(B, T))
    kw = {"tau_pos": taus[0], "tau_neg": taus[1], "log_ratio_clip": clamp}
    fn = jax.jit(sapo_loss, static_argnames=tuple(kw)) if jit else sapo_loss
    o, a = jnp.asarray(old, jnp.float32), jnp.asarray(adv, jnp.float32)
    val = fn(jnp.asarray(lp, jnp.float32), o, a, **kw)
    grad = jax.grad(lambda x: fn(x, o, a, **kw).sum())(jnp.asarray(lp, jnp.float32))
    ref_val, ref_grad = np_sapo(lp, old, adv, *taus, clamp)
    np.testing.assert_allclose(val, ref_val, **TOL)
    np.testing.assert_allclose(grad, ref_grad, **TOL)
    np.testing.assert_allclose(val, verl_trl_sapo(lp, old, adv, *taus, clamp), **TOL)


def test_sapo_on_policy_gradient_is_the_policy_gradient():
    # At r = 1 the gate's slope is 1, for any tau: grad = -A grad log pi (REINFORCE).
    lp = jnp.log(jnp.array([[0.3, 0.6]]))
    for tau_pos, tau_neg in ((1.0, 1.05), (5.0, 0.2)):
        for a in (0.7, -0.7):
            def total(x, a=a, tau_pos=tau_pos, tau_neg=tau_neg):
                return sapo_loss(x, lp, jnp.array([a]), tau_pos=tau_pos, tau_neg=tau_neg).sum()
            np.testing.assert_allclose(jax.grad(total)(lp), [[-a, -a]], rtol=1e-6)


def test_sapo_extremes_gradients_and_contract():
    lp = jnp.array([[1e4, -1e4, 0.0]])
    out = sapo_loss(lp, jnp.zeros((1, 3)), jnp.array([1.0]))
    assert np.all(np.isfinite(out))
    g = jax.grad(lambda x: sapo_loss(x, jnp.zeros((1, 3)), jnp.array([1.0])).sum())(lp)
    assert np.all(np.isfinite(g)) and g[0, 0] == 0 and g[0, 1] == 0
    lp, old, adv = (jnp.asarray(a) for a in _data(3, spread=0.2))
    check_grads(lambda x: sapo_loss(x, old, adv), (lp,), order=2, modes=["rev"], atol=1e-2, rtol=1e-2)
    # The reduction SAPO uses, and TRL's over all rows.
    mask = jnp.ones((B, T), bool).at[1].set(False)
    loss = sapo_loss(lp, old, adv)
    trl = jnp.mean(jnp.sum(jnp.where(mask, loss, 0.0), -1) / jnp.maximum(jnp.sum(mask, -1), 1))
    np.testing.assert_allclose(aggregate_loss(loss, mask, mode="seq-mean-token-mean", num_sequences=B), trl,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="tau_neg"):
        sapo_loss(lp, old, adv, tau_neg=0.0)
    with pytest.raises(ValueError, match="advantages"):
        sapo_loss(lp, old, jnp.ones(3))


# ---------------------------------------------------------------- token_entropy
@pytest.mark.parametrize("jit", [False, True])
def test_token_entropy_matches_scipy(jit):
    rng = np.random.default_rng(4)
    logits = rng.normal(0.0, 3.0, (3, 4, 7))
    fn = jax.jit(token_entropy) if jit else token_entropy
    out = fn(jnp.asarray(logits, jnp.float32))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(out, scipy.stats.entropy(p, axis=-1), rtol=1e-5, atol=1e-6)
    mask = rng.random((3, 4)) < 0.5
    bad = logits.copy()
    bad[~mask] = np.nan
    out = fn(jnp.asarray(bad, jnp.float32), jnp.asarray(mask))
    np.testing.assert_allclose(out, np.where(mask, scipy.stats.entropy(p, axis=-1), 0.0), rtol=1e-5, atol=1e-6)


def test_token_entropy_edges_and_gradients():
    logits = jnp.array([[0.0, -jnp.inf, 1.0], [50.0, -50.0, -50.0], [3.0, 3.0, 3.0]])
    out = token_entropy(logits)
    p0 = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(out, [scipy.stats.entropy(p0), 0.0, np.log(3.0)], atol=1e-6)
    g = jax.grad(lambda z: token_entropy(z).sum())(logits)
    assert np.all(np.isfinite(g)) and g[0, 1] == 0
    z = jnp.asarray(np.random.default_rng(5).normal(size=(2, 3, 4)))
    check_grads(token_entropy, (z,), order=2, modes=["rev"], atol=1e-2, rtol=1e-2)
    with jax.enable_x64(True):
        assert token_entropy(jnp.zeros((2, 3), jnp.float64)).dtype == jnp.float64
    with pytest.raises(ValueError, match="mask"):
        token_entropy(jnp.zeros((2, 3, 4)), jnp.ones((2, 4), bool))


def test_sapo_vmap_over_rows():
    lp, old, adv = (jnp.asarray(a, jnp.float32) for a in _data(7))
    per_row = jax.vmap(lambda x, o, a: sapo_loss(x[None], o[None], a[None])[0])(lp, old, adv)
    np.testing.assert_allclose(per_row, sapo_loss(lp, old, adv), rtol=1e-6)
