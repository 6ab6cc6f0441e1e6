"""Local Linear Attention in plain jnp with memory linear in the sequence length.

Keys are tiled and streamed with `lax.scan`; the per-query systems are solved with
matrix-free conjugate gradient, so neither the ``N x N`` weights, the ``N x N x D``
centred keys nor the ``N x D x D`` moment matrices are ever formed. The backward pass is
a `jax.custom_vjp` that streams the tiles again (the implicit-function gradient with the
second CG solve of spec/lla.md section 2.6), so training memory is linear too.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.attention import _layout

_NEG = -0.7 * float(jnp.finfo(jnp.float32).max)
_CLIP = 1e30


@dataclasses.dataclass(frozen=True)
class _Config:
    scale: float
    causal: bool
    block_k: int
    cg_iters: int
    cg_tol: float
    precondition: bool
    delta_eps: float
    full_gradient: bool


def _rowsum(x):
    return jnp.sum(x, axis=-1, keepdims=True)


def _tiled(x, block):
    n = x.shape[0]
    pad = -n % block
    x = jnp.pad(x, ((0, pad), (0, 0)))
    return x.reshape(-1, block, x.shape[1])


def _scores(cfg, q, kc, start, n):
    s = jnp.clip(cfg.scale * (q @ kc.T), -_CLIP, _CLIP)
    col = start + jnp.arange(kc.shape[0])[None, :]
    valid = col < n
    if cfg.causal:
        valid = valid & (col <= jnp.arange(q.shape[0])[:, None])
    return s, valid


def _sweep(fn, init, xs):
    return jax.lax.scan(lambda c, x: (fn(c, *x), None), init, xs)[0]


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


def _system(cfg, q, kt, starts, m, omega, mu_t, diag_t, lam, n):
    """(matvec p -> A p, Jacobi diagonal or None) for A = Sigma + lam * omega * I."""

    def matvec(p):
        def step(acc, kc, start):
            s, valid = _scores(cfg, q, kc, start, n)
            w = jnp.where(valid, jnp.exp(s - m), 0.0)
            return acc + (w * (p @ kc.T)) @ kc

        sig_p = _sweep(step, jnp.zeros_like(p), (kt, starts))
        pq = _rowsum(p * q)
        return sig_p - pq * mu_t - _rowsum(p * mu_t) * q + omega * pq * q + lam * omega * p

    diag = diag_t - 2 * mu_t * q + omega * q * q + lam * omega if cfg.precondition else None
    return matvec, diag


def _forward_one(cfg, q, k, v, lam):
    n, d = q.shape
    kt, vt = _tiled(k, cfg.block_k), _tiled(v, cfg.block_k)
    starts = jnp.arange(kt.shape[0]) * cfg.block_k
    lam = lam[:, None]

    def moments(carry, kc, start):
        m, omega, mu_t, diag_t = carry
        s, valid = _scores(cfg, q, kc, start, n)
        m_new = jnp.maximum(m, jnp.max(jnp.where(valid, s, _NEG), axis=-1, keepdims=True))
        alpha = jnp.exp(m - m_new)
        w = jnp.where(valid, jnp.exp(s - m_new), 0.0)
        diag_t = alpha * diag_t + w @ (kc * kc) if cfg.precondition else diag_t
        return m_new, alpha * omega + _rowsum(w), alpha * mu_t + w @ kc, diag_t

    zr, zd = jnp.zeros((n, 1), q.dtype), jnp.zeros((n, d), q.dtype)
    m, omega, mu_t, diag_t = _sweep(moments, (zr + _NEG, zr, zd, zd), (kt, starts))
    matvec, diag = _system(cfg, q, kt, starts, m, omega, mu_t, diag_t, lam, n)
    mu = mu_t - omega * q
    rho = _cg(matvec, mu, diag, iters=cfg.cg_iters, tol=cfg.cg_tol)
    delta = jnp.maximum(omega - _rowsum(mu * rho), cfg.delta_eps * omega)
    rq = _rowsum(rho * q)

    def output(acc, kc, vc, start):
        s, valid = _scores(cfg, q, kc, start, n)
        w = jnp.where(valid, jnp.exp(s - m), 0.0)
        return acc + (w * (1 + rq - rho @ kc.T)) @ vc

    o = _sweep(output, jnp.zeros((n, v.shape[1]), q.dtype), (kt, vt, starts)) / delta
    return o, (rho, delta, m, omega, mu_t, diag_t)


def _backward_one(cfg, q, k, v, lam, o, rho, delta, m, omega, mu_t, diag_t, do):
    n, d = q.shape
    kt, vt = _tiled(k, cfg.block_k), _tiled(v, cfg.block_k)
    starts = jnp.arange(kt.shape[0]) * cfg.block_k
    lam = lam[:, None]

    def weights(kc, start):
        s, valid = _scores(cfg, q, kc, start, n)
        return jnp.where(valid, jnp.exp(s - m), 0.0)

    def sweep_a(carry, kc, vc, start):
        tau, t_t = carry
        c = (do @ vc.T) * weights(kc, start) / delta
        return tau + _rowsum(c), t_t + c @ kc

    tau, t_t = _sweep(sweep_a, (jnp.zeros((n, 1), q.dtype), jnp.zeros((n, d), q.dtype)), (kt, vt, starts))
    beta = _rowsum(do * o) / delta
    matvec, diag = _system(cfg, q, kt, starts, m, omega, mu_t, diag_t, lam, n)
    u = _cg(matvec, t_t - tau * q, diag, iters=cfg.cg_iters, tol=cfg.cg_tol)
    grad_lam = omega * (_rowsum(u * rho) - beta * _rowsum(rho * rho))
    gamma = lam * grad_lam / omega if cfg.full_gradient else 0.0
    dmat = 2 * beta * rho - u
    rq, uq = _rowsum(rho * q), _rowsum(u * q)

    def sweep_b(carry, kc, vc, start):
        dq, swr_d, swr_rho = carry
        w = weights(kc, start)
        r_rho = rho @ kc.T - rq
        r_u = u @ kc.T - uq
        r_d = 2 * beta * r_rho - r_u
        g = do @ vc.T
        sm = w * (1 - r_rho) / delta
        c = g * w / delta
        p = g * sm + w * (gamma - beta + r_d - 0.5 * r_d * r_rho + 0.5 * r_u * r_rho)
        dk = cfg.scale * p.T @ q + w.T @ dmat - (c + w * r_d).T @ rho + (w * r_rho).T @ u
        carry = dq + p @ kc, swr_d + _rowsum(w * r_d), swr_rho + _rowsum(w * r_rho)
        return carry, (dk, sm.T @ do)

    zr = jnp.zeros((n, 1), q.dtype)
    (dq, swr_d, swr_rho), (dk, dv) = jax.lax.scan(
        lambda c, x: sweep_b(c, *x), (jnp.zeros((n, d), q.dtype), zr, zr), (kt, vt, starts))
    dq = cfg.scale * dq - omega * dmat + tau * rho + swr_d * rho - swr_rho * u
    dk = dk.reshape(-1, d)[:n]
    dv = dv.reshape(-1, v.shape[1])[:n]
    return dq, dk, dv, grad_lam[:, 0]


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
    block_k: int = 128,
    cg_iters: int = 32,
    cg_tol: float = 1e-6,
    precondition: bool = False,
    delta_eps: float = 1e-6,
) -> jax.Array:
    r"""Local Linear Attention with memory linear in N: key tiles and matrix-free CG.

    Computes `local_linear_attention`'s closed form,
    :math:`o_i = \sum_j w_{ij}(1 - \rho_i\cdot(k_j-q_i))\,v_j/\delta_i` with
    :math:`\rho_i = (\Sigma_i + \lambda_i\omega_i I)^{-1}\mu_i`, without forming any
    ``N x N``, ``N x N x D`` or ``N x D x D`` array. Keys are streamed in tiles of
    ``block_k`` with `lax.scan`: one pass for the online max, :math:`\omega` and
    :math:`\tilde\mu = \sum_j w_{ij}k_j`; ``cg_iters`` conjugate-gradient iterations,
    each a pass computing

    .. math::
        \Sigma_i p_i = \sum_c (W_c \circ P K_c^\top) K_c\big|_i - (p_i\cdot q_i)\tilde\mu_i
        - (p_i\cdot\tilde\mu_i) q_i + \omega_i (p_i\cdot q_i) q_i ;

    then one output pass. Rows converge independently and freeze at relative residual
    ``cg_tol``; ``precondition=True`` divides by diag(A) (Jacobi). The iterations needed
    grow as the ridge shrinks (measured max error against the exact float64 output,
    N = 128, D = 16, Gaussian inputs: ridge 10 needs 8 iterations for 3e-7, ridge 1 needs
    16 for 3e-6, ridge 0.1 needs 32 for 5e-5); Jacobi scaling did not reduce them. Memory is :math:`O(N\,(\text{block\_k} + D))` per head, forward and
    backward. The backward pass (a `jax.custom_vjp`) makes one tile pass, a second CG
    solve :math:`U_i = A_i^{-1} T_i`, and one more pass for dQ, dK and dV; the gradient
    convention is chosen by ``ridge_grad`` exactly as in `local_linear_attention`.

    Cost per head: about :math:`(4 + 3\,T)\,N^2 D` multiply-adds forward with
    :math:`T` = ``cg_iters`` (no causal tile skipping in this path: masked tiles are
    computed and discarded; the Pallas kernel skips them).

    Args:
        q: [B, N, H, D] float queries.
        k: [B, N, H, D] float keys.
        v: [B, N, H, E] float values.
        ridge: lambda > 0: a scalar, or per position [B, N] or [B, N, H].
        scale: score scale s; default ``1/sqrt(D)``.
        causal: mask ``j <= i``; False: every key.
        ridge_grad: ``"full"`` (exact gradient) or ``"stop"`` (omega in the ridge
            held constant, as FlashLLA).
        block_k: static key-tile length (N need not be a multiple).
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

    Departure from the official kernel: all queries of a head form one tile (no causal
    skipping), float32 or float64 arithmetic rather than bf16 matmuls.
    """
    sizes = _layout.check_qkv(q, k, v)
    _layout.check_ridge(ridge, q)
    _layout.check_ridge_grad(ridge_grad)
    _checks.positive_int(block_k=block_k, cg_iters=cg_iters)
    b, n, h, d = sizes["B"], sizes["N"], sizes["H"], sizes["D"]
    dtype = _layout.compute_dtype(q)
    cfg = _Config(scale=float(_layout.default_scale(scale, d)), causal=bool(causal), block_k=block_k,
                  cg_iters=cg_iters, cg_tol=float(cg_tol), precondition=bool(precondition),
                  delta_eps=float(delta_eps), full_gradient=ridge_grad == "full")
    lam = _layout.ridge_per_head(ridge, b, n, h, dtype)
    qh, kh, vh = (_layout.to_heads(x.astype(dtype)) for x in (q, k, v))
    o = _make(cfg)(qh, kh, vh, lam)
    return _layout.from_heads(o, b, h).astype(q.dtype)
