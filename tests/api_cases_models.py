"""Contract-test cases for bvjax.models (see tests/api_cases.py)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from tests.api_cases import Case


@functools.cache
def _model():
    from bvjax.models import TransformerConfig, TransformerLM

    cfg = TransformerConfig(vocab_size=7, num_layers=1, num_heads=2, head_dim=2, mlp_dim=8, max_len=8)
    params = jax.jit(TransformerLM(cfg).init)(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))
    return cfg, params


def _sample_args(prompts):
    cfg, params = _model()
    return (params, cfg, prompts), {"key": jax.random.key(1), "max_new_tokens": 3,
                                    "prompt_mask": jnp.array([[False, True, True], [True, True, True]])}


CASES = {
    "bvjax.data.mqar": Case(
        good=lambda: ((jax.random.key(0),), {"num_examples": 3, "vocab_size": 16, "seq_len": 12, "num_pairs": 2}),
        bad=lambda: ((jnp.zeros(3, jnp.uint32),), {"num_examples": 3, "vocab_size": 16, "seq_len": 12,
                                                    "num_pairs": 2}),
        bad_arg="key",
        static=("num_examples", "vocab_size", "seq_len", "num_pairs", "power_a", "random_non_queries"),
    ),
    "bvjax.models.sample": Case(
        good=lambda: _sample_args(jnp.array([[0, 1, 2], [3, 4, 5]])),
        bad=lambda: _sample_args(jnp.array([0, 1, 2])),
        bad_arg="prompts",
        static=("config", "max_new_tokens"),
    ),
}
