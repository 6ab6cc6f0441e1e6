"""MCTS-DPO's step-level preference pairs: best vs worst sibling at each depth, visit-count smoothing."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class StepPairs(NamedTuple):
    """What `mcts_step_pairs` returns, one entry per depth (step) of the search path.

    Attributes:
        chosen: [..., D] int32, the sibling index of the chosen step.
        rejected: [..., D] int32, the sibling index of the rejected step.
        label_smoothing: [..., D] float in [0, 0.5], cDPO's flip probability from visit counts
            (pass it to `dpo_loss`'s ``label_smoothing``).
        valid: [..., D] bool, False where a depth has fewer than two siblings or the two
            Q-values tie.
    """

    chosen: jax.Array
    rejected: jax.Array
    label_smoothing: jax.Array
    valid: jax.Array


def _pick(q, visits, allowed, best):
    """Index of the highest (best) or lowest Q among allowed siblings; ties go to more (fewer) visits."""
    big = jnp.asarray(jnp.inf, q.dtype)
    masked = jnp.where(allowed, q if best else -q, -big)
    top = jnp.max(masked, axis=-1, keepdims=True)
    tied = allowed & (masked == top)
    v = visits.astype(q.dtype)
    return jnp.argmax(jnp.where(tied, v if best else -v, -big), axis=-1).astype(jnp.int32)


def mcts_step_pairs(q_values: jax.Array, visits: jax.Array, mask: jax.Array | None = None, *,
                    choose_worst: bool = True, max_label_smoothing: float = 0.5) -> StepPairs:
    r"""Step-level preference pairs from a search tree's sibling Q-values and visit counts.

    At each depth :math:`d` of the selected path, the :math:`C` sibling steps (children of
    the path's node at depth :math:`d-1`) have values :math:`Q_{d,c}` and visit counts
    :math:`N_{d,c}`. The chosen step is the highest-Q sibling; the rejected one is the
    lowest-Q sibling (``choose_worst=True``) or the second highest. With the visit counts
    :math:`N_w, N_l` of the two, conservative DPO's flip probability is

    .. math::  c = \frac{1}{1 + N_l / \max(1, N_w)},\qquad
               \varepsilon = \min(1 - c,\ \varepsilon_{\max}),

    so a well-visited chosen step against a rarely visited rejected one gives a confident
    label (small :math:`\varepsilon`). Feed the pairs' step log-probs (summed from the
    token where the two continuations diverge; the shared prefix cancels) to `dpo_loss`
    with ``label_smoothing=label_smoothing`` and weight by ``valid``.

    Args:
        q_values: [..., D, C] float, the sibling Q-values per depth.
        visits: [..., D, C] int or float, the sibling visit counts.
        mask: optional [..., D, C] bool, the siblings that exist (default: all).
        choose_worst: static bool, rejected = lowest Q (True) or second highest (False).
        max_label_smoothing: :math:`\varepsilon_{\max} \in [0, 0.5]`; 0 turns smoothing off.

    Returns:
        A `StepPairs` of [..., D] arrays. Equal Q-values are broken by visit count (more
        visits preferred for chosen, fewer for rejected), then by the lower index.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import mcts_step_pairs
        >>> pairs = mcts_step_pairs(jnp.array([[0.9, -0.5, 0.2]]), jnp.array([[6, 1, 3]]))
        >>> pairs.chosen.tolist(), pairs.rejected.tolist()
        ([0], [1])
        >>> pairs.label_smoothing  # 1 - 1 / (1 + 1/6)
        Array([0.14285713], dtype=float32)

    References:
        Xie et al, Monte Carlo Tree Search Boosts Reasoning via Iterative Preference Learning,
        2024 (arXiv 2405.00451).
        Mitchell, A Note on DPO with Noisy Preferences and Relationship to IPO, 2023 (cDPO).

    Departures: the official code sorts siblings by the tuple (Q, policy prob, reward, value,
    visits); this ranks by Q with visits as the tie-break, and marks a Q tie (or a lone
    sibling) invalid, since it carries no preference.
    """
    _checks.dims(q_values=(q_values, "[..., D, C]", "float"), visits=(visits, "[..., D, C]", "number"),
                 mask=(mask, "[..., D, C]", "bool"))
    _checks.same_shape(q_values=q_values, visits=visits, mask=mask)
    _checks.in_range("max_label_smoothing", max_label_smoothing, low=0.0, high=0.5)
    allowed = jnp.ones(q_values.shape, bool) if mask is None else mask
    chosen = _pick(q_values, visits, allowed, best=True)
    siblings = jnp.arange(q_values.shape[-1])
    if choose_worst:
        rejected = _pick(q_values, visits, allowed, best=False)
    else:
        rejected = _pick(q_values, visits, allowed & (siblings != chosen[..., None]), best=True)

    def at(x, i):
        return jnp.take_along_axis(x, i[..., None], axis=-1)[..., 0]

    n_w = jnp.maximum(at(visits, chosen).astype(q_values.dtype), 1.0)
    n_l = at(visits, rejected).astype(q_values.dtype)
    confidence = 1.0 / (1.0 + n_l / n_w)
    smoothing = jnp.minimum(1.0 - confidence, max_label_smoothing)
    valid = (jnp.sum(allowed, axis=-1) >= 2) & (at(q_values, chosen) > at(q_values, rejected))
    return StepPairs(chosen, rejected, smoothing.astype(q_values.dtype), valid)
