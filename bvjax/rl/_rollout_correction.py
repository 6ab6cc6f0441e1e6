"""Importance weights that correct for rollouts sampled by another engine (TIS and MIS)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.rl._gae import compute_dtype

_SG = jax.lax.stop_gradient
LEVELS = ("token", "sequence")
MODES = ("truncate", "mask")


class RolloutCorrection(NamedTuple):
    """What `rollout_correction_weights` returns.

    Attributes:
        weights: [B, T] float, the per-token weights to multiply into a per-token loss
            (0 at masked positions; no gradient).
        mean_weight: [] float, the mean of ``weights`` over valid tokens.
        fraction_high: [] float, the fraction of valid tokens whose ratio (the token's, or
            its sequence's) exceeded ``clip_max`` (truncated, or masked).
        fraction_low: [] float, the same below ``clip_min`` (0 when ``clip_min`` is None).
        effective_sample_size: [] float in [0, 1], Kish's
            :math:`(\\sum w)^2 / (n \\sum w^2)` over the valid tokens.
    """

    weights: jax.Array
    mean_weight: jax.Array
    fraction_high: jax.Array
    fraction_low: jax.Array
    effective_sample_size: jax.Array


def rollout_correction_weights(logps: jax.Array, rollout_logps: jax.Array, mask: jax.Array, *,
                               level: str = "token", mode: str = "truncate", clip_max: float | None = 2.0,
                               clip_min: float | None = None,
                               log_ratio_clip: float | None = 20.0) -> RolloutCorrection:
    r"""Truncated (TIS) or masked (MIS) importance weights for rollouts from another engine.

    When the tokens were sampled by an inference engine (vLLM, SGLang) whose
    probabilities :math:`\mu` differ from the trainer's :math:`\pi` (precision, kernels,
    stale weights), the policy gradient is corrected with the ratio
    :math:`\rho = \pi/\mu`, per token or per sequence:

    .. math::  \rho_t = e^{\log\pi(y_t) - \log\mu(y_t)}\ \ (\texttt{token}),\qquad
               \rho_i = e^{\sum_{t \in i}(\log\pi(y_t) - \log\mu(y_t))}\ \ (\texttt{sequence}),

    the sequence ratio being broadcast to its valid tokens, and then bounded:

    .. math::  w = \mathrm{clip}(\rho, C_{min}, C_{max})\ \ (\texttt{truncate}, \text{TIS}),\qquad
               w = \rho\,\mathbb 1[C_{min} \le \rho \le C_{max}]\ \ (\texttt{mask}, \text{MIS}).

    A ``None`` bound is absent. The log-ratio is first clamped to :math:`\pm`
    ``log_ratio_clip`` (verl's safety bound, 20) so that :math:`\rho` stays finite.

    Which peer each setting reproduces (read in verl at b178a3c,
    ``trainer/ppo/rollout_corr_helper.py``, and TRL's ``GRPOTrainer``):

    ========================================  ===============================================
    bvjax                                     peer
    ========================================  ===============================================
    token, truncate, ``clip_max=2``           verl Token-TIS (``rollout_is="token"``,
                                              ``rollout_is_threshold=2.0``, the default)
    sequence, truncate, ``clip_max=2``        verl Seq-TIS (``rollout_is="sequence"``)
    sequence, mask, ``clip_min=0.5``,         verl Seq-MIS (``decoupled_seq_is_rs``:
    ``clip_max=2``                            Seq-TIS at 2.0 with ``seq_sum_k1`` rejection
                                              ``"0.5_2.0"``)
    token/sequence, truncate, ``clip_min``,   TRL ``vllm_importance_sampling_mode=``
    ``clip_max=3``, ``log_ratio_clip=None``   ``"token_truncate"`` / ``"sequence_truncate"``
    token/sequence, mask, ``clip_max=3``,     TRL ``"token_mask"`` / ``"sequence_mask"``
    ``log_ratio_clip=None``                   (TRL's default mode; ``clip_max`` default 3.0)
    ========================================  ===============================================

    In ``mask`` mode a rejected token keeps its place in the loss's normaliser (TRL);
    verl's rejection also removes it from the response mask, so for verl's token counts
    reduce with ``aggregate_loss(loss * weights, mask & (weights > 0), ...)``.
    verl's rejection bounds its ``k1`` statistic :math:`-\log\rho`, i.e. it keeps
    :math:`\rho^{-1} \in [\text{lower}, \text{upper}]`; for the symmetric bounds of its
    presets (lower = 1/upper) that is the same interval for :math:`\rho`.

    Args:
        logps: [B, T] float, the trainer's log-probs of the sampled tokens (the policy at
            rollout time, or the current policy in verl's bypass mode). Data: no gradient.
        rollout_logps: [B, T] float, the sampling engine's log-probs of the same tokens.
        mask: [B, T] bool, the tokens that count.
        level: ``"token"`` or ``"sequence"``.
        mode: ``"truncate"`` (TIS) or ``"mask"`` (MIS).
        clip_max: :math:`C_{max} > 0`, or None.
        clip_min: :math:`C_{min} \ge 0`, or None (verl has no lower truncation).
        log_ratio_clip: clamp of the (token or summed sequence) log-ratio; None disables
            it (TRL).

    Returns:
        A `RolloutCorrection`: ``weights`` [B, T] (0 at masked positions, wrapped in
        ``stop_gradient``) and its diagnostics over the valid tokens, all 0 when no token
        is valid.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import rollout_correction_weights
        >>> lp = jnp.log(jnp.array([[0.5, 0.9, 0.2]]))
        >>> mu = jnp.log(jnp.array([[0.1, 0.9, 0.4]]))
        >>> out = rollout_correction_weights(lp, mu, jnp.ones((1, 3), bool))
        >>> out.weights.round(4)  # ratios 5, 1, 0.5; 5 truncated to 2
        Array([[2. , 1. , 0.5]], dtype=float32)
        >>> rollout_correction_weights(lp, mu, jnp.ones((1, 3), bool), mode="mask").weights.round(4)
        Array([[0. , 1. , 0.5]], dtype=float32)

    References:
        Yao et al, Your Efficient RL Framework Secretly Brings You Off-Policy RL Training,
        2025 (blog note; truncated importance sampling); Liu, Li et al, When Speed Kills
        Stability: Demystifying RL Collapse from the Training-Inference Mismatch, 2025
        (blog note; masked importance sampling); Ionides, Truncated Importance Sampling,
        2008 (J. Comput. Graph. Stat.).

    Departures: TRL leaves the ratio at masked positions (where it is 1); bvjax returns 0
    there. verl's sequence-level ``fraction_high`` counts sequences; bvjax's diagnostics
    count valid tokens at both levels. verl's optional batch normalisation to mean 1 is
    ``weights / mean_weight``.
    """
    _checks.dims(kind="float", logps=(logps, "[B, T]"), rollout_logps=(rollout_logps, "[B, T]"))
    _checks.dims(logps=(logps, "[B, T]"), mask=(mask, "[B, T]", "bool"))
    _checks.one_of("level", level, LEVELS)
    _checks.one_of("mode", mode, MODES)
    if clip_max is not None:
        _checks.in_range("clip_max", clip_max, low=0.0, low_inclusive=False)
    if clip_min is not None:
        _checks.in_range("clip_min", clip_min, low=0.0, high=clip_max)
    if log_ratio_clip is not None:
        _checks.in_range("log_ratio_clip", log_ratio_clip, low=0.0, low_inclusive=False)
    dtype = jnp.promote_types(compute_dtype(logps), compute_dtype(rollout_logps))
    diff = jnp.where(mask, _SG(logps).astype(dtype) - _SG(rollout_logps).astype(dtype), 0.0)
    if level == "sequence":
        diff = jnp.broadcast_to(jnp.sum(diff, axis=-1, keepdims=True), diff.shape)
    if log_ratio_clip is not None:
        diff = jnp.clip(diff, -log_ratio_clip, log_ratio_clip)
    ratio = jnp.exp(diff)
    high = (ratio > clip_max) if clip_max is not None else jnp.zeros(ratio.shape, bool)
    low = (ratio < clip_min) if clip_min is not None else jnp.zeros(ratio.shape, bool)
    if mode == "truncate":
        w = ratio
        if clip_max is not None:
            w = jnp.minimum(w, clip_max)
        if clip_min is not None:
            w = jnp.maximum(w, clip_min)
    else:
        w = jnp.where(high | low, 0.0, ratio)
    w = jnp.where(mask, w, 0.0)
    n = jnp.sum(mask).astype(dtype)
    n_safe = jnp.maximum(n, 1.0)
    total, total_sq = jnp.sum(w), jnp.sum(w * w)
    ess = jnp.where(total_sq > 0, total * total / (n_safe * jnp.where(total_sq > 0, total_sq, 1.0)), 0.0)
    return RolloutCorrection(
        weights=w,
        mean_weight=total / n_safe,
        fraction_high=jnp.sum(high & mask).astype(dtype) / n_safe,
        fraction_low=jnp.sum(low & mask).astype(dtype) / n_safe,
        effective_sample_size=ess,
    )
