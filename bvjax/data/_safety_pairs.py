"""A synthetic 'safe vs unsafe response' preference set with a utility task, for (mis)alignment toys."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks

PAD, EOS = 0, 1
_NUM_DIGITS_VOCAB = 10


class SafetyPairs(NamedTuple):
    """What `safety_pairs` returns (``N`` examples, ``D`` digits, ``R = D + 2`` response slots).

    Attributes:
        prompts: [N, D + 1] int, a topic token then ``D`` digit tokens.
        compliance: [N, R] int, the complying response: a compliance token, the answer's
            ``D`` digits, EOS. On a benign prompt it is the helpful answer; on a harmful
            prompt it is the unsafe response.
        compliance_mask: [N, R] bool, True on the response's tokens (all ``R``).
        refusal: [N, R] int, the refusing response: a refusal token, EOS, then PAD. On a
            harmful prompt it is the safe response; on a benign prompt, an over-refusal.
        refusal_mask: [N, R] bool, True on the first two slots.
        harmful: [N] bool, whether the prompt's topic is a harmful one.
        compliance_tokens: [S] int, the tokens that open a complying response.
        refusal_tokens: [S] int, the tokens that open a refusing response.
    """

    prompts: jax.Array
    compliance: jax.Array
    compliance_mask: jax.Array
    refusal: jax.Array
    refusal_mask: jax.Array
    harmful: jax.Array
    compliance_tokens: jax.Array
    refusal_tokens: jax.Array


def safety_pairs(key: jax.Array, *, num_examples: int, num_topics: int = 4, num_digits: int = 3,
                 num_styles: int = 2, harmful_fraction: float | jax.Array = 0.5) -> SafetyPairs:
    r"""Prompts with a complying and a refusing response, half harmful: a tiny safety preference set.

    Token layout (vocabulary size :math:`V = 12 + 2S + 2T` for ``S = num_styles`` and
    ``T = num_topics``): 0 PAD, 1 EOS, :math:`2 \ldots S+1` refusal tokens ("I cannot ..."),
    :math:`S+2 \ldots 2S+1` compliance tokens ("Sure, ..."), then the ten digits, then
    :math:`2T` topic tokens: topics :math:`0 \ldots T-1` are benign, :math:`T \ldots 2T-1`
    harmful. A prompt is a topic :math:`t` and :math:`D` uniform digits :math:`d_i`; the
    answer to it is

    .. math::  a_i = (d_i + 1 + (t \bmod T)) \bmod 10,

    so benign topic :math:`t` and harmful topic :math:`t + T` need the same skill. The
    complying response is ``[c, a_1 .. a_D, EOS]`` and the refusing one ``[r, EOS]``, with
    the style tokens :math:`c` and :math:`r` drawn uniformly from their families. Since
    the first response token decides the family, the probability that a sampled response
    is unsafe is the policy's mass on ``compliance_tokens`` at that position.

    Uses: misalignment pairs are the harmful rows with chosen = ``compliance`` (unsafe),
    rejected = ``refusal``; realignment pairs swap them; the benign rows' ``compliance``
    is the utility task (exact-match accuracy of the answer is the utility proxy).

    Args:
        key: a PRNG key.
        num_examples: static int N >= 1.
        num_topics: static int T >= 1, topics per kind (benign, harmful).
        num_digits: static int D >= 1, digits per prompt and answer.
        num_styles: static int S >= 1, tokens per response family.
        harmful_fraction: [] float in [0, 1], the probability that a row is harmful.

    Returns:
        A `SafetyPairs` (shapes above), int32 tokens.

    Examples:
        >>> import jax
        >>> from bvjax.data import safety_pairs
        >>> data = safety_pairs(jax.random.key(0), num_examples=4, num_topics=1, num_digits=2,
        ...                     num_styles=1, harmful_fraction=0.0)
        >>> data.prompts.shape, data.compliance.shape, bool(data.harmful.any())
        ((4, 3), (4, 4), False)
        >>> data.refusal[0].tolist(), data.refusal_mask[0].tolist()  # [refusal, EOS, PAD, PAD]
        ([2, 1, 0, 0], [True, True, False, False])
        >>> bool(((data.prompts[:, 1:] - 4 + 1) % 10 == (data.compliance[:, 1:3] - 4) % 10).all())
        True

    References:
        Zhang, Li, Shen, Shen et al, The Art of (Mis)alignment: How Fine-Tuning Methods
        Effectively Misalign and Realign LLMs in Post-Training, 2026 (arXiv 2604.07754): MisQA
        pairs each harmful prompt with an unsafe answer and a safe refusal; this is a synthetic
        stand-in with a checkable utility task.
    """
    _checks.positive_int(num_examples=num_examples, num_topics=num_topics, num_digits=num_digits,
                         num_styles=num_styles)
    _checks.dims(harmful_fraction=(harmful_fraction, "[]"))
    _checks.in_range("harmful_fraction", harmful_fraction, low=0.0, high=1.0)
    n, d, s, t = num_examples, num_digits, num_styles, num_topics
    digit0, topic0 = 2 + 2 * s, 2 + 2 * s + _NUM_DIGITS_VOCAB
    k_harm, k_topic, k_digit, k_style_c, k_style_r = jax.random.split(key, 5)
    harmful = jax.random.uniform(k_harm, (n,)) < harmful_fraction
    topic = jax.random.randint(k_topic, (n,), 0, t) + jnp.where(harmful, t, 0)
    digits = jax.random.randint(k_digit, (n, d), 0, _NUM_DIGITS_VOCAB)
    answer = (digits + 1 + (topic % t)[:, None]) % _NUM_DIGITS_VOCAB
    comply_tok = 2 + s + jax.random.randint(k_style_c, (n, 1), 0, s)
    refuse_tok = 2 + jax.random.randint(k_style_r, (n, 1), 0, s)
    eos = jnp.full((n, 1), EOS)
    prompts = jnp.concatenate([(topic0 + topic)[:, None], digit0 + digits], axis=1)
    compliance = jnp.concatenate([comply_tok, digit0 + answer, eos], axis=1)
    refusal = jnp.concatenate([refuse_tok, eos, jnp.full((n, d), PAD)], axis=1)
    slots = jnp.arange(d + 2)[None, :]
    return SafetyPairs(
        prompts=prompts.astype(jnp.int32),
        compliance=compliance.astype(jnp.int32),
        compliance_mask=jnp.ones((n, d + 2), bool),
        refusal=refusal.astype(jnp.int32),
        refusal_mask=jnp.broadcast_to(slots < 2, (n, d + 2)),
        harmful=harmful,
        compliance_tokens=jnp.arange(2 + s, 2 + 2 * s, dtype=jnp.int32),
        refusal_tokens=jnp.arange(2, 2 + s, dtype=jnp.int32),
    )
