"""bvjax.rl dapo_group_filter / overlong_filter / overlong_penalty against NumPy loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.rl import aggregate_loss, dapo_group_filter, overlong_filter, overlong_penalty

filter_jit = jax.jit(dapo_group_filter)
penalty_jit = jax.jit(overlong_penalty, static_argnames=("max_length", "cache_length", "penalty_factor"))


def np_keep(correct, valid):
    """0 < #correct < G over the valid entries of one group."""
    c = np.asarray(correct)[np.asarray(valid)]
    return len(c) >= 2 and 0 < c.sum() < len(c)


def np_penalty(length, max_length, cache_length, factor):
    if length <= max_length - cache_length:
        return 0.0
    if length <= max_length:
        return factor * ((max_length - cache_length) - length) / cache_length
    return -factor


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), jit=st.booleans(), p=st.sampled_from([0.0, 0.5, 1.0, 0.9]))
def test_dapo_filter_matches_numpy(seed, jit, p):
    rng = np.random.default_rng(seed)
    correct = rng.random((5, 16)) < p
    valid = rng.random((5, 16)) < 0.9
    valid[0, 1:] = False  # a singleton group
    fn = filter_jit if jit else dapo_group_filter
    keep = np.asarray(fn(jnp.asarray(correct), mask=jnp.asarray(valid)))
    np.testing.assert_array_equal(keep, [np_keep(correct[i], valid[i]) for i in range(5)])
    # ragged layout: the same groups, shuffled, with arbitrary ids.
    gid = np.repeat(np.array([40, -3, 7, 0, 12]), 16)
    perm = rng.permutation(80)
    keep_rows = np.asarray(fn(jnp.asarray(correct.ravel()[perm]), jnp.asarray(gid[perm]),
                              mask=jnp.asarray(valid.ravel()[perm])))
    expected = np.repeat([np_keep(correct[i], valid[i]) for i in range(5)], 16)[perm] & valid.ravel()[perm]
    np.testing.assert_array_equal(keep_rows, expected)


def test_dapo_filter_graded_rewards():
    r = jnp.array([[0.5, 0.5, 0.5], [0.2, 0.7, 0.7]])
    np.testing.assert_array_equal(dapo_group_filter(r), [False, True])


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(0, 40000), min_size=8, max_size=8), factor=st.sampled_from([1.0, 0.5]),
       jit=st.booleans())
def test_overlong_penalty_matches_numpy(lengths, factor, jit):
    fn = penalty_jit if jit else overlong_penalty
    out = np.asarray(fn(jnp.asarray(lengths), max_length=20480, cache_length=4096, penalty_factor=factor))
    np.testing.assert_allclose(out, [np_penalty(n, 20480, 4096, factor) for n in lengths], rtol=1e-6, atol=1e-7)


def test_overlong_penalty_contract():
    with pytest.raises(ValueError, match="cache_length"):
        overlong_penalty(jnp.array([1]), max_length=10, cache_length=20)
    with pytest.raises(TypeError, match="lengths"):
        overlong_penalty(jnp.array([True]), max_length=10, cache_length=2)


@pytest.mark.parametrize("jit", [False, True])
def test_overlong_filter_drops_truncated_rows_from_token_mean(jit):
    rng = np.random.default_rng(0)
    mask = rng.random((5, 7)) < 0.7
    truncated = np.array([False, True, False, True, False])
    loss = rng.normal(size=(5, 7))
    fn = jax.jit(overlong_filter) if jit else overlong_filter
    got = np.asarray(fn(jnp.asarray(mask), jnp.asarray(truncated)))
    want = np.array([[mask[i, t] and not truncated[i] for t in range(7)] for i in range(5)])
    np.testing.assert_array_equal(got, want)
    # token-mean over the kept rows only: truncated tokens leave the denominator too.
    kept = [loss[i, t] for i in range(5) for t in range(7) if want[i, t]]
    agg = aggregate_loss(jnp.asarray(loss, jnp.float32), jnp.asarray(got), mode="token-mean")
    np.testing.assert_allclose(float(agg), np.mean(kept), rtol=1e-5)
    everything = np.asarray(fn(jnp.asarray(mask), jnp.ones(5, bool)))
    assert not everything.any()
    assert float(aggregate_loss(jnp.asarray(loss, jnp.float32), jnp.asarray(everything), mode="token-mean")) == 0.0
