"""One call case per public function, used by tests/test_public_api.py.

Each entry maps a public name (``"bvjax.diagnostics.bias_variance"``) to a `Case`:
``good()`` returns ``(args, kwargs)`` for a valid call, ``bad()`` the same with one
wrong-shaped data argument, ``bad_arg`` the name the ValueError must mention, and
``static`` the argument names `jax.jit` must treat as static. For a factory that
returns an `optax.GradientTransformation`, the contract test jits its ``init`` and
``update`` instead, on ``params = {"w": [3] float}`` with ``update_kwargs(params)`` as
the extra arguments of ``update``. A new public function without an entry here fails
the contract test.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Case(NamedTuple):
    good: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]
    bad: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]
    bad_arg: str
    static: tuple[str, ...] = ()
    update_kwargs: Callable[[Any], dict[str, Any]] | None = None


def _key():
    return jax.random.key(0)


def _gauss_mean(key):
    return jnp.mean(jax.random.normal(key, (4, 3)), axis=0)


CASES: dict[str, Case] = {
    "bvjax.diagnostics.bias_variance": Case(
        good=lambda: ((_gauss_mean, jnp.zeros(3), _key()), {"num_draws": 16}),
        bad=lambda: ((_gauss_mean, jnp.zeros(4), _key()), {"num_draws": 16}),
        bad_arg="reference",
        static=("estimator", "num_draws"),
    ),
    "bvjax.data.bandit_expected_return": Case(
        good=lambda: ((jnp.zeros((2, 3)), jnp.arange(3.0)), {}),
        bad=lambda: ((jnp.zeros((2, 3)), jnp.arange(4.0)), {}),
        bad_arg="means",
    ),
    "bvjax.data.bandit_policy_gradient": Case(
        good=lambda: ((jnp.zeros(3), jnp.arange(3.0)), {}),
        bad=lambda: ((jnp.zeros(3), jnp.arange(3.0)[:, None]), {}),
        bad_arg="means",
    ),
    "bvjax.data.sample_bandit": Case(
        good=lambda: ((_key(), jnp.zeros(3), jnp.arange(3.0)), {"num_samples": 4}),
        bad=lambda: ((_key(), jnp.zeros((2, 3)), jnp.arange(3.0)), {"num_samples": 4}),
        bad_arg="logits",
        static=("num_samples",),
    ),
    "bvjax.data.bandit_reinforce_gradient": Case(
        good=lambda: ((jnp.zeros((2, 3)), jnp.zeros((2, 4), jnp.int32), jnp.ones((2, 4))),
                      {"baseline": "leave_one_out"}),
        bad=lambda: ((jnp.zeros((2, 3)), jnp.zeros((2, 4), jnp.int32), jnp.ones((2, 5))),
                     {"baseline": "leave_one_out"}),
        bad_arg="rewards",
        static=("baseline",),
    ),
}

# Areas keep their cases in tests/api_cases_<area>.py, each defining CASES.
for _info in pkgutil.iter_modules([os.path.dirname(__file__)]):
    if _info.name.startswith("api_cases_"):
        CASES.update(importlib.import_module(f"tests.{_info.name}").CASES)
