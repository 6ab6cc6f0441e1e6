"""gae_advantages, value_loss, masked_whiten and REINFORCE++(-baseline) against float64 NumPy.

Two kinds of reference, both written here: one from the definitions (GAE as the
discounted sum of TD errors along each row's chain of valid tokens; whitening with the
unbiased variance), and a NumPy transcription of verl's loops (``compute_gae_advantage_return``,
``masked_whiten``, ``compute_reinforce_plus_plus_outcome_advantage``,
``compute_reinforce_plus_plus_baseline_outcome_advantage``, read at b178a3c).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.rl import (
    gae_advantages,
    masked_whiten,
    reinforce_pp_advantages,
    reinforce_pp_baseline_advantages,
    value_loss,
)

B, T = 4, 6
TOL = {"rtol": 2e-5, "atol": 2e-5}


# ---------------------------------------------------------------- references
def np_gae(r, v, m, gamma, lam):
    """A_t = sum_k (gamma lam)^k delta_{t_k} along the chain t = t_0 < t_1 < ... of valid tokens."""
    adv, ret = np.zeros_like(r), np.zeros_like(r)
    for i in range(r.shape[0]):
        chain = [t for t in range(r.shape[1]) if m[i, t]]
        vals = [v[i, t] for t in chain] + [0.0]
        deltas = [r[i, t] + gamma * vals[k + 1] - vals[k] for k, t in enumerate(chain)]
        for k, t in enumerate(chain):
            adv[i, t] = sum((gamma * lam) ** j * deltas[k + j] for j in range(len(chain) - k))
            ret[i, t] = adv[i, t] + v[i, t]
    return adv, ret


def np_whiten(x, m, shift_mean=True, eps=1e-8):
    out = np.zeros_like(x)
    vals = x[m]
    if vals.size == 0:
        return out
    mean = vals.mean()
    var = vals.var(ddof=1) if vals.size > 1 else 0.0
    y = (x - mean) / np.sqrt(var + eps)
    if not shift_mean:
        y = y + mean
    out[m] = y[m]
    return out


def verl_gae(r, v, m, gamma, lam):
    """verl's loop (masks as floats), without its final whitening."""
    mf = m.astype(np.float64)
    nextvalues, lastgaelam, rev = 0.0, 0.0, []
    for t in reversed(range(r.shape[1])):
        delta = r[:, t] + gamma * nextvalues - v[:, t]
        lastgaelam_ = delta + gamma * lam * lastgaelam
        nextvalues = v[:, t] * mf[:, t] + (1 - mf[:, t]) * nextvalues
        lastgaelam = lastgaelam_ * mf[:, t] + (1 - mf[:, t]) * lastgaelam
        rev.append(lastgaelam)
    adv = np.stack(rev[::-1], axis=1)
    return adv, adv + v


def verl_whiten(x, m):
    mf = m.astype(np.float64)
    mean = (x * mf).sum() / (mf.sum() + 1e-8)
    var = ((x - mean) ** 2 * mf).sum() / (mf.sum() + 1e-8) * mf.sum() / (mf.sum() - 1)
    return (x - mean) / np.sqrt(var + 1e-8)


def _draw(seed, ragged=True):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(B, T))
    v = rng.normal(size=(B, T))
    m = rng.random((B, T)) < 0.7
    if ragged:
        m[0] = False           # an all-masked row
        m[1] = False
        m[1, rng.integers(T)] = True  # a single valid token
    return r, v, m


masks = st.lists(st.booleans(), min_size=B * T, max_size=B * T).map(lambda b: np.array(b).reshape(B, T))


# ---------------------------------------------------------------- GAE
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), mask=masks, gamma=st.sampled_from([1.0, 0.9, 0.0]),
       lam=st.sampled_from([1.0, 0.95, 0.0]), jit=st.booleans())
def test_gae_matches_definition_on_ragged_masks(seed, mask, gamma, lam, jit):
    r, v, _ = _draw(seed)
    r_in, v_in = r.copy(), v.copy()
    r_in[~mask], v_in[~mask] = np.nan, np.inf  # masked positions must have no effect
    fn = jax.jit(gae_advantages, static_argnames=("gamma", "lam")) if jit else gae_advantages
    adv, ret = fn(jnp.asarray(r_in, jnp.float32), jnp.asarray(v_in, jnp.float32), jnp.asarray(mask),
                  gamma=gamma, lam=lam)
    ref_adv, ref_ret = np_gae(r, v, mask, gamma, lam)
    np.testing.assert_allclose(adv, ref_adv, **TOL)
    np.testing.assert_allclose(ret, ref_ret, **TOL)
    assert np.all(np.asarray(adv)[~mask] == 0) and np.all(np.asarray(ret)[~mask] == 0)


def test_gae_float64_and_verl_parity():
    with jax.enable_x64(True):
        r, v, m = _draw(3)
        adv, ret = gae_advantages(jnp.asarray(r), jnp.asarray(v), jnp.asarray(m), gamma=0.97, lam=0.9)
        assert adv.dtype == jnp.float64
        ref_adv, ref_ret = np_gae(r, v, m, 0.97, 0.9)
        np.testing.assert_allclose(adv, ref_adv, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ret, ref_ret, rtol=1e-12, atol=1e-12)
        v_adv, v_ret = verl_gae(r, v, m, 0.97, 0.9)
        np.testing.assert_allclose(np.asarray(adv)[m], v_adv[m], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(ret)[m], v_ret[m], rtol=1e-12, atol=1e-12)
        # verl whitens inside its GAE; masked_whiten reproduces it on the valid tokens.
        r, v, m = _draw(4, ragged=False)
        adv, _ = gae_advantages(jnp.asarray(r), jnp.asarray(v), jnp.asarray(m))
        ours = masked_whiten(adv, jnp.asarray(m))
        np.testing.assert_allclose(np.asarray(ours)[m], verl_whiten(verl_gae(r, v, m, 1.0, 1.0)[0], m)[m],
                                   rtol=1e-6, atol=1e-7)


def test_gae_special_cases():
    r = jnp.array([[1.0, 2.0, 3.0]])
    v = jnp.array([[0.5, 0.25, 2.0]])
    m = jnp.ones((1, 3), bool)
    # lam = 0: one-step TD errors; lam = 1, v = 0: discounted reward-to-go.
    adv, _ = gae_advantages(r, v, m, gamma=0.5, lam=0.0)
    np.testing.assert_allclose(adv, [[1 + 0.5 * 0.25 - 0.5, 2 + 0.5 * 2.0 - 0.25, 3 - 2.0]], rtol=1e-6)
    _, ret = gae_advantages(r, jnp.zeros_like(r), m, gamma=0.5, lam=1.0)
    np.testing.assert_allclose(ret, [[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3]], rtol=1e-6)
    adv, ret = gae_advantages(jnp.zeros((0, 3)), jnp.zeros((0, 3)), jnp.zeros((0, 3), bool))
    assert adv.shape == ret.shape == (0, 3)


def test_gae_contract():
    with pytest.raises(ValueError, match="values"):
        gae_advantages(jnp.zeros((2, 3)), jnp.zeros((2, 4)), jnp.ones((2, 3), bool))
    with pytest.raises(TypeError, match="mask"):
        gae_advantages(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="gamma"):
        gae_advantages(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.ones((2, 3), bool), gamma=1.5)


# ---------------------------------------------------------------- masked_whiten
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), mask=masks, shift=st.booleans(), jit=st.booleans(),
       eps=st.sampled_from([0.0, 1e-8, 0.5]))
def test_masked_whiten_matches_numpy(seed, mask, shift, jit, eps):
    x = np.random.default_rng(seed).normal(3.0, 2.0, (B, T))
    x_in = x.copy()
    x_in[~mask] = np.nan
    fn = jax.jit(masked_whiten, static_argnames=("shift_mean", "eps")) if jit else masked_whiten
    out = fn(jnp.asarray(x_in, jnp.float32), jnp.asarray(mask), shift_mean=shift, eps=eps)
    np.testing.assert_allclose(out, np_whiten(x, mask, shift, eps), rtol=1e-5, atol=2e-5)


def test_masked_whiten_edges():
    x = jnp.array([[4.0, 7.0, 1.0]])
    none = jnp.zeros((1, 3), bool)
    one = jnp.array([[False, True, False]])
    np.testing.assert_array_equal(masked_whiten(x, none), np.zeros((1, 3)))
    np.testing.assert_array_equal(masked_whiten(x, one), np.zeros((1, 3)))
    np.testing.assert_array_equal(masked_whiten(x, one, shift_mean=False), [[0.0, 7.0, 0.0]])
    # All equal: exactly 0, also with eps = 0 (no 0/0).
    np.testing.assert_array_equal(masked_whiten(jnp.full((2, 2), 3.0), jnp.ones((2, 2), bool), eps=0.0),
                                  np.zeros((2, 2)))
    # ... for values whose mean rounds (0.1 x 7 had whitened to +-0.93 with eps = 0), next to
    # masked entries holding other values, in float32 and float64.
    for x64 in (False, True):
        with jax.enable_x64(x64):
            dtype = jnp.float64 if x64 else jnp.float32
            for value in (0.1, 0.7, 1 / 3):
                for n in (7, 100, 1000):
                    xs = jnp.full((2, n), value, dtype).at[1, 0].set(-5.0)
                    keep = jnp.ones((2, n), bool).at[1, 0].set(False)
                    for eps in (0.0, 1e-8):
                        np.testing.assert_array_equal(masked_whiten(xs, keep, eps=eps), 0.0)
                    np.testing.assert_array_equal(masked_whiten(xs, keep, shift_mean=False)[keep],
                                                  np.asarray(dtype(value)))
    # Extreme magnitudes: whitening is scale-free, so 1e30 * x whitens like x (eps = 0).
    base = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
    m = jnp.ones((1, 4), bool)
    np.testing.assert_allclose(masked_whiten(jnp.asarray(base * 1e30), m, eps=0.0),
                               np_whiten(base.astype(np.float64), np.ones((1, 4), bool), eps=0.0), rtol=1e-5)
    np.testing.assert_allclose(masked_whiten(jnp.asarray(base * 1e-30), m, eps=0.0),
                               np_whiten(base.astype(np.float64), np.ones((1, 4), bool), eps=0.0), rtol=1e-5)
    # ... and tiny values with the default eps are divided by ~sqrt(eps), not blown up.
    tiny = masked_whiten(jnp.asarray(base * 1e-30), m)
    np.testing.assert_allclose(tiny, np_whiten(base.astype(np.float64) * 1e-30, np.ones((1, 4), bool)),
                               rtol=1e-4, atol=1e-30)
    assert masked_whiten(jnp.zeros((0, 3)), jnp.zeros((0, 3), bool)).shape == (0, 3)
    with pytest.raises(ValueError, match="mask"):
        masked_whiten(x, jnp.ones((1, 4), bool))


def test_masked_whiten_gradients():
    x = jnp.array([[0.3, -1.2, 2.0, 0.7], [1.1, 0.0, -0.4, 5.0]])
    m = jnp.array([[True, True, False, True], [True, False, True, True]])
    check_grads(lambda a: masked_whiten(a, m, eps=1e-3), (x,), order=2, modes=["rev"], atol=1e-2, rtol=1e-2)
    check_grads(lambda a: masked_whiten(a, m, shift_mean=False), (x,), order=1, modes=["rev"], atol=1e-2,
                rtol=1e-2)
    g = jax.grad(lambda a: masked_whiten(a, m, eps=0.0).sum())(jnp.ones((2, 4)))
    assert np.all(np.isfinite(g))  # zero variance and eps = 0: a finite gradient


# ---------------------------------------------------------------- value_loss
@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("clip", [None, 0.2, 1.0])
def test_value_loss_matches_numpy(jit, clip):
    rng = np.random.default_rng(5)
    v, old, ret = rng.normal(size=(3, B, T))
    fn = jax.jit(value_loss, static_argnames="clip") if jit else value_loss
    out = fn(*(jnp.asarray(a, jnp.float32) for a in (v, old, ret)), clip=clip)
    ref = (v - ret) ** 2
    if clip is not None:
        ref = np.maximum(ref, (np.clip(v, old - clip, old + clip) - ret) ** 2)
    np.testing.assert_allclose(out, 0.5 * ref, **TOL)
    grad = jax.grad(lambda a: fn(a, jnp.asarray(old, jnp.float32), jnp.asarray(ret, jnp.float32),
                                 clip=clip).sum())(jnp.asarray(v, jnp.float32))
    if clip is None:
        ref_grad = v - ret
    else:
        clipped = np.clip(v, old - clip, old + clip)
        use_clipped = (clipped - ret) ** 2 > (v - ret) ** 2
        ref_grad = np.where(use_clipped, np.where(clipped == v, clipped - ret, 0.0), v - ret)
    np.testing.assert_allclose(grad, ref_grad, **TOL)


def test_value_loss_gradients_and_shapes():
    rng = np.random.default_rng(6)
    v, old, ret = (jnp.asarray(a) for a in rng.normal(size=(3, 2, 3)))
    check_grads(lambda a: value_loss(a, old, ret), (v,), order=2, modes=["rev"], atol=1e-2, rtol=1e-2)
    check_grads(lambda a: value_loss(a, old + 5.0, ret, clip=0.1), (v,), order=1, modes=["rev"], atol=1e-2,
                rtol=1e-2)
    assert value_loss(jnp.ones(4), jnp.zeros(4), jnp.zeros(4)).shape == (4,)
    with pytest.raises(ValueError, match="old_values"):
        value_loss(jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="clip"):
        value_loss(jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.ones((2, 3)), clip=0.0)


# ---------------------------------------------------------------- REINFORCE++
def np_discounted(r, m, gamma):
    out = np.zeros_like(r)
    for i in range(r.shape[0]):
        chain = [t for t in range(r.shape[1]) if m[i, t]]
        for k, t in enumerate(chain):
            out[i, t] = sum(gamma**j * r[i, chain[k + j]] for j in range(len(chain) - k))
    return out


def verl_reinforce_pp(r, m, gamma):
    mf = m.astype(np.float64)
    returns = np.zeros_like(r)
    running = 0.0
    for t in reversed(range(r.shape[1])):
        running = r[:, t] + gamma * running
        returns[:, t] = running
        running = running * mf[:, t]
    return verl_whiten(returns, m) * mf


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), mask=masks, gamma=st.sampled_from([1.0, 0.9]), jit=st.booleans())
def test_reinforce_pp_matches_definition(seed, mask, gamma, jit):
    r = np.random.default_rng(seed).normal(size=(B, T))
    fn = jax.jit(reinforce_pp_advantages, static_argnames=("gamma", "eps")) if jit else reinforce_pp_advantages
    out = fn(jnp.asarray(r, jnp.float32), jnp.asarray(mask), gamma=gamma)
    np.testing.assert_allclose(out, np_whiten(np_discounted(r, mask, gamma), mask), rtol=1e-4, atol=1e-4)


def test_reinforce_pp_matches_verl_on_trailing_padding():
    rng = np.random.default_rng(7)
    lengths = np.array([6, 3, 1, 4])
    m = np.arange(T)[None, :] < lengths[:, None]
    r = np.where(m, rng.normal(size=(B, T)), 0.0)
    with jax.enable_x64(True):
        out = reinforce_pp_advantages(jnp.asarray(r), jnp.asarray(m), gamma=0.95)
    np.testing.assert_allclose(out, verl_reinforce_pp(r, m, 0.95), rtol=1e-6, atol=1e-7)


def np_group_centre(r, ids):
    out = np.zeros_like(r)
    for i in range(len(r)):
        same = r[ids == ids[i]]
        out[i] = r[i] if len(same) == 1 else r[i] - same.mean()
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), mask=masks, ids=st.lists(st.integers(-3, 2), min_size=B, max_size=B),
       jit=st.booleans(), x64=st.booleans())
def test_reinforce_pp_baseline_matches_definition(seed, mask, ids, jit, x64):
    r = np.random.default_rng(seed).normal(size=B)
    ids = np.array(ids)
    ref = np_whiten(np.broadcast_to(np_group_centre(r, ids)[:, None], (B, T)).copy(), mask)
    fn = jax.jit(reinforce_pp_baseline_advantages) if jit else reinforce_pp_baseline_advantages
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        out = fn(jnp.asarray(r, dtype), jnp.asarray(ids, jnp.int32), jnp.asarray(mask))
        assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=1e-4 if not x64 else 1e-10, atol=1e-4 if not x64 else 1e-10)


@pytest.mark.parametrize("x64", [False, True])
def test_reinforce_pp_baseline_constant_groups_are_zero(x64):
    # Every group constant: every centred reward is exactly 0, so with eps=0 the whitened
    # advantages are 0. A plain float64 group mean had left 0.1-groups at -1.4e-17, which
    # the whitening (std ~1e-17) blew up to -0.77 and 1.16.
    r = np.array([0.1, 0.1, 0.1, 1.0, 1.0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    ids = np.repeat([0, 1, 2], [3, 2, 7])
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        out = reinforce_pp_baseline_advantages(jnp.asarray(r, dtype), jnp.asarray(ids), jnp.ones((12, 2), bool),
                                               eps=0.0)
        assert out.dtype == dtype
    np.testing.assert_array_equal(np.asarray(out), 0.0)


def test_reinforce_pp_baseline_matches_verl():
    rng = np.random.default_rng(8)
    ids = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    r = rng.normal(size=8)
    m = rng.random((8, 5)) < 0.8
    m[:, 0] = True
    # verl: score minus its group mean (singleton: mean 0), tiled, times the mask, then whitened.
    centred = np_group_centre(r, ids)
    ref = verl_whiten(np.tile(centred[:, None], (1, 5)) * m, m) * m
    with jax.enable_x64(True):
        out = reinforce_pp_baseline_advantages(jnp.asarray(r), jnp.asarray(ids), jnp.asarray(m))
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-7)


def test_gae_rows_are_independent_under_vmap():
    r, v, m = (jnp.asarray(a) for a in _draw(9))
    m = m.astype(bool)
    per_row = jax.vmap(lambda a, b, c: tuple(x[0] for x in gae_advantages(a[None], b[None], c[None], gamma=0.9,
                                                                          lam=0.8)))(r, v, m)
    batched = gae_advantages(r, v, m, gamma=0.9, lam=0.8)
    for a, b in zip(per_row, batched):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
