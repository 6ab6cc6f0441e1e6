"""Contract-test cases for bvjax.selection (Kriging, VIF, lasso) and the simplicity-bias data (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

N, M, D = 6, 5, 2


def _x(n=N, d=D):
    return jnp.cos(jnp.arange(n * d, dtype=jnp.float32)).reshape(n, d)


def _y(n=N):
    return jnp.sin(jnp.arange(n, dtype=jnp.float32))


def _pool(m=M):
    x = jnp.linspace(0.0, 1.0, m)[:, None]
    return x, jnp.sin(3 * x[:, 0]), jnp.zeros(m, bool).at[0].set(True)


CASES = {
    "bvjax.selection.gp_kernel": Case(
        good=lambda: ((_x(), _x(M)), {"kernel": "matern32"}),
        bad=lambda: ((_x(), _x(M, 3)), {}),
        bad_arg="x2",
        static=("kernel",),
    ),
    "bvjax.selection.gp_posterior": Case(
        good=lambda: ((_x(), _y(), _x(M)), {"mean": "ordinary", "full_cov": True}),
        bad=lambda: ((_x(), _y(N + 1), _x(M)), {}),
        bad_arg="y_train",
        static=("kernel", "mean", "full_cov"),
    ),
    "bvjax.selection.gp_log_marginal_likelihood": Case(
        good=lambda: ((_x(), _y()), {"noise": 0.1}),
        bad=lambda: ((_x(), _y(N - 1)), {}),
        bad_arg="y_train",
        static=("kernel",),
    ),
    "bvjax.selection.max_variance_utility": Case(
        good=lambda: ((_y(),), {}),
        bad=lambda: ((_x(),), {}),
        bad_arg="variance",
    ),
    "bvjax.selection.expected_improvement": Case(
        good=lambda: ((_y(), jnp.ones(N), jnp.array(0.5)), {"xi": 0.01}),
        bad=lambda: ((_y(), jnp.ones(N + 1), jnp.array(0.5)), {}),
        bad_arg="std",
    ),
    "bvjax.selection.upper_confidence_bound": Case(
        good=lambda: ((_y(), jnp.ones(N)), {"kappa": 1.0}),
        bad=lambda: ((_y(), jnp.ones((N, 1))), {}),
        bad_arg="std",
    ),
    "bvjax.selection.knowledge_gradient": Case(
        good=lambda: ((_y(), jnp.eye(N)), {"noise": 0.1}),
        bad=lambda: ((_y(), jnp.eye(N + 1)), {"noise": 0.1}),
        bad_arg="covariance",
        static=("method", "num_nodes"),
    ),
    "bvjax.selection.hartmann3": Case(
        good=lambda: ((jnp.full((4, 3), 0.5),), {}),
        bad=lambda: ((jnp.full((4, 2), 0.5),), {}),
        bad_arg="x",
    ),
    "bvjax.selection.forrester_curve": Case(
        good=lambda: ((jnp.linspace(0.0, 1.0, 5)[:, None],), {}),
        bad=lambda: ((jnp.ones((5, 2)),), {}),
        bad_arg="x",
    ),
    "bvjax.selection.kriging_active_learning": Case(
        good=lambda: ((jax.random.key(0), *_pool()), {"num_steps": 2, "utility": "knowledge_gradient"}),
        bad=lambda: ((jax.random.key(0), _pool()[0], _pool(M + 1)[1], _pool()[2]), {"num_steps": 2}),
        bad_arg="y_observed",
        static=("num_steps", "utility", "kernel", "mean", "kg_method"),
    ),
}
