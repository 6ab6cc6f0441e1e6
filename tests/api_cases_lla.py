"""Contract-test cases for the LLA reproduction's data generator (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

CASES = {
    "bvjax.data.piecewise_linear_stream": Case(
        good=lambda: ((jax.random.key(0), jnp.ones((4, 2, 3))), {"batch_size": 2, "seq_len": 5, "drift": 0.5}),
        bad=lambda: ((jax.random.key(0), jnp.ones((3, 2, 3))), {"batch_size": 2, "seq_len": 5}),
        bad_arg="maps",
        static=("batch_size", "seq_len"),
    ),
}
