"""bvjax.rl routing: HPT gate, DYPO route/loss, DCPO temperature/advantages vs NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.preference import group_alignment_loss
from bvjax.rl import dcpo_advantages, dcpo_temperature, dypo_loss, dypo_route, hpt_gate


def np_hpt(k, gate, off_gate):
    if k <= gate:
        return 0.0, 1.0, False
    if k <= off_gate:
        return 0.0, 0.0, True
    return 1.0, 0.0, False


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), gate=st.integers(0, 3), band=st.integers(0, 3), jit=st.booleans())
def test_hpt_gate_matches_numpy(seed, gate, band, jit):
    k = np.random.default_rng(seed).integers(0, 9, 12)
    fn = jax.jit(hpt_gate, static_argnames=("sft_gate", "off_policy_gate")) if jit else hpt_gate
    out = fn(jnp.asarray(k), sft_gate=gate, off_policy_gate=gate + band)
    want = np.array([np_hpt(x, gate, gate + band) for x in k], dtype=object)
    np.testing.assert_array_equal(np.asarray(out.rl_weight), want[:, 0].astype(float))
    np.testing.assert_array_equal(np.asarray(out.sft_weight), want[:, 1].astype(float))
    np.testing.assert_array_equal(np.asarray(out.off_policy), want[:, 2].astype(bool))
    # exactly one branch per prompt
    total = np.asarray(out.rl_weight) + np.asarray(out.sft_weight) + np.asarray(out.off_policy)
    np.testing.assert_array_equal(total, 1.0)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), jit=st.booleans())
def test_dypo_route_and_loss_match_numpy(seed, jit):
    rng = np.random.default_rng(seed)
    p, g, m = 6, 4, 3
    rewards = (rng.random((p, g)) < rng.choice([0.0, 0.5, 1.0], (p, 1))).astype(np.float64)
    valid = rng.random((p, g)) < 0.9
    valid[0] = False  # a prompt with no valid rollout
    route = (jax.jit(dypo_route) if jit else dypo_route)(jnp.asarray(rewards, jnp.float32), mask=jnp.asarray(valid))
    for i in range(p):
        n, phi = valid[i].sum(), (valid[i] & (rewards[i] > 0.5)).sum()
        assert bool(route.hard[i]) == (n > 0 and phi == 0)
        assert bool(route.mid[i]) == (0 < phi < n)
        assert bool(route.easy[i]) == (n > 0 and phi == n)
    grpo, gal, sft = rng.normal(size=p), rng.normal(size=p), rng.normal(size=(p, m))
    teachers = rng.random((p, m)) < 0.7
    out = (jax.jit(dypo_loss, static_argnames=("alpha", "sft_coef")) if jit else dypo_loss)(
        jnp.asarray(grpo, jnp.float32), jnp.asarray(gal, jnp.float32), jnp.asarray(sft, jnp.float32), route,
        alpha=0.3, sft_coef=0.7, teacher_mask=jnp.asarray(teachers))
    for i in range(p):
        if route.hard[i]:
            want = 0.7 * (sft[i][teachers[i]].mean() if teachers[i].any() else 0.0)
        elif route.mid[i]:
            want = 0.3 * grpo[i] + 0.7 * gal[i]
        else:
            want = 0.0
        np.testing.assert_allclose(float(out[i]), want, rtol=1e-5, atol=1e-6)


def test_dypo_with_group_alignment_loss_and_nan_in_dropped_branches():
    rewards = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    logps = jnp.array([[-1.0, -2.0, -3.0], [-1.0, -2.0, -1.5], [-2.0, -2.0, -2.0]])
    gal = group_alignment_loss(logps, logps + 0.1, rewards)
    grpo = jnp.array([jnp.nan, 0.5, jnp.inf])  # only the mid prompt's GRPO loss is used
    out = dypo_loss(grpo, gal, jnp.array([2.0, jnp.nan, jnp.nan]), dypo_route(rewards))
    np.testing.assert_allclose(np.asarray(out), [2.0, 0.5 * 0.5 + 0.5 * float(gal[1]), 0.0], rtol=1e-6)


def np_dcpo(adv, scores, lr, mask, h, h0, thr=0.05, cap=0.1, alpha_none=0.0):
    valid = mask.any(-1)
    c = (scores > thr) & valid
    p_plus = c.sum() / max(valid.sum(), 1)
    gap = min(abs(h0 - h), cap)
    if p_plus > 0:
        a = gap / p_plus
        alpha = a / (1 + a)
    else:
        alpha = alpha_none
    out = (1 - alpha) * adv[:, None] + alpha * c[:, None] * np.exp(lr)
    return np.where(mask, out, 0.0), alpha


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.sampled_from([0.0, 0.3, 0.45, 0.5, 0.9]),
       p=st.sampled_from([0.0, 0.4, 1.0]), jit=st.booleans())
def test_dcpo_advantages_match_numpy(seed, h, p, jit):
    rng = np.random.default_rng(seed)
    b, t = 6, 4
    adv = rng.normal(size=b)
    scores = np.where(rng.random(b) < p, 1.0, 0.0)
    lr = rng.normal(0, 0.3, (b, t))
    mask = rng.random((b, t)) < 0.8
    fn = jax.jit(dcpo_advantages) if jit else dcpo_advantages
    out = fn(jnp.asarray(adv, jnp.float32), jnp.asarray(scores, jnp.float32), jnp.asarray(lr, jnp.float32),
             jnp.asarray(mask), jnp.asarray(h, jnp.float32))
    want, alpha = np_dcpo(adv, scores, lr, mask, h, 0.5)
    np.testing.assert_allclose(float(out.alpha), alpha, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(out.advantages), want, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(out.advantages)))


def test_dcpo_edge_cases():
    mask = jnp.ones((3, 2), bool)
    adv = jnp.array([1.0, -0.5, 0.0])
    lr = jnp.array([[1e4, -1e4], [0.0, 0.0], [0.0, 0.0]])
    # no correct sample: alpha = alpha_if_no_correct (0), plain GRPO advantages, no NaN
    out = dcpo_advantages(adv, jnp.zeros(3), lr, mask, jnp.array(0.0))
    assert float(out.alpha) == 0.0
    np.testing.assert_allclose(np.asarray(out.advantages), np.repeat(np.asarray(adv)[:, None], 2, 1))
    out = dcpo_advantages(adv, jnp.zeros(3), lr, mask, jnp.array(0.0), alpha_if_no_correct=0.5)
    np.testing.assert_allclose(float(out.alpha), 0.5)
    # H = H0: alpha = 0 (plain GRPO) even with correct samples; extreme ratios stay finite
    out = dcpo_advantages(adv, jnp.ones(3), lr, mask, jnp.array(0.5))
    assert float(out.alpha) == 0.0
    out = dcpo_advantages(adv, jnp.ones(3), lr, mask, jnp.array(0.0))
    assert np.all(np.isfinite(np.asarray(out.advantages)))
    # an all-empty mask: zeros
    out = dcpo_advantages(adv, jnp.ones(3), lr, jnp.zeros((3, 2), bool), jnp.array(0.0))
    assert np.all(np.asarray(out.advantages) == 0.0) and float(out.alpha) == 0.0


def test_dcpo_temperature():
    assert float(dcpo_temperature(jnp.array(0.5))) == pytest.approx(1.2)  # H <= H0: heat
    assert float(dcpo_temperature(jnp.array(0.6))) == pytest.approx(0.8)
    assert float(dcpo_temperature(jnp.array(0.1), entropy_base=0.25)) == pytest.approx(1.2)


def test_wrong_shapes():
    with pytest.raises(ValueError, match="num_correct"):
        hpt_gate(jnp.zeros((2, 2), jnp.int32))
    with pytest.raises(ValueError, match="off_policy_gate"):
        hpt_gate(jnp.zeros(2, jnp.int32), sft_gate=2, off_policy_gate=1)
    with pytest.raises(ValueError, match="mask"):
        dypo_route(jnp.zeros((2, 3)), mask=jnp.ones((2, 2), bool))
    with pytest.raises(ValueError, match="temperature_log_ratio"):
        dcpo_advantages(jnp.zeros(2), jnp.zeros(2), jnp.zeros((3, 2)), jnp.ones((2, 2), bool), jnp.array(0.0))


def test_hpt_soft_strategy_keeps_rollouts_and_adds_the_demonstration():
    counts = jnp.array([0, 1, 4, 8], jnp.int32)
    gate = jax.jit(hpt_gate, static_argnames=("strategy",))(counts, strategy="soft")
    np.testing.assert_array_equal(gate.rl_weight, [1, 1, 1, 1])
    np.testing.assert_array_equal(gate.sft_weight, [1, 1, 1, 1])
    assert not np.asarray(gate.off_policy).any()
    with pytest.raises(ValueError, match="strategy"):
        hpt_gate(counts, strategy="table")
