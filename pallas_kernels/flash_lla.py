r"""FlashLLA: Local Linear Attention forward and backward as Pallas kernels.

Layout: heads folded into batch, ``q, k [BH, N, D]``, ``v [BH, N, E]``, per-position
ridge ``[BH, N]`` (docs/notes/lla.md, "Closed form"; Zuo et al 2025, arXiv 2510.01450). The quantities
(:math:`\omega_i, \tilde\mu_i, \mu_i, A_i, \rho_i, \delta_i, o_i`) are defined in
`bvjax._lla_math`, whose functions the kernel bodies call.

The algebra the kernel bodies apply to their loaded blocks (conjugate gradient, the
centred-product identity for :math:`A p`, the backward coefficients, the ridge
sensitivity, the few-key dual form) is written once, in plain jnp, in
`bvjax._lla_math`, and shared with the chunked XLA path. The kernels run exactly
``cg_iters`` CG iterations (a fixed-trip loop); the chunked path stops a block early
once its rows have frozen, with the same result.

Kernels (one file for the forward and backward kernels, their wrapper and the reference):

- `flash_lla_forward_kernel`, grid ``(BH, N/block_q)``: pass 1 over key tiles keeps the
  online max, :math:`\omega`, :math:`\tilde\mu` (and diag of :math:`\tilde\Sigma` for the
  Jacobi preconditioner); then ``cg_iters`` masked conjugate-gradient iterations, each
  one streaming pass over the causal key tiles computing
  :math:`\tilde\Sigma p = \sum_c (W_c \circ p K_c^\top) K_c` plus rank-one corrections
  (the d x d matrix is never formed); then :math:`\delta` and the output pass. It saves
  ``o, rho, delta, m, omega``.
- `flash_lla_dq_kernel`, grid ``(BH, N/block_q)``: sweep A (:math:`\tau`, :math:`T`,
  :math:`\tilde\mu`), the second CG solve :math:`U = A^{-1} T`, sweep B (dQ); it also
  returns ``U``, :math:`\beta` and :math:`\gamma` for the next kernel.
- `flash_lla_dkv_kernel`, grid ``(BH, N/block_k_dkv)``: one key tile against the query
  tiles from the diagonal on, recomputing the weights; dK and dV.

Gradient conventions (``ridge_grad``): ``"full"`` is the exact gradient of the function
above, in which the ridge :math:`\lambda\omega_i` depends on the inputs through
:math:`\omega_i`; ``"stop"`` is the gradient with :math:`\lambda\,\mathrm{sg}(\omega_i)`,
which is what the official FlashLLA backward computes. They differ by one scalar per
row, :math:`\gamma_i = \lambda_i(U_i\cdot\rho_i - \beta_i\|\rho_i\|^2)`, added to every
weight's coefficient (docs/notes/lla.md, "Backward pass and the ridge's gradient"). The ridge cotangent is
:math:`\partial L/\partial\lambda_i = \omega_i(U_i\cdot\rho_i - \beta_i\|\rho_i\|^2)` in
both conventions.

Safeguards (no NaN for finite inputs whose squares are finite): scores are clipped to
``±1e30`` and masked with a finite value, every row has at least one key (key 0 when
causal), so after the max shift :math:`\omega_i \ge 1`; CG divisions are guarded and
converged rows are frozen; :math:`\delta_i` is floored at ``delta_eps * omega_i``
(FlashLLA adds ``eps * sign(delta)`` instead; the floor keeps the sign right when
rounding makes a tiny :math:`\delta` negative). Where the floor binds the gradient treats
:math:`\delta` as the unfloored expression.

Departures from the official Triton kernel: computation is float32 throughout (FlashLLA
casts matmul operands to bf16); rows of ``q`` beyond ``N`` and the head dims are padded
in the wrapper (ragged ``N`` is allowed); both causal and bidirectional masks; the full
gradient by default (FlashLLA: stop-gradient on omega, and no ridge gradient).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from bvjax import _lla_math as lla
from bvjax import _numerics
from pallas_kernels import _common

__all__ = [
    "BlockSizes",
    "few_key_rows",
    "flash_lla",
    "flash_lla_cost",
    "flash_lla_dkv_kernel",
    "flash_lla_dq_kernel",
    "flash_lla_forward_kernel",
    "flash_lla_reference",
    "flash_lla_stats_reference",
]

RIDGE_GRADS = lla.RIDGE_GRADS
few_key_rows = lla.few_key_rows
_F32 = jnp.float32


@dataclasses.dataclass(frozen=True)
class BlockSizes:
    """Block sizes of the FlashLLA kernels (powers of two, multiples of 8).

    Attributes:
        block_q: query rows per program of the forward and dQ kernels.
        block_k: key rows per inner-loop tile of the forward and dQ kernels.
        block_q_dkv: query rows per inner-loop tile of the dK/dV kernel.
        block_k_dkv: key rows per program of the dK/dV kernel.
    """

    block_q: int = 64
    block_k: int = 64
    block_q_dkv: int = 64
    block_k_dkv: int = 64

    @classmethod
    def get_default(cls) -> BlockSizes:
        return cls()

    def validate(self) -> None:
        for name in ("block_q", "block_k", "block_q_dkv", "block_k_dkv"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 8 or value % 8:
                raise ValueError(f"block_sizes.{name}: expected a positive multiple of 8, got {value!r}")
            if value & (value - 1):
                raise ValueError(f"block_sizes.{name}: expected a power of two (Triton), got {value!r}")


@dataclasses.dataclass(frozen=True)
class _Config:
    scale: float
    causal: bool
    ridge_grad: str
    delta_eps: float
    cg_iters: int
    cg_tol: float
    precondition: bool
    block_sizes: BlockSizes
    interpret: bool
    platform: str


# ------------------------------------------------------------------------------ forward


def _key_tile(q, k_ref, j, row, *, block_k, seq_len, causal, scale, row_valid=None):
    start = pl.multiple_of(j * block_k, block_k)
    kc = k_ref[pl.ds(start, block_k), :].astype(_F32)
    col = start + jax.lax.broadcasted_iota(jnp.int32, (1, block_k), 1)
    valid = col < seq_len
    if causal:
        valid = valid & (col <= row)
    if row_valid is not None:
        valid = valid & row_valid
    return start, kc, lla.scores(q, kc, scale), valid


def _num_key_tiles(i, *, block_q, block_k, num_k, causal):
    if not causal:
        return num_k
    return jnp.minimum(jax.lax.div((i + 1) * block_q + block_k - 1, block_k), num_k)  # lax.div: no sign op (TPU)


def flash_lla_forward_kernel(q_ref, k_ref, v_ref, lam_ref, o_ref, rho_ref, delta_ref, m_ref, omega_ref, *,
                             scale, causal, seq_len, block_k, cg_iters, cg_tol, precondition, delta_eps):
    """One query tile: moments, masked CG for rho, delta, then the output pass."""
    block_q = q_ref.shape[0]
    i = pl.program_id(1)
    q = q_ref[...].astype(_F32)
    lam = lam_ref[...].astype(_F32)
    row = i * block_q + jax.lax.broadcasted_iota(jnp.int32, (block_q, 1), 0)
    num_k = min(k_ref.shape[0] // block_k, -(-seq_len // block_k))
    hi = _num_key_tiles(i, block_q=block_q, block_k=block_k, num_k=num_k, causal=causal)
    tile = functools.partial(_key_tile, q, k_ref, row=row, block_k=block_k, seq_len=seq_len, causal=causal,
                             scale=scale)
    d = q.shape[1]

    def moments(j, carry):
        m, omega, mu_t, diag_t = carry
        _, kc, s, valid = tile(j)
        m_new = jnp.maximum(m, jnp.max(jnp.where(valid, s, lla.NEG), axis=1, keepdims=True))
        alpha = jnp.exp(m - m_new)
        w = jnp.where(valid, jnp.exp(s - m_new), 0.0)
        omega = alpha * omega + lla.rowsum(w)
        mu_t = alpha * mu_t + lla.dot(w, kc)
        if precondition:
            diag_t = alpha * diag_t + lla.dot(w, kc * kc)
        return m_new, omega, mu_t, diag_t

    zero_r = jnp.zeros((block_q, 1), _F32)
    zero_d = jnp.zeros((block_q, d), _F32)
    m, omega, mu_t, diag_t = jax.lax.fori_loop(0, hi, moments, (zero_r + lla.NEG, zero_r, zero_d, zero_d))

    def weights(j):
        start, kc, s, valid = tile(j)
        return start, kc, jnp.where(valid, jnp.exp(s - m), 0.0)

    def matvec(p):
        def body(j, acc):
            _, kc, w = weights(j)
            return acc + lla.sigma_tilde_tile(w, p, kc)

        return lla.apply_a(jax.lax.fori_loop(0, hi, body, zero_d), p, q, mu_t, omega, lam)

    mu = mu_t - omega * q
    diag = lla.jacobi(diag_t, q, mu_t, omega, lam) if precondition else None
    rho = lla.cg(matvec, mu, diag, iters=cg_iters, tol=cg_tol)
    delta = lla.delta(omega, mu, rho, delta_eps)
    rq = lla.rowsum(rho * q)

    def output(j, acc):
        start, kc, w = weights(j)
        vc = v_ref[pl.ds(start, block_k), :].astype(_F32)
        return acc + lla.dot(lla.output_coefficient(w, lla.dot_nt(rho, kc), rq), vc)

    o = jax.lax.fori_loop(0, hi, output, jnp.zeros((block_q, v_ref.shape[1]), _F32)) / delta
    o_ref[...] = o.astype(o_ref.dtype)
    rho_ref[...] = rho
    delta_ref[...] = delta
    m_ref[...] = m
    omega_ref[...] = omega


# ----------------------------------------------------------------------------- backward


def flash_lla_dq_kernel(q_ref, k_ref, v_ref, lam_ref, do_ref, o_ref, rho_ref, delta_ref, m_ref, omega_ref,
                        dq_ref, u_ref, beta_ref, gamma_ref, *, scale, causal, seq_len, block_k, cg_iters, cg_tol,
                        precondition, full_gradient):
    """One query tile: sweep A, the second CG solve U = A^{-1} T, sweep B for dQ."""
    block_q, d = q_ref.shape
    i = pl.program_id(1)
    q = q_ref[...].astype(_F32)
    lam = lam_ref[...].astype(_F32)
    do = do_ref[...].astype(_F32)
    rho, delta, m, omega = rho_ref[...], delta_ref[...], m_ref[...], omega_ref[...]
    row = i * block_q + jax.lax.broadcasted_iota(jnp.int32, (block_q, 1), 0)
    num_k = min(k_ref.shape[0] // block_k, -(-seq_len // block_k))
    hi = _num_key_tiles(i, block_q=block_q, block_k=block_k, num_k=num_k, causal=causal)
    row_valid = row < seq_len

    def tile(j):
        start, kc, s, valid = _key_tile(q, k_ref, j, row, block_k=block_k, seq_len=seq_len, causal=causal,
                                        scale=scale, row_valid=row_valid)
        vc = v_ref[pl.ds(start, block_k), :].astype(_F32)
        return kc, vc, jnp.where(valid, jnp.exp(s - m), 0.0)

    zero_r = jnp.zeros((block_q, 1), _F32)
    zero_d = jnp.zeros((block_q, d), _F32)

    def sweep_a(j, carry):
        tau, t_t, mu_t, diag_t = carry
        kc, vc, w = tile(j)
        c = lla.dot_nt(do, vc) * w / delta
        tau = tau + lla.rowsum(c)
        t_t = t_t + lla.dot(c, kc)
        mu_t = mu_t + lla.dot(w, kc)
        if precondition:
            diag_t = diag_t + lla.dot(w, kc * kc)
        return tau, t_t, mu_t, diag_t

    tau, t_t, mu_t, diag_t = jax.lax.fori_loop(0, hi, sweep_a, (zero_r, zero_d, zero_d, zero_d))

    def matvec(p):
        def body(j, acc):
            kc, _, w = tile(j)
            return acc + lla.sigma_tilde_tile(w, p, kc)

        return lla.apply_a(jax.lax.fori_loop(0, hi, body, zero_d), p, q, mu_t, omega, lam)

    beta = lla.rowsum(do * o_ref[...].astype(_F32)) / delta
    diag = lla.jacobi(diag_t, q, mu_t, omega, lam) if precondition else None
    u = lla.cg(matvec, t_t - tau * q, diag, iters=cg_iters, tol=cg_tol)
    gamma = lam * lla.ridge_sensitivity(u, rho, beta) if full_gradient else zero_r
    dmat = lla.d_rho(beta, rho, u)
    rq, uq = lla.rowsum(rho * q), lla.rowsum(u * q)

    def sweep_b(j, carry):
        dq, swr_d, swr_rho = carry
        kc, vc, w = tile(j)
        t = lla.backward_tile(w, lla.dot_nt(do, vc), lla.dot_nt(rho, kc), rq, lla.dot_nt(u, kc), uq, beta, gamma,
                              delta)
        return dq + lla.dot(t.p, kc), swr_d + lla.rowsum(w * t.r_d), swr_rho + lla.rowsum(w * t.r_rho)

    dq, swr_d, swr_rho = jax.lax.fori_loop(0, hi, sweep_b, (zero_d, zero_r, zero_r))
    dq = lla.dq_rows(dq, omega, dmat, tau, rho, u, swr_d, swr_rho, scale)
    dq_ref[...] = jnp.where(row_valid, dq, 0.0)
    u_ref[...] = u
    beta_ref[...] = beta
    gamma_ref[...] = gamma


def flash_lla_dkv_kernel(q_ref, k_ref, v_ref, do_ref, rho_ref, u_ref, delta_ref, m_ref, beta_ref, gamma_ref,
                         dk_ref, dv_ref, *, scale, causal, seq_len, block_q):
    """One key tile against every query tile that sees it: dK and dV."""
    block_k, d = k_ref.shape
    j = pl.program_id(1)
    kc = k_ref[...].astype(_F32)
    vc = v_ref[...].astype(_F32)
    col = j * block_k + jax.lax.broadcasted_iota(jnp.int32, (1, block_k), 1)
    num_q = min(q_ref.shape[0] // block_q, -(-seq_len // block_q))
    lo = jax.lax.div(j * block_k, block_q) if causal else 0

    def body(i, carry):
        dk, dv = carry
        start = pl.multiple_of(i * block_q, block_q)
        sl = pl.ds(start, block_q)
        q = q_ref[sl, :].astype(_F32)
        do = do_ref[sl, :].astype(_F32)
        rho, u, delta, m, beta, gamma = (r[sl, :] for r in (rho_ref, u_ref, delta_ref, m_ref, beta_ref, gamma_ref))
        row = start + jax.lax.broadcasted_iota(jnp.int32, (block_q, 1), 0)
        valid = (col < seq_len) & (row < seq_len)
        if causal:
            valid = valid & (col <= row)
        w = jnp.where(valid, jnp.exp(lla.scores(q, kc, scale) - m), 0.0)
        t = lla.backward_tile(w, lla.dot_nt(do, vc), lla.dot_nt(rho, kc), lla.rowsum(rho * q), lla.dot_nt(u, kc),
                              lla.rowsum(u * q), beta, gamma, delta)
        dk = dk + lla.dk_tile(t, w, q, rho, u, lla.d_rho(beta, rho, u), scale)
        dv = dv + lla.dot(t.sm.T, do)
        return dk, dv

    dk, dv = jax.lax.fori_loop(lo, num_q, body, (jnp.zeros((block_k, d), _F32),
                                                 jnp.zeros((block_k, v_ref.shape[1]), _F32)))
    dk_ref[...] = dk
    dv_ref[...] = dv


# ------------------------------------------------------------------------------ wrapper


def flash_lla_cost(bh: int, n: int, d: int, e: int, *, cg_iters: int, causal: bool = True,
                   itemsize: int = 4) -> dict[str, pl.CostEstimate]:
    """FLOPs, exponentials and compulsory HBM bytes of the three kernels (docs/notes/lla.md, "Cost of a forward pass").

    With ``P`` the (query, key) pairs computed (``n(n+1)/2`` causal, ``n^2`` otherwise)
    and ``T = cg_iters``, counting 2 flops per multiply-add:

    - forward: pass 1 (``QK^T``, ``WK``), ``T`` CG passes (``QK^T``, ``PK^T``,
      ``(W o PK^T)K``), output pass (``QK^T``, ``rho K^T``, ``SV``):
      ``(8 + 6T) P d + 2 P e`` flops and ``(2 + T) P`` exps;
    - dQ: sweep A (``QK^T``, ``dO V^T``, ``CK``, ``WK``), ``T`` CG passes, sweep B
      (``QK^T``, ``rho K^T``, ``UK^T``, ``dO V^T``, ``PK``): ``(14 + 6T) P d + 4 P e``;
    - dK/dV: ``QK^T``, ``rho K^T``, ``UK^T``, ``dO V^T`` and five transposed products:
      ``14 P d + 4 P e``.

    Bytes are the compulsory traffic (inputs read once, outputs written once); the
    in-kernel re-streaming of K (``(3 + T)`` passes per query tile) is extra.
    """
    pairs = bh * (n * (n + 1) // 2 if causal else n * n)
    t = cg_iters
    row = bh * n * itemsize
    return {
        "forward": pl.CostEstimate(flops=(8 + 6 * t) * pairs * d + 2 * pairs * e, transcendentals=(2 + t) * pairs,
                                   bytes_accessed=row * (3 * d + 2 * e + 4)),
        "dq": pl.CostEstimate(flops=(14 + 6 * t) * pairs * d + 4 * pairs * e, transcendentals=(2 + t) * pairs,
                              bytes_accessed=row * (5 * d + 3 * e + 7)),
        "dkv": pl.CostEstimate(flops=14 * pairs * d + 4 * pairs * e, transcendentals=pairs,
                               bytes_accessed=row * (6 * d + 3 * e + 4)),
    }


def _pad(x, rows, cols):
    return jnp.pad(x, ((0, 0), (0, rows - x.shape[1]), (0, cols - x.shape[2])))


def _specs(bh_block, rows, cols):
    return pl.BlockSpec((None, rows, cols), lambda b, i: (b, i if bh_block else 0, 0))


def _forward(cfg: _Config, q, k, v, lam):
    bs = cfg.block_sizes
    bh, n, d = q.shape
    e = v.shape[2]
    np_ = _numerics.round_up(n, max(bs.block_q, bs.block_k, bs.block_q_dkv, bs.block_k_dkv))
    dp, ep = d, e
    if cfg.platform == "gpu":
        dp, ep = max(16, _numerics.next_pow2(d)), max(16, _numerics.next_pow2(e))
    qp, kp, vp = _pad(q, np_, dp), _pad(k, np_, dp), _pad(v, np_, ep)
    lp = jnp.pad(lam.astype(_F32), ((0, 0), (0, np_ - n)), constant_values=1.0)[..., None]
    bq = bs.block_q
    kernel = functools.partial(flash_lla_forward_kernel, scale=cfg.scale, causal=cfg.causal, seq_len=n,
                               block_k=bs.block_k, cg_iters=cfg.cg_iters, cg_tol=cfg.cg_tol,
                               precondition=cfg.precondition, delta_eps=cfg.delta_eps)
    row_d, row_e, row_1 = _specs(True, bq, dp), _specs(True, bq, ep), _specs(True, bq, 1)
    f32 = functools.partial(jax.ShapeDtypeStruct, dtype=_F32)
    o, rho, delta, m, omega = pl.pallas_call(
        kernel,
        grid=(bh, np_ // bq),
        in_specs=[row_d, _specs(False, np_, dp), _specs(False, np_, ep), row_1],
        out_specs=[row_e, row_d, row_1, row_1, row_1],
        out_shape=[jax.ShapeDtypeStruct((bh, np_, ep), q.dtype), f32((bh, np_, dp)), f32((bh, np_, 1)),
                   f32((bh, np_, 1)), f32((bh, np_, 1))],
        interpret=cfg.interpret,
        compiler_params=None if cfg.interpret else _common.compiler_params(cfg.platform, ("parallel", "parallel")),
        cost_estimate=flash_lla_cost(bh, np_, dp, ep, cg_iters=cfg.cg_iters, causal=cfg.causal)["forward"],
        name="flash_lla_forward",
    )(qp, kp, vp, lp)
    return o[:, :n, :e], (qp, kp, vp, lp, o, rho, delta, m, omega)


def _backward(cfg: _Config, n, d, e, residuals, do):
    qp, kp, vp, lp, o, rho, delta, m, omega = residuals
    bs = cfg.block_sizes
    bh, np_, dp = qp.shape
    ep = vp.shape[2]
    dop = _pad(do, np_, ep)
    bq = bs.block_q
    row_d, row_e, row_1 = _specs(True, bq, dp), _specs(True, bq, ep), _specs(True, bq, 1)
    full_d, full_e, full_1 = _specs(False, np_, dp), _specs(False, np_, ep), _specs(False, np_, 1)
    f32 = functools.partial(jax.ShapeDtypeStruct, dtype=_F32)
    params = None if cfg.interpret else _common.compiler_params(cfg.platform, ("parallel", "parallel"))
    cost = flash_lla_cost(bh, np_, dp, ep, cg_iters=cfg.cg_iters, causal=cfg.causal)
    dq_kernel = functools.partial(flash_lla_dq_kernel, scale=cfg.scale, causal=cfg.causal, seq_len=n,
                                  block_k=bs.block_k, cg_iters=cfg.cg_iters, cg_tol=cfg.cg_tol,
                                  precondition=cfg.precondition, full_gradient=cfg.ridge_grad == "full")
    dq, u, beta, gamma = pl.pallas_call(
        dq_kernel,
        grid=(bh, np_ // bq),
        in_specs=[row_d, full_d, full_e, row_1, row_e, row_e, row_d, row_1, row_1, row_1],
        out_specs=[row_d, row_d, row_1, row_1],
        out_shape=[f32((bh, np_, dp)), f32((bh, np_, dp)), f32((bh, np_, 1)), f32((bh, np_, 1))],
        interpret=cfg.interpret,
        compiler_params=params,
        cost_estimate=cost["dq"],
        name="flash_lla_dq",
    )(qp, kp, vp, lp, dop, o, rho, delta, m, omega)
    bk = bs.block_k_dkv
    dkv_kernel = functools.partial(flash_lla_dkv_kernel, scale=cfg.scale, causal=cfg.causal, seq_len=n,
                                   block_q=bs.block_q_dkv)
    dk, dv = pl.pallas_call(
        dkv_kernel,
        grid=(bh, np_ // bk),
        in_specs=[full_d, _specs(True, bk, dp), _specs(True, bk, ep), full_e, full_d, full_d, full_1, full_1,
                  full_1, full_1],
        out_specs=[_specs(True, bk, dp), _specs(True, bk, ep)],
        out_shape=[f32((bh, np_, dp)), f32((bh, np_, ep))],
        interpret=cfg.interpret,
        compiler_params=params,
        cost_estimate=cost["dkv"],
        name="flash_lla_dkv",
    )(qp, kp, vp, dop, rho, u, delta, m, beta, gamma)
    dlam = (omega * lla.ridge_sensitivity(u, rho, beta))[:, :n, 0]
    return dq[:, :n, :d], dk[:, :n, :d], dv[:, :n, :e], dlam


_backward_jit = jax.jit(_backward, static_argnums=(0, 1, 2, 3))  # eager jax.grad stays compiled


# The configuration is a static (hashable) argument: jit's cache is the only cache.
@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _flash_lla_vjp(cfg: _Config, q, k, v, lam):
    return _forward(cfg, q, k, v, lam)[0]


def _flash_lla_fwd(cfg, q, k, v, lam):
    o, residuals = _forward(cfg, q, k, v, lam)
    return o, (residuals, q, k, v, lam)


def _flash_lla_bwd(cfg, res, do):
    residuals, q, k, v, lam = res
    dq, dk, dv, dlam = _backward_jit(cfg, q.shape[1], q.shape[2], v.shape[2], residuals, do.astype(_F32))
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype), dlam.astype(lam.dtype)


_flash_lla_vjp.defvjp(_flash_lla_fwd, _flash_lla_bwd)


def _check(q, k, v, ridge):
    if q.ndim != 3:
        raise ValueError(f"q: expected [BH, N, D], got shape {q.shape}")
    if k.shape != q.shape:
        raise ValueError(f"k: expected [BH, N, D] = {q.shape}, got shape {k.shape}")
    if v.ndim != 3 or v.shape[:2] != q.shape[:2]:
        raise ValueError(f"v: expected [BH, N, E] with BH, N = {q.shape[:2]}, got shape {v.shape}")
    if ridge.shape != q.shape[:2]:
        raise ValueError(f"ridge: expected [BH, N] = {q.shape[:2]}, got shape {ridge.shape}")


@functools.partial(jax.jit, static_argnames=("scale", "causal", "ridge_grad", "delta_eps", "cg_iters", "cg_tol",
                                             "precondition", "block_sizes", "interpret", "platform"))
def flash_lla(q: jax.Array, k: jax.Array, v: jax.Array, ridge: jax.Array, *, scale: float | None = None,
              causal: bool = True, ridge_grad: str = "full", delta_eps: float = 1e-6, cg_iters: int = 32,
              cg_tol: float = 1e-6, precondition: bool = False, block_sizes: BlockSizes | None = None,
              interpret: bool | None = None, platform: str | None = None) -> jax.Array:
    """Local linear attention with the FlashLLA kernels (differentiable, `jax.custom_vjp`).

    Args:
        q, k: [BH, N, D] float (heads folded into batch).
        v: [BH, N, E] float.
        ridge: [BH, N] float > 0, the per-position ridge lambda (scale-free: the slope
            penalty is ``lambda * omega_i``).
        scale: score scale s; default ``1/sqrt(D)``.
        causal: mask ``j <= i`` (diagonal included).
        ridge_grad: ``"full"`` (exact gradient) or ``"stop"`` (FlashLLA's, omega in
            the ridge held constant).
        delta_eps: floor of delta relative to omega.
        cg_iters, cg_tol: fixed CG iterations; per-row relative residual tolerance at
            which a row freezes.
        precondition: Jacobi-preconditioned CG.
        block_sizes: a `BlockSizes`; ``N`` need not be a multiple (it is padded).
        interpret: force interpret mode; default: interpret exactly when lowering for the CPU.
        platform: lowering platform ("tpu", "gpu"/"cuda", "cpu"); default the backend's.

    Returns:
        [BH, N, E] in q's dtype. Gradients flow to q, k, v and ridge.
    """
    _check(q, k, v, ridge)
    bs = block_sizes or BlockSizes.get_default()
    bs.validate()
    if ridge_grad not in RIDGE_GRADS:
        raise ValueError(f"ridge_grad: expected one of {RIDGE_GRADS}, got {ridge_grad!r}")
    if not isinstance(cg_iters, int) or cg_iters < 1:
        raise ValueError(f"cg_iters: expected a static int >= 1, got {cg_iters!r}")
    interpret, platform = _common.resolve_interpret(interpret, platform)
    scale = 1.0 / math.sqrt(q.shape[2]) if scale is None else float(scale)
    cfg = _Config(scale=scale, causal=bool(causal), ridge_grad=ridge_grad, delta_eps=float(delta_eps),
                  cg_iters=cg_iters, cg_tol=float(cg_tol), precondition=bool(precondition), block_sizes=bs,
                  interpret=bool(interpret), platform=platform)
    reached = _numerics.attention_nonfinite(q, k, v, causal=cfg.causal)
    q, k, v = (_numerics.finite_or_zero(x) for x in (q, k, v))
    o = _flash_lla_vjp(cfg, q, k, v, ridge)
    o = lla.with_few_key_rows(o, q, k, v, ridge, scale=cfg.scale, causal=cfg.causal, ridge_grad=ridge_grad)
    return jnp.where(reached, jnp.nan, o).astype(o.dtype)


# ---------------------------------------------------------------------------- reference


def flash_lla_stats_reference(q, k, v, ridge, *, scale=None, causal=True, ridge_grad="full", delta_eps=1e-6):
    """Exact LLA in plain jnp (per-query ``jnp.linalg.solve``); returns ``(o, rho, delta, omega)``.

    Same layout and arguments as `flash_lla`. Memory is ``O(N^2 + N D^2)`` per head.
    ``jax.grad`` through it is exact in the chosen ``ridge_grad`` convention. Computes
    in the promoted dtype of q, k, v raised to at least float32 (float64 for float64
    inputs). The row max is held constant (the
    output does not depend on it).
    """
    _check(q, k, v, ridge)
    if ridge_grad not in RIDGE_GRADS:
        raise ValueError(f"ridge_grad: expected one of {RIDGE_GRADS}, got {ridge_grad!r}")
    dtype = _numerics.compute_dtype(q, k, v)
    reached = _numerics.attention_nonfinite(q, k, v, causal=causal)
    q, k, v = (_numerics.finite_or_zero(x) for x in (q, k, v))
    q, k, v, lam = (x.astype(dtype) for x in (q, k, v, ridge))
    n, d = q.shape[1], q.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    s = jnp.clip(scale * jnp.einsum("bid,bjd->bij", q, k), -lla.CLIP, lla.CLIP)
    valid = jnp.tril(jnp.ones((n, n), bool)) if causal else jnp.ones((n, n), bool)
    s = jnp.where(valid, s, lla.NEG)
    m = jax.lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    w = jnp.where(valid, jnp.exp(s - m), 0.0)
    omega = jnp.sum(w, -1)
    mu_t = jnp.einsum("bij,bjd->bid", w, k)
    mu = mu_t - omega[..., None] * q
    sig_t = jnp.einsum("bij,bjd,bje->bide", w, k, k)
    outer = mu_t[..., :, None] * q[..., None, :]
    sig = sig_t - outer - jnp.swapaxes(outer, -1, -2) + omega[..., None, None] * q[..., :, None] * q[..., None, :]
    om_ridge = jax.lax.stop_gradient(omega) if ridge_grad == "stop" else omega
    a = sig + (lam * om_ridge)[..., None, None] * jnp.eye(d, dtype=dtype)
    # The few-key rows' dual systems (lla.few_key_rows) are solved in the same LU call.
    few = lla.few_key_system(q, k, v, lam, scale=scale, causal=causal, ridge_grad=ridge_grad)
    if few is None:
        rho, head = lla.solve(a, mu), None
    else:
        rho, u = lla.solve_together(a, mu, few.a, few.rhs)
        head = lla.dual_output(few, u)
    delta = lla.delta(omega[..., None], mu, rho, delta_eps)  # [BH, N, 1]
    coef = lla.output_coefficient(w, jnp.einsum("bid,bjd->bij", rho, k), lla.rowsum(rho * q)) / delta
    o = lla.with_rows(jnp.einsum("bij,bje->bie", coef, v), head)
    o = jnp.where(reached, jnp.nan, o)
    return o, rho, delta[..., 0], omega


def flash_lla_reference(q, k, v, ridge, *, scale=None, causal=True, ridge_grad="full", delta_eps=1e-6):
    """Exact LLA in plain jnp (the XLA path of `flash_lla`); returns o [BH, N, E] in the
    promoted dtype of q, k, v (computed in at least float32)."""
    o = flash_lla_stats_reference(q, k, v, ridge, scale=scale, causal=causal, ridge_grad=ridge_grad,
                                  delta_eps=delta_eps)[0]
    return o.astype(_numerics.float_dtype(q, k, v))
