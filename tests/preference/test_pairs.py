"""reward_pairs against a float64 NumPy loop over all pairs of each group."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.preference import reward_pairs


def pairs64(rewards, threshold):
    chosen, rejected, mask = [], [], []
    for row in rewards:
        c, r, m = [], [], []
        for i, j in itertools.combinations(range(len(row)), 2):
            w, lo = (i, j) if row[i] >= row[j] else (j, i)
            c.append(w)
            r.append(lo)
            m.append(abs(row[i] - row[j]) >= threshold and row[i] != row[j])
        chosen.append(c)
        rejected.append(r)
        mask.append(m)
    return np.array(chosen), np.array(rejected), np.array(mask)


@pytest.mark.parametrize("threshold", [0.0, 0.2])
@pytest.mark.parametrize("jit", [False, True])
def test_matches_numpy_loop(threshold, jit):
    rng = np.random.default_rng(0)
    rewards = np.round(rng.random((6, 5)), 1)  # rounding makes ties
    fn = jax.jit(reward_pairs) if jit else reward_pairs
    got = fn(jnp.asarray(rewards, jnp.float32), threshold=threshold)
    chosen, rejected, mask = pairs64(rewards.astype(np.float32), threshold)
    np.testing.assert_array_equal(got.mask, mask)
    # Where kept, the order is exact; for ties the order does not matter.
    np.testing.assert_array_equal(np.where(mask, got.chosen, 0), np.where(mask, chosen, 0))
    np.testing.assert_array_equal(np.where(mask, got.rejected, 0), np.where(mask, rejected, 0))
    assert got.chosen.shape == (6, 10) and got.chosen.dtype == jnp.int32


def test_vmap_over_a_leading_axis():
    rewards = jax.random.uniform(jax.random.key(0), (3, 4, 5))
    batched = jax.vmap(reward_pairs)(rewards)
    for i in range(3):
        one = reward_pairs(rewards[i])
        for a, b in zip(batched, one):
            np.testing.assert_array_equal(a[i], b)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="rewards"):
        reward_pairs(jnp.zeros(4))
    with pytest.raises(ValueError, match="rewards"):
        reward_pairs(jnp.zeros((2, 1)))
    with pytest.raises(ValueError, match="threshold"):
        reward_pairs(jnp.zeros((2, 3)), threshold=-1.0)
