"""Preference pairs from scored samples: every pair of a group, ordered by reward."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks


class RewardPairs(NamedTuple):
    """What `reward_pairs` returns; ``P = N (N - 1) / 2`` pairs per group.

    Attributes:
        chosen: [B, P] int32, index (into the N samples) of the higher-reward sample.
        rejected: [B, P] int32, index of the lower-reward sample.
        mask: [B, P] bool, True where the pair is kept (reward gap >= threshold, no tie).
    """

    chosen: jax.Array
    rejected: jax.Array
    mask: jax.Array


def reward_pairs(rewards: jax.Array, *, threshold: float = 0.0) -> RewardPairs:
    r"""All pairs of each group's samples, higher reward first, masked by a reward gap.

    For a group of N scored samples, each unordered pair :math:`\{i, j\}`, :math:`i < j`, gives
    one preference pair with :math:`w = \arg\max(r_i, r_j)` chosen and the other rejected,
    kept when

    .. math::  |r_i - r_j| \ge \text{threshold} \quad\text{and}\quad r_i \ne r_j .

    Gather log-probs with ``jnp.take_along_axis(logps, chosen, axis=1)`` and weight the
    per-pair DPO/IPO losses by ``mask``.

    Args:
        rewards: [B, N] float, the reward of each of N samples per group (N >= 2).
        threshold: minimum reward gap >= 0 (Tajwar et al's bandit code uses 0.2).

    Returns:
        A `RewardPairs` ``(chosen, rejected, mask)`` of [B, N (N - 1) / 2] arrays, pairs in
        the order (0, 1), (0, 2), ..., (N-2, N-1).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import reward_pairs
        >>> pairs = reward_pairs(jnp.array([[0.1, 0.9, 0.5]]), threshold=0.2)
        >>> pairs.chosen.tolist(), pairs.rejected.tolist(), pairs.mask.tolist()
        ([[1, 2, 1]], [[0, 0, 2]], [[True, True, True]])

    References:
        Tajwar et al, Preference Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy
        Data, 2024 (arXiv 2404.14367).

    Departures: none from the authors' bandit code's pairing (all pairs, a reward-gap
    threshold); exact ties are always dropped, since they carry no preference.
    """
    _checks.dims(rewards=(rewards, "[B, N]", "float"))
    if rewards.shape[1] < 2:
        raise ValueError(f"rewards: expected [B, N] float with N >= 2, got shape {rewards.shape} {rewards.dtype}")
    _checks.in_range("threshold", threshold, low=0.0)
    first, second = np.triu_indices(rewards.shape[1], k=1)
    r_first, r_second = rewards[:, first], rewards[:, second]
    first_wins = r_first >= r_second
    chosen = jnp.where(first_wins, first, second).astype(jnp.int32)
    rejected = jnp.where(first_wins, second, first).astype(jnp.int32)
    gap = jnp.abs(r_first - r_second)
    return RewardPairs(chosen, rejected, (gap >= threshold) & (gap > 0))
