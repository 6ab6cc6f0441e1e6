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


def _params():
    return {"dense": {"kernel": jnp.arange(12.0).reshape(4, 3), "bias": jnp.ones(3)}}


def _adapters(r=2, bad=False):
    return {"dense": {"kernel": {"a": jnp.ones((4 + bad, r)), "b": jnp.full((r, 3), 0.5)}, "bias": None}}


CASES.update({
    "bvjax.transforms.lora_init": Case(
        good=lambda: ((jax.random.key(0), _params()), {"rank": 2}),
        bad=lambda: ((jax.random.split(jax.random.key(0), 2), _params()), {"rank": 2}),
        bad_arg="key",
        static=("rank",),
    ),
    "bvjax.transforms.lora_merge": Case(
        good=lambda: ((_params(), _adapters()), {"scale": 0.5}),
        bad=lambda: ((_params(), _adapters(bad=True)), {"scale": 0.5}),
        bad_arg="adapters",
    ),
})
