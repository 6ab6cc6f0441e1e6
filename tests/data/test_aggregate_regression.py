"""The bagged regression generator: equal random bags, bag means of the responses, the model's moments."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.data import sample_aggregate_regression


@pytest.mark.parametrize("jit", [False, True])
def test_bags_and_means(jit):
    theta = jnp.array([1.0, -2.0, 0.5])
    fn = sample_aggregate_regression
    if jit:
        fn = jax.jit(fn, static_argnames=("num_samples", "bag_size"))
    d = fn(jax.random.key(0), theta, num_samples=3000, bag_size=6, noise_std=0.5)
    ids, y = np.asarray(d.bag_ids), np.asarray(d.responses, np.float64)
    np.testing.assert_array_equal(np.bincount(ids), np.full(500, 6))
    np.testing.assert_allclose(d.bag_labels, [y[ids == a].mean() for a in range(500)], rtol=1e-5, atol=1e-5)
    resid = y - np.asarray(d.x, np.float64) @ np.asarray(theta, np.float64)
    assert abs(resid.std() - 0.5) < 0.05 and abs(np.asarray(d.x).std() - 1.0) < 0.05


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="num_samples"):
        sample_aggregate_regression(jax.random.key(0), jnp.ones(2), num_samples=7, bag_size=2)
    with pytest.raises(ValueError, match="theta"):
        sample_aggregate_regression(jax.random.key(0), jnp.ones((2, 2)), num_samples=8, bag_size=2)
