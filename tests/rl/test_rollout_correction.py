"""rollout_correction_weights against float64 NumPy: its definition, and transcriptions of
TRL's vLLM importance-sampling correction (``GRPOTrainer``, ``vllm_importance_sampling_mode``)
and verl's rollout correction (``compute_rollout_correction_weights`` and the ``k1`` rejection
of ``compute_rollout_rejection_mask``, read at b178a3c)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.rl import rollout_correction_weights

B, T = 4, 6
TOL = {"rtol": 2e-5, "atol": 1e-6}
STATIC = ("level", "mode", "clip_max", "clip_min", "log_ratio_clip")


def np_weights(lp, mu, m, level, mode, cmax, cmin, clamp):
    """The definition, one token at a time."""
    w = np.zeros_like(lp)
    hi = lo = 0
    for i in range(lp.shape[0]):
        seq = sum(lp[i, t] - mu[i, t] for t in range(lp.shape[1]) if m[i, t])
        for t in range(lp.shape[1]):
            if not m[i, t]:
                continue
            x = seq if level == "sequence" else lp[i, t] - mu[i, t]
            if clamp is not None:
                x = min(max(x, -clamp), clamp)
            rho = np.exp(x)
            above = cmax is not None and rho > cmax
            below = cmin is not None and rho < cmin
            hi, lo = hi + above, lo + below
            if mode == "truncate":
                w[i, t] = min(rho, cmax) if above else (max(rho, cmin) if below else rho)
            else:
                w[i, t] = 0.0 if (above or below) else rho
    n = max(m.sum(), 1)
    ess = w.sum() ** 2 / (n * (w**2).sum()) if (w**2).sum() > 0 else 0.0
    return w, w.sum() / n, hi / n, lo / n, ess


def trl_weights(lp, mu, m, mode, cmax, cmin):
    """TRL's computation (no log-ratio clamp), then zeroed at masked positions."""
    diff = (lp - mu) * m
    if mode.startswith("sequence"):
        diff = diff.sum(-1, keepdims=True)
    ratio = np.exp(diff)
    if mode.endswith("truncate"):
        ratio = np.clip(ratio, cmin, cmax)
    else:
        lo = -np.inf if cmin is None else cmin
        hi = np.inf if cmax is None else cmax
        ratio = np.where((ratio < lo) | (ratio > hi), 0.0, ratio)
    return np.broadcast_to(ratio, lp.shape) * m


def verl_weights(lp, mu, m, level, threshold, rs_bounds=None):
    """verl's TIS weights, times its seq_sum_k1 / token_k1 rejection mask when rs_bounds is given."""
    mf = m.astype(np.float64)
    lr = lp - mu
    if level == "token":
        w = np.exp(np.clip(lr, -20, 20))
    else:
        w = np.broadcast_to(np.exp(np.clip((lr * mf).sum(-1, keepdims=True), -20, 20)), lr.shape)
    w = np.minimum(w * mf, threshold)
    if rs_bounds is not None:
        lower, upper = rs_bounds
        k1 = -np.clip(lr, -20, 20)
        stat = k1 if level == "token" else np.broadcast_to((k1 * mf).sum(-1, keepdims=True), lr.shape)
        keep = (stat >= np.log(lower)) & (stat <= np.log(upper))
        w = w * keep
    return w


def _draw(seed, spread=0.6, ragged=True):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.uniform(0.05, 0.95, (B, T)))
    mu = lp + rng.normal(0.0, spread, (B, T))
    m = rng.random((B, T)) < 0.7
    if ragged:
        m[0] = False
        m[1] = False
        m[1, rng.integers(T)] = True
    return lp, mu, m


def _call(lp, mu, m, jit=False, **kw):
    fn = jax.jit(rollout_correction_weights, static_argnames=STATIC) if jit else rollout_correction_weights
    return fn(jnp.asarray(lp, jnp.float32), jnp.asarray(mu, jnp.float32), jnp.asarray(m), **kw)


SETTINGS = list(itertools.product(["token", "sequence"], ["truncate", "mask"],
                                  [(2.0, None), (3.0, 0.5), (None, 0.8), (1.5, 1.5)]))

masks = st.lists(st.booleans(), min_size=B * T, max_size=B * T).map(lambda b: np.array(b).reshape(B, T))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), mask=masks, setting=st.sampled_from(SETTINGS),
       clamp=st.sampled_from([20.0, None, 0.5]), jit=st.booleans())
def test_matches_definition(seed, mask, setting, clamp, jit):
    lp, mu, _ = _draw(seed)
    level, mode, (cmax, cmin) = setting
    lp_in = lp.copy()
    lp_in[~mask] = np.nan  # masked positions have no effect
    out = _call(lp_in, mu, mask, jit=jit, level=level, mode=mode, clip_max=cmax, clip_min=cmin,
                log_ratio_clip=clamp)
    w, mean, hi, lo, ess = np_weights(lp, mu, mask, level, mode, cmax, cmin, clamp)
    np.testing.assert_allclose(out.weights, w, **TOL)
    np.testing.assert_allclose(out.mean_weight, mean, **TOL)
    np.testing.assert_allclose(out.fraction_high, hi, **TOL)
    np.testing.assert_allclose(out.fraction_low, lo, **TOL)
    np.testing.assert_allclose(out.effective_sample_size, ess, **TOL)


@pytest.mark.parametrize("mode", ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"])
@pytest.mark.parametrize("cmax,cmin", [(3.0, None), (3.0, 0.5), (None, 0.5)])
def test_matches_trl(mode, cmax, cmin):
    if mode.endswith("truncate") and cmax is None:
        cmax = 3.0
    lp, mu, m = _draw(11, spread=0.4, ragged=False)
    level, how = mode.split("_")
    with jax.enable_x64(True):
        out = rollout_correction_weights(jnp.asarray(lp), jnp.asarray(mu), jnp.asarray(m), level=level, mode=how,
                                         clip_max=cmax, clip_min=cmin, log_ratio_clip=None)
    np.testing.assert_allclose(out.weights, trl_weights(lp, mu, m, mode, cmax, cmin), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("level", ["token", "sequence"])
def test_matches_verl_tis_and_mis(level):
    lp, mu, m = _draw(12, spread=1.0 if level == "token" else 0.6, ragged=False)
    with jax.enable_x64(True):
        tis = rollout_correction_weights(jnp.asarray(lp), jnp.asarray(mu), jnp.asarray(m), level=level)
        mis = rollout_correction_weights(jnp.asarray(lp), jnp.asarray(mu), jnp.asarray(m), level=level,
                                         mode="mask", clip_min=0.5, clip_max=2.0)
    np.testing.assert_allclose(tis.weights, verl_weights(lp, mu, m, level, 2.0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mis.weights, verl_weights(lp, mu, m, level, 2.0, rs_bounds=(0.5, 2.0)),
                               rtol=1e-12, atol=1e-14)
    assert 0 < float(mis.fraction_high) + float(mis.fraction_low) < 1  # the draw exercises the bounds
    assert float(tis.fraction_high) > 0


def test_edges_and_extremes():
    m0 = np.zeros((2, 3), bool)
    out = _call(np.zeros((2, 3)), np.zeros((2, 3)), m0)
    for leaf in out:
        np.testing.assert_array_equal(leaf, np.zeros_like(leaf))
    # A log-ratio of 1e4: clamped to e^20 then truncated; masked (0) in mask mode; finite throughout.
    lp = np.array([[1e4, 0.0, -1e4]])
    m = np.ones((1, 3), bool)
    out = _call(lp, np.zeros((1, 3)), m)
    np.testing.assert_allclose(out.weights, [[2.0, 1.0, np.exp(-20.0)]], rtol=1e-5)
    out = _call(lp, np.zeros((1, 3)), m, mode="mask", clip_min=0.5)
    np.testing.assert_allclose(out.weights, [[0.0, 1.0, 0.0]])
    np.testing.assert_allclose([out.fraction_high, out.fraction_low], [1 / 3, 1 / 3], rtol=1e-6)
    # The weights are data: no gradient flows into either log-prob.
    g = jax.grad(lambda a: rollout_correction_weights(a, jnp.zeros((1, 3)), jnp.ones((1, 3), bool)).weights.sum())(
        jnp.array([[0.1, 0.2, 0.3]]))
    np.testing.assert_array_equal(g, np.zeros((1, 3)))


def test_contract():
    z = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="rollout_logps"):
        rollout_correction_weights(z, jnp.zeros((2, 4)), jnp.ones((2, 3), bool))
    with pytest.raises(ValueError, match="level"):
        rollout_correction_weights(z, z, jnp.ones((2, 3), bool), level="geometric")
    with pytest.raises(ValueError, match="clip_min"):
        rollout_correction_weights(z, z, jnp.ones((2, 3), bool), clip_min=3.0, clip_max=2.0)
    with pytest.raises(TypeError, match="mask"):
        rollout_correction_weights(z, z, jnp.ones((2, 3)))
