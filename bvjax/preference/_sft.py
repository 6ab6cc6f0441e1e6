"""Supervised fine-tuning: negative log-likelihood of the response tokens."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.preference._logprobs import _valid, token_logps

SFT_NORMALIZE = ("mean", "sum")


def sft_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array, *,
             prompt_mask: jax.Array | None = None, normalize: str = "mean") -> jax.Array:
    r"""Per-sequence negative log-likelihood of the response tokens (SFT).

    With :math:`m_t` = ``mask`` and not ``prompt_mask`` (and a label inside the vocabulary),

    .. math::  L = -\frac{\sum_t m_t \log \pi(y_t \mid x, y_{<t})}{\max(1, \sum_t m_t)}
               \quad(\texttt{"mean"}), \qquad
               L = -\textstyle\sum_t m_t \log \pi(y_t \mid x, y_{<t}) \quad(\texttt{"sum"}).

    ``"mean"`` is the sequence-mean NLL (ORPO's :math:`\mathcal L_{SFT}`, Tajwar et al's
    best-of-N SFT). The token-mean over a whole batch that Hugging Face trainers report is
    ``sft_loss(..., normalize="sum").sum() / n_tokens``; the choice is the caller's.

    Args:
        logits: [B, T, V] float (or any leading dims), aligned with ``labels``.
        labels: [B, T] int, the target token ids (ids outside ``[0, V)`` are ignored).
        mask: [B, T] bool, True on real (non-padding) tokens.
        prompt_mask: optional [B, T] bool, True on prompt tokens, which are excluded.
        normalize: ``"mean"`` (per-sequence mean over counted tokens) or ``"sum"``.

    Returns:
        [B] float, one loss per sequence. A sequence with no counted token gives 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import sft_loss
        >>> logits = jnp.zeros((1, 3, 2))
        >>> labels = jnp.array([[1, 0, 1]])
        >>> mask = jnp.array([[True, True, False]])
        >>> prompt = jnp.array([[True, False, False]])
        >>> sft_loss(logits, labels, mask, prompt_mask=prompt)  # one response token: log 2
        Array([0.6931472], dtype=float32)

    References:
        Ouyang et al, Training Language Models to Follow Instructions with Human Feedback,
        2022 (arXiv 2203.02155); Tajwar et al, Preference Fine-Tuning of LLMs Should Leverage
        Suboptimal, On-Policy Data, 2024 (arXiv 2404.14367).
    """
    _checks.dims(logits=(logits, "[..., T, V]", "float"), labels=(labels, "[..., T]", "int"),
                 mask=(mask, "[..., T]", "bool"), prompt_mask=(prompt_mask, "[..., T]", "bool"))
    _checks.same_shape(labels=labels, mask=mask, prompt_mask=prompt_mask)
    _checks.one_of("normalize", normalize, SFT_NORMALIZE)
    counted = mask if prompt_mask is None else mask & ~prompt_mask
    nll = -jnp.sum(token_logps(logits, labels, mask=counted), axis=-1)
    if normalize == "sum":
        return nll
    count = jnp.sum(_valid(labels, logits.shape[-1], counted), axis=-1).astype(nll.dtype)
    return nll / jnp.maximum(count, 1.0)
