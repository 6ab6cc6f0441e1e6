"""Anchored recursive meta-distillation: the operator instance, its KL contraction, multi-teacher targets."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import enable_x64
from jax.test_util import check_grads

from bvjax.distill import (
    aggregate_teachers,
    anchored_target,
    categorical_kl,
    kd_kl_loss,
    sample_teacher_targets,
    soft_target_kl_loss,
    temperature_scale_probs,
)


def _probs(seed, shape):
    z = np.random.default_rng(seed).normal(size=shape) * 2
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kl64(p, q):
    return np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0.0), -1)


@pytest.mark.parametrize("jit", [False, True])
def test_operators_match_numpy(jit):
    p = _probs(0, (3, 5, 4))  # M=3 teachers, B=5, V=4
    w = np.array([0.2, 0.5, 0.3])
    tau = 2.0
    agg = jax.jit(aggregate_teachers, static_argnames="temperature") if jit else aggregate_teachers
    scaled = p ** (1 / tau) / np.sum(p ** (1 / tau), -1, keepdims=True)
    ref = np.einsum("m,mbv->bv", w, scaled)
    np.testing.assert_allclose(agg(jnp.asarray(p, jnp.float32), jnp.asarray(4 * w, jnp.float32), temperature=tau),
                               ref, rtol=1e-5)
    np.testing.assert_allclose(temperature_scale_probs(jnp.asarray(p[0], jnp.float32), temperature=tau), scaled[0],
                               rtol=1e-5)
    a = anchored_target(jnp.asarray(p[0], jnp.float32), jnp.asarray(ref, jnp.float32), anchor_weight=0.3)
    np.testing.assert_allclose(a, 0.3 * ref + 0.7 * p[0], rtol=1e-5)
    np.testing.assert_allclose(categorical_kl(jnp.asarray(p[0], jnp.float32), jnp.asarray(ref, jnp.float32)),
                               kl64(p[0], ref), rtol=1e-4, atol=1e-6)
    # softmax(z / tau) == (softmax z)^(tau); kd_kl_loss == soft_target_kl_loss(softmax(teacher logits)).
    z, zs = np.log(p[1]), np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_allclose(
        soft_target_kl_loss(jnp.asarray(zs, jnp.float32), jnp.asarray(p[1], jnp.float32), temperature=tau),
        kd_kl_loss(jnp.asarray(zs, jnp.float32), jnp.asarray(z, jnp.float32), temperature=tau), rtol=1e-4)


def test_edge_cases():
    # Zeros stay zero, an all-zero row becomes uniform; zero / negative weights.
    np.testing.assert_allclose(temperature_scale_probs(jnp.array([[0.0, 1.0], [0.0, 0.0]]), temperature=3.0),
                               [[0.0, 1.0], [0.5, 0.5]])
    p = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(aggregate_teachers(p, jnp.zeros(2)), [0.5, 0.5])
    np.testing.assert_allclose(aggregate_teachers(p, jnp.array([-1.0, 2.0])), [0.0, 1.0])
    assert categorical_kl(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])) == jnp.inf
    assert categorical_kl(jnp.array([1.0, 0.0]), jnp.array([1.0, 0.0])) == 0.0
    g = jax.grad(lambda z: soft_target_kl_loss(z, jnp.array([1.0, 0.0]), temperature=2.0))(jnp.zeros(2))
    assert np.all(np.isfinite(g))
    with pytest.raises(ValueError, match="weights"):
        aggregate_teachers(jnp.ones((3, 2, 4)), jnp.ones(2))
    with pytest.raises(ValueError, match="anchor_weight"):
        anchored_target(jnp.ones(3) / 3, jnp.ones(3) / 3, anchor_weight=1.5)


def test_sampled_targets_are_unbiased_for_the_aggregate():
    p = jnp.asarray(_probs(2, (3, 4, 5)), jnp.float32)
    w = jnp.array([0.6, 0.3, 0.1])
    keys = jax.random.split(jax.random.key(0), 4000)
    draws = jax.jit(jax.vmap(lambda k: sample_teacher_targets(k, p, w, temperature=1.5)))(keys)
    agg = aggregate_teachers(p, w, temperature=1.5)
    se = draws.std(0) / math.sqrt(len(keys)) + 1e-6
    assert np.all(np.abs(draws.mean(0) - agg) < 5 * se)
    # Each draw is exactly one teacher's (tempered) distribution.
    scaled = temperature_scale_probs(p, temperature=1.5)
    d0 = draws[0]
    assert all(any(np.allclose(d0[b], scaled[m, b], atol=1e-6) for m in range(3)) for b in range(4))


def _fit_student(target, x_onehot, steps, lr=0.5):
    """S(q): a tabular softmax student fitted by Adam on the library's distillation loss."""
    params = jnp.zeros((x_onehot.shape[1], target.shape[1]))
    opt = optax.adam(lr)

    def step(carry, _):
        params, state = carry
        loss = lambda w: jnp.mean(soft_target_kl_loss(x_onehot @ w, target))
        g = jax.grad(loss)(params)
        u, state = opt.update(g, state, params)
        return (optax.apply_updates(params, u), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return jax.nn.softmax(x_onehot @ params, axis=-1)


def test_anchored_recursion_contracts_in_kl():
    """T_{k+1} = lam A + (1 - lam) S(T_k): KL(T_k || A) <= (1 - lam)^k KL(T_0 || A), fixed point A."""
    n, v, gens = 8, 10, 8
    x = jnp.eye(n)
    teachers = jnp.asarray(_probs(3, (3, n, v)), jnp.float32)
    anchor = aggregate_teachers(teachers, jnp.array([0.5, 0.3, 0.2]))
    t0 = jnp.asarray(_probs(4, (n, v)), jnp.float32)  # a far-off starting meta-teacher
    fit = jax.jit(lambda q: _fit_student(q, x, 300))

    def run(lam, smooth=0.0, start=t0):
        t, kls = start, [float(categorical_kl(start, anchor).mean())]
        for _ in range(gens):
            s = fit(t)
            s = (1 - smooth) * s + smooth / v  # a capacity-limited / noisy student
            t = anchored_target(s, anchor, anchor_weight=lam)
            kls.append(float(categorical_kl(t, anchor).mean()))
        return np.array(kls)

    for lam in (0.1, 0.3):
        kls = run(lam)
        bound = kls[0] * (1 - lam) ** np.arange(gens + 1)
        assert np.all(kls <= bound * 1.05 + 1e-4), (lam, kls, bound)
        assert np.all(np.diff(kls) < 0)  # monotone contraction towards the unique fixed point A
    assert run(0.3)[-1] < run(0.1)[-1]  # a stronger anchor contracts faster
    # Started at the fixed point A, an unanchored noisy student's errors compound (KL to A keeps
    # growing); the anchor keeps it within a bounded neighbourhood.
    drift = run(0.0, smooth=0.15, start=anchor)
    anchored = run(0.3, smooth=0.15, start=anchor)
    assert np.all(np.diff(drift[1:]) > 0) and anchored[-1] < 0.5 * drift[-1]


def test_gradients():
    with enable_x64(True):
        q = jnp.asarray(_probs(5, (3, 4)))
        z = jnp.asarray(np.random.default_rng(6).normal(size=(3, 4)))
        check_grads(jax.jit(lambda z: soft_target_kl_loss(z, q, temperature=2.0).sum()), (z,), order=1,
                    modes=("rev",))
        p = jnp.asarray(_probs(7, (2, 3, 4)))
        check_grads(jax.jit(lambda p: (aggregate_teachers(p, jnp.array([0.3, 0.7]), temperature=2.0)
                                       @ jnp.arange(1.0, 5.0)).sum() + categorical_kl(p[0], q).sum()), (p,),
                    order=1, modes=("rev",), eps=1e-6)


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float64, (4,), elements=st.floats(0.0, 1.0)), st.floats(0.0, 1.0), st.floats(0.2, 5.0))
def test_property_contraction_step_and_simplex(raw, lam, tau):
    """One anchored step contracts KL by (1 - lam) for any pair of distributions (joint convexity)."""
    p = raw + 1e-3
    p = p / p.sum()
    a = np.array([0.1, 0.2, 0.3, 0.4])
    out = np.asarray(anchored_target(jnp.asarray(p), jnp.asarray(a), anchor_weight=lam), np.float64)
    assert kl64(out, a) <= (1 - lam) * kl64(p, a) + 1e-6
    scaled = np.asarray(temperature_scale_probs(jnp.asarray(p, jnp.float32), temperature=tau))
    assert np.all(scaled >= 0) and abs(scaled.sum() - 1) < 1e-5
