"""Token and sequence log-probabilities computed stably from logits."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _valid(labels: jax.Array, num_classes: int, mask: jax.Array | None) -> jax.Array:
    valid = (labels >= 0) & (labels < num_classes)
    return valid if mask is None else valid & mask


def token_logps(logits: jax.Array, labels: jax.Array, *, mask: jax.Array | None = None) -> jax.Array:
    r"""Log-probability of each label token under the softmax of its logits.

    .. math::  \ell_t = z_{t, y_t} - \log \textstyle\sum_v e^{z_{t,v}}

    computed as ``log_softmax`` (the max is subtracted before exponentiating), so logits
    of magnitude 1e4 give finite values and gradients. Position ``t`` of ``logits``
    scores ``labels[t]``: shift the model's outputs by one before calling (``logits[:, :-1]``
    against ``tokens[:, 1:]``).

    Args:
        logits: [..., T, V] float.
        labels: [..., T] int, the token ids scored. Ids outside ``[0, V)`` (the -100 padding
            convention) count as masked out and are never indexed.
        mask: optional [..., T] bool, the tokens that count; masked-out positions return 0.

    Returns:
        [..., T] float, :math:`\log \pi(y_t \mid \cdot)` per token (0 where masked).
        Masked positions' logits have no effect, on the value or on the gradient (which
        is 0 there), even when they are -inf or NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import token_logps
        >>> token_logps(jnp.zeros((1, 2, 4)), jnp.array([[0, 3]]))  # log(1/4)
        Array([[-1.3862944, -1.3862944]], dtype=float32)

    References:
        Bridle, Probabilistic Interpretation of Feedforward Classification Network Outputs,
        with Relationships to Statistical Pattern Recognition, 1990 (the softmax).
    """
    _checks.dims(logits=(logits, "[..., T, V]", "float"), labels=(labels, "[..., T]", "int"),
                 mask=(mask, "[..., T]", "bool"))
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels: expected shape {logits.shape[:-1]} (logits without V), "
                         f"got shape {labels.shape} {labels.dtype}")
    _checks.same_shape(labels=labels, mask=mask)
    valid = _valid(labels, logits.shape[-1], mask)
    safe_labels = jnp.where(valid, labels, 0)
    logits = logits.astype(compute_dtype(logits))  # the dtype policy: half precision computed in float32
    # Masked rows are replaced (selected, not multiplied) before the softmax, so their
    # logits (-inf or NaN padding) reach neither the value nor the gradient.
    logp = jax.nn.log_softmax(jnp.where(valid[..., None], logits, jnp.zeros((), logits.dtype)), axis=-1)
    picked = jnp.take_along_axis(logp, safe_labels[..., None], axis=-1)[..., 0]
    return jnp.where(valid, picked, 0.0)


def sequence_logps(logits: jax.Array, labels: jax.Array, mask: jax.Array, *,
                   normalize: bool = False) -> jax.Array:
    r"""Summed or length-normalised log-probability of each sequence's masked tokens.

    .. math::  s = \textstyle\sum_t m_t \ell_t, \qquad
               \bar s = s / \max(1, \sum_t m_t)

    with :math:`\ell_t` from `token_logps`. The sum is what DPO, IPO, BVPO and group
    alignment compare; the mean (``normalize=True``) is what ORPO and SimPO use.

    Args:
        logits: [..., T, V] float, aligned with ``labels`` (shift before calling).
        labels: [..., T] int.
        mask: [..., T] bool, True on the tokens that count (the response, not the prompt
            or padding). Labels outside ``[0, V)`` are also excluded, from the count too.
        normalize: False for the sum, True for the mean over masked tokens.

    Returns:
        [...] float. A sequence with an empty mask returns 0 (sum and mean alike), never NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import sequence_logps
        >>> logits = jnp.zeros((1, 3, 2))  # uniform over 2 tokens: log(1/2) each
        >>> mask = jnp.array([[False, True, True]])
        >>> sequence_logps(logits, jnp.array([[0, 1, 0]]), mask)
        Array([-1.3862944], dtype=float32)
        >>> sequence_logps(logits, jnp.array([[0, 1, 0]]), mask, normalize=True)
        Array([-0.6931472], dtype=float32)

    References:
        Rafailov et al, Direct Preference Optimization: Your Language Model is Secretly a
        Reward Model, 2023 (arXiv 2305.18290) (summed); Hong et al, ORPO: Monolithic
        Preference Optimization without Reference Model, 2024 (arXiv 2403.07691) (mean).
    """
    _checks.dims(logits=(logits, "[..., T, V]", "float"), labels=(labels, "[..., T]", "int"),
                 mask=(mask, "[..., T]", "bool"))
    _checks.same_shape(labels=labels, mask=mask)
    total = jnp.sum(token_logps(logits, labels, mask=mask), axis=-1)
    if not normalize:
        return total
    count = jnp.sum(_valid(labels, logits.shape[-1], mask), axis=-1).astype(total.dtype)
    return total / jnp.maximum(count, 1.0)
