"""The dtype policy in the group functions: float64 in is float64 computed and returned (checked
against float64 NumPy loops at rtol 1e-12); float16/bfloat16 are computed and returned in float32."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.rl import gigpo_advantages, group_advantages, hgpo_advantages, rloo_advantages
from tests.rl.test_advantages import np_group_advantages, np_rloo
from tests.rl.test_hierarchical import np_gigpo, np_hgpo

# Rewards sit near 1e3, so even float64 centring rounds at ~1e3 * 2^-52 * n ~ 1e-11 (absolute);
# float32 statistics would be off by ~1e-4 here.
RTOL, ATOL = 1e-12, 1e-10


def _ragged(seed, n=40, groups=5):
    rng = np.random.default_rng(seed)
    # values far from zero with a small spread: float32 statistics lose ~1e-6 here
    r = 1e3 + rng.normal(size=n) * 0.37
    gid = rng.integers(0, groups, n)
    mask = rng.random(n) < 0.9
    return r, gid, mask


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("layout", ["dense", "hashed", "num_groups"])
def test_group_advantages_float64(layout, normalize):
    r, gid, mask = _ragged(1)
    with jax.enable_x64(True):
        if layout == "dense":
            got = group_advantages(jnp.asarray(r.reshape(5, 8)), mask=jnp.asarray(mask.reshape(5, 8)),
                                   normalize=normalize, implementation="xla")
            want = np.concatenate([np_group_advantages(r[8 * p:8 * p + 8], np.zeros(8, int), mask[8 * p:8 * p + 8],
                                                       normalize=normalize) for p in range(5)]).reshape(5, 8)
        else:
            kw = {"num_groups": 5} if layout == "num_groups" else {}
            got = group_advantages(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask), normalize=normalize,
                                   implementation="xla", **kw)
            want = np_group_advantages(r, gid, mask, normalize=normalize)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("layout", ["dense", "hashed", "num_groups"])
def test_rloo_float64(layout):
    r, gid, mask = _ragged(2)
    with jax.enable_x64(True):
        if layout == "dense":
            got = rloo_advantages(jnp.asarray(r.reshape(5, 8)), mask=jnp.asarray(mask.reshape(5, 8)))
            want = np.concatenate([np_rloo(r[8 * p:8 * p + 8], np.zeros(8, int), mask[8 * p:8 * p + 8])
                                   for p in range(5)]).reshape(5, 8)
        else:
            kw = {"num_groups": 5} if layout == "num_groups" else {}
            got = rloo_advantages(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask), **kw)
            want = np_rloo(r, gid, mask)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL)


def _steps(seed, b=6, t=7):
    rng = np.random.default_rng(seed)
    states = rng.integers(0, 3, (b, t))
    returns = 1e3 + rng.normal(size=(b, t)) * 0.37
    mask = rng.random((b, t)) < 0.85
    tasks = rng.integers(0, 2, b)
    episode = 1e3 + rng.normal(size=b) * 0.37
    return states, returns, mask, tasks, episode


@pytest.mark.parametrize("mode", ["mean_norm", "mean_std_norm"])
def test_gigpo_and_hgpo_float64(mode):
    states, returns, mask, tasks, episode = _steps(3)
    with jax.enable_x64(True):
        args = tuple(jnp.asarray(a) for a in (states, returns, mask, tasks))
        got = gigpo_advantages(*args, jnp.asarray(episode), mode=mode, implementation="xla")
        want = np_gigpo(states, returns, mask, tasks, episode, weight=1.0, mode=mode, eps=1e-6)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL)
        got = hgpo_advantages(*args, history_length=2, mode=mode, implementation="xla")
        want = np_hgpo(states, returns, mask, tasks, K=2, alpha=1.0, offset=1, mode=mode, eps=1e-6)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("half", [jnp.float16, jnp.bfloat16])
def test_half_precision_is_computed_and_returned_in_float32(half):
    r = jnp.asarray([[1.0, 2.0, 4.0, 4.0]], half)
    for fn in (group_advantages, rloo_advantages):
        out = fn(r)
        assert out.dtype == jnp.float32
        want = fn(r.astype(jnp.float32))
        np.testing.assert_array_equal(out, want)
    s = jnp.array([[1, 2], [1, 2]])
    ret = jnp.asarray([[1.0, 0.5], [0.0, 0.25]], half)
    out = hgpo_advantages(s, ret, jnp.ones((2, 2), bool), jnp.zeros(2, jnp.int32), history_length=1)
    assert out.dtype == jnp.float32


def test_dapo_filter_float64_keeps_groups_that_differ_below_float32_precision():
    from bvjax.rl import dapo_group_filter

    with jax.enable_x64(True):
        r = jnp.asarray([[1.0, 1.0 + 1e-12], [2.0, 2.0]], jnp.float64)
        np.testing.assert_array_equal(dapo_group_filter(r), [True, False])
        np.testing.assert_array_equal(dapo_group_filter(r.reshape(-1), jnp.array([0, 0, 1, 1])), [True, True, False, False])
