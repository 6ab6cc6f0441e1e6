"""Contract-test cases for bvjax.preference and bvjax.transforms (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case


def _four(b=3, bad_at=None):
    arrays = [jnp.linspace(-3.0, -1.0, b) + i for i in range(4)]
    if bad_at is not None:
        arrays[bad_at] = jnp.zeros((b, 1))
    return tuple(arrays)


def _logits(b=2, t=4, v=5):
    return jax.random.normal(jax.random.key(0), (b, t, v))


def _labels(b=2, t=4):
    return jnp.arange(b * t, dtype=jnp.int32).reshape(b, t) % 5


def _mask(b=2, t=4):
    return jnp.arange(t)[None, :].repeat(b, 0) >= 1


def _grads(n=6, bad=False):
    key_t, key_e = jax.random.split(jax.random.key(1))
    g_t = {"w": jax.random.normal(key_t, (n, 3, 2)), "b": jax.random.normal(key_t, (n, 2))}
    g_e = {"w": 0.5 + jax.random.normal(key_e, (n, 3, 2)), "b": jax.random.normal(key_e, (n, 2 + bad))}
    return g_t, g_e


CASES = {
    "bvjax.preference.token_logps": Case(
        good=lambda: ((_logits(), _labels()), {"mask": _mask()}),
        bad=lambda: ((_logits(), _labels(t=3)), {}),
        bad_arg="labels",
    ),
    "bvjax.preference.sequence_logps": Case(
        good=lambda: ((_logits(), _labels(), _mask()), {"normalize": True}),
        bad=lambda: ((_logits(), _labels(), _mask(t=3)), {}),
        bad_arg="mask",
        static=("normalize",),
    ),
    "bvjax.preference.sft_loss": Case(
        good=lambda: ((_logits(), _labels(), _mask()), {"prompt_mask": ~_mask()}),
        bad=lambda: ((_logits(), _labels(), _mask()), {"prompt_mask": _mask(b=3)}),
        bad_arg="prompt_mask",
        static=("normalize",),
    ),
    "bvjax.preference.dpo_loss": Case(
        good=lambda: (_four(), {"beta": 0.1, "label_smoothing": 0.1}),
        bad=lambda: (_four(bad_at=2), {}),
        bad_arg="reference_chosen_logps",
    ),
    "bvjax.preference.ipo_loss": Case(
        good=lambda: (_four(), {"tau": 0.1}),
        bad=lambda: (_four(bad_at=3), {}),
        bad_arg="reference_rejected_logps",
    ),
    "bvjax.preference.hinge_dpo_loss": Case(
        good=lambda: (_four(), {"beta": 0.5}),
        bad=lambda: (_four(bad_at=1), {}),
        bad_arg="policy_rejected_logps",
        static=("beta",),
    ),
    "bvjax.preference.robust_dpo_loss": Case(
        good=lambda: (_four(), {"beta": 0.5, "label_smoothing": 0.2}),
        bad=lambda: (_four(bad_at=2), {}),
        bad_arg="reference_chosen_logps",
        static=("beta", "label_smoothing"),
    ),
    "bvjax.preference.f_dpo_loss": Case(
        good=lambda: (_four(), {"divergence": "alpha_divergence", "alpha": 0.3}),
        bad=lambda: (_four(bad_at=3), {"divergence": "js_divergence"}),
        bad_arg="reference_rejected_logps",
        static=("beta", "divergence", "alpha"),
    ),
    "bvjax.preference.orpo_loss": Case(
        good=lambda: ((jnp.array([-0.5, -2.0]), jnp.array([-1.0, -0.1]), jnp.array([0.5, 2.0])), {}),
        bad=lambda: ((jnp.array([-0.5, -2.0]), jnp.array([-1.0, -0.1]), jnp.array([0.5])), {}),
        bad_arg="chosen_nll",
    ),
    "bvjax.preference.group_alignment_loss": Case(
        good=lambda: ((jnp.zeros((2, 4)), jnp.ones((2, 4)), jnp.eye(2, 4)), {"mask": jnp.ones((2, 4), bool)}),
        bad=lambda: ((jnp.zeros((2, 4)), jnp.ones((2, 4)), jnp.eye(2, 3)), {}),
        bad_arg="rewards",
        static=("pair_reduction",),
    ),
    "bvjax.preference.bvpo_trace_loss": Case(
        good=lambda: (_four(), {"beta": 0.5}),
        bad=lambda: (_four(bad_at=1), {}),
        bad_arg="policy_rejected_logps",
    ),
    "bvjax.preference.bvpo_empty_trace_loss": Case(
        good=lambda: (_four(), {}),
        bad=lambda: (_four(bad_at=0), {}),
        bad_arg="policy_chosen_logps",
    ),
    "bvjax.preference.bvpo_loss": Case(
        good=lambda: ((jnp.arange(3.0), jnp.arange(5.0)), {"alpha": 0.3, "empty_mask": jnp.arange(5) < 3}),
        bad=lambda: ((jnp.arange(3.0), jnp.arange(5.0)), {"empty_mask": jnp.arange(4) < 3}),
        bad_arg="empty_mask",
    ),
    "bvjax.preference.bvpo_optimal_alpha": Case(
        good=lambda: ((jnp.array([4.0, 1.0]), jnp.array([1.0, 1.0]), jnp.array([0.0, 1.0])), {}),
        bad=lambda: ((jnp.array([4.0, 1.0]), jnp.array([1.0, 1.0]), jnp.zeros(3)), {}),
        bad_arg="cross",
    ),
    "bvjax.preference.bvpo_alpha_estimate": Case(
        good=lambda: (_grads(), {"projection": "sparse", "projection_dim": 4, "key": jax.random.key(2)}),
        bad=lambda: (_grads(bad=True), {}),
        bad_arg="empty_grads",
        static=("projection", "projection_dim"),
    ),
    # A factory: it returns an optax transformation (functions), which jax.jit cannot
    # return; test_jits_and_matches_eager does not apply (see the report on this case).
    "bvjax.transforms.bvpo_mix": Case(
        good=lambda: ((0.5,), {"decay": 0.9}),
        bad=lambda: ((1.5,), {}),
        bad_arg="alpha",
        static=("alpha", "decay", "initial_alpha", "alpha_if_degenerate"),
        update_kwargs=lambda params: {"empty_trace_grads": jax.tree.map(lambda p: 0.5 * p, params)},
    ),
}
