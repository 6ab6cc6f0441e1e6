"""DYPO's group alignment loss: DPO over the winner/loser pairs of an on-policy group."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

PAIR_REDUCTIONS = ("mean", "sum")


def group_alignment_loss(logps: jax.Array, reference_logps: jax.Array, rewards: jax.Array, *,
                         beta: float = 1.0, mask: jax.Array | None = None, min_gap: float = 0.0,
                         pair_reduction: str = "mean") -> jax.Array:
    r"""Per-prompt group alignment loss (GAL) over all winner/loser pairs of a group.

    For prompt :math:`p` with :math:`G` on-policy samples, implicit rewards
    :math:`\rho_i = \log\pi_\theta(\tau_i) - \log\pi_{ref}(\tau_i)` and the pair set
    :math:`\mathcal P_p = \{(i, j) : R_i - R_j > \text{min\_gap},\ i, j \text{ valid}\}`,

    .. math::  L_p = \frac{1}{|\mathcal P_p|} \sum_{(i,j)\in\mathcal P_p}
               -\log\sigma\big(\beta\,(\rho_i - \rho_j)\big)

    (``pair_reduction="sum"`` drops the :math:`1/|\mathcal P_p|`). Every successful sample is
    paired with every failed one, a DPO loss on on-policy rollouts; its per-pair gradient
    weight :math:`\beta(1-\sigma(\beta d))` is bounded, which is where DYPO's variance
    reduction comes from.

    Each prompt's group is one row and rows never interact, so sharding the batch over
    :math:`P` is safe; do not split a group's :math:`G` samples across shards.

    Args:
        logps: [P, G] float, summed sequence log-probs of each sample under the policy.
        reference_logps: [P, G] float, the same under the reference policy.
        rewards: [P, G] float, each sample's reward (binary in DYPO).
        beta: :math:`\beta_{GAL} > 0` (DYPO's default 1).
        mask: optional [P, G] bool, the valid samples; others join no pair.
        min_gap: reward gap a pair needs, >= 0 (0 pairs every strictly better sample with
            every worse one; Tajwar et al's all-pairs DPO uses 0.2).
        pair_reduction: ``"mean"`` over the prompt's pairs or ``"sum"``.

    Returns:
        [P] float, one loss per prompt. A prompt with no pair (all rewards equal, as for
        DYPO's Easy and Hard prompts) gives 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import group_alignment_loss
        >>> logps = jnp.zeros((1, 3))
        >>> rewards = jnp.array([[1.0, 0.0, 0.0]])  # pairs (0, 1) and (0, 2), each log 2
        >>> group_alignment_loss(logps, logps, rewards)
        Array([0.6931472], dtype=float32)

    References:
        Zhu et al, Bridging SFT and RL: Dynamic Policy Optimization for Robust Reasoning,
        2026 (arXiv 2604.08926), Eq. 14-15.

    Departures: the paper does not say how pairs are enumerated or how the pair losses are
    reduced; this takes all of them and averages per prompt (``pair_reduction="mean"``).
    The reference policy is the caller's choice (the paper does not fix it either).
    """
    _checks.dims(kind="float", logps=(logps, "[P, G]"), reference_logps=(reference_logps, "[P, G]"),
                 rewards=(rewards, "[P, G]"))
    _checks.dims(mask=(mask, "[P, G]", "bool"))
    _checks.same_shape(logps=logps, mask=mask)
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    _checks.in_range("min_gap", min_gap, low=0.0)
    _checks.one_of("pair_reduction", pair_reduction, PAIR_REDUCTIONS)
    valid = jnp.ones(logps.shape, bool) if mask is None else mask
    dt = compute_dtype(logps, reference_logps, rewards)  # the dtype policy
    logps, reference_logps, rewards = logps.astype(dt), reference_logps.astype(dt), rewards.astype(dt)
    rho = jnp.where(valid, logps - reference_logps, 0.0)  # padding may hold -inf
    pair = (rewards[:, :, None] - rewards[:, None, :] > min_gap)
    pair = pair & valid[:, :, None] & valid[:, None, :]
    d = rho[:, :, None] - rho[:, None, :]
    per_pair = -jax.nn.log_sigmoid(beta * d)
    total = jnp.sum(jnp.where(pair, per_pair, 0.0), axis=(1, 2))
    if pair_reduction == "sum":
        return total
    count = jnp.sum(pair, axis=(1, 2)).astype(total.dtype)
    return total / jnp.maximum(count, 1.0)
