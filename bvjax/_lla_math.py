r"""Local Linear Attention's algebra, written once in plain jnp.

The chunked XLA path (`bvjax.attention.local_linear_attention_chunked`) and the FlashLLA
Pallas kernel bodies (`pallas_kernels.flash_lla`) both call these functions, on whole
query blocks or on blocks loaded from refs, so a change to the solver, the centred
products or the backward coefficients is made in one place. The module imports only
jax, numpy and `bvjax._numerics`, so the kernels import it without importing
`bvjax.attention`.

Notation (per query row :math:`i`, weights :math:`w_{ij} = e^{s q_i\cdot k_j - m_i}` over
the keys it sees):

.. math::
    \omega_i = \textstyle\sum_j w_{ij},\quad \tilde\mu_i = \sum_j w_{ij} k_j,\quad
    \mu_i = \tilde\mu_i - \omega_i q_i,\quad
    A_i = \sum_j w_{ij}(k_j-q_i)(k_j-q_i)^\top + \lambda_i\omega_i I,

    \rho_i = A_i^{-1}\mu_i,\quad \delta_i = \omega_i - \mu_i\cdot\rho_i,\quad
    o_i = \sum_j w_{ij}\,(1 - \rho_i\cdot(k_j - q_i))\,v_j / \delta_i .

Row statistics are ``[R, 1]`` columns and per-row vectors ``[R, D]``; a tile of keys is
``[C, D]`` and a tile of pair quantities ``[R, C]``. Products accumulate in at least
float32 (float64 for float64 operands).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _numerics

__all__: list[str] = []  # private module.

RIDGE_GRADS = ("full", "stop")
NEG = _numerics.NEG
CLIP = 1e30  # scores are clipped to +-CLIP so s - m never overflows


# ------------------------------------------------------------------------- products


def _acc(a, b):
    return jnp.promote_types(jnp.result_type(a.dtype, b.dtype), jnp.float32)


def dot(a, b):
    """``a @ b`` accumulated in at least float32."""
    return jax.lax.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=_acc(a, b))


def dot_nt(a, b):
    """``a @ b.T`` without materialising the transpose."""
    return jax.lax.dot_general(a, b, (((1,), (1,)), ((), ())), preferred_element_type=_acc(a, b))


def rowsum(x):
    """Sum over the last axis, kept as a column."""
    return jnp.sum(x, axis=-1, keepdims=True)


def scores(q, k, scale):
    """``s q k^T`` clipped to ``+-CLIP`` (``[R, C]``): ``s - m`` never overflows."""
    return jnp.clip(scale * dot_nt(q, k), -CLIP, CLIP)


# ------------------------------------------------------------------------- forward


def sigma_tilde_tile(w, p, k):
    r"""One key tile's share of :math:`\tilde\Sigma_i p_i = \sum_j w_{ij}(p_i\cdot k_j)k_j`."""
    return dot(w * dot_nt(p, k), k)


def apply_a(sig_p, p, q, mu_t, omega, lam):
    r""":math:`A_i p_i` from the uncentred product :math:`\tilde\Sigma_i p_i` (the centred-product identity)

    .. math::
        \Sigma_i p = \tilde\Sigma_i p - (p\cdot q_i)\tilde\mu_i - (p\cdot\tilde\mu_i) q_i
        + \omega_i (p\cdot q_i) q_i,\qquad A_i p = \Sigma_i p + \lambda_i\omega_i p .
    """
    pq = rowsum(p * q)
    return sig_p - pq * mu_t - rowsum(p * mu_t) * q + omega * pq * q + lam * omega * p


def jacobi(diag_t, q, mu_t, omega, lam):
    r"""diag(:math:`A_i`) from diag(:math:`\tilde\Sigma_i`) (the Jacobi preconditioner)."""
    return diag_t - 2.0 * mu_t * q + omega * q * q + lam * omega


def cg(matvec, rhs, diag=None, *, iters, tol, early_exit=False):
    """Masked conjugate gradient for all rows at once (``rhs [R, D]``, one system per row).

    A row freezes (alpha = beta = 0, its iterate no longer moves) once
    ``|r|^2 <= tol^2 |r_0|^2`` or when its curvature ``p.Ap`` is not positive; rows with
    ``r_0 = 0`` never start. ``diag`` is the Jacobi preconditioner (None: plain CG).
    ``early_exit=True`` stops as soon as every row has frozen (a `lax.while_loop`, at most
    ``iters`` products); the result is the same as running all ``iters`` iterations,
    since frozen rows do not move. False runs exactly ``iters`` iterations (a
    `lax.fori_loop`, the kernels' form).
    """
    precond = (lambda r: r / diag) if diag is not None else (lambda r: r)
    z = precond(rhs)
    rr0 = rowsum(rhs * rhs)
    limit = (tol * tol) * rr0

    def step(carry):
        x, r, p, rz, active = carry
        ap = matvec(p)
        pap = rowsum(p * ap)
        ok = active & (pap > 0.0)
        alpha = jnp.where(ok, rz / jnp.where(ok, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        z = precond(r)
        rz_new = rowsum(r * z)
        beta = jnp.where(ok & (rz > 0.0), rz_new / jnp.where(rz > 0.0, rz, 1.0), 0.0)
        return x, r, z + beta * p, rz_new, ok & (rowsum(r * r) > limit)

    init = (jnp.zeros_like(rhs), rhs, z, rowsum(rhs * z), rr0 > 0.0)
    if not early_exit:
        return jax.lax.fori_loop(0, iters, lambda _, c: step(c), init)[0]
    out = jax.lax.while_loop(lambda c: (c[0] < iters) & jnp.any(c[1][4]), lambda c: (c[0] + 1, step(c[1])),
                             (jnp.zeros((), jnp.int32), init))
    return out[1][0]


def delta(omega, mu, rho, delta_eps):
    r""":math:`\delta_i = \omega_i - \mu_i\cdot\rho_i`, floored at ``delta_eps * omega_i``."""
    return jnp.maximum(omega - rowsum(mu * rho), delta_eps * omega)


def output_coefficient(w, rho_k, rho_q):
    r"""The unnormalised output weights :math:`w_{ij}(1 - \rho_i\cdot(k_j - q_i))` of a tile,
    from ``rho_k = rho K^T`` and ``rho_q = rowsum(rho * q)``."""
    return w * (1.0 + rho_q - rho_k)


# ------------------------------------------------------------------------ backward


class BackwardTile(NamedTuple):
    """Per-pair backward quantities of one (query tile, key tile)."""

    r_rho: jax.Array  # rho_i . (k_j - q_i)
    r_u: jax.Array  # U_i . (k_j - q_i)
    r_d: jax.Array  # 2 beta_i r_rho - r_u
    sm: jax.Array  # w_ij (1 - r_rho) / delta_i: the output weights (dV = sm^T dO)
    c: jax.Array  # (dO_i . v_j) w_ij / delta_i
    p: jax.Array  # the score cotangent (over the scale s)


def backward_tile(w, g, rho_k, rho_q, u_k, u_q, beta, gamma, delta_):
    r"""The backward coefficients of one tile (the implicit-function gradient of the closed form).

    With :math:`g_{ij} = dO_i\cdot v_j`, :math:`r^\rho_{ij} = \rho_i\cdot(k_j-q_i)`,
    :math:`r^U_{ij} = U_i\cdot(k_j-q_i)`, :math:`r^d = 2\beta_i r^\rho - r^U`, the score
    cotangent is

    .. math::
        P_{ij} = g_{ij} S_{ij} + w_{ij}\big(\gamma_i - \beta_i + r^d_{ij}
        - \tfrac12 r^d_{ij} r^\rho_{ij} + \tfrac12 r^U_{ij} r^\rho_{ij}\big),\qquad
        S_{ij} = w_{ij}(1 - r^\rho_{ij})/\delta_i .

    ``rho_k, u_k`` are ``rho K^T`` and ``U K^T`` of the tile, ``rho_q, u_q`` the row dots
    with the query.
    """
    r_rho = rho_k - rho_q
    r_u = u_k - u_q
    r_d = 2.0 * beta * r_rho - r_u
    sm = w * (1.0 - r_rho) / delta_
    c = g * w / delta_
    p = g * sm + w * (gamma - beta + r_d - 0.5 * r_d * r_rho + 0.5 * r_u * r_rho)
    return BackwardTile(r_rho, r_u, r_d, sm, c, p)


def ridge_sensitivity(u, rho, beta):
    r""":math:`U_i\cdot\rho_i - \beta_i\|\rho_i\|^2`: times :math:`\omega_i` the ridge cotangent
    :math:`\partial L/\partial\lambda_i`, times :math:`\lambda_i` the full-gradient term
    :math:`\gamma_i` (zero under ``ridge_grad="stop"``)."""
    return rowsum(u * rho) - beta * rowsum(rho * rho)


def d_rho(beta, rho, u):
    r""":math:`2\beta_i\rho_i - U_i`, the cotangent direction of the centred keys."""
    return 2.0 * beta * rho - u


def dk_tile(t: BackwardTile, w, q, rho, u, dmat, scale):
    """One (query tile, key tile)'s share of dK (``[C, D]``)."""
    return (scale * dot(t.p.T, q) + dot(w.T, dmat) - dot((t.c + w * t.r_d).T, rho) + dot((w * t.r_rho).T, u))


def dq_rows(pk, omega, dmat, tau, rho, u, swr_d, swr_rho, scale):
    r"""dQ of a query tile from its accumulated sums over key tiles: ``pk = P K``,
    :math:`\tau_i = \sum_j c_{ij}`, ``swr_d`` :math:`= \sum_j w_{ij} r^d_{ij}`,
    ``swr_rho`` :math:`= \sum_j w_{ij} r^\rho_{ij}`."""
    return scale * pk - omega * dmat + tau * rho + swr_d * rho - swr_rho * u


# --------------------------------------------------------------- few-key rows (dual form)


class DualSystem(NamedTuple):
    """The scaled dual systems ``a u = rhs`` of `dual_system` and the values they weight."""

    a: jax.Array  # [..., R, R]
    rhs: jax.Array  # [..., R]
    v: jax.Array  # [..., R, E] (broadcastable)
    seen: jax.Array | None  # [...] bool or None


def dual_system(w, c, v, alpha, seen=None) -> DualSystem:
    r"""The dual (Gram) system of LLA for queries with ``R`` keys each (`few_key_rows`).

    ``w [..., R]`` the weights (0 for a key the query does not see), ``c [..., R, D]`` the
    keys centred at the query, ``v [..., R, E]`` the values, ``alpha [...]`` the ridge
    :math:`\lambda\omega`. The system :math:`(WK + \alpha I)u = \alpha w` is divided by
    :math:`\alpha + \max_j w_j K_{jj}` (scaling); the solve pivots. ``seen [...]``
    (optional) marks the queries with at least one key; the others get an identity
    system, and `dual_output` leaves their output for the caller to mask.
    """
    r = w.shape[-1]
    eye = jnp.eye(r, dtype=w.dtype)
    gram = jnp.einsum("...jd,...ld->...jl", c, c)
    top = alpha + jnp.max(w * jnp.diagonal(gram, axis1=-2, axis2=-1), axis=-1)
    if seen is not None:
        top = jnp.where(seen, top, 1.0)
    a = (w[..., :, None] * gram + alpha[..., None, None] * eye) / top[..., None, None]
    if seen is not None:
        a = jnp.where(seen[..., None, None], a, eye)
    return DualSystem(a, (alpha / top)[..., None] * w, v, seen)


def dual_output(system: DualSystem, u):
    r""":math:`\sum_j u_j v_j / \sum_j u_j` ``[..., E]``: the weights sum to 1 by construction."""
    total = jnp.sum(u, -1, keepdims=True)
    if system.seen is not None:
        total = jnp.where(system.seen[..., None], total, 1.0)
    return jnp.sum(u[..., :, None] * system.v, axis=-2) / total


def solve(a, b):
    """``a x = b`` for ``a [..., D, D]``, ``b [..., D]`` (pivoted LU)."""
    return jnp.linalg.solve(a, b[..., None])[..., 0]


def solve_together(a1, b1, a2, b2):
    """Two families of linear systems, ``a1 [..., D, D] x1 = b1`` and ``a2 [..., R, R] x2 = b2``
    with ``R <= D``, in one batched LU call; returns ``(x1, x2)``.

    The smaller systems are padded to ``D`` with an identity block (block-diagonal, so
    pivoting never mixes the blocks and the padded unknowns are 0). One call, rather
    than two, because jaxlib's CPU LU factorisation (behind ``jnp.linalg.solve``) splits
    a large batch over the intra-op thread pool and blocks a pool thread until its parts
    finish: two factorisations that XLA runs concurrently can occupy every pool thread
    (two, on a 2-core machine) and wait on each other for ever (observed with jaxlib
    0.10.2 at N = 2048).
    """
    d, r = a1.shape[-1], a2.shape[-1]
    pad = d - r
    a2p = jnp.pad(a2, [(0, 0)] * (a2.ndim - 2) + [(0, pad), (0, pad)])
    a2p = a2p + jnp.diag(jnp.arange(d) >= r).astype(a2.dtype)
    b2p = jnp.pad(b2, [(0, 0)] * (b2.ndim - 1) + [(0, pad)])
    n1 = math.prod(a1.shape[:-2])
    x = solve(jnp.concatenate([a1.reshape(-1, d, d), a2p.reshape(-1, d, d)]),
              jnp.concatenate([b1.reshape(-1, d), b2p.reshape(-1, d)]))
    return x[:n1].reshape(b1.shape), x[n1:, :r].reshape(b2.shape)


def few_key_system(q, k, v, ridge, *, scale=None, causal=True, ridge_grad="full") -> DualSystem | None:
    r"""The dual systems of the rows that see at most ``D`` keys (`few_key_rows`), or None."""
    _, n, d = q.shape
    rows = min(n, d) if causal else (n if n <= d else 0)
    if rows == 0:
        return None
    dtype = _numerics.compute_dtype(q, k, v)
    qr, kr, vr, lam = (x[:, :rows].astype(dtype) for x in (q, k, v, ridge))
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    valid = jnp.tril(jnp.ones((rows, rows), bool)) if causal else jnp.ones((rows, rows), bool)
    s = jnp.where(valid, jnp.clip(scale * jnp.einsum("bid,bjd->bij", qr, kr), -CLIP, CLIP), NEG)
    m = jax.lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    w = jnp.where(valid, jnp.exp(s - m), 0.0)  # a key a row does not see: w = 0, so u = 0
    omega = jnp.sum(w, -1)
    c = kr[:, None, :, :] - qr[:, :, None, :]  # [BH, R, R, D], R <= D
    alpha = lam * (jax.lax.stop_gradient(omega) if ridge_grad == "stop" else omega)
    return dual_system(w, c, vr[:, None], alpha)


def few_key_rows(q, k, v, ridge, *, scale=None, causal=True, ridge_grad="full"):
    r"""LLA for the rows that see at most ``D`` keys, in the dual (Gram) form; or None.

    A query that sees ``n_i <= D`` keys has a rank-deficient :math:`\Sigma_i`, and at a
    small ridge the primal form :math:`1 - \rho_i\cdot(k_j-q_i)` cancels to noise
    (its value is :math:`O(\lambda)`) while :math:`\delta_i` falls below any floor. The
    same weights follow without cancellation from the push-through identity
    :math:`1 - C\rho = \alpha (K W + \alpha I)^{-1} 1` with :math:`C` the centred keys,
    :math:`K = CC^\top` their ``n_i x n_i`` Gram matrix, :math:`W` the weights and
    :math:`\alpha = \lambda_i\omega_i`: the unnormalised weights
    :math:`u = w \circ (1 - C\rho)` solve :math:`(WK + \alpha I)\,u = \alpha w`, and
    :math:`S_{ij} = u_j / \sum_l u_l` sums to 1 by construction (the intercept is exact,
    and a single key returns its value for any ridge). The system is divided by
    :math:`\alpha + \max_j w_j K_{jj}` before the solve (scaling), and
    ``jnp.linalg.solve`` pivots.

    Layout ``q, k [BH, N, D]``, ``v [BH, N, E]``, ``ridge [BH, N]``. Causal: rows
    ``0 .. min(N, D) - 1`` (keys ``j <= i``); bidirectional: every row when ``N <= D``,
    else none. Differentiable.

    Returns:
        ``o [BH, R, E]`` for the first ``R`` rows (computed in the compute dtype of the
        inputs: float32, or float64 for float64 inputs), or None when no row qualifies.
    """
    system = few_key_system(q, k, v, ridge, scale=scale, causal=causal, ridge_grad=ridge_grad)
    return None if system is None else dual_output(system, solve(system.a, system.rhs))


def with_rows(o, head):
    """``o [BH, N, E]`` with its first rows replaced by ``head [BH, R, E]`` (None: unchanged)."""
    if head is None:
        return o
    return jnp.concatenate([head.astype(o.dtype), o[:, head.shape[1]:]], axis=1)


def with_few_key_rows(o, q, k, v, ridge, *, scale, causal, ridge_grad):
    """``o [BH, N, E]`` with its first rows replaced by `few_key_rows` (when any row qualifies).

    For a program with no other LU solve (the chunked and kernel paths); the exact path
    solves both families in one call (`solve_together`).
    """
    return with_rows(o, few_key_rows(q, k, v, ridge, scale=scale, causal=causal, ridge_grad=ridge_grad))
