"""Contract-test cases for the latent-trace toy, Tajwar's bandit and reward pairs (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

X, R, Y = 2, 3, 4


def _model(bad_rows=False):
    k_t, k_a = jax.random.split(jax.random.key(0))
    return (jax.random.normal(k_t, (X, R)), jax.random.normal(k_a, (X, R + (2 if bad_rows else 1), Y)))


def _rewards(y=Y):
    return jnp.arange(X * y, dtype=jnp.float32).reshape(X, y) % 3


CASES = {
    "bvjax.data.latent_trace_joint_logps": Case(
        good=lambda: (_model(), {}),
        bad=lambda: (_model(bad_rows=True), {}),
        bad_arg="answer_logits",
    ),
    "bvjax.data.latent_trace_marginal_logps": Case(
        good=lambda: (_model(), {}),
        bad=lambda: (_model(bad_rows=True), {}),
        bad_arg="answer_logits",
    ),
    "bvjax.data.latent_trace_marginal_dpo_loss": Case(
        good=lambda: ((*_model(), *_model(), _rewards()), {"beta": 0.5}),
        bad=lambda: ((*_model(), *_model(), _rewards(Y + 1)), {}),
        bad_arg="rewards",
    ),
    "bvjax.data.sample_latent_trace_pairs": Case(
        good=lambda: ((jax.random.key(1), *_model(), _rewards()), {"num_pairs": 5, "thinking": True}),
        bad=lambda: ((jax.random.key(1), *_model(), _rewards(Y + 1)), {"num_pairs": 5}),
        bad_arg="rewards",
        static=("num_pairs", "thinking"),
    ),
    "bvjax.data.tajwar_bandit": Case(
        good=lambda: ((), {"num_bins": 20, "peak": 14.0, "width": 2.0}),
        bad=lambda: ((), {"num_bins": 20, "peak": jnp.array([14.0, 3.0])}),
        bad_arg="peak",
        static=("num_bins",),
    ),
    "bvjax.preference.reward_pairs": Case(
        good=lambda: ((jnp.array([[0.1, 0.9, 0.5], [0.2, 0.2, 0.0]]),), {"threshold": 0.1}),
        bad=lambda: ((jnp.array([0.1, 0.9, 0.5]),), {}),
        bad_arg="rewards",
    ),
}

CASES["bvjax.preference.mcts_step_pairs"] = Case(
    good=lambda: ((jnp.array([[0.5, -1.0, 0.2], [0.1, 0.1, 0.3]]), jnp.array([[4, 1, 2], [0, 3, 1]])),
                  {"mask": jnp.array([[True, True, True], [True, False, True]]), "choose_worst": False}),
    bad=lambda: ((jnp.zeros((2, 3)), jnp.zeros((2, 4), jnp.int32)), {}),
    bad_arg="visits",
    static=("choose_worst",),
)
