"""Local Linear Attention for decoding: one query against a KV cache, in moment form."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from bvjax import _checks, _numerics
from bvjax import _lla_math as lla
from bvjax.attention import _layout


def local_linear_attention_decode(
    q: jax.Array,
    k_cache: jax.Array,
    v_cache: jax.Array,
    *,
    ridge: float | jax.Array = 10.0,
    scale: float | None = None,
    lengths: jax.Array | None = None,
    num_splits: int = 1,
    ridge_grad: str = "full",
    delta_eps: float = 1e-6,
) -> jax.Array:
    r"""Local Linear Attention for one new query per sequence against a KV cache.

    One pass over the cache accumulates, with :math:`w_j = e^{s\,q\cdot k_j - m}` over the
    valid entries :math:`j < L` and :math:`c_j = k_j - q`, the moments

    .. math::
        \omega = \sum_j w_j,\ \mu = \sum_j w_j c_j,\ \Sigma = \sum_j w_j c_j c_j^\top,\
        \nu = \sum_j w_j v_j,\ \Psi = \sum_j w_j v_j c_j^\top ,

    then solves the :math:`D \times D` system :math:`(\Sigma + \lambda\omega I)\rho = \mu` and
    returns :math:`o = (\nu - \Psi\rho)/\delta` with :math:`\delta = \omega - \mu\cdot\rho`:
    the same value as `local_linear_attention` at the last position of a causal sequence.
    The cache is read once (split into ``num_splits`` chunks whose moments are merged
    with the flash-decoding max rescale), so the cost is memory-bound: about
    :math:`2 M D` reads and :math:`4 M D^2` flops per head, plus an :math:`O(D^3)` solve.

    Args:
        q: [B, H, D] float, the new query of each sequence.
        k_cache: [B, M, H, D] float keys (including the new token's key if it should be
            seen, as in causal attention's diagonal).
        v_cache: [B, M, H, E] float values.
        ridge: lambda > 0: a scalar, or [B] or [B, H].
        scale: score scale s; default ``1/sqrt(D)``.
        lengths: [B] int, the valid prefix of each cache (default M). A sequence with
            length 0 returns zeros.
        num_splits: static number of cache chunks (M is padded to a multiple).
        ridge_grad: ``"full"`` or ``"stop"`` (omega in the ridge held constant), as in
            `local_linear_attention`; gradients are autodiff through the solve.
        delta_eps: floor of :math:`\delta/\omega`.

    Returns:
        [B, H, E] in the promoted dtype of q and the caches, computed in that dtype
        raised to at least float32 (float64 inputs: float64; float16/bfloat16: float32,
        cast back).

    Examples:
        >>> x = jax.random.normal(jax.random.key(0), (1, 6, 2, 8))
        >>> o = local_linear_attention_decode(x[:, 3], x, x, lengths=jnp.array([4]))
        >>> from bvjax.attention import local_linear_attention
        >>> bool(jnp.allclose(o, local_linear_attention(x, x, x)[:, 3], atol=1e-4))
        True

    References:
        Zuo et al, Local Linear Attention: An Optimal Interpolation of Linear and Softmax
        Attention For Test-Time Regression, 2025 (arXiv 2510.01450).

    Departures: the paper's inference kernel is not public; this is a single-pass
    moment method (docs/notes/lla.md, "Decoding one query against a cache"), with the moments taken about the query
    (:math:`c_j = k_j - q`) rather than uncentred, which avoids cancellation in float32.
    """
    sizes = _checks.dims(kind="float", q=(q, "[B, H, D]"), k_cache=(k_cache, "[B, M, H, D]"),
                         v_cache=(v_cache, "[B, M, H, E]"))
    _checks.dims(q=(q, "[B, H, D]"), lengths=(lengths, "[B]", "int"))
    _checks.in_range("ridge", ridge, low=0.0, low_inclusive=False)
    _checks.dims(q=(q, "[B, H, D]"), ridge=(ridge, ("[]", "[B]", "[B, H]"), "number"))
    _layout.check_ridge_grad(ridge_grad)
    _checks.positive_int(num_splits=num_splits)
    _checks.in_range("lengths", lengths, low=0, high=sizes["M"])  # eager only; traced lengths are clipped
    lengths = jnp.full((sizes["B"],), sizes["M"], jnp.int32) if lengths is None else lengths
    return _compute(q, k_cache, v_cache, jnp.asarray(ridge, _numerics.compute_dtype(q, k_cache, v_cache)), lengths,
                    scale=_layout.default_scale(scale, sizes["D"]), num_splits=num_splits, ridge_grad=ridge_grad,
                    delta_eps=delta_eps)


@functools.partial(jax.jit, static_argnames=("scale", "num_splits", "ridge_grad", "delta_eps"))
def _compute(q, k_cache, v_cache, ridge, lengths, *, scale, num_splits, ridge_grad, delta_eps):
    b, m_len, h, d = k_cache.shape
    dtype = _numerics.compute_dtype(q, k_cache, v_cache)
    lam = ridge
    lam = jnp.broadcast_to(lam[:, None] if lam.ndim == 1 else lam, (b, h))

    chunk = -(-m_len // num_splits)
    pad = chunk * num_splits - m_len
    valid = jnp.arange(m_len + pad)[None, :] < lengths[:, None]  # [B, M']
    # Non-finite entries reach the output only through valid cache slots (selected, never
    # multiplied by a zero weight): a bad q or seen key makes the row NaN, a bad seen
    # value channel that channel.
    in_cache = valid[:, :m_len, None]
    row_bad = ~jnp.all(jnp.isfinite(q), -1) | jnp.any(in_cache & ~jnp.all(jnp.isfinite(k_cache), -1), axis=1)
    reached = row_bad[..., None] | jnp.any(in_cache[..., None] & ~jnp.isfinite(v_cache), axis=1)  # [B, H, E]
    qf = _numerics.finite_or_zero(q).astype(dtype)
    kc = jnp.pad(_numerics.finite_or_zero(k_cache).astype(dtype), ((0, 0), (0, pad), (0, 0), (0, 0)))
    vc = jnp.pad(_numerics.finite_or_zero(v_cache).astype(dtype), ((0, 0), (0, pad), (0, 0), (0, 0)))

    def split(x):
        return x.reshape((b, num_splits, chunk) + x.shape[2:])

    ks, vs, ok = split(kc), split(vc), split(valid)
    s = jnp.clip(scale * jnp.einsum("bschd,bhd->bsch", ks, qf), -lla.CLIP, lla.CLIP)
    s = jnp.where(ok[..., None], s, lla.NEG)
    m_split = jax.lax.stop_gradient(jnp.max(s, axis=2))  # [B, S, H]
    m = jnp.max(m_split, axis=1)  # [B, H]
    w_split = jnp.where(ok[..., None], jnp.exp(s - m_split[:, :, None]), 0.0)  # [B, S, C, H]
    c = ks - qf[:, None, None]  # keys centred at the query, [B, S, C, H, D]
    # Per-split moments (each split could run on its own core), merged with the
    # flash-decoding rescale exp(m_split - m).
    parts = (jnp.einsum("bsch->bsh", w_split), jnp.einsum("bsch,bschd->bshd", w_split, c),
             jnp.einsum("bsch,bschd,bsche->bshde", w_split, c, c), jnp.einsum("bsch,bsche->bshe", w_split, vs),
             jnp.einsum("bsch,bsche,bschd->bshed", w_split, vs, c))
    factor = jnp.exp(m_split - m[:, None])  # [B, S, H]
    omega, mu, sig, nu, psi = (
        jnp.sum(factor.reshape(factor.shape + (1,) * (x.ndim - 3)) * x, axis=1) for x in parts)
    om_ridge = jax.lax.stop_gradient(omega) if ridge_grad == "stop" else omega
    seen = omega > 0
    eye = jnp.eye(d, dtype=dtype)
    a = jnp.where(seen[..., None, None], sig + (lam * om_ridge)[..., None, None] * eye, eye)
    # A cache of at most D valid entries: the dual (Gram) form, exact at any ridge
    # (`pallas_kernels.flash_lla.few_key_rows` explains it), solved in the same LU call.
    r = min(m_len, d)
    kr, vr = kc[:, :r], vc[:, :r]
    in_r = jnp.arange(r)[None, :] < lengths[:, None]  # [B, R]
    sr = jnp.where(in_r[..., None], jnp.clip(scale * jnp.einsum("bjhd,bhd->bhj", kr, qf).transpose(0, 2, 1),
                                             -lla.CLIP, lla.CLIP), lla.NEG)  # [B, R, H]
    wr = jnp.where(in_r[..., None], jnp.exp(sr - jax.lax.stop_gradient(jnp.max(sr, axis=1, keepdims=True))), 0.0)
    wr = wr.transpose(0, 2, 1)  # [B, H, R]
    om_r = jnp.sum(wr, -1)
    cr = jnp.transpose(kr - qf[:, None], (0, 2, 1, 3))  # [B, H, R, D]
    alpha = lam * (jax.lax.stop_gradient(om_r) if ridge_grad == "stop" else om_r)
    dual = lla.dual_system(wr, cr, jnp.transpose(vr, (0, 2, 1, 3)), alpha, seen)
    rho, u = lla.solve_together(a, mu, dual.a, dual.rhs)
    delta = lla.delta(omega[..., None], mu, rho, delta_eps)[..., 0]
    o = (nu - jnp.einsum("bhed,bhd->bhe", psi, rho)) / jnp.where(seen, delta, 1.0)[..., None]
    o_dual = lla.dual_output(dual, u)
    o = jnp.where((lengths <= d)[:, None, None], o_dual, o)
    o = jnp.where(reached, jnp.nan, jnp.where(seen[..., None], o, 0.0))
    return o.astype(_numerics.float_dtype(q, k_cache, v_cache))
