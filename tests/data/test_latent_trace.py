"""The latent-trace toy against float64 NumPy enumeration: log-probs, the exact marginal loss, sampling."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

from bvjax.data import (
    latent_trace_joint_logps,
    latent_trace_marginal_dpo_loss,
    latent_trace_marginal_logps,
    sample_latent_trace_pairs,
)
from bvjax.preference import bvpo_trace_loss

X, R, Y = 2, 3, 4
RNG = np.random.default_rng(0)
TRACE = RNG.standard_normal((X, R))
ANSWER = 1.5 * RNG.standard_normal((X, R + 1, Y))
REF_TRACE = RNG.standard_normal((X, R))
REF_ANSWER = 1.5 * RNG.standard_normal((X, R + 1, Y))
REWARDS = np.array([[0.0, 1.0, 2.0, 1.0], [3.0, -1.0, 0.5, 2.0]])  # ties at x=0 (answers 1 and 3)


def softmax64(v):
    z = np.exp(v - v.max())
    return z / z.sum()


def joint64(trace, answer):
    out = np.zeros((X, R + 1, Y))
    for x in range(X):
        for r in range(R):
            out[x, r] = np.log(softmax64(trace[x])[r] * softmax64(answer[x, r]))
        out[x, R] = np.log(softmax64(answer[x, R]))
    return out


def marginal64(trace, answer):
    return np.array([[np.log(sum(softmax64(trace[x])[r] * softmax64(answer[x, r])[y] for r in range(R)))
                      for y in range(Y)] for x in range(X)])


def loss64(beta):
    pol, ref = marginal64(TRACE, ANSWER), marginal64(REF_TRACE, REF_ANSWER)
    out = np.zeros(X)
    for x in range(X):
        p = np.exp(ref[x])
        for y1, y2 in itertools.product(range(Y), repeat=2):  # ordered i.i.d. draws
            if REWARDS[x, y1] == REWARDS[x, y2]:
                continue
            w, lo = (y1, y2) if REWARDS[x, y1] > REWARDS[x, y2] else (y2, y1)
            h = (pol[x, w] - ref[x, w]) - (pol[x, lo] - ref[x, lo])
            out[x] += p[y1] * p[y2] * np.log1p(np.exp(-beta * h))
    return out


def f32(*arrays):
    return [jnp.asarray(a, jnp.float32) for a in arrays]


@pytest.mark.parametrize("jit", [False, True])
def test_log_probs_match_numpy(jit):
    joint, marginal = latent_trace_joint_logps, latent_trace_marginal_logps
    if jit:
        joint, marginal = jax.jit(joint), jax.jit(marginal)
    np.testing.assert_allclose(joint(*f32(TRACE, ANSWER)), joint64(TRACE, ANSWER), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(marginal(*f32(TRACE, ANSWER)), marginal64(TRACE, ANSWER), rtol=1e-5, atol=1e-5)
    # Batched leading dims (vmap-like) give the per-prompt rows.
    np.testing.assert_allclose(joint(*f32(TRACE[0], ANSWER[0])), joint64(TRACE, ANSWER)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("beta", [0.5, 2.0])
@pytest.mark.parametrize("jit", [False, True])
def test_marginal_dpo_loss_matches_numpy_enumeration(beta, jit):
    fn = jax.jit(latent_trace_marginal_dpo_loss, static_argnames=()) if jit else latent_trace_marginal_dpo_loss
    got = fn(*f32(TRACE, ANSWER, REF_TRACE, REF_ANSWER, REWARDS), beta=beta)
    np.testing.assert_allclose(got, loss64(beta), rtol=1e-5, atol=1e-6)


def test_marginal_gradient_matches_finite_differences():
    def loss(trace, answer):
        return jnp.mean(latent_trace_marginal_dpo_loss(trace, answer, *f32(REF_TRACE, REF_ANSWER, REWARDS),
                                                       beta=1.0))
    jax.test_util.check_grads(loss, f32(TRACE, ANSWER), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


def test_trace_gradient_is_unbiased_at_the_reference():
    """At theta = pi_ref the trace posterior is the reference's, so E g_t = mu exactly (Fisher identity).

    E g_t is enumerated over (r1, y1, r2, y2) in the sampling law; mu is the gradient of the
    library's marginal loss. The empty-trace row does not enter mu at all.
    """
    ref_t, ref_a, rewards = f32(REF_TRACE, REF_ANSWER, REWARDS)
    joint_ref = np.exp(joint64(REF_TRACE, REF_ANSWER))

    def expected_trace_loss(params):
        lp = latent_trace_joint_logps(*params)
        lp_ref = latent_trace_joint_logps(ref_t, ref_a)
        total = 0.0
        for x in range(X):
            for (r1, y1), (r2, y2) in itertools.product(itertools.product(range(R), range(Y)), repeat=2):
                if REWARDS[x, y1] == REWARDS[x, y2]:
                    continue
                (rw, yw), (rl, yl) = ((r1, y1), (r2, y2)) if REWARDS[x, y1] > REWARDS[x, y2] else ((r2, y2), (r1, y1))
                weight = joint_ref[x, r1, y1] * joint_ref[x, r2, y2] / X

                def one(t, x=x, r=rw, y=yw):
                    return jnp.reshape(t[x, r, y], (1,))
                total += weight * bvpo_trace_loss(one(lp), jnp.reshape(lp[x, rl, yl], (1,)), one(lp_ref),
                                                  jnp.reshape(lp_ref[x, rl, yl], (1,)), beta=1.0)[0]
        return total

    def marginal(params):
        return jnp.mean(latent_trace_marginal_dpo_loss(*params, ref_t, ref_a, rewards, beta=1.0))

    g_t = jax.grad(expected_trace_loss)((ref_t, ref_a))
    mu = jax.grad(marginal)((ref_t, ref_a))
    for a, b in zip(g_t, mu):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert float(jnp.abs(mu[1][:, R]).max()) == 0.0


def test_sampled_pairs_follow_the_pair_law():
    n = 40_000
    pairs = jax.jit(sample_latent_trace_pairs, static_argnames=("num_pairs", "thinking"))(
        jax.random.key(0), *f32(REF_TRACE, REF_ANSWER, REWARDS), num_pairs=n)
    prompts, answers, valid = (np.asarray(a) for a in (pairs.prompts, pairs.answers, pairs.valid))
    traces = np.asarray(pairs.traces)
    assert (traces < R).all()
    chosen_r, rejected_r = REWARDS[prompts, answers[:, 0]], REWARDS[prompts, answers[:, 1]]
    np.testing.assert_array_equal(valid, chosen_r != rejected_r)
    assert (chosen_r[valid] > rejected_r[valid]).all()
    ref = np.exp(marginal64(REF_TRACE, REF_ANSWER))
    for x in range(X):
        for w, lo in itertools.product(range(Y), repeat=2):
            if REWARDS[x, w] <= REWARDS[x, lo]:
                continue
            p = 2 * ref[x, w] * ref[x, lo] / X
            freq = np.mean((prompts == x) & (answers[:, 0] == w) & (answers[:, 1] == lo))
            assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-4, (x, w, lo, freq, p)


def test_empty_trace_pairs_use_the_empty_row():
    pairs = sample_latent_trace_pairs(jax.random.key(1), *f32(REF_TRACE, REF_ANSWER, REWARDS), num_pairs=20_000,
                                      thinking=False)
    assert (np.asarray(pairs.traces) == R).all()
    prompts, answers = np.asarray(pairs.prompts), np.asarray(pairs.answers)
    x = 1  # no ties at x=1: every answer appears as chosen or rejected with its empty-trace probability
    p_empty = softmax64(REF_ANSWER[x, R])
    counts = np.bincount(answers[prompts == x].ravel(), minlength=Y) / (2 * np.sum(prompts == x))
    np.testing.assert_allclose(counts, p_empty, atol=0.02)


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match="answer_logits"):
        latent_trace_joint_logps(jnp.zeros((2, 3)), jnp.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="rewards"):
        latent_trace_marginal_dpo_loss(*f32(TRACE, ANSWER, REF_TRACE, REF_ANSWER), jnp.zeros((X, Y + 1)))
