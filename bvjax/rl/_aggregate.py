"""Explicit reduction of per-token losses: token-mean and the three sequence-mean modes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks

AGGREGATION_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")


def aggregate_loss(per_token: jax.Array, mask: jax.Array, *, mode: str = "token-mean",
                   num_tokens: jax.Array | float | None = None,
                   num_sequences: jax.Array | float | None = None,
                   norm_constant: float | None = None) -> jax.Array:
    r"""Reduces a [B, T] per-token loss to a scalar in one of four named ways.

    With :math:`m_{it}` = ``mask``, :math:`n_i = \sum_t m_{it}`, :math:`N_{tok}` the token
    count and :math:`N_{seq}` the count of non-empty sequences:

    .. math::
        \texttt{token-mean}: \frac{\sum_{i,t} m_{it}\ell_{it}}{N_{tok}} \qquad
        \texttt{seq-mean-token-sum}: \frac{1}{N_{seq}}\sum_i \sum_t m_{it}\ell_{it}

        \texttt{seq-mean-token-mean}: \frac{1}{N_{seq}}\sum_i \frac{\sum_t m_{it}\ell_{it}}{n_i}
        \qquad
        \texttt{seq-mean-token-sum-norm}: \frac{1}{N_{seq}\,C}\sum_i \sum_t m_{it}\ell_{it}

    ``token-mean`` is DAPO's token-level loss (verl's default); ``seq-mean-token-mean`` is
    the original GRPO; ``seq-mean-token-sum-norm`` is Dr.GRPO's constant normaliser
    :math:`C` (default: the padded length T, verl's ``loss_scale_factor`` default).

    Distributed-consistent form: by default :math:`N_{tok}` and :math:`N_{seq}` are counted
    on this batch. When a batch is split into micro-batches (gradient accumulation) or
    data-parallel shards, pass the *global* counts, ``num_tokens = mask.sum()`` and
    ``num_sequences = mask.any(-1).sum()`` over the whole batch, and **sum** the micro-batch
    losses: the sum then equals the full-batch loss exactly, and so do the gradients (verl
    issue #5625 is what happens otherwise). ``seq-mean-token-mean`` needs only
    ``num_sequences``, since :math:`n_i` is per row.

    Args:
        per_token: [B, T] float, per-token losses.
        mask: [B, T] bool, the tokens that count.
        mode: one of ``"token-mean"``, ``"seq-mean-token-sum"``, ``"seq-mean-token-mean"``,
            ``"seq-mean-token-sum-norm"``.
        num_tokens: optional scalar, the global token count for ``token-mean``.
        num_sequences: optional scalar, the global count of non-empty sequences for the
            ``seq-*`` modes.
        norm_constant: :math:`C > 0` for ``seq-mean-token-sum-norm`` (default T).

    Returns:
        [] float. An all-False mask gives 0 (denominators are floored at 1), never NaN;
        masked entries may hold ``inf``/``NaN`` without effect.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import aggregate_loss
        >>> loss = jnp.array([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]])
        >>> mask = jnp.array([[True, True, True], [True, False, False]])
        >>> aggregate_loss(loss, mask, mode="token-mean")  # (3 + 4) / 4
        Array(1.75, dtype=float32)
        >>> aggregate_loss(loss, mask, mode="seq-mean-token-mean")  # (1 + 4) / 2
        Array(2.5, dtype=float32)

    References:
        Yu et al, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, 2025
        (arXiv 2503.14476); Liu et al, Understanding R1-Zero-Like Training: A Critical
        Perspective, 2025 (arXiv 2503.20783); Shao et al, DeepSeekMath, 2024 (arXiv
        2402.03300).

    TRL's ``GRPOTrainer`` normalises over all rows of the batch, empty ones included:
    its ``loss_type="grpo"`` (and ``"sapo"``) is ``seq-mean-token-mean`` with
    ``num_sequences=B``, and ``"dr_grpo"`` is ``seq-mean-token-sum-norm`` with
    ``num_sequences=B, norm_constant=max_completion_length``; ``"dapo"``/``"bnpo"`` are
    ``token-mean`` (each further divided by the gradient-accumulation steps, or a global
    token count, outside the loss). With no empty row the defaults give the same numbers.

    Departures: ``seq-mean-token-sum-norm`` divides by :math:`N_{seq}` as well as
    :math:`C`; verl (at b178a3c) divides by :math:`C` only, so its loss grows with the
    (micro-)batch size (verl issue #3741). DAPO's paper normalises tokens per group; this,
    like verl, normalises over the batch (verl issue #2776).
    """
    _checks.dims(per_token=(per_token, "[B, T]", "float"), mask=(mask, "[B, T]", "bool"))
    _checks.one_of("mode", mode, AGGREGATION_MODES)
    _checks.dims(num_tokens=(num_tokens, "[]"), num_sequences=(num_sequences, "[]"))
    if norm_constant is not None:
        _checks.in_range("norm_constant", norm_constant, low=0.0, low_inclusive=False)
    masked = jnp.where(mask, per_token, 0.0)
    seq_tokens = jnp.sum(mask, axis=-1).astype(masked.dtype)
    if mode == "token-mean":
        n = jnp.sum(seq_tokens) if num_tokens is None else jnp.asarray(num_tokens, masked.dtype)
        return jnp.sum(masked) / jnp.maximum(n, 1.0)
    n_seq = (jnp.sum(seq_tokens > 0).astype(masked.dtype) if num_sequences is None
             else jnp.asarray(num_sequences, masked.dtype))
    n_seq = jnp.maximum(n_seq, 1.0)
    seq_sum = jnp.sum(masked, axis=-1)
    if mode == "seq-mean-token-sum":
        return jnp.sum(seq_sum) / n_seq
    if mode == "seq-mean-token-mean":
        return jnp.sum(seq_sum / jnp.maximum(seq_tokens, 1.0)) / n_seq
    c = float(per_token.shape[-1]) if norm_constant is None else norm_constant
    return jnp.sum(seq_sum) / (n_seq * c)
