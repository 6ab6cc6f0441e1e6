"""group_alignment_loss against a float64 loop over the winner/loser pairs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.preference import group_alignment_loss


def _np_gal(logps, ref, rewards, beta, mask, min_gap, reduction):
    p, g = logps.shape
    out = np.zeros(p)
    for q in range(p):
        losses = []
        for i in range(g):
            for j in range(g):
                if mask[q, i] and mask[q, j] and rewards[q, i] - rewards[q, j] > min_gap:
                    d = (np.float64(logps[q, i]) - ref[q, i]) - (np.float64(logps[q, j]) - ref[q, j])
                    losses.append(np.logaddexp(0.0, -beta * d))
        if losses:
            out[q] = np.sum(losses) if reduction == "sum" else np.mean(losses)
    return out


def _data(seed=0, p=4, g=6):
    rng = np.random.default_rng(seed)
    logps = (-30 * rng.random((p, g))).astype(np.float32)
    ref = (-30 * rng.random((p, g))).astype(np.float32)
    rewards = (rng.random((p, g)) < 0.5).astype(np.float32)
    rewards[0] = 1.0  # Easy prompt: no pair
    rewards[1] = 0.0  # Hard prompt: no pair
    mask = rng.random((p, g)) < 0.85
    return logps, ref, rewards, mask


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_numpy(jit, reduction):
    logps, ref, rewards, mask = _data()
    fn = jax.jit(group_alignment_loss, static_argnames="pair_reduction") if jit else group_alignment_loss
    out = fn(logps, ref, rewards, beta=0.5, mask=mask, pair_reduction=reduction)
    np.testing.assert_allclose(out, _np_gal(logps, ref, rewards, 0.5, mask, 0.0, reduction), rtol=1e-5,
                               atol=1e-6)
    assert out[0] == 0.0 and out[1] == 0.0


def test_graded_rewards_and_min_gap():
    rng = np.random.default_rng(1)
    logps, ref, _, _ = _data(seed=1)
    rewards = rng.random(logps.shape).astype(np.float32)
    mask = np.ones(logps.shape, bool)
    out = group_alignment_loss(logps, ref, rewards, beta=1.0, min_gap=0.2)
    np.testing.assert_allclose(out, _np_gal(logps, ref, rewards, 1.0, mask, 0.2, "mean"), rtol=1e-5)


def test_masked_padding_may_hold_minus_inf():
    logps, ref, rewards, _ = _data(seed=2)
    mask = np.ones(logps.shape, bool)
    mask[:, -1] = False
    padded = logps.copy()
    padded[:, -1] = -np.inf
    out = group_alignment_loss(padded, ref, rewards, mask=mask)
    np.testing.assert_allclose(out, group_alignment_loss(logps, ref, rewards, mask=mask), rtol=1e-6)
    grad = jax.grad(lambda x: group_alignment_loss(x, ref, rewards, mask=mask).sum())(jnp.asarray(padded))
    assert np.all(np.isfinite(grad))


def test_gradients_and_vmap():
    logps, ref, _, _ = _data(seed=3, p=2, g=3)
    rewards = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], np.float32)
    check_grads(jax.jit(lambda x: group_alignment_loss(x, ref, rewards, beta=0.1)), (jnp.asarray(logps),),
                order=1, modes=["rev"], atol=1e-2, rtol=1e-2)
    per_row = jax.vmap(lambda a, b, c: group_alignment_loss(a[None], b[None], c[None])[0])(logps, ref, rewards)
    np.testing.assert_allclose(per_row, group_alignment_loss(logps, ref, rewards), rtol=1e-6)


def test_bad_arguments():
    logps, ref, rewards, mask = _data()
    with pytest.raises(ValueError, match="reference_logps"):
        group_alignment_loss(logps, ref[:, :-1], rewards)
    with pytest.raises(ValueError, match="mask"):
        group_alignment_loss(logps, ref, rewards, mask=mask[:-1])
    with pytest.raises(ValueError, match="pair_reduction"):
        group_alignment_loss(logps, ref, rewards, pair_reduction="max")
    with pytest.raises(ValueError, match="beta"):
        group_alignment_loss(logps, ref, rewards, beta=0.0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**16), st.floats(1e-3, 50.0))
def test_hypothesis_finite_nonnegative(seed, scale):
    rng = np.random.default_rng(seed)
    logps = (-scale * 200 * rng.random((3, 5))).astype(np.float32)
    ref = (-scale * 200 * rng.random((3, 5))).astype(np.float32)
    rewards = rng.integers(0, 2, (3, 5)).astype(np.float32)
    out = group_alignment_loss(logps, ref, rewards, beta=scale)
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
