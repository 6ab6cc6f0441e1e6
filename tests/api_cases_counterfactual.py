"""Contract-test cases for bvjax.counterfactual and the MNAR generator (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

U, I = 3, 5


def _pred():
    return jnp.linspace(0.1, 0.9, U * I).reshape(U, I)


def _clicks(i=I):
    return (jnp.arange(U * i).reshape(U, i) % 3 == 0).astype(jnp.float32)


def _bags(n=6):
    return jnp.arange(n, dtype=jnp.int32) % 3


def _rank_args(n=I):
    rel = (jnp.arange(U * I).reshape(U, I) % 2).astype(jnp.float32)
    return rel, jnp.cos(jnp.arange(U * n, dtype=jnp.float32)).reshape(U, n)


CASES = {
    "bvjax.counterfactual.ideal_pointwise_loss": Case(
        good=lambda: ((_pred(), jnp.full((U, I), 0.3)), {"local": "log"}),
        bad=lambda: ((_pred(), jnp.full((U, I + 1), 0.3)), {}),
        bad_arg="relevance_prob",
        static=("local",),
    ),
    "bvjax.counterfactual.naive_pointwise_loss": Case(
        good=lambda: ((_pred(), _clicks()), {"local": "squared"}),
        bad=lambda: ((_pred(), _clicks(I + 1)), {}),
        bad_arg="clicks",
        static=("local",),
    ),
    "bvjax.counterfactual.ips_pointwise_loss": Case(
        good=lambda: ((_pred(), _clicks(), jnp.linspace(0.0, 1.0, I)), {"clip": 0.05}),
        bad=lambda: ((_pred(), _clicks(I + 1), jnp.linspace(0.0, 1.0, I)), {"clip": 0.05}),
        bad_arg="clicks",
        static=("local",),
    ),
    "bvjax.counterfactual.item_propensity": Case(
        good=lambda: ((jnp.array([3, 0, 1]),), {"power": 0.5}),
        bad=lambda: ((jnp.ones((2, 3)),), {}),
        bad_arg="pos_counts",
    ),
    "bvjax.counterfactual.dcg_at_k": Case(
        good=lambda: (_rank_args(), {"k": 3, "normalize": True}),
        bad=lambda: (_rank_args(I + 1), {"k": 3}),
        bad_arg="scores",
        static=("k", "normalize"),
    ),
    "bvjax.counterfactual.recall_at_k": Case(
        good=lambda: (_rank_args(), {"k": 2}),
        bad=lambda: (_rank_args(I + 1), {"k": 2}),
        bad_arg="scores",
        static=("k",),
    ),
    "bvjax.counterfactual.map_at_k": Case(
        good=lambda: (_rank_args(), {"k": 2}),
        bad=lambda: (_rank_args(I + 1), {"k": 2}),
        bad_arg="scores",
        static=("k",),
    ),
    "bvjax.counterfactual.snips_dcg_at_k": Case(
        good=lambda: ((*_rank_args(), jnp.linspace(0.0, 1.0, I)), {"k": 3}),
        bad=lambda: ((*_rank_args(), jnp.linspace(0.0, 1.0, I + 1)), {"k": 3}),
        bad_arg="propensity",
        static=("k",),
    ),
    "bvjax.data.sample_mnar_feedback": Case(
        good=lambda: ((jax.random.key(0), jnp.full((U, I), 4.0), jnp.zeros((U, I))), {"power": 2.0}),
        bad=lambda: ((jax.random.key(0), jnp.full((U, I), 4.0), jnp.zeros((U, I + 1))), {}),
        bad_arg="exposure_logits",
    ),
    "bvjax.data.synthetic_mnar_factors": Case(
        good=lambda: ((jax.random.key(0),), {"num_users": U, "num_items": I}),
        bad=lambda: ((jax.random.split(jax.random.key(0), 2),), {"num_users": U, "num_items": I}),
        bad_arg="key",
        static=("num_users", "num_items", "rank"),
    ),
    "bvjax.counterfactual.bag_means": Case(
        good=lambda: ((jnp.arange(6.0), _bags()), {"num_bags": 3}),
        bad=lambda: ((jnp.arange(6.0), _bags(7)), {"num_bags": 3}),
        bad_arg="bag_ids",
        static=("num_bags",),
    ),
    "bvjax.counterfactual.bag_level_loss": Case(
        good=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags()), {}),
        bad=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags(7)), {}),
        bad_arg="bag_ids",
    ),
    "bvjax.counterfactual.instance_level_loss": Case(
        good=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags()), {}),
        bad=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags(7)), {}),
        bad_arg="bag_ids",
    ),
    "bvjax.counterfactual.aggregate_interpolated_loss": Case(
        good=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags()), {"rho": 0.5}),
        bad=lambda: ((jnp.arange(6.0), jnp.ones(3), _bags(7)), {"rho": 0.5}),
        bad_arg="bag_ids",
    ),
    "bvjax.counterfactual.aggregate_linear_regression": Case(
        good=lambda: ((jnp.cos(jnp.arange(12.0)).reshape(6, 2), jnp.ones(3), _bags()), {"rho": 0.5}),
        bad=lambda: ((jnp.cos(jnp.arange(12.0)), jnp.ones(3), _bags()), {"rho": 0.5}),
        bad_arg="x",
    ),
    "bvjax.counterfactual.laplace_bag_means": Case(
        good=lambda: ((jax.random.key(0), jnp.arange(6.0), _bags()), {"num_bags": 3, "epsilon": 2.0}),
        bad=lambda: ((jax.random.key(0), jnp.arange(6.0), _bags(7)), {"num_bags": 3}),
        bad_arg="bag_ids",
        static=("num_bags",),
    ),
    "bvjax.data.sample_aggregate_regression": Case(
        good=lambda: ((jax.random.key(0), jnp.ones(3)), {"num_samples": 8, "bag_size": 4}),
        bad=lambda: ((jax.random.key(0), jnp.ones((3, 1))), {"num_samples": 8, "bag_size": 4}),
        bad_arg="theta",
        static=("num_samples", "bag_size"),
    ),
}
