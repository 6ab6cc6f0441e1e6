"""Partial information decomposition (PID) of disparity in federated learning (Hamman & Dutta 2024).

Variables: Z the sensitive attribute, Ŷ the model's prediction, S the client. The
global disparity is I(Z; Ŷ), the local disparity I(Z; Ŷ | S). The PID of the
information that (Ŷ, S) carries about Z, in Bertschinger et al.'s (BROJA) measure,
splits them into unique, redundant and masked (synergistic) disparity:

    Uni = min_{Q in Δ_P} I_Q(Z; Ŷ | S),  Δ_P = {Q : Q(z, ŷ) = P(z, ŷ), Q(z, s) = P(z, s)},
    Red = I(Z; Ŷ) − Uni,  Syn = I(Z; Ŷ | S) − Uni,

so that global = Uni + Red and local = Uni + Syn. Every joint distribution here is laid
out with the client first: ``joint[s, z, ŷ]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

UNITS = {"bits": math.log(2.0), "nats": 1.0}  # nats per unit
_BISECTION_STEPS = 64  # interval halvings: 2**-64 of a width <= 1, below float64 resolution


def _xlogx(x: jax.Array) -> jax.Array:
    """x log x with 0 log 0 = 0 (and a zero, finite gradient there)."""
    safe = jnp.where(x > 0, x, 1.0)
    return jnp.where(x > 0, x * jnp.log(safe), jnp.where(jnp.isnan(x), jnp.nan, 0.0))


def _normalise(p: jax.Array) -> jax.Array:
    """p / sum(p); an all-zero table stays all zero (every information is then 0)."""
    p = p.astype(compute_dtype(p))  # the dtype policy: half precision computed in float32
    total = jnp.sum(p)
    # a NaN or infinite cell leaves the normaliser undefined: the whole table is NaN
    return jnp.where(jnp.all(jnp.isfinite(p)), p / jnp.where(total > 0, total, 1.0), jnp.nan)


def _entropy_sum(p: jax.Array) -> jax.Array:
    """-sum p log p (nats) over every entry."""
    return -jnp.sum(_xlogx(p))


def _mi_nats(p_xy: jax.Array) -> jax.Array:
    px, py = jnp.sum(p_xy, axis=1), jnp.sum(p_xy, axis=0)
    return jnp.maximum(_entropy_sum(px) + _entropy_sum(py) - _entropy_sum(p_xy), 0.0)


def _cmi_nats(p_cxy: jax.Array) -> jax.Array:
    pc, pcx, pcy = jnp.sum(p_cxy, axis=(1, 2)), jnp.sum(p_cxy, axis=2), jnp.sum(p_cxy, axis=1)
    value = _entropy_sum(pcx) + _entropy_sum(pcy) - _entropy_sum(p_cxy) - _entropy_sum(pc)
    return jnp.maximum(value, 0.0)


def _scale(unit: str) -> float:
    _checks.one_of("unit", unit, tuple(UNITS))
    return UNITS[unit]


def mutual_information(p_xy: jax.Array, *, unit: str = "bits") -> jax.Array:
    r"""Mutual information of a discrete joint distribution.

    .. math::  I(X; Y) = \sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)\,p(y)}

    Args:
        p_xy: [X, Y] float, a joint probability table or counts (normalised by the sum).
        unit: ``"bits"`` (log base 2, the paper's unit) or ``"nats"``.

    Returns:
        [] float, ``I(X; Y) >= 0``. Zero cells follow 0 log 0 = 0; an all-zero table
        gives 0 (never NaN). Rounding below 0 is clipped to 0. A NaN or infinite cell gives
        NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.fairness import mutual_information
        >>> mutual_information(jnp.array([[0.5, 0.0], [0.0, 0.5]]))
        Array(1., dtype=float32)

    References:
        Cover and Thomas, Elements of Information Theory, 2006, eq. (2.28).
        Hamman and Dutta, Demystifying Local and Global Fairness Trade-offs in Federated
        Learning Using Partial Information Decomposition, ICLR 2024 (arXiv 2307.11333):
        the global disparity I(Z; Ŷ).
    """
    _checks.rank(p_xy=p_xy, expected="[X, Y]", kind="float")
    scale = _scale(unit)
    return _mi_nats(_normalise(p_xy)) / scale


def conditional_mutual_information(p_cxy: jax.Array, *, unit: str = "bits") -> jax.Array:
    r"""Conditional mutual information I(X; Y | C), the conditioning variable on the first axis.

    .. math::  I(X; Y \mid C) = \sum_{c, x, y} p(c, x, y)
               \log \frac{p(c)\,p(c, x, y)}{p(c, x)\,p(c, y)}

    With ``p_cxy = joint[s, z, ŷ]`` this is Hamman and Dutta's local disparity
    :math:`I(Z; \hat Y \mid S)`.

    Args:
        p_cxy: [C, X, Y] float, a joint table or counts (normalised by the sum).
        unit: ``"bits"`` or ``"nats"``.

    Returns:
        [] float, ``>= 0``; a condition value with zero mass contributes nothing, and an
        all-zero table gives 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.fairness import conditional_mutual_information
        >>> xor = jnp.array([[[0., .25], [.25, 0.]], [[.25, 0.], [0., .25]]])  # Z = Ŷ xor S
        >>> conditional_mutual_information(xor)
        Array(1., dtype=float32)

    References:
        Cover and Thomas, Elements of Information Theory, 2006, eq. (2.60).
        Hamman and Dutta, ICLR 2024 (arXiv 2307.11333): the local disparity I(Z; Ŷ | S).
    """
    _checks.rank(p_cxy=p_cxy, expected="[C, X, Y]", kind="float")
    scale = _scale(unit)
    return _cmi_nats(_normalise(p_cxy)) / scale


class DisparityPID(NamedTuple):
    """The PID of the disparity information (Ŷ, S) carries about Z (all scalars, in ``unit``).

    Attributes:
        unique: Uni(Z: Ŷ \\ S), the disparity visible both globally and locally.
        redundant: Red(Z: Ŷ, S), globally visible, hidden within each client.
        masked: Syn(Z: Ŷ, S), the synergistic (masked) disparity, locally visible only.
        unique_client: Uni(Z: S \\ Ŷ) = I(Z; S) − Red, what the client identity alone says about Z.
        global_disparity: I(Z; Ŷ) = unique + redundant.
        local_disparity: I(Z; Ŷ | S) = unique + masked.
    """

    unique: jax.Array
    redundant: jax.Array
    masked: jax.Array
    unique_client: jax.Array
    global_disparity: jax.Array
    local_disparity: jax.Array


def _q_from_t(t, pz, a, b):
    """Q[s, z, y] on Δ_P for the free masses t_z = Q(s=1, y=1 | z)."""
    q11 = t
    q10 = b - t          # s=1, y=0
    q01 = a - t          # s=0, y=1
    q00 = 1.0 - a - b + t
    within = jnp.stack([jnp.stack([q00, q01], -1), jnp.stack([q10, q11], -1)], 0)  # [s, z, y]
    return within * pz[None, :, None]


def _cmi_grad(t, pz, a, b):
    """∂ I_Q(Z; Ŷ | S) / ∂ t_z (nats), from -Σ xlogx terms; logs of clamped masses."""
    q = _q_from_t(t, pz, a, b)
    tiny = jnp.finfo(q.dtype).tiny
    lq = jnp.log(jnp.maximum(q, tiny))
    qsy = jnp.sum(q, axis=1)
    lsy = jnp.log(jnp.maximum(qsy, tiny))
    # I = Σ q log q − Σ q(s,y) log q(s,y) + const; dq[s,z,y]/dt_z = pz * (+1, -1, -1, +1).
    inner = lq[1, :, 1] - lq[1, :, 0] - lq[0, :, 1] + lq[0, :, 0]
    outer = lsy[1, 1] - lsy[1, 0] - lsy[0, 1] + lsy[0, 0]
    return pz * (inner - outer)


def _bisect(deriv, lo, hi):
    """Minimiser of a convex function on [lo, hi] from the sign of its derivative."""
    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        up = deriv(mid) > 0
        return jnp.where(up, lo, mid), jnp.where(up, mid, hi)
    lo, hi = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (lo, hi))
    return 0.5 * (lo + hi)


def pid_disparity(joint: jax.Array, *, unit: str = "bits") -> DisparityPID:
    r"""Exact BROJA partial information decomposition of disparity for binary S, Z, Ŷ.

    Hamman and Dutta decompose the global disparity :math:`I(Z;\hat Y)` and the local
    disparity :math:`I(Z;\hat Y\mid S)` with Bertschinger et al.'s unique information

    .. math::  \mathrm{Uni} = \min_{Q \in \Delta_P} I_Q(Z; \hat Y \mid S),\quad
               \mathrm{Red} = I(Z;\hat Y) - \mathrm{Uni},\quad
               \mathrm{Syn} = I(Z;\hat Y\mid S) - \mathrm{Uni}.

    Solver (exact, jit-able): for binary variables, Q in :math:`\Delta_P` is fixed by one
    free mass per z, :math:`t_z = Q(s{=}1, \hat y{=}1 \mid z)` in
    :math:`[\max(0, a_z + b_z - 1), \min(a_z, b_z)]` with :math:`a_z = P(\hat y{=}1\mid z)`,
    :math:`b_z = P(s{=}1 \mid z)`. The objective is jointly convex in :math:`(t_0, t_1)`,
    so :math:`g(t_0) = \min_{t_1} I` is convex and the minimiser is found by nested
    bisection on the analytic derivatives (64 halvings each, the envelope theorem giving
    :math:`g'`), to floating-point resolution in t. A group with :math:`P(z) = 0` has no
    mass and contributes nothing.

    Args:
        joint: [2, 2, 2] float, the joint table ``P(s, z, ŷ)`` (or counts, normalised by
            the sum), client first.
        unit: ``"bits"`` (the paper's) or ``"nats"``.

    Returns:
        A `DisparityPID`. Each term is clipped at 0 against rounding; an all-zero table
        gives all zeros.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.fairness import pid_disparity
        >>> xor = jnp.array([[[0., .25], [.25, 0.]], [[.25, 0.], [0., .25]]])  # Z = Ŷ xor S
        >>> r = pid_disparity(xor)
        >>> [round(float(v), 6) for v in (r.unique, r.redundant, r.masked)]
        [0.0, 0.0, 1.0]

    References:
        Hamman and Dutta, Demystifying Local and Global Fairness Trade-offs in Federated
        Learning Using Partial Information Decomposition, ICLR 2024 (arXiv 2307.11333),
        Definitions of unique, redundant and masked disparity.
        Bertschinger, Rauh, Olbrich, Jost and Ay, Quantifying Unique Information, Entropy
        2014 (arXiv 1311.2852).

    Departure from the official code (FairFL-PID uses dit's iterative ``PID_BROJA``,
    off by up to ~2e-3 bits): this solver is exact for binary variables; only binary
    S, Z, Ŷ are supported.
    """
    _checks.dims(joint=(joint, "[2, 2, 2]", "float"))
    scale = _scale(unit)
    p = _normalise(joint)
    pz = jnp.sum(p, axis=(0, 2))
    safe_pz = jnp.where(pz > 0, pz, 1.0)
    a = jnp.where(pz > 0, jnp.sum(p[:, :, 1], axis=0) / safe_pz, 0.5)
    b = jnp.where(pz > 0, jnp.sum(p[1], axis=1) / safe_pz, 0.5)
    lo = jnp.maximum(0.0, a + b - 1.0)
    hi = jnp.minimum(a, b)

    def inner(t0):
        d1 = lambda t1: _cmi_grad(jnp.stack([t0, t1]), pz, a, b)[1]
        return _bisect(d1, lo[1], hi[1])

    d0 = lambda t0: _cmi_grad(jnp.stack([t0, inner(t0)]), pz, a, b)[0]
    t0 = _bisect(d0, lo[0], hi[0])
    t = jnp.stack([t0, inner(t0)])
    t = jnp.clip(t, lo, hi)
    q = _q_from_t(t, pz, a, b)
    uni_q = _cmi_nats(q)
    glob = _mi_nats(jnp.sum(p, axis=0))
    local = _cmi_nats(p)
    i_zs = _mi_nats(jnp.sum(p, axis=2).T)
    uni = jnp.minimum(uni_q, jnp.minimum(glob, local))  # the minimum is <= I_P(Z;Ŷ|S) and <= I(Z;Ŷ)
    red = jnp.maximum(glob - uni, 0.0)
    syn = jnp.maximum(local - uni, 0.0)
    uni_s = jnp.maximum(i_zs - red, 0.0)
    return DisparityPID(uni / scale, red / scale, syn / scale, uni_s / scale, glob / scale, local / scale)
