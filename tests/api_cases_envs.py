"""Contract-test cases for bvjax.envs (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax.envs import key_door_reset
from tests.api_cases import Case


def _state():
    return key_door_reset(jax.random.key(0), width=5, height=2)[0]


CASES = {
    "bvjax.envs.key_door_reset": Case(
        good=lambda: ((jax.random.key(1),), {"width": 5, "height": 2, "max_steps": 12}),
        bad=lambda: ((jax.random.split(jax.random.key(1), 2),), {"width": 5}),
        bad_arg="key",
        static=("width", "height", "key_cell", "door_cell", "max_steps", "start_cell"),
    ),
    "bvjax.envs.key_door_step": Case(
        good=lambda: ((_state(), jnp.array(1, jnp.int32)), {}),
        bad=lambda: ((_state(), jnp.array([1, 2], jnp.int32)), {}),
        bad_arg="action",
    ),
}
