"""The two ends LLA interpolates between: softmax attention and global ridge regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _lla_math as lla
from bvjax import _numerics
from bvjax.attention import _layout


def softmax_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    *,
    scale: float | None = None,
    causal: bool = True,
) -> jax.Array:
    r"""Softmax attention: the Nadaraya-Watson (local constant) estimator of v at each query.

    .. math::
        o_i = \frac{\sum_j e^{s\,q_i\cdot k_j}\, v_j}{\sum_j e^{s\,q_i\cdot k_j}},
        \qquad j \le i \text{ when causal.}

    Local Linear Attention with ridge :math:`\lambda \to \infty` reduces to this.

    Args:
        q: [B, N, H, D] float queries.
        k: [B, N, H, D] float keys.
        v: [B, N, H, E] float values.
        scale: score scale s; default ``1/sqrt(D)``.
        causal: mask ``j <= i`` (diagonal included); False: every key.

    Returns:
        [B, N, H, E] in the promoted dtype of q, k, v, computed in that dtype raised to
        at least float32 (float64 inputs: float64; float16/bfloat16: float32, cast back),
        with the max shift and a finite mask value, so no finite input gives NaN. A non-finite
        entry reaches only the outputs that see it: a non-finite ``q_i`` or seen key
        ``k_j`` makes row ``i`` NaN, a non-finite channel of a seen value ``v_j`` that
        channel of row ``i``; future (masked) positions have no effect.

    Examples:
        >>> q = k = jnp.zeros((1, 3, 1, 2))  # equal scores: the causal running mean of v
        >>> v = jnp.arange(3.0).reshape(1, 3, 1, 1)
        >>> softmax_attention(q, k, v)[0, :, 0, 0]
        Array([0. , 0.5, 1. ], dtype=float32)

    References:
        Vaswani et al, Attention Is All You Need, 2017 (arXiv 1706.03762); Nadaraya, On
        Estimating Regression, 1964.
    """
    sizes = _layout.check_qkv(q, k, v)
    n, d = sizes["N"], sizes["D"]
    dtype = _numerics.compute_dtype(q, k, v)
    scale = _layout.default_scale(scale, d)
    reached = _numerics.attention_nonfinite(q, k, v, causal=causal)
    qf, kf, vf = (_numerics.finite_or_zero(x).astype(dtype) for x in (q, k, v))
    s = scale * jnp.einsum("bihd,bjhd->bhij", qf, kf)
    s = jnp.clip(s, -lla.CLIP, lla.CLIP)
    if causal:
        s = jnp.where(jnp.tril(jnp.ones((n, n), bool)), s, lla.NEG)
    p = jax.nn.softmax(s, axis=-1)
    o = jnp.einsum("bhij,bjhe->bihe", p, vf)
    return jnp.where(reached, jnp.nan, o).astype(_numerics.float_dtype(q, k, v))


def linear_regression_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    *,
    ridge: float | jax.Array = 1.0,
    causal: bool = True,
) -> jax.Array:
    r"""Global ridge-regression attention (MesaNet-like): one linear map fitted to all past pairs.

    .. math::
        o_i = \Big(\sum_{j} v_j k_j^\top\Big)\Big(\sum_{j} k_j k_j^\top + \lambda_i I\Big)^{-1} q_i,
        \qquad j \le i \text{ when causal,}

    the exact ridge solution of :math:`\min_W \sum_j \|v_j - W k_j\|^2 + \lambda_i\|W\|_F^2`
    evaluated at :math:`q_i`: the global linear end of the interpolation LLA makes
    (no kernel weights, no intercept, no centring).

    Args:
        q: [B, N, H, D] float queries.
        k: [B, N, H, D] float keys.
        v: [B, N, H, E] float values.
        ridge: lambda > 0: a scalar, or per position [B, N] or [B, N, H].
        causal: prefix sums over ``j <= i``; False: the same fit on every pair.

    Returns:
        [B, N, H, E] in the promoted dtype of q, k, v, computed in that dtype raised to
        at least float32 (float64 inputs: float64; float16/bfloat16: float32, cast
        back). Memory is :math:`O(N D^2)` per head (prefix sums of
        the :math:`D \times D` moments), solved per position; the system is positive
        definite for ``ridge > 0``.

    Examples:
        >>> k = jnp.eye(2)[None, :, None, :]  # two orthogonal keys
        >>> v = jnp.array([1.0, 3.0])[None, :, None, None]
        >>> linear_regression_attention(k, k, v, ridge=1.0)[0, :, 0, 0]
        Array([0.5, 1.5], dtype=float32)

    References:
        von Oswald et al, MesaNet: Sequence Modeling by Locally Optimal Test-Time Training,
        2025 (arXiv 2506.05233); Zuo et al, Local Linear Attention, 2025 (arXiv 2510.01450).

    Departure from MesaNet: no gates or decay, and the exact solve instead of MesaNet's
    conjugate gradient; it is the plain "global linear" reference of the LLA paper.
    """
    sizes = _layout.check_qkv(q, k, v)
    _layout.check_ridge(ridge, q)
    b, n, h, d = sizes["B"], sizes["N"], sizes["H"], sizes["D"]
    dtype, out_dtype = _numerics.compute_dtype(q, k, v), _numerics.float_dtype(q, k, v)
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    lam = _layout.ridge_per_head(ridge, b, n, h, dtype).reshape(b, h, n).transpose(0, 2, 1)  # [B, N, H]
    kk = jnp.einsum("bjhd,bjhe->bjhde", k, k)
    vk = jnp.einsum("bjhe,bjhd->bjhed", v, k)
    if causal:
        kk, vk = jnp.cumsum(kk, axis=1), jnp.cumsum(vk, axis=1)
    else:
        kk = jnp.broadcast_to(jnp.sum(kk, axis=1, keepdims=True), kk.shape)
        vk = jnp.broadcast_to(jnp.sum(vk, axis=1, keepdims=True), vk.shape)
    a = kk + lam[..., None, None] * jnp.eye(d, dtype=dtype)
    x = jnp.linalg.solve(a, q[..., None])[..., 0]  # (K^T K + lambda I)^{-1} q
    return jnp.einsum("bnhed,bnhd->bnhe", vk, x).astype(out_dtype)
