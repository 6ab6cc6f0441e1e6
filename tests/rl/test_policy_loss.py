"""bvjax.rl per-token policy losses and UPGE against float64 NumPy references from the equations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.preference import sft_loss, token_logps
from bvjax.rl import (
    aggregate_loss,
    cispo_loss,
    group_advantages,
    grpo_loss,
    gspo_loss,
    kl_penalty,
    off_policy_loss,
    ppo_clip_loss,
    reinforce_loss,
    upge_loss,
    upge_stable_mask,
)

B, T = 4, 5
SG = jax.lax.stop_gradient


def _data(seed, spread=0.5):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.uniform(0.05, 0.95, (B, T)))
    old = lp + rng.normal(0.0, spread, (B, T))
    adv = rng.normal(size=B)
    mask = rng.random((B, T)) < 0.8
    mask[:, 0] = True
    return lp, old, adv, mask


# ---------------------------------------------------------------- NumPy references
def np_ppo(lp, old, adv, lo, hi, dual):
    """Value and d value / d lp of max(-A w, -A clip(w)) (min with -c A for A < 0)."""
    val, grad = np.zeros_like(lp), np.zeros_like(lp)
    for i in range(lp.shape[0]):
        a = adv[i]
        for t in range(lp.shape[1]):
            w = np.exp(lp[i, t] - old[i, t])
            un, cl = -a * w, -a * min(max(w, 1 - lo), 1 + hi)
            v, g = (un, -a * w) if un >= cl else (cl, 0.0)
            if dual is not None and a < 0 and -a * dual < v:
                v, g = -a * dual, 0.0
            val[i, t], grad[i, t] = v, g
    return val, grad


def np_cispo(lp, old, adv, lo, hi):
    w = np.exp(lp - old)
    w = np.minimum(w, 1 + hi) if lo is None else np.clip(w, 1 - lo, 1 + hi)
    return -w * adv[:, None] * lp, -w * adv[:, None]


def np_gspo(lp, old, adv, mask, lo, hi):
    val, grad = np.zeros_like(lp), np.zeros_like(lp)
    for i in range(lp.shape[0]):
        n = max(mask[i].sum(), 1)
        s = np.exp(sum((lp[i, t] - old[i, t]) for t in range(lp.shape[1]) if mask[i, t]) / n)
        un, cl = -adv[i] * s, -adv[i] * min(max(s, 1 - lo), 1 + hi)
        val[i] = max(un, cl)
        grad[i] = -adv[i] * s if un >= cl else 0.0
    return val, grad


def np_off_policy(lp, adv, gamma):
    p = np.exp(lp)
    if gamma is None:
        return -adv[:, None] * p, -adv[:, None] * p
    return -adv[:, None] * p / (p + gamma), -adv[:, None] * gamma * p / (p + gamma) ** 2


def _val_grad(fn, lp, *rest, jit=False):
    f = jax.jit(fn) if jit else fn
    val = f(jnp.asarray(lp, jnp.float32), *rest)
    grad = jax.grad(lambda x: jnp.sum(f(x, *rest)))(jnp.asarray(lp, jnp.float32))
    return np.asarray(val, np.float64), np.asarray(grad, np.float64)


TOL = {"rtol": 2e-5, "atol": 2e-6}


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16), jit=st.booleans(), dual=st.sampled_from([None, 3.0]))
def test_ppo_clip_matches_numpy(seed, jit, dual):
    lp, old, adv, _ = _data(seed)
    val, grad = _val_grad(lambda x, o, a: ppo_clip_loss(x, o, a, clip_low=0.2, clip_high=0.28, dual_clip=dual),
                          lp, jnp.asarray(old, jnp.float32), jnp.asarray(adv, jnp.float32), jit=jit)
    ref_val, ref_grad = np_ppo(lp, old, adv, 0.2, 0.28, dual)
    np.testing.assert_allclose(val, ref_val, **TOL)
    np.testing.assert_allclose(grad, ref_grad, **TOL)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**16), jit=st.booleans())
def test_reinforce_cispo_gspo_off_policy_match_numpy(seed, jit):
    lp, old, adv, mask = _data(seed, spread=0.2)
    o, a, m = jnp.asarray(old, jnp.float32), jnp.asarray(adv, jnp.float32), jnp.asarray(mask)
    val, grad = _val_grad(reinforce_loss, lp, a, jit=jit)
    np.testing.assert_allclose(val, -adv[:, None] * lp, **TOL)
    np.testing.assert_allclose(grad, np.broadcast_to(-adv[:, None], lp.shape), **TOL)
    for lo in (None, 0.3):
        val, grad = _val_grad(lambda x, o, a, lo=lo: cispo_loss(x, o, a, clip_low=lo, clip_high=0.2), lp, o, a,
                              jit=jit)
        ref = np_cispo(lp, old, adv, lo, 0.2)
        np.testing.assert_allclose(val, ref[0], **TOL)
        np.testing.assert_allclose(grad, ref[1], **TOL)
    val, grad = _val_grad(lambda x, o, a, m: gspo_loss(x, o, a, m, clip_low=0.05, clip_high=0.08), lp, o, a, m,
                          jit=jit)
    ref = np_gspo(lp, old, adv, mask, 0.05, 0.08)
    np.testing.assert_allclose(val, ref[0], **TOL)
    np.testing.assert_allclose(grad, ref[1], **TOL)
    for gamma in (None, 0.1):
        val, grad = _val_grad(lambda x, a, g=gamma: off_policy_loss(x, a, shaping_gamma=g), lp, a, jit=jit)
        ref = np_off_policy(lp, adv, gamma)
        np.testing.assert_allclose(val, ref[0], **TOL)
        np.testing.assert_allclose(grad, ref[1], **TOL)


def test_grpo_is_ppo_plus_k3():
    lp, old, adv, _ = _data(1)
    ref = lp + 0.3
    got = grpo_loss(*(jnp.asarray(x, jnp.float32) for x in (lp, old, adv, ref)), kl_coef=0.04)
    x = ref - lp
    want = np_ppo(lp, old, adv, 0.2, 0.2, None)[0] + 0.04 * (np.exp(x) - x - 1)
    np.testing.assert_allclose(np.asarray(got), want, **TOL)
    no_kl = grpo_loss(*(jnp.asarray(x, jnp.float32) for x in (lp, old, adv)))
    np.testing.assert_allclose(np.asarray(no_kl), np_ppo(lp, old, adv, 0.2, 0.2, None)[0], **TOL)


def test_check_grads():
    # CISPO and GSPO stop the gradient through part of their value by design, so finite
    # differences of the value are not their gradient; those are checked against NumPy above.
    lp, old, adv, _ = _data(3, spread=0.05)
    with jax.enable_x64(True):
        lp64, old64, adv64 = (jnp.asarray(x) for x in (lp, old, adv))
        fns = [
            lambda x: reinforce_loss(x, adv64),
            lambda x: ppo_clip_loss(x, old64, adv64, dual_clip=3.0),
            lambda x: off_policy_loss(x, adv64),
            lambda x: upge_loss(x, old64, adv64),
            lambda x: grpo_loss(x, old64, adv64, old64 + 0.1, clip_low=0.5),
        ]
        for fn in fns:
            check_grads(jax.jit(lambda x, fn=fn: jnp.sum(fn(x))), (lp64,), order=1, modes=["rev"],
                        atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- UPGE instances
def _grad(fn, lp):
    return np.asarray(jax.grad(lambda x: jnp.sum(fn(x)))(lp))


def test_upge_instances_reproduce_standalone_losses():
    lp_np, old_np, adv_np, mask_np = _data(7, spread=0.3)
    lp, old, adv = (jnp.asarray(x, jnp.float32) for x in (lp_np, old_np, adv_np))
    mask = jnp.asarray(mask_np)
    # REINFORCE: pi_ref = pi_theta.
    np.testing.assert_allclose(_grad(lambda x: upge_loss(x, x, adv), lp),
                               _grad(lambda x: reinforce_loss(x, adv), lp), **TOL)
    # PPO / GRPO: pi_ref = pi_old, PPO mask (with dual clip); values agree on stable tokens.
    for dual in (None, 3.0):
        stable = upge_stable_mask(lp - old, adv, clip_low=0.2, clip_high=0.28, dual_clip=dual)
        u = lambda x, s=stable: upge_loss(x, old, adv, stable_mask=s)
        p = lambda x, d=dual: ppo_clip_loss(x, old, adv, clip_low=0.2, clip_high=0.28, dual_clip=d)
        np.testing.assert_allclose(_grad(u, lp), _grad(p, lp), **TOL)
        s = np.asarray(stable) > 0
        np.testing.assert_allclose(np.asarray(u(lp))[s], np.asarray(p(lp))[s], **TOL)
    # GRPO with group-normalised advantages and the k3 term.
    g_adv = group_advantages(jnp.array([[1.0, 0.0], [1.0, 1.0]])).reshape(-1)
    stable = upge_stable_mask(lp - old, g_adv)
    np.testing.assert_allclose(
        _grad(lambda x: upge_loss(x, old, g_adv, stable_mask=stable) + 0.04 * kl_penalty(x, old), lp),
        _grad(lambda x: grpo_loss(x, old, g_adv, old), lp), **TOL)
    # CISPO: pi_ref = pi_old with the soft CIS factor.
    cis = upge_stable_mask(lp - old, adv, method="cispo", clip_low=1.0, clip_high=0.2)
    np.testing.assert_allclose(_grad(lambda x: upge_loss(x, old, adv, stable_mask=cis), lp),
                               _grad(lambda x: cispo_loss(x, old, adv), lp), **TOL)
    # GSPO: pi_ref = pi_theta * (pi_old / pi_theta)^(1/|y|), sequence clip.
    n = jnp.maximum(mask.sum(-1, keepdims=True), 1)
    seq_lr = jnp.broadcast_to(jnp.sum(jnp.where(mask, lp - old, 0.0), -1, keepdims=True) / n, lp.shape)
    gmask = upge_stable_mask(seq_lr, adv, clip_low=0.05, clip_high=0.08)
    np.testing.assert_allclose(
        _grad(lambda x: upge_loss(x, SG(x) - seq_lr, adv, stable_mask=gmask), lp),
        _grad(lambda x: gspo_loss(x, old, adv, mask, clip_low=0.05, clip_high=0.08), lp), **TOL)
    # SRFT / LUFFY: pi_ref = 1, with and without the shaping f(p) = p / (p + gamma).
    for gamma in (None, 0.1):
        np.testing.assert_allclose(np.asarray(upge_loss(lp, jnp.zeros_like(lp), adv, shaping_gamma=gamma)),
                                   np.asarray(off_policy_loss(lp, adv, shaping_gamma=gamma)), **TOL)


def test_upge_sft_instance_matches_sft_loss():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(3, 4, 5)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, (3, 4)))
    mask = jnp.array([[True, True, True, False], [True, True, False, False], [True, True, True, True]])

    def upge_sft(z):
        lp = token_logps(z, labels, mask=mask)
        return aggregate_loss(upge_loss(lp, lp, jnp.ones(3)), mask, mode="seq-mean-token-mean")

    g_upge = jax.grad(upge_sft)(logits)
    g_sft = jax.grad(lambda z: jnp.mean(sft_loss(z, labels, mask)))(logits)
    np.testing.assert_allclose(np.asarray(g_upge), np.asarray(g_sft), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- edge cases
def test_extreme_log_ratios_and_zero_advantages_are_finite():
    # Every (log-ratio, advantage) pair of the grid is one row, so each loss runs once.
    grid = [(r, a) for r in (1e4, -1e4, 0.0, 30.0, -30.0) for a in (1.0, -1.0, 0.0)]
    log_ratio = jnp.array([r for r, _ in grid])[:, None] * jnp.ones((1, 3))
    adv = jnp.array([a for _, a in grid])
    lp = jnp.full(log_ratio.shape, -1.0)
    old = lp - log_ratio
    mask = jnp.ones(lp.shape, bool)
    fns = {
        "ppo": lambda x: ppo_clip_loss(x, old, adv, dual_clip=3.0),
        "ppo_nodual": lambda x: ppo_clip_loss(x, old, adv),
        "grpo": lambda x: grpo_loss(x, old, adv, old),
        "cispo": lambda x: cispo_loss(x, old, adv),
        "gspo": lambda x: gspo_loss(x, old, adv, mask),
        "upge": lambda x: upge_loss(x, old, adv, stable_mask=upge_stable_mask(x - old, adv, dual_clip=3.0)),
        "reinforce": lambda x: reinforce_loss(x, adv),
        "off": lambda x: off_policy_loss(x, adv),
    }
    zero = np.asarray(adv) == 0
    for name, fn in fns.items():
        val, grad = jax.jit(lambda x, fn=fn: (fn(x), jax.grad(lambda y: jnp.sum(fn(y)))(x)))(lp)
        assert np.all(np.isfinite(np.asarray(val))), name
        assert np.all(np.isfinite(np.asarray(grad))), name
        if name != "grpo":  # GRPO's KL term does not vanish with the advantage
            assert np.all(np.asarray(val)[zero] == 0) and np.all(np.asarray(grad)[zero] == 0), name


def test_wrong_shapes_name_the_argument():
    lp = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="old_logps"):
        ppo_clip_loss(lp, jnp.zeros((2, 4)), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"advantages.*\[B, T\]"):
        reinforce_loss(lp, jnp.zeros(3))
    with pytest.raises(ValueError, match="method"):
        upge_stable_mask(lp, jnp.zeros(2), method="clip")
    with pytest.raises(ValueError, match="clip_low"):
        ppo_clip_loss(lp, lp, jnp.zeros(2), clip_low=1.5)
