"""Local Linear Attention: the exact per-query closed form, dispatched to XLA or FlashLLA."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from bvjax import _checks, _dispatch, _numerics
from bvjax.attention import _layout
from pallas_kernels import flash_lla as _kernel


def local_linear_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    *,
    ridge: float | jax.Array = 10.0,
    scale: float | None = None,
    causal: bool = True,
    implementation: str | None = None,
    ridge_grad: str = "full",
    delta_eps: float = 1e-6,
    cg_iters: int = 32,
    cg_tol: float = 1e-6,
    precondition: bool = False,
    block_sizes: _kernel.BlockSizes | None = None,
    platform: str | None = None,
) -> jax.Array:
    r"""Local Linear Attention: a kernel-weighted local linear fit per query, read at the query.

    For each query :math:`q_i`, with weights :math:`w_{ij} = \exp(s\,q_i\cdot k_j - m_i)`
    over the keys it sees (:math:`j \le i` when causal; :math:`m_i` any row shift, the row
    max here) and :math:`\omega_i = \sum_j w_{ij}`, fit :math:`v \approx b + W(k - q_i)`:

    .. math::
        \min_{b, W}\ \sum_j w_{ij}\,\|v_j - b - W(k_j - q_i)\|^2 + \lambda_i\,\omega_i\,\|W\|_F^2,
        \qquad o_i = \hat b .

    The ridge acts on the slope only and is scaled by :math:`\omega_i`, so the output does
    not depend on the shift :math:`m_i`. Closed form, with :math:`\mu_i = \sum_j
    w_{ij}(k_j - q_i)` and :math:`\Sigma_i = \sum_j w_{ij}(k_j-q_i)(k_j-q_i)^\top`:

    .. math::
        \rho_i = (\Sigma_i + \lambda_i\omega_i I)^{-1}\mu_i,\quad
        \delta_i = \omega_i - \mu_i\cdot\rho_i,\quad
        o_i = \sum_j \frac{w_{ij}\,(1 - \rho_i\cdot(k_j - q_i))}{\delta_i}\, v_j .

    The weights :math:`S_{ij}` sum to 1 in every row (an affine, not convex, combination);
    :math:`\lambda \to \infty` gives softmax attention, and the first causal position
    returns :math:`v_0` exactly.

    Paths: ``implementation="xla"`` (the default on CPU) is the exact reference
    (a per-query ``jnp.linalg.solve``; memory :math:`O(N^2 + N D^2)` per head);
    ``"pallas"`` (the default on GPU and TPU; interpret mode on CPU) runs the FlashLLA
    kernels (`pallas_kernels.flash_lla`: matrix-free conjugate gradient with
    ``cg_iters`` fixed iterations, memory :math:`O(N D)`). For linear memory in plain XLA
    use `local_linear_attention_chunked`.

    Gradient convention (``ridge_grad``): ``"full"`` (default) is the exact gradient,
    through :math:`\omega_i` in the ridge as well; ``"stop"`` holds :math:`\omega_i` in the
    ridge constant, which is what the official FlashLLA backward computes. The two differ
    by :math:`\gamma_i = \lambda_i(U_i\cdot\rho_i - \beta_i\|\rho_i\|^2)` added to every
    weight's coefficient, with :math:`U_i = A_i^{-1}\sum_j (dO_i\cdot v_j) w_{ij}
    (k_j - q_i)/\delta_i` and :math:`\beta_i = dO_i\cdot o_i/\delta_i` (derived in
    docs/notes/lla.md, "Backward pass and the ridge's gradient").
    A per-position ``ridge`` array receives a gradient in both conventions.

    No NaN for finite inputs (whose squared entries are finite): every row sees at least
    one key, so :math:`\omega_i \ge 1` after the max shift; scores are clipped at
    :math:`\pm 10^{30}`; :math:`\delta_i` is floored at ``delta_eps * omega_i``.
    A non-finite ``q_i`` or seen key makes row ``i`` NaN and a non-finite seen value
    channel that channel; future (masked) positions have no effect on any path.

    Small ridge: rows that see at most D keys (causal rows ``0 .. D-1``) have a
    rank-deficient :math:`\Sigma_i`; every path computes them in the dual (Gram) form
    (`pallas_kernels.flash_lla.few_key_rows`), whose weights sum to 1 by construction,
    so they are exact at any ridge (row 0 returns :math:`v_0`). Measured float32 error
    against a float64 weighted-least-squares reference (Gaussian q, k, v; N = 24 and
    64, D = 4; ridge 10 to 1e-8): those rows within 1.3e-6; rows with more keys within
    2e-5 at ridge >= 1e-2 (N = 64: within 1e-5 down to ridge 1e-8), but rows with only a
    few more keys than D are ill-conditioned in float32, up to 1e-3 at ridge 1e-4 and
    1e-2 at ridge 1e-8 (where :math:`|o|` reached 33). The CG paths (``"pallas"``,
    `local_linear_attention_chunked`) add their convergence error (1.6e-2 at ridge
    1e-8). For small ridges pass float64 inputs (computed in float64) or keep ridge >= 1e-2.

    Args:
        q: [B, N, H, D] float queries.
        k: [B, N, H, D] float keys.
        v: [B, N, H, E] float values.
        ridge: lambda > 0: a scalar, or per position [B, N] or [B, N, H]. Every entry of
            a concrete array is checked (ValueError); under jit a traced array cannot be,
            and a non-positive entry then gives a meaningless row.
        scale: score scale s; default ``1/sqrt(D)``.
        causal: key ``j`` is seen by query ``i`` when ``j <= i`` (diagonal included);
            False: every key.
        implementation: ``"xla"``, ``"pallas"`` (compiled on GPU/TPU, interpret mode on
            CPU), ``"pallas_interpret"`` (interpret mode anywhere) or None (Pallas on
            GPU/TPU, XLA elsewhere).
        ridge_grad: ``"full"`` or ``"stop"``, see above.
        delta_eps: floor of :math:`\delta_i / \omega_i`.
        cg_iters: CG iterations of the Pallas path (the XLA path solves exactly).
        cg_tol: per-row relative residual at which a CG row freezes (Pallas path).
        precondition: Jacobi-preconditioned CG (Pallas path). Diagonal scaling does not
            fix the small-ridge spread of eigenvalues, and in our measurements (random
            Gaussian q, k) it did not converge faster; raise ``cg_iters`` instead.
        block_sizes: `pallas_kernels.flash_lla.BlockSizes` (Pallas path).
        platform: the platform the Pallas path lowers for (``"tpu"``, ``"gpu"``/``"cuda"``,
            ``"cpu"``); default the backend's. Naming another platform than the backend
            compiles the kernel for it (no interpret mode), e.g. under `jax.export`.

    Returns:
        [B, N, H, E] in the promoted dtype of q, k, v (an empty sequence, N = 0, gives
        an empty output; D = 0 raises ValueError). The XLA path computes in that dtype
        raised to at least float32 (float64 inputs: float64; float16/bfloat16: float32,
        cast back, so a bf16 layer stays bf16); the Pallas kernels compute in float32
        whatever the input dtype.

    Examples:
        >>> x = jax.random.normal(jax.random.key(0), (1, 4, 2, 8))
        >>> o = local_linear_attention(x, x, x, ridge=1.0)
        >>> o.shape
        (1, 4, 2, 8)
        >>> bool(jnp.allclose(o[:, 0], x[:, 0], atol=1e-5))  # the first position returns v_0
        True

    References:
        Zuo et al, Local Linear Attention: An Optimal Interpolation of Linear and Softmax
        Attention For Test-Time Regression, 2025 (arXiv 2510.01450).

    Departures: the official code (FlashLLA) is causal only, bf16, stop-gradient on omega
    and with no ridge gradient; it adds ``eps * sign(delta)`` where bvjax floors
    :math:`\delta` at ``delta_eps * omega`` (same result unless :math:`\delta` is tiny).
    """
    _layout.check_qkv(q, k, v)
    _layout.check_ridge(ridge, q)
    _layout.check_ridge_grad(ridge_grad)
    _checks.positive_int(cg_iters=cg_iters)
    impl = _dispatch.resolve_implementation(implementation)
    if q.shape[1] == 0:
        return _layout.empty_output(q, k, v)
    ridge = jnp.asarray(ridge, _numerics.compute_dtype(q, k, v))
    return _compute(q, k, v, ridge, impl=impl, scale=scale, causal=causal,
                    ridge_grad=ridge_grad, delta_eps=delta_eps, cg_iters=cg_iters, cg_tol=cg_tol,
                    precondition=precondition, block_sizes=block_sizes, platform=platform)


@functools.partial(jax.jit, static_argnames=("impl", "scale", "causal", "ridge_grad", "delta_eps", "cg_iters",
                                             "cg_tol", "precondition", "block_sizes", "platform"))
def _compute(q, k, v, ridge, *, impl, scale, causal, ridge_grad, delta_eps, cg_iters, cg_tol, precondition,
             block_sizes, platform):
    b, n, h, _ = q.shape
    lam = _layout.ridge_per_head(ridge, b, n, h, ridge.dtype)
    qh, kh, vh = (_layout.to_heads(x) for x in (q, k, v))
    if _dispatch.uses_kernel(impl):
        o = _kernel.flash_lla(qh, kh, vh, lam, scale=scale, causal=causal, ridge_grad=ridge_grad,
                              delta_eps=delta_eps, cg_iters=cg_iters, cg_tol=cg_tol, precondition=precondition,
                              block_sizes=block_sizes, interpret=_dispatch.kernel_interpret(impl), platform=platform)
    else:
        o = _kernel.flash_lla_reference(qh, kh, vh, lam, scale=scale, causal=causal, ridge_grad=ridge_grad,
                                        delta_eps=delta_eps)
    return _layout.from_heads(o, b, h).astype(_numerics.float_dtype(q, k, v))
