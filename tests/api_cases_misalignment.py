"""Contract-test cases for the (mis)alignment miniature's data generator (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

CASES = {
    "bvjax.data.safety_pairs": Case(
        good=lambda: ((jax.random.key(0),), {"num_examples": 6, "num_topics": 2, "harmful_fraction": 0.5}),
        bad=lambda: ((jax.random.key(0),), {"num_examples": 6, "harmful_fraction": jnp.array([0.5, 0.5])}),
        bad_arg="harmful_fraction",
        static=("num_examples", "num_topics", "num_digits", "num_styles"),
    ),
}
