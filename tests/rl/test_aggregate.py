"""bvjax.rl.aggregate_loss against NumPy loops, and gradient accumulation with global counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.rl import aggregate_loss, ppo_clip_loss

MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")
agg_jit = jax.jit(aggregate_loss, static_argnames=("mode", "norm_constant"))


def np_aggregate(loss, mask, mode, c=None):
    """Straight from the definitions, one row at a time."""
    rows = [[loss[i, t] for t in range(loss.shape[1]) if mask[i, t]] for i in range(loss.shape[0])]
    nonempty = [r for r in rows if r]
    if mode == "token-mean":
        n = sum(len(r) for r in rows)
        return sum(sum(r) for r in rows) / n if n else 0.0
    if not nonempty:
        return 0.0
    if mode == "seq-mean-token-sum":
        return sum(sum(r) for r in nonempty) / len(nonempty)
    if mode == "seq-mean-token-mean":
        return sum(sum(r) / len(r) for r in nonempty) / len(nonempty)
    c = loss.shape[1] if c is None else c
    return sum(sum(r) for r in nonempty) / (len(nonempty) * c)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), p=st.sampled_from([0.0, 0.3, 0.8, 1.0]), jit=st.booleans())
def test_matches_numpy(seed, p, jit):
    rng = np.random.default_rng(seed)
    loss = rng.normal(size=(6, 7))
    mask = rng.random((6, 7)) < p
    loss_masked = np.where(mask, loss, np.nan)  # masked entries must not leak
    fn = agg_jit if jit else aggregate_loss
    for mode in MODES:
        got = fn(jnp.asarray(loss_masked, jnp.float32), jnp.asarray(mask), mode=mode)
        np.testing.assert_allclose(float(got), np_aggregate(loss, mask, mode), rtol=1e-5, atol=1e-6)
    got = fn(jnp.asarray(loss, jnp.float32), jnp.asarray(mask), mode="seq-mean-token-sum-norm", norm_constant=100.0)
    np.testing.assert_allclose(float(got), np_aggregate(loss, mask, "seq-mean-token-sum-norm", 100.0), rtol=1e-5,
                               atol=1e-6)


def test_empty_mask_is_zero_with_zero_gradient():
    loss = jnp.ones((3, 4))
    mask = jnp.zeros((3, 4), bool)
    for mode in MODES:
        assert float(aggregate_loss(loss, mask, mode=mode)) == 0.0
        g = jax.grad(lambda x, m=mode: aggregate_loss(x, mask, mode=m))(loss)
        assert np.all(np.asarray(g) == 0)


def test_dr_grpo_norm_does_not_scale_with_batch():
    # verl #3741: duplicating the batch must leave seq-mean-token-sum-norm unchanged.
    rng = np.random.default_rng(0)
    loss = jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)
    mask = jnp.asarray(rng.random((4, 5)) < 0.7)
    one = aggregate_loss(loss, mask, mode="seq-mean-token-sum-norm", norm_constant=8.0)
    two = aggregate_loss(jnp.tile(loss, (2, 1)), jnp.tile(mask, (2, 1)), mode="seq-mean-token-sum-norm",
                         norm_constant=8.0)
    np.testing.assert_allclose(float(one), float(two), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_accumulation_equals_full_batch(mode):
    rng = np.random.default_rng(1)
    b, t = 16, 9
    lp = jnp.asarray(np.log(rng.uniform(0.05, 0.95, (b, t))), jnp.float32)
    old = lp + jnp.asarray(rng.normal(0, 0.3, (b, t)), jnp.float32)
    adv = jnp.asarray(rng.normal(size=b), jnp.float32)
    mask_np = rng.random((b, t)) < np.linspace(0.1, 1.0, b)[:, None]  # ragged lengths
    mask_np[3] = False  # an empty sequence
    mask = jnp.asarray(mask_np)
    n_tok, n_seq = mask.sum(), mask.any(-1).sum()

    def loss(x, o, a, m, **kw):
        return aggregate_loss(ppo_clip_loss(x, o, a), m, mode=mode, **kw)

    full, g_full = jax.value_and_grad(loss)(lp, old, adv, mask)
    step = jax.jit(jax.value_and_grad(lambda x, o, a, m: loss(x, o, a, m, num_tokens=n_tok, num_sequences=n_seq)))
    total, grads = 0.0, []
    for k in range(4):  # 4-way accumulation: sum of micro-batch losses with global counts
        sl = slice(4 * k, 4 * k + 4)
        v, g = step(lp[sl], old[sl], adv[sl], mask[sl])
        total, grads = total + v, grads + [g]
    assert abs(float(total) - float(full)) <= 1e-6 * max(1.0, abs(float(full)))
    np.testing.assert_allclose(np.concatenate(grads), np.asarray(g_full), rtol=1e-5, atol=1e-7)
    if mode != "seq-mean-token-mean":  # local counts would differ (verl #5625); guard that the test can tell
        local = sum(float(loss(lp[4 * k:4 * k + 4], old[4 * k:4 * k + 4], adv[4 * k:4 * k + 4],
                               mask[4 * k:4 * k + 4])) for k in range(4))
        assert abs(local - float(full)) > 1e-4


def test_wrong_shapes():
    with pytest.raises(ValueError, match="mask"):
        aggregate_loss(jnp.zeros((2, 3)), jnp.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="mode"):
        aggregate_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3), bool), mode="sum")


def test_check_grads():
    from jax.test_util import check_grads

    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        loss = jnp.asarray(rng.normal(size=(3, 4)))
        mask = jnp.asarray(rng.random((3, 4)) < 0.7)
        for mode in MODES:
            check_grads(lambda x, m=mode: aggregate_loss(x, mask, mode=m), (loss,), order=1, modes=["rev"])
