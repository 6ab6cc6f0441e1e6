"""Invalid ids and degrees of freedom raise ValueError naming the argument (eager mode)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import attention
from bvjax.counterfactual import bag_means
from bvjax.selection import multinomial_lasso_fit
from bvjax.stats import kfold_masks, t_sf


def test_bag_means_ids_out_of_range():
    with pytest.raises(ValueError, match="bag_ids"):
        bag_means(jnp.ones(3), jnp.array([0, 1, 2]), num_bags=2)
    with pytest.raises(ValueError, match="bag_ids"):
        bag_means(jnp.ones(3), jnp.array([0, -1, 1]), num_bags=2)
    np.testing.assert_allclose(bag_means(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 1]), num_bags=2), [2.0, 5.0])


def test_kfold_masks_needs_a_permutation():
    with pytest.raises(ValueError, match="order"):
        kfold_masks(jnp.array([0, 0, 0, 1, 9]), num_folds=2)


def test_decode_lengths_out_of_range():
    x = jnp.ones((1, 4, 1, 2))
    for bad in (5, -1):
        with pytest.raises(ValueError, match="lengths"):
            attention.local_linear_attention_decode(x[:, 0], x, x, lengths=jnp.array([bad]))


def test_t_sf_df_not_positive():
    with pytest.raises(ValueError, match="df"):
        t_sf(1.0, 0)
    with pytest.raises(ValueError, match="df"):
        t_sf(jnp.ones(2), jnp.array([3.0, -1.0]))


def test_multinomial_lasso_label_out_of_range():
    x = jnp.ones((4, 2))
    with pytest.raises(ValueError, match="y"):
        multinomial_lasso_fit(x, jnp.array([0, 1, 2, 5]), num_classes=3, lam=0.1)


def test_bootstrap_ci_indices_out_of_range():
    import jax

    from bvjax.stats import bootstrap_ci, bootstrap_indices

    idx = bootstrap_indices(jax.random.key(0), num_items=8, num_resamples=200)
    with pytest.raises(ValueError, match="indices"):
        bootstrap_ci(jnp.arange(5.0), idx)
    bootstrap_ci(jnp.arange(8.0), idx)  # in range: accepted
