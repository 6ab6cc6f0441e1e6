"""Local Linear Attention in plain jnp with memory linear in the sequence length.

Queries are taken in blocks (`lax.map` / `lax.scan`) that hold their ``block_q x N``
weights; the per-query systems are solved with matrix-free conjugate gradient over key
tiles (the solver, the centred-product identity and the backward coefficients are
`bvjax._lla_math`'s, shared with the FlashLLA kernel bodies), so neither the ``N x N``
weights, the ``N x N x D`` centred keys nor the ``N x D x D`` moment matrices are ever
formed. The backward pass is a `jax.custom_vjp` that recomputes each block (the
implicit-function gradient with a second CG solve, written out in the documentation's
local linear attention notes, docs/notes/lla.md), so training memory is linear too.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from bvjax import _checks, _numerics
from bvjax import _lla_math as lla
from bvjax.attention import _layout


@dataclasses.dataclass(frozen=True)
class _Config:
    scale: float
    causal: bool
    block_q: int
    block_k: int
    cg_iters: int
    cg_tol: float
    precondition: bool
    delta_eps: float
    full_gradient: bool


def _pad_rows(x, rows, value=0.0):
    return jnp.pad(x, ((0, rows - x.shape[0]),) + ((0, 0),) * (x.ndim - 1), constant_values=value)


def _weights(cfg, qb, qpos, kp, n):
    """Row-max-shifted weights ``w [bq, Nk]`` of one query block over every key."""
    s = lla.scores(qb, kp, cfg.scale)
    col = jnp.arange(kp.shape[0])[None, :]
    valid = col < n
    if cfg.causal:
        valid = valid & (col <= qpos[:, None])
    m = jnp.max(jnp.where(valid, s, lla.NEG), axis=-1, keepdims=True)
    return jnp.where(valid, jnp.exp(s - m), 0.0)


def _num_tiles(cfg, block, num_k_tiles):
    """Key tiles that hold any key a query of ``block`` attends to (all when not causal)."""
    if not cfg.causal:
        return num_k_tiles
    last = (block + 1) * cfg.block_q  # one past the block's last query position
    return jnp.minimum(num_k_tiles, (last + cfg.block_k - 1) // cfg.block_k)


def _system(cfg, qb, kp, w, tiles, omega, mu_t, diag_t, lam):
    """(matvec p -> A p, Jacobi diagonal or None) for A = Sigma + lam * omega * I.

    The weights of the block stay resident; each product streams only the key tiles
    the block attends to (``tiles``, a traced count), so causal blocks skip the rest.
    """
    bk = cfg.block_k

    def matvec(p):
        def tile(j, acc):
            kc = jax.lax.dynamic_slice_in_dim(kp, j * bk, bk, 0)
            wc = jax.lax.dynamic_slice_in_dim(w, j * bk, bk, 1)
            return acc + lla.sigma_tilde_tile(wc, p, kc)

        sig_p = jax.lax.fori_loop(0, tiles, tile, jnp.zeros_like(p))
        return lla.apply_a(sig_p, p, qb, mu_t, omega, lam)

    diag = lla.jacobi(diag_t, qb, mu_t, omega, lam) if cfg.precondition else None
    return matvec, diag


def _padded(cfg, q, k, v, lam):
    n = q.shape[0]
    nq = -(-n // cfg.block_q)
    nk = -(-n // cfg.block_k)
    qp = _pad_rows(q, nq * cfg.block_q).reshape(nq, cfg.block_q, -1)
    lp = _pad_rows(lam[:, None], nq * cfg.block_q, 1.0).reshape(nq, cfg.block_q, 1)
    return qp, _pad_rows(k, nk * cfg.block_k), _pad_rows(v, nk * cfg.block_k), lp, nk


def _forward_one(cfg, q, k, v, lam):
    n = q.shape[0]
    qp, kp, vp, lp, nk = _padded(cfg, q, k, v, lam)

    def block(i, qb, lam_b):
        qpos = i * cfg.block_q + jnp.arange(cfg.block_q)
        w = _weights(cfg, qb, qpos, kp, n)
        omega, mu_t = lla.rowsum(w), lla.dot(w, kp)
        diag_t = lla.dot(w, kp * kp) if cfg.precondition else jnp.zeros_like(qb)
        matvec, diag = _system(cfg, qb, kp, w, _num_tiles(cfg, i, nk), omega, mu_t, diag_t, lam_b)
        mu = mu_t - omega * qb
        rho = lla.cg(matvec, mu, diag, iters=cfg.cg_iters, tol=cfg.cg_tol, early_exit=True)
        delta = lla.delta(omega, mu, rho, cfg.delta_eps)
        o = lla.dot(lla.output_coefficient(w, lla.dot_nt(rho, kp), lla.rowsum(rho * qb)), vp) / delta
        return o, (rho, delta, omega, mu_t, diag_t)

    idx = jnp.arange(qp.shape[0])
    o, res = jax.lax.map(lambda x: block(*x), (idx, qp, lp))
    flat = lambda x: x.reshape(-1, x.shape[-1])[:n]
    return flat(o), tuple(flat(x) for x in res)


def _backward_one(cfg, q, k, v, lam, o, rho, delta, omega, mu_t, diag_t, do):
    n, d = q.shape
    qp, kp, vp, lp, nk = _padded(cfg, q, k, v, lam)
    nq, bq = qp.shape[0], cfg.block_q

    def blocks(x, fill=0.0):
        return _pad_rows(x, nq * bq, fill).reshape(nq, bq, -1)

    def block(carry, xs):
        dk_acc, dv_acc = carry
        i, qb, lam_b, o_b, rho_b, delta_b, omega_b, mu_b, diag_b, do_b = xs
        qpos = i * bq + jnp.arange(bq)
        w = _weights(cfg, qb, qpos, kp, n)
        g = lla.dot_nt(do_b, vp)
        c = g * w / delta_b
        tau, t_t = lla.rowsum(c), lla.dot(c, kp)
        beta = lla.rowsum(do_b * o_b) / delta_b
        matvec, diag = _system(cfg, qb, kp, w, _num_tiles(cfg, i, nk), omega_b, mu_b, diag_b, lam_b)
        u = lla.cg(matvec, t_t - tau * qb, diag, iters=cfg.cg_iters, tol=cfg.cg_tol, early_exit=True)
        sens = lla.ridge_sensitivity(u, rho_b, beta)
        gamma = lam_b * sens if cfg.full_gradient else jnp.zeros_like(sens)
        dmat = lla.d_rho(beta, rho_b, u)
        t = lla.backward_tile(w, g, lla.dot_nt(rho_b, kp), lla.rowsum(rho_b * qb), lla.dot_nt(u, kp),
                              lla.rowsum(u * qb), beta, gamma, delta_b)
        dk_acc = dk_acc + lla.dk_tile(t, w, qb, rho_b, u, dmat, cfg.scale)
        dv_acc = dv_acc + lla.dot(t.sm.T, do_b)
        dq = lla.dq_rows(lla.dot(t.p, kp), omega_b, dmat, tau, rho_b, u, lla.rowsum(w * t.r_d),
                         lla.rowsum(w * t.r_rho), cfg.scale)
        return (dk_acc, dv_acc), (dq, omega_b * sens)

    # Padded query rows carry do = 0, so every term they add to dK and dV is 0.
    xs = (jnp.arange(nq), qp, lp, blocks(o), blocks(rho), blocks(delta, 1.0), blocks(omega, 1.0),
          blocks(mu_t), blocks(diag_t), blocks(do))
    init = (jnp.zeros_like(kp), jnp.zeros_like(vp))
    (dk, dv), (dq, grad_lam) = jax.lax.scan(block, init, xs)
    return dq.reshape(-1, d)[:n], dk[:n], dv[:n], grad_lam.reshape(-1)[:n]


# The configuration is a static (hashable) argument of the custom VJP and of the jitted
# entry point below: jit's cache is the only cache.
@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _lla(cfg: _Config, q, k, v, lam):
    return jax.vmap(functools.partial(_forward_one, cfg))(q, k, v, lam)[0]


def _lla_fwd(cfg, q, k, v, lam):
    o, res = jax.vmap(functools.partial(_forward_one, cfg))(q, k, v, lam)
    return o, (q, k, v, lam, o, res)


def _lla_bwd(cfg, saved, do):
    q, k, v, lam, o, res = saved
    return jax.vmap(functools.partial(_backward_one, cfg))(q, k, v, lam, o, *res, do.astype(o.dtype))


_lla.defvjp(_lla_fwd, _lla_bwd)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _compute(q, k, v, ridge, *, cfg):
    """[B, N, H, D/E] inputs in their own dtypes -> [B, N, H, E] in their promoted dtype."""
    b, n, h, _ = q.shape
    dtype = _numerics.compute_dtype(q, k, v)
    lam = _layout.ridge_per_head(ridge, b, n, h, dtype)
    qh, kh, vh = (_layout.to_heads(x.astype(dtype)) for x in (q, k, v))
    reached = _numerics.attention_nonfinite(qh, kh, vh, causal=cfg.causal)
    qh, kh, vh = (_numerics.finite_or_zero(x) for x in (qh, kh, vh))
    o = _lla(cfg, qh, kh, vh, lam)
    o = lla.with_few_key_rows(o, qh, kh, vh, lam, scale=cfg.scale, causal=cfg.causal,
                              ridge_grad="full" if cfg.full_gradient else "stop")
    o = jnp.where(reached, jnp.nan, o)
    return _layout.from_heads(o, b, h).astype(_numerics.float_dtype(q, k, v))


def local_linear_attention_chunked(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    *,
    ridge: float | jax.Array = 10.0,
    scale: float | None = None,
    causal: bool = True,
    ridge_grad: str = "full",
    block_q: int = 128,
    block_k: int = 128,
    cg_iters: int = 32,
    cg_tol: float = 1e-6,
    precondition: bool = False,
    delta_eps: float = 1e-6,
) -> jax.Array:
    r"""Local Linear Attention with memory linear in N: query blocks and matrix-free CG.

    Computes `local_linear_attention`'s closed form,
    :math:`o_i = \sum_j w_{ij}(1 - \rho_i\cdot(k_j-q_i))\,v_j/\delta_i` with
    :math:`\rho_i = (\Sigma_i + \lambda_i\omega_i I)^{-1}\mu_i`, without forming any
    ``N x N``, ``N x N x D`` or ``N x D x D`` array. Queries are taken in blocks of
    ``block_q`` (`lax.map`); a block holds its ``block_q x N`` weights, from which come
    :math:`\omega`, :math:`\tilde\mu = \sum_j w_{ij}k_j` and the output, and runs
    at most ``cg_iters`` conjugate-gradient iterations, each streaming the key tiles of
    ``block_k`` that the block attends to (causal blocks skip the tiles past their last
    query) and computing

    .. math::
        \Sigma_i p_i = \sum_c (W_c \circ P K_c^\top) K_c\big|_i - (p_i\cdot q_i)\tilde\mu_i
        - (p_i\cdot\tilde\mu_i) q_i + \omega_i (p_i\cdot q_i) q_i ;

    then one output pass. Rows converge independently and freeze at relative residual
    ``cg_tol``; a block stops iterating once all its rows have frozen (a frozen row no
    longer moves, so this is the result of all ``cg_iters`` iterations, sooner: at ridge 1
    on Gaussian inputs, N = 2048, D = 32, blocks froze after 7 to 14 of 32 iterations
    at ``cg_tol`` 1e-6). ``precondition=True`` divides by diag(A) (Jacobi). The iterations needed
    grow as the ridge shrinks (measured max error against the exact float64 output,
    N = 128, D = 16, Gaussian inputs: ridge 10 needs 8 iterations for 3e-7, ridge 1 needs
    16 for 3e-6, ridge 0.1 needs 32 for 5e-5); Jacobi scaling did not reduce them. Memory
    is :math:`O(N\,(\text{block\_q} + D))` per head, forward and backward. The backward
    pass (a `jax.custom_vjp`) recomputes each block's weights, solves the second CG
    system :math:`U_i = A_i^{-1} T_i` and accumulates dQ, dK and dV block by block; the
    gradient convention is chosen by ``ridge_grad`` exactly as in
    `local_linear_attention`.

    Cost per head: about :math:`(5 + T)\,N^2 D` multiply-adds forward with :math:`T` the
    iterations run (at most ``cg_iters``) when causal (the CG products skip masked tiles; the one-off passes over
    a block's weights do not), :math:`(5 + 2T)\,N^2 D` when not.

    Args:
        q: [B, N, H, D] float queries.
        k: [B, N, H, D] float keys.
        v: [B, N, H, E] float values.
        ridge: lambda > 0: a scalar, or per position [B, N] or [B, N, H].
        scale: score scale s; default ``1/sqrt(D)``.
        causal: mask ``j <= i``; False: every key.
        ridge_grad: ``"full"`` (exact gradient) or ``"stop"`` (omega in the ridge
            held constant, as FlashLLA).
        block_q: static query-block length (N need not be a multiple); the block's
            ``block_q x N`` weights are the largest temporary.
        block_k: static key-tile length of the CG products (N need not be a multiple).
        cg_iters: static maximum number of CG iterations (the solve is exact once every
            row has frozen; ridge 10 needs about 8, ridge 1 about 16, ridge 0.1 about 32).
        cg_tol: per-row relative residual at which a row freezes.
        precondition: Jacobi-preconditioned CG.
        delta_eps: floor of :math:`\delta_i/\omega_i`.

    Returns:
        [B, N, H, E] in the promoted dtype of q, k, v, computed in that dtype raised to at
        least float32 (float64 inputs: float64; float16/bfloat16: float32, cast back).

    Examples:
        >>> x = jax.random.normal(jax.random.key(0), (1, 50, 2, 8))
        >>> o = local_linear_attention_chunked(x, x, x, block_k=16)
        >>> from bvjax.attention import local_linear_attention
        >>> exact = local_linear_attention(x, x, x, implementation="xla")
        >>> bool(jnp.allclose(o, exact, atol=1e-4))
        True

    References:
        Zuo et al, Local Linear Attention: An Optimal Interpolation of Linear and Softmax
        Attention For Test-Time Regression, 2025 (arXiv 2510.01450).

    Departure from the official kernel: float32 or float64 arithmetic rather than bf16
    matmuls; the block's weights are kept (``block_q x N``) instead of recomputed per CG
    iteration.
    """
    sizes = _layout.check_qkv(q, k, v)
    _layout.check_ridge(ridge, q)
    _layout.check_ridge_grad(ridge_grad)
    _checks.positive_int(block_q=block_q, block_k=block_k, cg_iters=cg_iters)
    n, d = sizes["N"], sizes["D"]
    if n == 0:
        return _layout.empty_output(q, k, v)
    cfg = _Config(scale=float(_layout.default_scale(scale, d)), causal=bool(causal), block_q=block_q, block_k=block_k,
                  cg_iters=cg_iters, cg_tol=float(cg_tol), precondition=bool(precondition),
                  delta_eps=float(delta_eps), full_gradient=ridge_grad == "full")
    return _compute(q, k, v, jnp.asarray(ridge, _numerics.compute_dtype(q, k, v)), cfg=cfg)
