"""Local Linear Attention in plain jnp with memory linear in the sequence length.

Queries are taken in blocks (`lax.map` / `lax.scan`) that hold their ``block_q x N``
weights; the per-query systems are solved with matrix-free conjugate gradient over key
tiles, so neither the ``N x N`` weights, the ``N x N x D`` centred keys nor the
``N x D x D`` moment matrices are ever formed. The backward pass is a `jax.custom_vjp`
that recomputes each block (the implicit-function gradient with a second CG solve, written out in the
documentation's local linear attention notes, docs/notes/lla.md), so training memory is linear too.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from bvjax import _checks, _numerics
from bvjax.attention import _layout
from pallas_kernels import flash_lla as _kernel

_NEG = _numerics.NEG
_CLIP = 1e30


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


def _rowsum(x):
    return jnp.sum(x, axis=-1, keepdims=True)


def _pad_rows(x, rows, value=0.0):
    return jnp.pad(x, ((0, rows - x.shape[0]),) + ((0, 0),) * (x.ndim - 1), constant_values=value)


def _weights(cfg, qb, qpos, kp, n):
    """Row-max-shifted weights ``w [bq, Nk]`` of one query block over every key."""
    s = jnp.clip(cfg.scale * (qb @ kp.T), -_CLIP, _CLIP)
    col = jnp.arange(kp.shape[0])[None, :]
    valid = col < n
    if cfg.causal:
        valid = valid & (col <= qpos[:, None])
    m = jnp.max(jnp.where(valid, s, _NEG), axis=-1, keepdims=True)
    return jnp.where(valid, jnp.exp(s - m), 0.0)


def _num_tiles(cfg, block, num_k_tiles):
    """Key tiles that hold any key a query of ``block`` attends to (all when not causal)."""
    if not cfg.causal:
        return num_k_tiles
    last = (block + 1) * cfg.block_q  # one past the block's last query position
    return jnp.minimum(num_k_tiles, (last + cfg.block_k - 1) // cfg.block_k)


def _cg(matvec, rhs, diag, *, iters, tol):
    """Masked CG over all rows at once; a row freezes at relative residual ``tol``."""
    precond = (lambda r: r / diag) if diag is not None else (lambda r: r)
    z = precond(rhs)
    rr0 = _rowsum(rhs * rhs)

    def body(_, carry):
        x, r, p, rz, active = carry
        ap = matvec(p)
        pap = _rowsum(p * ap)
        ok = active & (pap > 0)
        alpha = jnp.where(ok, rz / jnp.where(ok, pap, 1.0), 0.0)
        x, r = x + alpha * p, r - alpha * ap
        z = precond(r)
        rz_new = _rowsum(r * z)
        beta = jnp.where(ok & (rz > 0), rz_new / jnp.where(rz > 0, rz, 1.0), 0.0)
        return x, r, z + beta * p, rz_new, ok & (_rowsum(r * r) > tol * tol * rr0)

    init = (jnp.zeros_like(rhs), rhs, z, _rowsum(rhs * z), rr0 > 0)
    return jax.lax.fori_loop(0, iters, body, init)[0]


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
            return acc + (wc * (p @ kc.T)) @ kc

        sig_p = jax.lax.fori_loop(0, tiles, tile, jnp.zeros_like(p))
        pq = _rowsum(p * qb)
        return sig_p - pq * mu_t - _rowsum(p * mu_t) * qb + omega * pq * qb + lam * omega * p

    diag = diag_t - 2 * mu_t * qb + omega * qb * qb + lam * omega if cfg.precondition else None
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
        omega, mu_t = _rowsum(w), w @ kp
        diag_t = w @ (kp * kp) if cfg.precondition else jnp.zeros_like(qb)
        matvec, diag = _system(cfg, qb, kp, w, _num_tiles(cfg, i, nk), omega, mu_t, diag_t, lam_b)
        mu = mu_t - omega * qb
        rho = _cg(matvec, mu, diag, iters=cfg.cg_iters, tol=cfg.cg_tol)
        delta = jnp.maximum(omega - _rowsum(mu * rho), cfg.delta_eps * omega)
        o = ((w * (1 + _rowsum(rho * qb) - rho @ kp.T)) @ vp) / delta
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
        g = do_b @ vp.T
        c = g * w / delta_b
        tau, t_t = _rowsum(c), c @ kp
        beta = _rowsum(do_b * o_b) / delta_b
        matvec, diag = _system(cfg, qb, kp, w, _num_tiles(cfg, i, nk), omega_b, mu_b, diag_b, lam_b)
        u = _cg(matvec, t_t - tau * qb, diag, iters=cfg.cg_iters, tol=cfg.cg_tol)
        grad_lam = omega_b * (_rowsum(u * rho_b) - beta * _rowsum(rho_b * rho_b))
        gamma = lam_b * grad_lam / omega_b if cfg.full_gradient else 0.0
        dmat = 2 * beta * rho_b - u
        r_rho = rho_b @ kp.T - _rowsum(rho_b * qb)
        r_u = u @ kp.T - _rowsum(u * qb)
        r_d = 2 * beta * r_rho - r_u
        sm = w * (1 - r_rho) / delta_b
        p = g * sm + w * (gamma - beta + r_d - 0.5 * r_d * r_rho + 0.5 * r_u * r_rho)
        dk_acc = dk_acc + cfg.scale * p.T @ qb + w.T @ dmat - (c + w * r_d).T @ rho_b + (w * r_rho).T @ u
        dv_acc = dv_acc + sm.T @ do_b
        dq = (cfg.scale * (p @ kp) - omega_b * dmat + tau * rho_b + _rowsum(w * r_d) * rho_b
              - _rowsum(w * r_rho) * u)
        return (dk_acc, dv_acc), (dq, grad_lam)

    # Padded query rows carry do = 0, so every term they add to dK and dV is 0.
    xs = (jnp.arange(nq), qp, lp, blocks(o), blocks(rho), blocks(delta, 1.0), blocks(omega, 1.0),
          blocks(mu_t), blocks(diag_t), blocks(do))
    init = (jnp.zeros_like(kp), jnp.zeros_like(vp))
    (dk, dv), (dq, grad_lam) = jax.lax.scan(block, init, xs)
    return dq.reshape(-1, d)[:n], dk[:n], dv[:n], grad_lam.reshape(-1)[:n]


@functools.cache
def _make(cfg: _Config):
    fwd_one = jax.vmap(functools.partial(_forward_one, cfg))
    bwd_one = jax.vmap(functools.partial(_backward_one, cfg))

    @jax.custom_vjp
    def fn(q, k, v, lam):
        return fwd_one(q, k, v, lam)[0]

    def fwd(q, k, v, lam):
        o, res = fwd_one(q, k, v, lam)
        return o, (q, k, v, lam, o, res)

    def bwd(saved, do):
        q, k, v, lam, o, res = saved
        return bwd_one(q, k, v, lam, o, *res, do.astype(o.dtype))

    fn.defvjp(fwd, bwd)
    return jax.jit(fn)


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
    ``cg_iters`` conjugate-gradient iterations, each streaming the key tiles of
    ``block_k`` that the block attends to (causal blocks skip the tiles past their last
    query) and computing

    .. math::
        \Sigma_i p_i = \sum_c (W_c \circ P K_c^\top) K_c\big|_i - (p_i\cdot q_i)\tilde\mu_i
        - (p_i\cdot\tilde\mu_i) q_i + \omega_i (p_i\cdot q_i) q_i ;

    then one output pass. Rows converge independently and freeze at relative residual
    ``cg_tol``; ``precondition=True`` divides by diag(A) (Jacobi). The iterations needed
    grow as the ridge shrinks (measured max error against the exact float64 output,
    N = 128, D = 16, Gaussian inputs: ridge 10 needs 8 iterations for 3e-7, ridge 1 needs
    16 for 3e-6, ridge 0.1 needs 32 for 5e-5); Jacobi scaling did not reduce them. Memory
    is :math:`O(N\,(\text{block\_q} + D))` per head, forward and backward. The backward
    pass (a `jax.custom_vjp`) recomputes each block's weights, solves the second CG
    system :math:`U_i = A_i^{-1} T_i` and accumulates dQ, dK and dV block by block; the
    gradient convention is chosen by ``ridge_grad`` exactly as in
    `local_linear_attention`.

    Cost per head: about :math:`(5 + T)\,N^2 D` multiply-adds forward with :math:`T` =
    ``cg_iters`` when causal (the CG products skip masked tiles; the one-off passes over
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
        cg_iters: static number of CG iterations (the solve is exact once every row has
            frozen; ridge 10 needs about 8, ridge 1 about 16, ridge 0.1 about 32).
        cg_tol: per-row relative residual at which a row freezes.
        precondition: Jacobi-preconditioned CG.
        delta_eps: floor of :math:`\delta_i/\omega_i`.

    Returns:
        [B, N, H, E] in q's dtype (computed in float32, or float64 for float64 inputs).

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
    b, n, h, d = sizes["B"], sizes["N"], sizes["H"], sizes["D"]
    if n == 0:
        return _layout.empty_output(q, v)
    dtype = _layout.compute_dtype(q)
    cfg = _Config(scale=float(_layout.default_scale(scale, d)), causal=bool(causal), block_q=block_q, block_k=block_k,
                  cg_iters=cg_iters, cg_tol=float(cg_tol), precondition=bool(precondition),
                  delta_eps=float(delta_eps), full_gradient=ridge_grad == "full")
    lam = _layout.ridge_per_head(ridge, b, n, h, dtype)
    qh, kh, vh = (_layout.to_heads(x.astype(dtype)) for x in (q, k, v))
    reached = _numerics.attention_nonfinite(qh, kh, vh, causal=cfg.causal)
    qh, kh, vh = (_numerics.finite_or_zero(x) for x in (qh, kh, vh))
    o = _make(cfg)(qh, kh, vh, lam)
    o = _kernel._with_few_key_rows(o, qh, kh, vh, lam, scale=cfg.scale, causal=cfg.causal, ridge_grad=ridge_grad)
    o = jnp.where(reached, jnp.nan, o)
    return _layout.from_heads(o, b, h).astype(q.dtype)
