r"""Anchored recursive meta-distillation and multi-teacher targets (probability-domain KD).

Flouro and Chadwick (arXiv 2601.13100) prove, for an abstract family of operators, that
recursive distillation which mixes the base-teacher aggregate back in at every
generation ("anchored") is a KL contraction with the aggregate as its unique fixed point.
The paper is non-algorithmic; this module ships a concrete instance that bvjax
derives from it:

* probability-domain temperature :math:`p^{(\tau)} \propto p^{1/\tau}`
  (`temperature_scale_probs`);
* the linear pool :math:`A = \sum_m w_m p_m^{(\tau)}` (`aggregate_teachers`), or one teacher
  drawn per example with probability :math:`w_m` (`sample_teacher_targets`, whose
  expectation is A);
* the anchored operator :math:`\Phi_\lambda(q) = \lambda A + (1-\lambda) S(q)`
  (`anchored_target`), where :math:`S(q)` is the student fitted to the previous target
  (e.g. by minimising `soft_target_kl_loss`);
* the contraction :math:`\mathrm{KL}(\Phi_\lambda(q)\Vert A) \le (1-\lambda)\,\mathrm{KL}(S(q)\Vert A)`
  (joint convexity of KL), measured with `categorical_kl`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.distill._kd import _tempered_kl


def _safe_log(p):
    """log p with log 0 = -inf and NaN kept NaN (a NaN probability is not a zero one)."""
    pos = p > 0
    return jnp.where(pos, jnp.log(jnp.where(pos, p, 1.0)), jnp.where(jnp.isnan(p), jnp.nan, -jnp.inf))


def temperature_scale_probs(probs: jax.Array, *, temperature: float = 1.0) -> jax.Array:
    r"""Probability-domain temperature: raise to the power 1/τ and renormalise.

    .. math::  p^{(\tau)}_v = \frac{p_v^{1/\tau}}{\sum_u p_u^{1/\tau}}

    which equals ``softmax(logits / tau)`` when ``p = softmax(logits)``.

    Args:
        probs: [..., V] float distributions (non-negative, summing to one; zeros allowed).
        temperature: τ > 0 (τ > 1 flattens, τ < 1 sharpens).

    Returns:
        [..., V] float distributions. Zero entries stay zero; a row with no positive
        entry is returned as the uniform distribution (never NaN); a row with a NaN entry
        is NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import temperature_scale_probs
        >>> temperature_scale_probs(jnp.array([0.2, 0.8]), temperature=0.5)  # 0.04 : 0.64
        Array([0.05882353, 0.9411765 ], dtype=float32)

    References:
        Flouro and Chadwick, Recursive Meta-Distillation: An Axiomatic Framework for
        Iterative Knowledge Refinement, 2026 (arXiv 2601.13100): temperature coherence.
        Hinton et al, Distilling the Knowledge in a Neural Network, 2015 (arXiv 1503.02531).
    """
    _checks.dims(kind="float", probs=(probs, "[..., V]"))
    _checks.in_range("temperature", temperature, low=0.0, low_inclusive=False)
    dt = compute_dtype(probs)  # the dtype policy: half precision computed in float32
    probs = probs.astype(dt)
    logp = _safe_log(probs) / temperature
    empty = jnp.all(probs <= 0, axis=-1, keepdims=True)
    return jax.nn.softmax(jnp.where(empty, 0.0, logp), axis=-1)


def _normalised_weights(weights, m, dtype):
    w = jnp.maximum(weights.astype(dtype), 0.0)
    total = jnp.sum(w)
    out = jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), 1.0 / m)
    return jnp.where(jnp.isnan(total), jnp.nan, out)  # a NaN weight is not "all weights zero"


def aggregate_teachers(teacher_probs: jax.Array, weights: jax.Array, *, temperature: float = 1.0) -> jax.Array:
    r"""The base-teacher aggregate: a weighted linear pool of temperature-scaled teachers.

    .. math::  A = \sum_{m=1}^M w_m\, p_m^{(\tau)},\qquad w \in \Delta^{M-1}

    This pool is convex, positivity-preserving, monotone in w, continuous and
    temperature-coherent (the companion paper's axioms).

    Args:
        teacher_probs: [M, ..., V] float, M teachers' distributions.
        weights: [M] float >= 0, normalised to sum to one here (negative entries count
            as 0; all-zero weights mean equal weights).
        temperature: τ > 0, applied to each teacher before pooling.

    Returns:
        [..., V] float distributions.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import aggregate_teachers
        >>> aggregate_teachers(jnp.array([[1.0, 0.0], [0.0, 1.0]]), jnp.array([3.0, 1.0]))
        Array([0.75, 0.25], dtype=float32)

    References:
        Flouro and Chadwick, Recursive Meta-Distillation, 2026 (arXiv 2601.13100) and its
        companion on multi-teacher aggregation (arXiv 2601.09165). The linear pool is bvjax's
        concrete instance [derived]; the papers prove such operators exist without fixing one.
    """
    _checks.dims(kind="float", teacher_probs=(teacher_probs, "[..., V]"))
    if teacher_probs.ndim < 2:
        raise ValueError(f"teacher_probs: expected [M, ..., V] float, got shape {tuple(teacher_probs.shape)}")
    dt = compute_dtype(teacher_probs, weights)  # the dtype policy: half precision computed in float32
    teacher_probs = teacher_probs.astype(dt)
    weights = weights.astype(dt)
    m = teacher_probs.shape[0]
    _checks.dims(kind="float", weights=(weights, f"[{m}]"))
    w = _normalised_weights(weights, m, teacher_probs.dtype)
    scaled = temperature_scale_probs(teacher_probs, temperature=temperature)
    return jnp.tensordot(w, scaled, axes=1)


def sample_teacher_targets(key: jax.Array, teacher_probs: jax.Array, weights: jax.Array, *,
                           temperature: float = 1.0) -> jax.Array:
    r"""Multi-teacher target sampling: each example's target is one teacher drawn with probability w_m.

    .. math::  m_b \sim \mathrm{Categorical}(w),\qquad y_b = p_{m_b}^{(\tau)}(\cdot\mid x_b)

    Its expectation over the draw is the linear pool `aggregate_teachers`, so a loss linear
    in the target (cross-entropy, KL up to the target's entropy) is unbiased for the
    pooled loss, at the price of variance and of running one teacher per example.

    Args:
        key: a PRNG key (the draw is a pure function of it).
        teacher_probs: [M, B, V] float, M teachers' distributions on B examples.
        weights: [M] float >= 0, normalised as in `aggregate_teachers`.
        temperature: τ > 0 applied to the drawn teacher.

    Returns:
        [B, V] float, the sampled targets.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.distill import sample_teacher_targets
        >>> p = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # 2 teachers, 1 example
        >>> sample_teacher_targets(jax.random.key(0), p, jnp.array([1.0, 0.0]))
        Array([[1., 0.]], dtype=float32)

    References:
        Flouro and Chadwick, Recursive Meta-Distillation, 2026 (arXiv 2601.13100) (the
        aggregate this estimates without bias); the per-example teacher draw is bvjax's
        construction [derived].
    """
    _checks.dims(kind="float", teacher_probs=(teacher_probs, "[M, B, V]"), weights=(weights, "[M]"))
    m, b = teacher_probs.shape[:2]
    w = _normalised_weights(weights, m, teacher_probs.dtype)
    idx = jax.random.choice(key, m, shape=(b,), p=w)
    picked = jnp.take_along_axis(teacher_probs, idx[None, :, None], axis=0)[0]
    return temperature_scale_probs(picked, temperature=temperature)


def anchored_target(student_probs: jax.Array, anchor_probs: jax.Array, *,
                    anchor_weight: float | jax.Array) -> jax.Array:
    r"""One generation of anchored recursive distillation: mix the base-teacher aggregate back in.

    .. math::  T_{k+1} = \Phi_\lambda(T_k) = \lambda A + (1-\lambda)\, S(T_k)

    with :math:`S(T_k)` the student fitted to the previous target (``student_probs``) and
    :math:`A` the aggregate (``anchor_probs``). By joint convexity of KL,
    :math:`\mathrm{KL}(T_{k+1}\Vert A) \le (1-\lambda)\mathrm{KL}(S(T_k)\Vert A)`; if the
    student fit does not move away from A (realizability), :math:`\mathrm{KL}(T_k\Vert A) \le
    (1-\lambda)^k \mathrm{KL}(T_0\Vert A)` and A is the unique fixed point. λ = 0 is
    unanchored (self-)distillation, whose fitting errors compound.

    Args:
        student_probs: [..., V] float, the fitted student's distributions :math:`S(T_k)`.
        anchor_probs: [..., V] float (same shape), the aggregate A.
        anchor_weight: λ in [0, 1].

    Returns:
        [..., V] float, the next generation's target.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import anchored_target
        >>> anchored_target(jnp.array([1.0, 0.0]), jnp.array([0.5, 0.5]), anchor_weight=0.5)
        Array([0.75, 0.25], dtype=float32)

    References:
        Flouro and Chadwick, Recursive Meta-Distillation: An Axiomatic Framework for
        Iterative Knowledge Refinement, 2026 (arXiv 2601.13100). Only the abstract was
        read: it states the anchoring and the KL contraction but no operator; this convex
        mixture is bvjax's concrete instance [derived], chosen because it satisfies the
        stated hypotheses.
    """
    _checks.dims(kind="float", student_probs=(student_probs, "[..., V]"), anchor_probs=(anchor_probs, "[..., V]"))
    _checks.same_shape(student_probs=student_probs, anchor_probs=anchor_probs)
    _checks.in_range("anchor_weight", anchor_weight, low=0.0, high=1.0)
    dt = compute_dtype(student_probs, anchor_probs)  # the dtype policy: half precision computed in float32
    student_probs = student_probs.astype(dt)
    anchor_probs = anchor_probs.astype(dt)
    lam = jnp.asarray(anchor_weight, student_probs.dtype)
    return lam * anchor_probs + (1.0 - lam) * student_probs


def categorical_kl(p: jax.Array, q: jax.Array) -> jax.Array:
    r"""KL divergence between categorical distributions along the last axis.

    .. math::  \mathrm{KL}(p\Vert q) = \sum_v p_v \log\frac{p_v}{q_v},\qquad 0\log 0 = 0

    Args:
        p: [..., V] float distributions.
        q: [..., V] float distributions (same shape).

    Returns:
        [...] float >= 0. Mass of p where q is 0 gives ``+inf`` (the true value), never NaN;
        a NaN entry of p or q gives NaN for its row.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import categorical_kl
        >>> categorical_kl(jnp.array([1.0, 0.0]), jnp.array([0.5, 0.5]))  # log 2
        Array(0.6931472, dtype=float32)

    References:
        Kullback and Leibler, On Information and Sufficiency, 1951; used as the contraction
        metric of Flouro and Chadwick, 2026 (arXiv 2601.13100).
    """
    _checks.dims(kind="float", p=(p, "[..., V]"), q=(q, "[..., V]"))
    _checks.same_shape(p=p, q=q)
    dt = compute_dtype(p, q)  # the dtype policy: half precision computed in float32
    p = p.astype(dt)
    q = q.astype(dt)
    pos = (p > 0) | jnp.isnan(p)  # 0 log 0 = 0, but a NaN p (or q where p > 0) gives NaN
    ratio = jnp.where(pos, _safe_log(p) - _safe_log(q), 0.0)
    return jnp.sum(jnp.where(pos, p * ratio, 0.0), axis=-1)


def soft_target_kl_loss(student_logits: jax.Array, target_probs: jax.Array, *,
                        temperature: float = 1.0) -> jax.Array:
    r"""Distillation loss towards a probability target: τ² KL(target^(τ) ‖ softmax(student/τ)).

    .. math::  \ell = \tau^2\,\mathrm{KL}\big(T^{(\tau)}\,\Vert\,\mathrm{softmax}(z_s/\tau)\big)

    The training loss of a generation of recursive distillation with
    :math:`T = \Phi_\lambda(T_k)` (`anchored_target`), or of multi-teacher KD with
    :math:`T = A` (`aggregate_teachers`) or a sampled teacher. With ``target_probs =
    softmax(teacher_logits)`` it equals `kd_kl_loss`.

    Args:
        student_logits: [..., V] float.
        target_probs: [..., V] float distributions (zeros allowed).
        temperature: τ > 0, applied to both (probability-domain on the target).

    Returns:
        [...] float >= 0, one loss per example.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import soft_target_kl_loss
        >>> soft_target_kl_loss(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))  # KL to uniform: log 2
        Array([0.6931472], dtype=float32)

    References:
        Flouro and Chadwick, Recursive Meta-Distillation, 2026 (arXiv 2601.13100) [derived
        training loss]; Hinton et al, 2015 (arXiv 1503.02531).
    """
    _checks.dims(kind="float", student_logits=(student_logits, "[..., V]"), target_probs=(target_probs, "[..., V]"))
    _checks.same_shape(student_logits=student_logits, target_probs=target_probs)
    _checks.in_range("temperature", temperature, low=0.0, low_inclusive=False)
    dt = compute_dtype(student_logits, target_probs)  # the dtype policy: half precision computed in float32
    student_logits = student_logits.astype(dt)
    target_probs = target_probs.astype(dt)
    target = _safe_log(temperature_scale_probs(target_probs, temperature=temperature))
    return _tempered_kl(target, student_logits, temperature)
