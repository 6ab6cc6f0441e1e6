"""bvjax.rl gigpo_advantages / hgpo_advantages against float64 NumPy loops over clusters."""

from __future__ import annotations

from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.rl import gigpo_advantages, group_advantages, hgpo_advantages

B, T = 8, 8  # fixed shapes (ragged through the mask) so jit compiles once per configuration
SETTINGS = settings(max_examples=10, deadline=None)
hgpo_jit = jax.jit(hgpo_advantages, static_argnames=("history_length", "alpha", "level_offset", "mode", "eps",
                                                     "implementation"))
gigpo_jit = jax.jit(gigpo_advantages, static_argnames=("step_weight", "mode", "eps", "implementation"))


def _valid_steps(states, returns, mask, b):
    """The valid steps of trajectory b in order: [(t, state, return)]."""
    return [(t, states[b, t], float(returns[b, t])) for t in range(states.shape[1]) if mask[b, t]]


def _centre(r):
    """r - mean(r) in float64; exact arithmetic centres an all-equal cluster to 0."""
    return np.zeros_like(r) if np.ptp(r) == 0 else r - r.mean()


def np_hgpo(states, returns, mask, tasks, *, K, alpha, offset, mode, eps, base=None):
    """Clusters keyed by (task, k, last k+1 states); population std; drop a == 0; weighted mean."""
    clusters = defaultdict(list)
    for b in range(states.shape[0]):
        steps = _valid_steps(states, returns, mask, b)
        for i, (t, _, _) in enumerate(steps):
            for k in range(min(K, i) + 1):
                history = tuple(s for _, s, _ in steps[i - k:i + 1])
                clusters[(tasks[b], k, history)].append((b, t))
    items = defaultdict(list)
    for (_, k, _), members in clusters.items():
        if len(members) < 2:
            continue
        r = np.array([returns[b, t] for b, t in members], np.float64)
        c = _centre(r)
        a = c / (np.sqrt(np.mean(c**2)) + eps) if mode == "mean_std_norm" else c
        for (b, t), ak in zip(members, a):
            items[(b, t)].append(((k + 1 + offset) ** alpha, ak))
    out = np.zeros(states.shape)
    for b in range(states.shape[0]):
        for t in range(states.shape[1]):
            if not mask[b, t]:
                continue
            its = list(items[(b, t)])
            if base is not None:
                its.append((1.0, float(base[b, t])))
            its = [(w, a) for w, a in its if a != 0]
            if its:
                out[b, t] = sum(w * a for w, a in its) / (sum(w for w, _ in its) + eps)
    return out


def np_gigpo(states, returns, mask, tasks, episode, *, weight, mode, eps):
    """Episode advantage over step rows of a task (unbiased, singleton raw) + w * anchor-state advantage."""
    std = mode == "mean_std_norm"
    out = np.zeros(states.shape)
    for task in np.unique(tasks):
        rows = [(b, t) for b in range(states.shape[0]) for t in range(states.shape[1]) if tasks[b] == task and mask[b, t]]
        if not rows:
            continue
        x = np.array([episode[b] for b, _ in rows], np.float64)
        if len(rows) == 1:
            ae = x / (1 + eps) if std else x
        else:
            c = _centre(x)
            ae = c / (np.std(c, ddof=1) + eps) if std else c
        by_state = defaultdict(list)
        for (b, t), a in zip(rows, ae):
            out[b, t] += a
            by_state[states[b, t]].append((b, t))
        for members in by_state.values():
            if len(members) < 2:
                continue  # a singleton anchor group: (r - r) / (1 + eps) = 0
            r = np.array([returns[b, t] for b, t in members], np.float64)
            c = _centre(r)
            a = c / (np.std(c, ddof=1) + eps) if std else c
            for (b, t), ak in zip(members, a):
                out[b, t] += weight * ak
    return out


@st.composite
def trajectories(draw):
    seed = draw(st.integers(0, 2**20))
    rng = np.random.default_rng(seed)
    n_states = draw(st.integers(1, 4))
    states = rng.integers(0, n_states, (B, T)).astype(np.int32)
    # dyadic returns, so "a == 0 exactly" means the same thing in float32 and float64
    returns = (rng.integers(-4, 5, (B, T)) * draw(st.sampled_from([0.25, 1.0, 8.0]))).astype(np.float32)
    lengths = rng.integers(0, T + 1, B)
    mask = np.arange(T)[None] < lengths[:, None]
    if draw(st.booleans()):
        mask &= rng.random((B, T)) < 0.8  # holes: the history skips masked steps
    tasks = rng.integers(0, draw(st.integers(1, 3)), B).astype(np.int32)
    return states, returns, mask, tasks


@SETTINGS
@given(data=trajectories(), K=st.sampled_from([0, 1, 2, 4]), alpha=st.sampled_from([0.0, 1.0, 2.0]),
       offset=st.sampled_from([0, 1]), mode=st.sampled_from(["mean_std_norm", "mean_norm"]),
       use_base=st.booleans(), jit=st.booleans())
def test_hgpo_matches_numpy(data, K, alpha, offset, mode, use_base, jit):
    states, returns, mask, tasks = data
    base = np.round(np.random.default_rng(K).normal(size=(B, T)), 1).astype(np.float32) if use_base else None
    fn = hgpo_jit if jit else hgpo_advantages
    out = fn(jnp.asarray(states), jnp.asarray(returns), jnp.asarray(mask), jnp.asarray(tasks), history_length=K,
             alpha=alpha, level_offset=offset, mode=mode, base_advantages=None if base is None else jnp.asarray(base),
             implementation="xla")
    ref = np_hgpo(states, returns, mask, tasks, K=K, alpha=alpha, offset=offset, mode=mode, eps=1e-6, base=base)
    out = np.asarray(out)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * (1 + np.abs(returns).max()))


@SETTINGS
@given(data=trajectories(), mode=st.sampled_from(["mean_std_norm", "mean_norm"]),
       weight=st.sampled_from([1.0, 0.5]), jit=st.booleans())
def test_gigpo_matches_numpy(data, mode, weight, jit):
    states, returns, mask, tasks = data
    episode = (np.random.default_rng(int(states.sum())).integers(0, 3, B) * 5.0).astype(np.float32)
    fn = gigpo_jit if jit else gigpo_advantages
    out = fn(jnp.asarray(states), jnp.asarray(returns), jnp.asarray(mask), jnp.asarray(tasks), jnp.asarray(episode),
             step_weight=weight, mode=mode, implementation="xla")
    ref = np_gigpo(states, returns, mask, tasks, episode, weight=weight, mode=mode, eps=1e-6)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-4)


def test_paper_vs_recipe_weights():
    # Two trajectories share states (1, 2); a third has (3, 2). At t = 1 the first two
    # steps have a level-0 and a level-1 cluster: recipe weights 2:3, paper 1:2.
    s = jnp.array([[1, 2], [1, 2], [3, 2]])
    ret = jnp.array([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0]])
    mask, tasks = jnp.ones((3, 2), bool), jnp.zeros(3, jnp.int32)
    a0, a1 = 1.0 - 2.0 / 3.0, 0.5  # level-0 cluster {1, 0, 1}, level-1 cluster {1, 0}; mean_norm
    for offset, (w0, w1) in ((1, (2.0, 3.0)), (0, (1.0, 2.0))):
        out = hgpo_advantages(s, ret, mask, tasks, history_length=1, mode="mean_norm", level_offset=offset)
        np.testing.assert_allclose(out[0, 1], (w0 * a0 + w1 * a1) / (w0 + w1 + 1e-6), rtol=1e-6)


def test_hgpo_edge_cases():
    s = jnp.array([[1, 2, 3], [4, 5, 6]])
    ret = jnp.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    mask, tasks = jnp.ones((2, 3), bool), jnp.array([0, 0])
    # every cluster is a singleton: 0 without base, the base value with one.
    np.testing.assert_array_equal(hgpo_advantages(s, ret, mask, tasks, history_length=2), np.zeros((2, 3)))
    base = jnp.full((2, 3), 0.7)
    np.testing.assert_allclose(hgpo_advantages(s, ret, mask, tasks, history_length=2, base_advantages=base),
                               np.full((2, 3), 0.7 / (1 + 1e-6)), rtol=1e-6)
    # all-equal clusters are dropped, including with eps = 0; all-masked input gives 0.
    same = jnp.zeros((2, 3), jnp.int32)
    flat = jnp.full((2, 3), 0.95**3)
    np.testing.assert_array_equal(hgpo_advantages(same, flat, mask, tasks, history_length=1, eps=0.0), 0.0)
    np.testing.assert_array_equal(hgpo_advantages(s, ret, jnp.zeros((2, 3), bool), tasks, history_length=1), 0.0)
    # different tasks never share a cluster.
    out = hgpo_advantages(same, ret, mask, jnp.array([0, 1]), history_length=0, mode="mean_norm")
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_recipe_base_is_group_advantages_of_episode_returns():
    rng = np.random.default_rng(0)
    states = jnp.asarray(rng.integers(0, 2, (B, T)), jnp.int32)
    returns = jnp.asarray(rng.integers(0, 3, (B, T)), jnp.float32)
    mask = jnp.asarray(rng.random((B, T)) < 0.8)
    tasks = jnp.asarray(rng.integers(0, 2, B), jnp.int32)
    episode = jnp.asarray(rng.integers(0, 2, B) * 10.0, jnp.float32)
    base = group_advantages(jnp.broadcast_to(episode[:, None], (B, T)).ravel(), jnp.repeat(tasks, T),
                            mask=mask.ravel()).reshape(B, T)
    out = hgpo_advantages(states, returns, mask, tasks, history_length=2, base_advantages=base)
    ref = np_hgpo(np.asarray(states), np.asarray(returns), np.asarray(mask), np.asarray(tasks), K=2, alpha=1.0,
                  offset=1, mode="mean_std_norm", eps=1e-6, base=np.asarray(base))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_pallas_dispatch_matches_xla():
    rng = np.random.default_rng(3)
    states = jnp.asarray(rng.integers(0, 3, (6, 7)), jnp.int32)
    returns = jnp.asarray(rng.normal(size=(6, 7)), jnp.float32)
    mask = jnp.asarray(rng.random((6, 7)) < 0.85)
    tasks = jnp.asarray(rng.integers(0, 2, 6), jnp.int32)
    episode = jnp.asarray(rng.normal(size=6), jnp.float32)
    a = hgpo_advantages(states, returns, mask, tasks, history_length=2, implementation="pallas")
    b = hgpo_advantages(states, returns, mask, tasks, history_length=2, implementation="xla")
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    a = gigpo_advantages(states, returns, mask, tasks, episode, mode="mean_std_norm", implementation="pallas")
    b = gigpo_advantages(states, returns, mask, tasks, episode, mode="mean_std_norm", implementation="xla")
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_contract_errors():
    s, r, m, t = jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3)), jnp.ones((2, 3), bool), jnp.zeros(2, jnp.int32)
    with pytest.raises(ValueError, match="task_ids"):
        hgpo_advantages(s, r, m, jnp.zeros(3, jnp.int32), history_length=1)
    with pytest.raises(ValueError, match="history_length"):
        hgpo_advantages(s, r, m, t, history_length=-1)
    with pytest.raises(ValueError, match="level_offset"):
        hgpo_advantages(s, r, m, t, history_length=1, level_offset=2)
    with pytest.raises(ValueError, match="episode_returns"):
        gigpo_advantages(s, r, m, t, jnp.zeros(3))


@settings(max_examples=6, deadline=None)
@given(vals=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=B * T, max_size=B * T),
       mode=st.sampled_from(["mean_std_norm", "mean_norm"]), use_base=st.booleans())
def test_no_nan_for_any_finite_input(vals, mode, use_base):
    rng = np.random.default_rng(0)
    states = jnp.asarray(rng.integers(0, 2, (B, T)), jnp.int32)
    returns = jnp.asarray(np.asarray(vals, np.float32).reshape(B, T))
    mask = jnp.asarray(rng.random((B, T)) < 0.9)
    tasks = jnp.asarray(rng.integers(0, 2, B), jnp.int32)
    base = returns[::-1] if use_base else None
    out = hgpo_jit(states, returns, mask, tasks, history_length=2, mode=mode, base_advantages=base)
    assert not np.any(np.isnan(np.asarray(out)))
    out = gigpo_jit(states, returns, mask, tasks, returns[:, 0], mode=mode)
    assert not np.any(np.isnan(np.asarray(out)))
