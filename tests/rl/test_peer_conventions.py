"""The peer conventions stated in the docstrings of gspo_loss, cispo_loss and aggregate_loss,
checked against NumPy transcriptions of verl (``compute_policy_loss_gspo``,
``compute_policy_loss_cispo``, read at b178a3c) and TRL (``GRPOTrainer._compute_loss``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.rl import aggregate_loss, cispo_loss, gspo_loss
from tests.rl.test_policy_loss import B, T
from tests.rl.test_policy_loss import _data as _policy_data


def _data(seed, spread=0.3):
    return _policy_data(seed, spread)


def verl_gspo(lp, old, adv, mask, lo, hi):
    """Value and d value / d lp of verl's per-token GSPO loss (clamp of the combined log-ratio at +10)."""
    n = np.maximum(mask.sum(-1), 1)
    seq = ((lp - old) * mask).sum(-1) / n
    log_s = np.broadcast_to(seq[:, None], lp.shape)
    clamped = log_s > 10.0
    s = np.exp(np.minimum(log_s, 10.0))
    a = adv[:, None]
    un, cl = -a * s, -a * np.clip(s, 1 - lo, 1 + hi)
    val = np.maximum(un, cl)
    grad = np.where((un >= cl) & ~clamped, -a * s, 0.0)
    return val, grad


def _val_grad(fn, lp):
    lp = jnp.asarray(lp, jnp.float64)
    return np.asarray(fn(lp)), np.asarray(jax.grad(lambda x: fn(x).sum())(lp))


def test_gspo_equals_verl_below_ten_with_no_clamp():
    with jax.enable_x64(True):
        lp, old, adv, mask = _data(0)
        fn = lambda x: gspo_loss(x, jnp.asarray(old), jnp.asarray(adv), jnp.asarray(mask), clip_low=0.05,
                                 clip_high=0.08, log_ratio_clip=None)
        val, grad = _val_grad(fn, lp)
    ref_val, ref_grad = verl_gspo(lp, old, adv, mask, 0.05, 0.08)
    np.testing.assert_allclose(val, ref_val, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_gspo_differs_from_verl_above_ten_only_for_negative_advantages():
    lp = np.zeros((2, 3))
    old = np.full((2, 3), -12.0)  # sequence log-ratio 12 > 10
    adv = np.array([-0.1, 0.1])
    mask = np.ones((2, 3), bool)
    with jax.enable_x64(True):
        fn = lambda x: gspo_loss(x, jnp.asarray(old), jnp.asarray(adv), jnp.asarray(mask))
        val, grad = _val_grad(fn, lp)
    ref_val, ref_grad = verl_gspo(lp, old, adv, mask, 3e-4, 4e-4)
    # A < 0: bvjax 0.1 e^12, verl 0.1 e^10 and no gradient.
    np.testing.assert_allclose(val[0], 0.1 * np.exp(12.0), rtol=1e-12)
    np.testing.assert_allclose(ref_val[0], 0.1 * np.exp(10.0), rtol=1e-12)
    np.testing.assert_allclose(val[0] - ref_val[0], 0.1 * (np.exp(12.0) - np.exp(10.0)), rtol=1e-12)
    assert np.all(ref_grad[0] == 0) and np.all(grad[0] != 0)
    # A > 0: the clip binds in both, same value, no gradient.
    np.testing.assert_allclose(val[1], ref_val[1], rtol=1e-12)
    assert np.all(grad[1] == 0) and np.all(ref_grad[1] == 0)


def test_cispo_peer_settings():
    lp, old, adv, _ = _data(1, spread=0.6)
    a = adv[:, None]
    # verl: weight clipped to [1 - 0.2, 1 + 0.2] (its defaults), log-ratio clamped at +-20.
    verl = -np.clip(np.exp(np.clip(lp - old, -20, 20)), 0.8, 1.2) * a * lp
    # TRL: weight capped at epsilon_high (absolute), no lower bound, no clamp.
    eps_high = 5.0
    trl = -np.minimum(np.exp(lp - old), eps_high) * a * lp
    with jax.enable_x64(True):
        args = (jnp.asarray(lp), jnp.asarray(old), jnp.asarray(adv))
        ours_verl = cispo_loss(*args, clip_low=0.2, clip_high=0.2)
        ours_trl = cispo_loss(*args, clip_low=None, clip_high=eps_high - 1.0, log_ratio_clip=None)
    np.testing.assert_allclose(ours_verl, verl, rtol=1e-12)
    np.testing.assert_allclose(ours_trl, trl, rtol=1e-12)


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "bnpo"])
def test_trl_normalisation_over_all_rows(loss_type):
    rng = np.random.default_rng(2)
    per_token = rng.normal(size=(B, T))
    mask = rng.random((B, T)) < 0.7
    mask[2] = False  # an empty row still counts in TRL's mean over rows
    max_completion_length = 7
    m = mask.astype(np.float64)
    if loss_type == "grpo":
        trl = ((per_token * m).sum(-1) / np.maximum(m.sum(-1), 1.0)).mean()
        kw = {"mode": "seq-mean-token-mean", "num_sequences": B}
    elif loss_type == "dr_grpo":
        trl = (per_token * m).sum() / (B * max_completion_length)
        kw = {"mode": "seq-mean-token-sum-norm", "num_sequences": B, "norm_constant": max_completion_length}
    else:
        trl = (per_token * m).sum() / max(m.sum(), 1.0)
        kw = {"mode": "token-mean"}
    with jax.enable_x64(True):
        ours = aggregate_loss(jnp.asarray(per_token), jnp.asarray(mask), **kw)
        default = aggregate_loss(jnp.asarray(per_token), jnp.asarray(mask), mode=kw["mode"],
                                 norm_constant=kw.get("norm_constant"))
    np.testing.assert_allclose(ours, trl, rtol=1e-12)
    if loss_type != "bnpo":
        assert not np.isclose(float(default), trl)  # the default counts non-empty rows only
