"""Contract-test cases for bvjax.attention (see tests/api_cases.py)."""

from __future__ import annotations

import jax.numpy as jnp

from tests.api_cases import Case

_LLA_STATIC = ("scale", "causal", "implementation", "ridge_grad", "delta_eps", "cg_iters", "cg_tol",
               "precondition", "block_sizes", "platform")


def _qkv(n=5, bad_k=False):
    q = jnp.linspace(-1.0, 1.0, 2 * n * 2 * 4).reshape(2, n, 2, 4)
    k = jnp.cos(q) if not bad_k else jnp.cos(q[:, :-1])
    return q, k, jnp.sin(3 * q[..., :3])


CASES = {
    "bvjax.attention.local_linear_attention": Case(
        good=lambda: (_qkv(), {"ridge": 2.0}),
        bad=lambda: (_qkv(bad_k=True), {}),
        bad_arg="k",
        static=_LLA_STATIC,
    ),
    "bvjax.attention.local_linear_attention_chunked": Case(
        good=lambda: (_qkv(), {"ridge": jnp.full((2, 5), 2.0), "block_k": 2}),
        bad=lambda: (_qkv(), {"ridge": jnp.ones((2, 4))}),
        bad_arg="ridge",
        static=("scale", "causal", "ridge_grad", "block_k", "cg_iters", "cg_tol", "precondition", "delta_eps"),
    ),
    "bvjax.attention.local_linear_attention_decode": Case(
        good=lambda: ((_qkv()[0][:, 0],) + _qkv()[1:], {"lengths": jnp.array([3, 5]), "num_splits": 2}),
        bad=lambda: ((_qkv()[0][:, 0],) + _qkv()[1:], {"lengths": jnp.array([3, 5, 1])}),
        bad_arg="lengths",
        static=("scale", "num_splits", "ridge_grad", "delta_eps"),
    ),
    "bvjax.attention.softmax_attention": Case(
        good=lambda: (_qkv(), {}),
        bad=lambda: (_qkv(bad_k=True), {}),
        bad_arg="k",
        static=("scale", "causal"),
    ),
    "bvjax.attention.linear_regression_attention": Case(
        good=lambda: (_qkv(), {"ridge": 0.5}),
        bad=lambda: (_qkv(), {"ridge": jnp.ones((3,))}),
        bad_arg="ridge",
        static=("causal",),
    ),
}

CASES["bvjax.attention.window_mean_query"] = Case(
    good=lambda: ((_qkv()[0][:, :, 0], jnp.arange(5) < jnp.array([[5], [2]])), {"window": 3}),
    bad=lambda: ((_qkv()[0][:, :, 0], jnp.ones((2, 4), bool)), {"window": 3}),
    bad_arg="mask",
    static=("window",),
)
