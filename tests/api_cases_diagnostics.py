"""Contract-test cases for bvjax.diagnostics' learner decomposition; see tests/api_cases.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case


def _mean_predictor(key, X_boot, y_boot, X_test):
    return jnp.full((X_test.shape[0],), jnp.mean(y_boot)) + 0.1 * jax.random.normal(key, (X_test.shape[0],))


def _decomp_args(bad=False):
    X, y = jnp.arange(12.0).reshape(6, 2), jnp.arange(6.0)
    return ((_mean_predictor, X, y[:-1] if bad else y, X, y),
            {"loss": "mse", "num_rounds": 8, "key": jax.random.key(0)})


CASES: dict[str, Case] = {
    "bvjax.diagnostics.bias_variance_decomp": Case(
        good=_decomp_args, bad=lambda: _decomp_args(bad=True), bad_arg="y_train",
        static=("estimator", "loss", "num_rounds", "random_seed", "domingos", "chunk_size")),
}
