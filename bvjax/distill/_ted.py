r"""MQSA-TED's transition-aware embedding distillation (TED).

The teacher is the global item-transition matrix C (``C[i, j]`` counts how often item j
immediately follows item i in the training sequences); the student is the item–item
similarity of the embedding table. TED distils each item's transition row into its
similarity row with a cross-entropy, so items that follow each other get similar
embeddings. The attention model itself (MQSA) is `bvjax.attention.MQSA`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bvjax import _checks

EMPTY_ROWS = ("uniform", "zero")


def transition_counts(sequences: jax.Array, mask: jax.Array | None = None, *, num_items: int) -> jax.Array:
    r"""Global first-order transition counts of item sequences (time span 1).

    .. math::  C_{ij} = \#\{(b, t) : x_{b,t} = i,\ x_{b,t+1} = j,\ \text{both valid}\}

    Args:
        sequences: [B, N] int item ids; ids outside ``[0, num_items)`` (e.g. the padding id
            ``num_items`` of the official code) are padding.
        mask: [B, N] bool, True where the position holds an item (default: every in-range id).
        num_items: static number of items I.

    Returns:
        [I, I] float32 counts. Sequences with no valid consecutive pair contribute nothing.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import transition_counts
        >>> transition_counts(jnp.array([[0, 1, 1, 2]]), num_items=3)
        Array([[0., 1., 0.],
               [0., 1., 1.],
               [0., 0., 0.]], dtype=float32)

    References:
        Zhu et al, Collaboration and Transition: Distilling Item Transitions into
        Multi-Query Self-Attention for Sequential Recommendation, WSDM 2024
        (arXiv 2311.01056); official code zhuty16/MQSA-TED (``utils.py``, time_span = 1).
    """
    _checks.dims(sequences=(sequences, "[B, N]", "int"), mask=(mask, "[B, N]", "bool"))
    _checks.positive_int(num_items=num_items)
    valid = (sequences >= 0) & (sequences < num_items)
    if mask is not None:
        valid = valid & mask
    src, dst = sequences[:, :-1], sequences[:, 1:]
    pair = valid[:, :-1] & valid[:, 1:]
    flat = jnp.where(pair, jnp.clip(src, 0, num_items - 1) * num_items + jnp.clip(dst, 0, num_items - 1), 0)
    counts = jax.ops.segment_sum(pair.astype(jnp.float32).reshape(-1), flat.reshape(-1), num_items * num_items)
    return counts.reshape(num_items, num_items)


def ted_loss(item_embeddings: jax.Array, items: jax.Array, transition_rows: jax.Array, *,
             query_embeddings: jax.Array | None = None, temperature: float = 0.1,
             scale: float | None = None, empty_rows: str = "uniform") -> jax.Array:
    r"""TED: cross-entropy from transition soft labels to item–item embedding similarity.

    For each item :math:`i` in ``items`` with transition row :math:`C_i`,

    .. math::
        t_i = \mathrm{softmax}\Big(\frac{C_{i,:} / \max_j C_{ij}}{\tau}\Big),\qquad
        s_i = \mathrm{softmax}\Big(\frac{c\, e_i E^\top}{\tau}\Big),\qquad
        \ell_i = -\sum_j t_{ij} \log s_{ij},

    with :math:`c = \sqrt D` by default and :math:`e_i` the query embedding (the official
    code uses ``dropout(E[i])``; pass it as ``query_embeddings``). MQSA-TED adds
    :math:`\lambda_{kd}\,\mathrm{mean}_i \ell_i` (λ_kd = 0.1, τ = 0.1) to the
    next-item cross-entropy, the mean over the non-padding input items of the batch.
    As in the official code the student softmax runs over every item, the item itself
    included.

    Args:
        item_embeddings: [I, D] float embedding table E (the rows the student softmax runs
            over; drop a padding row before calling).
        items: [M] int in [0, I), the items whose rows are distilled.
        transition_rows: [M, I] float >= 0, ``C[items]`` (see `transition_counts`).
        query_embeddings: [M, D] float, :math:`e_i` (default ``item_embeddings[items]``).
        temperature: τ > 0.
        scale: c, the query scale (default :math:`\sqrt D`).
        empty_rows: what an item with no outgoing transition gets. ``"uniform"`` (the
            official code: the all-zero row becomes a uniform teacher) or ``"zero"`` (loss
            0: mask those rows out).

    Returns:
        [M] float, the per-item loss (the caller takes the mean over valid items).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import ted_loss
        >>> e = jnp.eye(2)
        >>> ted_loss(e, jnp.array([0]), jnp.array([[0.0, 0.0]]), empty_rows="zero")
        Array([0.], dtype=float32)

    References:
        Zhu et al, Collaboration and Transition: Distilling Item Transitions into
        Multi-Query Self-Attention for Sequential Recommendation, WSDM 2024
        (arXiv 2311.01056); official code zhuty16/MQSA-TED @91c9001 (``MQSA_TED.py``).

    The max-normalisation divides by :math:`\max(\max_j C_{ij}, 1)` when a row is empty,
    which reproduces the official uniform teacher without a 0/0.
    """
    sizes = _checks.dims(kind="float", item_embeddings=(item_embeddings, "[I, D]"),
                         transition_rows=(transition_rows, "[M, I]"),
                         query_embeddings=(query_embeddings, "[M, D]"))
    _checks.dims(items=(items, "[M]", "int"), transition_rows=(transition_rows, "[M, I]"))
    _checks.in_range("temperature", temperature, low=0.0, low_inclusive=False)
    _checks.one_of("empty_rows", empty_rows, EMPTY_ROWS)
    c = math.sqrt(sizes["D"]) if scale is None else scale
    query = item_embeddings[items] if query_embeddings is None else query_embeddings
    rows = transition_rows.astype(item_embeddings.dtype)
    top = jnp.max(rows, axis=-1, keepdims=True)
    teacher = jax.nn.softmax(rows / jnp.where(top > 0, top, 1.0) / temperature, axis=-1)
    log_student = jax.nn.log_softmax(c * (query @ item_embeddings.T) / temperature, axis=-1)
    loss = -jnp.sum(teacher * log_student, axis=-1)
    if empty_rows == "zero":
        loss = jnp.where(top[:, 0] > 0, loss, 0.0)
    return loss
