"""Contract-test cases for bvjax.fairness (see tests/api_cases.py)."""

from __future__ import annotations

import jax.numpy as jnp

from tests.api_cases import Case


def _joint(shape=(2, 2, 2)):
    return jnp.linspace(1.0, 2.0, int(jnp.prod(jnp.array(shape)))).reshape(shape)


def _counts(a=3, c=2):
    return jnp.arange(1.0, a * c + 1).reshape(a, c)


CASES = {
    "bvjax.fairness.mutual_information": Case(
        good=lambda: ((_joint((2, 3)),), {"unit": "nats"}),
        bad=lambda: ((_joint((2, 2, 2)),), {}),
        bad_arg="p_xy",
        static=("unit",),
    ),
    "bvjax.fairness.conditional_mutual_information": Case(
        good=lambda: ((_joint((3, 2, 2)),), {}),
        bad=lambda: ((_joint((2, 2)),), {}),
        bad_arg="p_cxy",
        static=("unit",),
    ),
    "bvjax.fairness.pid_disparity": Case(
        good=lambda: ((_joint(),), {}),
        bad=lambda: ((_joint((3, 2, 2)),), {}),
        bad_arg="joint",
        static=("unit",),
    ),
    "bvjax.fairness.aglfop": Case(
        good=lambda: ((_joint((2, 2, 2)),), {"eps_global": 0.01, "eps_local": 0.02, "num_stages": 4,
                                              "newton_steps": 2}),
        bad=lambda: ((_joint((2, 2, 3)),), {"eps_global": 0.01, "eps_local": 0.02}),
        bad_arg="p_szy",
        static=("num_stages", "newton_steps"),
    ),
    "bvjax.fairness.impression_variance": Case(
        good=lambda: ((_counts(), _counts()[::-1]), {}),
        bad=lambda: ((_counts(), _counts(3, 3)), {}),
        bad_arg="eligible",
    ),
    "bvjax.fairness.impression_variance_summary": Case(
        good=lambda: ((_counts(), _counts()[::-1]), {"threshold": 0.1}),
        bad=lambda: ((_counts()[0], _counts()), {}),
        bad_arg="delivered",
    ),
    "bvjax.fairness.pacing_multiplier_update": Case(
        good=lambda: ((jnp.zeros((3, 4)), _counts(), _counts()[::-1], jnp.full((4, 2), 0.5)), {"step_size": 0.3}),
        bad=lambda: ((jnp.zeros((3, 4)), _counts(), _counts()[::-1], jnp.full((5, 2), 0.5)), {}),
        bad_arg="segment_class",
    ),
}
