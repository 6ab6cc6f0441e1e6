"""bvjax.rl.bucket_pad: padded batches give the unpadded results, with a bounded number of programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.rl import bucket_pad, group_advantages, hgpo_advantages


def test_rule_and_mask():
    x, m = bucket_pad(jnp.arange(5.0))
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 0, 0, 0])
    np.testing.assert_array_equal(m, [True] * 5 + [False] * 3)
    x, m = bucket_pad(jnp.arange(6.0).reshape(2, 3), mask=jnp.array([[True, False, True]] * 2), sizes=(2, 5), axis=1)
    assert x.shape == (2, 5)
    np.testing.assert_array_equal(m, [[True, False, True, False, False]] * 2)
    for n, want in [(0, 1), (1, 1), (2, 2), (3, 4), (64, 64), (65, 128)]:
        assert bucket_pad(jnp.zeros(n))[0].shape == (want,)
    assert bucket_pad(jnp.zeros(7), sizes=(16, 8))[0].shape == (8,)  # the smallest size that fits


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="sizes"):
        bucket_pad(jnp.zeros(9), sizes=(4, 8))
    with pytest.raises(ValueError, match="sizes"):
        bucket_pad(jnp.zeros(3), sizes=(0, 8))
    with pytest.raises(ValueError, match="mask"):
        bucket_pad(jnp.zeros(3), mask=jnp.ones(4, bool))
    with pytest.raises(TypeError, match="mask"):
        bucket_pad(jnp.zeros(3), mask=jnp.ones(3))
    with pytest.raises(ValueError, match="axis"):
        bucket_pad(jnp.zeros(3), axis=1)


@pytest.mark.parametrize("n", [1, 13])
def test_group_advantages_on_padded_batch_equal_unpadded(n):
    rng = np.random.default_rng(n)
    r = jnp.asarray(rng.normal(size=n).astype(np.float32))
    gid = jnp.asarray(rng.integers(0, 4, n).astype(np.int32))
    mask = jnp.asarray(rng.random(n) < 0.8)
    want = group_advantages(r, gid, mask=mask)
    rp, mp = bucket_pad(r, mask=mask)
    gp, _ = bucket_pad(gid)
    got = group_advantages(rp, gp, mask=mp)
    np.testing.assert_allclose(got[:n], want, rtol=1e-5, atol=1e-6)  # float32 sums in another order
    np.testing.assert_array_equal(got[n:], 0.0)
    dense = group_advantages(r[None], mask=mask[None])
    rp, mp = bucket_pad(r[None], mask=mask[None], axis=1)
    np.testing.assert_allclose(group_advantages(rp, mask=mp)[:, :n], dense, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("b,t", [(5, 9)])
def test_hgpo_on_padded_batch_equals_unpadded(b, t):
    rng = np.random.default_rng(b * t)
    states = jnp.asarray(rng.integers(0, 3, (b, t)).astype(np.int32))
    returns = jnp.asarray(rng.integers(0, 4, (b, t)).astype(np.float32))
    mask = jnp.asarray(rng.random((b, t)) < 0.85)
    tasks = jnp.asarray(rng.integers(0, 2, b).astype(np.int32))
    want = hgpo_advantages(states, returns, mask, tasks, history_length=2)
    sizes = (4, 8, 16)
    s, m = bucket_pad(states, mask=mask, sizes=sizes, axis=1)
    r, _ = bucket_pad(returns, sizes=sizes, axis=1)
    s, m2 = bucket_pad(s, mask=m, sizes=sizes, axis=0)
    r, _ = bucket_pad(r, sizes=sizes, axis=0)
    tp, _ = bucket_pad(tasks, sizes=sizes)
    got = hgpo_advantages(s, r, m2, tp, history_length=2)
    np.testing.assert_allclose(got[:b, :t], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[b:], 0.0)
    np.testing.assert_array_equal(got[:, t:], 0.0)


def test_number_of_compiled_programs_is_bounded():
    traces = []

    @jax.jit
    def step(r, gid, mask):
        traces.append(r.shape)  # runs once per compiled program
        return group_advantages(r, gid, mask=mask)

    rng = np.random.default_rng(0)
    for n in range(1, 41):
        r, m = bucket_pad(jnp.asarray(rng.normal(size=n).astype(np.float32)))
        g, _ = bucket_pad(jnp.asarray(rng.integers(0, 5, n).astype(np.int32)))
        step(r, g, m)
    assert len(traces) == len(set(traces)) == 7  # lengths 1, 2, 4, ..., 64 for n = 1..40
