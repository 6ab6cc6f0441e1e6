"""DAPO's dynamic-sampling group filter and overlong reward shaping."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks, _numerics, _segments


def dapo_group_filter(rewards: jax.Array, group_ids: jax.Array | None = None, *,
                      mask: jax.Array | None = None) -> jax.Array:
    r"""DAPO's dynamic-sampling filter: keep groups whose rewards are not all equal.

    .. math::  \text{keep}_g = \big[\,0 < \#\{i \in g : \text{correct}_i\} < |g|\,\big]

    for 0/1 correctness, which is the same as "the group's valid rewards are not all
    equal" (standard deviation > 0); that second form is what is computed, so graded
    rewards work too. A group with all rewards equal gives every GRPO advantage 0, so it
    carries no gradient and DAPO over-samples prompts until enough groups pass.
    Groups with fewer than two valid entries (singletons, all-masked) are dropped, and
    so are groups with a non-finite valid reward (their GRPO advantages are NaN).

    Args:
        rewards: [P, G] float or bool (one group per row), or [N] with ``group_ids``.
        group_ids: None, or [N] int; rows with equal ids form one group.
        mask: optional bool of the shape of ``rewards``; False entries are ignored.

    Returns:
        bool: [P] (one flag per group) for dense input, [N] (the flag of each row's
        group, False for masked rows) for ragged input.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import dapo_group_filter
        >>> dapo_group_filter(jnp.array([[1, 0, 1], [1, 1, 1], [0, 0, 0]], bool))
        Array([ True, False, False], dtype=bool)

    References:
        Yu et al, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, 2025
        (arXiv 2503.14476).

    Departure from verl's recipe: verl (``filter_groups``) also keeps single-sample
    groups (std of one value is taken as passing); here they are dropped, as the
    paper's condition 0 < correct < G excludes them. The over-sampling loop itself is
    host-side control flow and stays with the caller.
    """
    if group_ids is None:
        _checks.dims(rewards=(rewards, "[P, G]"), mask=(mask, "[P, G]", "bool"))
    else:
        _checks.dims(rewards=(rewards, "[N]"), group_ids=(group_ids, "[N]", "int"), mask=(mask, "[N]", "bool"))
    if not (jnp.issubdtype(rewards.dtype, jnp.number) or rewards.dtype == jnp.bool_):
        raise TypeError(f"rewards: expected float, int or bool, got {rewards.dtype}")
    valid = jnp.ones(rewards.shape, bool) if mask is None else mask
    r = rewards.astype(_numerics.compute_dtype(rewards))  # float64 stays float64: no merged near-ties
    bad = (valid & ~jnp.isfinite(r)).astype(jnp.int32)
    if group_ids is None:
        n = jnp.sum(valid, axis=1)
        hi = jnp.max(jnp.where(valid, r, -jnp.inf), axis=1)
        lo = jnp.min(jnp.where(valid, r, jnp.inf), axis=1)
        return (n >= 2) & (hi > lo) & (jnp.sum(bad, axis=1) == 0)
    num = r.shape[0]
    seg = _segments.segment_ids([valid.astype(jnp.int32), group_ids])
    hi = jax.ops.segment_max(jnp.where(valid, r, -jnp.inf), seg, num)
    lo = jax.ops.segment_min(jnp.where(valid, r, jnp.inf), seg, num)
    n = jax.ops.segment_sum(valid.astype(jnp.int32), seg, num)
    nbad = jax.ops.segment_sum(bad, seg, num)
    return valid & (n[seg] >= 2) & (hi[seg] > lo[seg]) & (nbad[seg] == 0)


def overlong_penalty(lengths: jax.Array, *, max_length: int, cache_length: int,
                     penalty_factor: float = 1.0) -> jax.Array:
    r"""DAPO's soft overlong punishment, a length-dependent reward added to the score.

    .. math::
        R_\text{len}(y) = -\lambda\cdot\begin{cases}
            0 & |y| \le L_\max - L_\text{cache}\\
            \dfrac{|y| - (L_\max - L_\text{cache})}{L_\text{cache}} & L_\max - L_\text{cache} < |y| \le L_\max\\
            1 & |y| > L_\max
        \end{cases}

    i.e. a linear ramp from 0 to :math:`-\lambda` over the last ``cache_length`` tokens
    before ``max_length``, constant beyond (:math:`\lambda` = ``penalty_factor``, 1 in
    the paper).

    Args:
        lengths: [...] int or float, response lengths :math:`|y|` in tokens.
        max_length: :math:`L_\max`, e.g. 20480.
        cache_length: :math:`L_\text{cache}` in [1, max_length], e.g. 4096.
        penalty_factor: :math:`\lambda \ge 0`.

    Returns:
        [...] float32, the penalty (<= 0).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import overlong_penalty
        >>> overlong_penalty(jnp.array([100, 18432, 20480, 30000]), max_length=20480, cache_length=4096)
        Array([ 0. , -0.5, -1. , -1. ], dtype=float32)

    References:
        Yu et al, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, 2025
        (arXiv 2503.14476), Eq. 13.

    Departure from verl: verl's ``overlong_buffer`` penalty has no floor at
    :math:`-\lambda` (its generations are truncated at :math:`L_\max`, so the two agree
    on every length verl produces); the paper's floor is kept here.
    """
    _checks.dims(lengths=(lengths, "[...]", "number"))
    _checks.positive_int(max_length=max_length, cache_length=cache_length)
    if cache_length > max_length:
        raise ValueError(f"cache_length: expected <= max_length={max_length}, got {cache_length}")
    _checks.in_range("penalty_factor", penalty_factor, low=0.0)
    exceed = lengths.astype(jnp.float32) - float(max_length - cache_length)
    return 0.0 - penalty_factor * jnp.clip(exceed / float(cache_length), 0.0, 1.0)


def overlong_filter(mask: jax.Array, truncated: jax.Array) -> jax.Array:
    r"""DAPO's overlong filtering: drop the tokens of truncated responses from the loss.

    .. math::  m'_{i,t} = m_{i,t} \wedge \neg\,\text{truncated}_i

    A response cut at the generation limit gets a reward for an answer it never gave;
    DAPO masks such samples out of the policy loss instead of training on that noisy
    reward (the paper's "overlong filtering", applied before the soft punishment of
    `overlong_penalty` in its ablation). Pass the result as the ``mask`` of
    `aggregate_loss`; with ``mode="token-mean"`` the filtered tokens leave the
    denominator too. A batch where every response is truncated gives an all-False mask,
    which `aggregate_loss` turns into a zero loss.

    Args:
        mask: [B, T] bool, the response-token mask.
        truncated: [B] bool, True where the response hit the length limit without an
            end-of-sequence token.

    Returns:
        [B, T] bool, the filtered mask.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import overlong_filter
        >>> overlong_filter(jnp.ones((2, 3), bool), jnp.array([False, True])).astype(int)
        Array([[1, 1, 1],
               [0, 0, 0]], dtype=int32)

    References:
        Yu et al, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, 2025
        (arXiv 2503.14476), section 3.4 (overlong filtering; Table "+ Overlong Filtering").
    """
    _checks.dims(mask=(mask, "[B, T]", "bool"), truncated=(truncated, "[B]", "bool"))
    return mask & ~truncated[:, None]
