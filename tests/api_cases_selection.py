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


def _binary(n=N):
    return jnp.arange(n, dtype=jnp.int32) % 2


def _labels(n=N):
    return jnp.arange(n, dtype=jnp.int32) % 3


def _folds(n=N):
    return jnp.arange(n)[None, :] % 2 == jnp.arange(2)[:, None]


def _pool(m=M):
    x = jnp.linspace(0.0, 1.0, m)[:, None]
    return x, jnp.sin(3 * x[:, 0]), jnp.array([0, m - 1])


CASES = {
    "bvjax.selection.gp_kernel": Case(
        good=lambda: ((_x(), _x(M)), {"kernel": "matern32"}),
        bad=lambda: ((_x(), _x(M, 3)), {}),
        bad_arg="x2",
        static=("kernel",),
    ),
    "bvjax.selection.gp_posterior": Case(
        good=lambda: ((_x(), _y(), _x(M)), {"mean": "ordinary", "full_cov": True, "noise": 0.1, "lengthscale": 0.3}),
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
    "bvjax.selection.variance_inflation_factor": Case(
        good=lambda: ((_x(8, 3),), {}),
        bad=lambda: ((_y(8),), {}),
        bad_arg="x",
        static=("center",),
    ),
    "bvjax.selection.vif_screen": Case(
        good=lambda: ((_x(8, 3),), {"threshold": 5.0}),
        bad=lambda: ((_y(8),), {"threshold": 5.0}),
        bad_arg="x",
        static=("threshold", "max_drop", "center"),
    ),
    "bvjax.selection.multinomial_lasso_fit": Case(
        good=lambda: ((_x(), _labels()), {"num_classes": 3, "lam": 0.01, "num_iters": 20}),
        bad=lambda: ((_x(), _labels(N + 1)), {"num_classes": 3, "lam": 0.01, "num_iters": 20}),
        bad_arg="y",
        static=("num_classes", "num_iters", "standardize"),
    ),
    "bvjax.selection.lasso_lambda_path": Case(
        good=lambda: ((_x(), _labels()), {"num_classes": 3, "num": 4}),
        bad=lambda: ((_x(), _labels(N - 1)), {"num_classes": 3, "num": 4}),
        bad_arg="y",
        static=("num_classes", "num", "standardize"),
    ),
    "bvjax.selection.multinomial_lasso_cv": Case(
        good=lambda: ((_x(), _labels(), _folds(), jnp.array([0.1, 0.01])), {"num_classes": 3, "num_iters": 20}),
        bad=lambda: ((_x(), _labels(), _folds(N + 1), jnp.array([0.1, 0.01])), {"num_classes": 3, "num_iters": 20}),
        bad_arg="test_masks",
        static=("num_classes", "num_iters", "standardize", "criterion"),
    ),
    "bvjax.data.slab_coordinate": Case(
        good=lambda: ((jax.random.key(0), _binary()), {"num_slabs": 7}),
        bad=lambda: ((jax.random.key(0), _binary()[:, None]), {"num_slabs": 7}),
        bad_arg="y",
        static=("num_slabs", "margin", "width", "p"),
    ),
    "bvjax.data.linear_coordinate": Case(
        good=lambda: ((jax.random.key(0), _binary()), {"margin": 0.1}),
        bad=lambda: ((jax.random.key(0), _binary()[:, None]), {}),
        bad_arg="y",
    ),
    "bvjax.data.lms_data": Case(
        good=lambda: ((jax.random.key(0),), {"num_samples": 8, "dim": 3, "rotate": True}),
        bad=lambda: ((jax.random.key(0),), {"num_samples": 1, "dim": 3}),
        bad_arg="num_samples",
        static=("num_samples", "dim", "num_slabs", "margin", "width", "slab_p", "rotate"),
    ),
    "bvjax.data.ms57_data": Case(
        good=lambda: ((jax.random.key(0),), {"num_samples": 8, "dim": 3}),
        bad=lambda: ((jax.random.key(0),), {"num_samples": 1, "dim": 3}),
        bad_arg="num_samples",
        static=("num_samples", "dim", "margin", "width", "p5", "p7", "rotate"),
    ),
    "bvjax.data.randomize_coordinates": Case(
        good=lambda: ((jax.random.key(0), _x(), jnp.array([True, False])), {"rotation": jnp.eye(D)}),
        bad=lambda: ((jax.random.key(0), _x(), jnp.array([True, False, True])), {}),
        bad_arg="coords",
    ),
}
