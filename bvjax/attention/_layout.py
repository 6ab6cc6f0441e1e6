"""Shape checks and layout helpers shared by the attention functions (private)."""

from __future__ import annotations

import jax.numpy as jnp

from bvjax import _checks, _numerics
from bvjax._lla_math import RIDGE_GRADS

__all__: list[str] = []  # private module.

RIDGE_SPECS = ("[]", "[B, N]", "[B, N, H]")


def check_qkv(q, k, v):
    """q, k [B, N, H, D] and v [B, N, H, E], all float, D >= 1; returns the bound sizes."""
    sizes = _checks.dims(kind="float", q=(q, "[B, N, H, D]"), k=(k, "[B, N, H, D]"), v=(v, "[B, N, H, E]"))
    if sizes["D"] == 0:
        raise ValueError(f"q: expected [B, N, H, D] with D >= 1 (the score scale is 1/sqrt(D)), got shape {q.shape}")
    return sizes


def empty_output(q, k, v):
    """The [B, 0, H, E] output of a length-0 sequence (N = 0: nothing to attend), in the
    promoted dtype of q, k, v."""
    return jnp.zeros(q.shape[:3] + v.shape[3:], _numerics.float_dtype(q, k, v))


def check_ridge(ridge, q, name="ridge"):
    """A scalar > 0, or a per-position [B, N] / [B, N, H] array (checked against q)."""
    _checks.in_range(name, ridge, low=0.0, low_inclusive=False)
    _checks.dims(q=(q, "[B, N, H, D]"), **{name: (ridge, RIDGE_SPECS, "number")})


def ridge_per_head(ridge, b, n, h, dtype):
    """The ridge broadcast to [B*H, N] (differentiable: the broadcast's transpose sums)."""
    lam = jnp.asarray(ridge, dtype)
    if lam.ndim == 2:
        lam = lam[:, :, None]
    lam = jnp.broadcast_to(lam, (b, n, h))
    return jnp.transpose(lam, (0, 2, 1)).reshape(b * h, n)


def to_heads(x):
    """[B, N, H, D] -> [B*H, N, D]."""
    b, n, h, d = x.shape
    return jnp.transpose(x, (0, 2, 1, 3)).reshape(b * h, n, d)


def from_heads(x, b, h):
    """[B*H, N, E] -> [B, N, H, E]."""
    return jnp.transpose(x.reshape(b, h, x.shape[1], x.shape[2]), (0, 2, 1, 3))


def check_ridge_grad(ridge_grad):
    _checks.one_of("ridge_grad", ridge_grad, RIDGE_GRADS)


def default_scale(scale, d):
    return d ** -0.5 if scale is None else scale

