"""Multi-query associative recall (MQAR), as defined by Zoology (Arora et al 2023)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class MQAR(NamedTuple):
    """What `mqar` returns (``N`` examples of length ``L``).

    Attributes:
        inputs: [N, L] int32 token ids.
        targets: [N, L] int32: at a query position, the value bound to the queried key;
            0 elsewhere.
        target_mask: [N, L] bool, True at the ``num_pairs`` query positions (where the
            model's next-token prediction is scored).
    """

    inputs: jax.Array
    targets: jax.Array
    target_mask: jax.Array


def mqar(key: jax.Array, *, num_examples: int, vocab_size: int, seq_len: int, num_pairs: int,
         power_a: float = 0.01, random_non_queries: bool = False) -> MQAR:
    r"""Multi-query associative recall sequences: key-value pairs, then every key queried once.

    Zoology's construction, for :math:`n` = ``num_pairs``, :math:`V` = ``vocab_size`` and
    :math:`L` = ``seq_len``: keys are :math:`n` distinct tokens from :math:`\{1, \ldots,
    V/2 - 1\}`, values :math:`n` distinct tokens from :math:`\{V/2, \ldots, V - 1\}` (integer
    division), and the sequence opens with the :math:`2n` tokens :math:`k_1 v_1 k_2 v_2
    \ldots k_n v_n`. The remaining :math:`L - 2n` positions form :math:`s = (L - 2n)/2` even
    slots; each key is queried once, key :math:`k_i` at position :math:`2n + 2 g_i` with
    distinct gaps :math:`g_i \in \{0, \ldots, s - 1\}` drawn without replacement with
    probabilities

    .. math::  P(g) \propto a\,(g + 1)^{a - 1}, \qquad a = \text{power\_a},

    a power law (small :math:`a` favours queries soon after the context; :math:`a = 1` is
    uniform). At a query position the target is the key's value: the model must output
    :math:`v_i` as the next token after reading the query :math:`k_i`. Other positions hold
    token 0 (or, with ``random_non_queries``, uniform tokens from :math:`\{0, \ldots, V-1\}`,
    as Zoology's option does; they may then repeat a key). Scores are taken only at
    ``target_mask``.

    Args:
        key: a PRNG key.
        num_examples: static int N >= 1.
        vocab_size: static int V; needs ``V // 2 - 1 >= num_pairs`` distinct keys.
        seq_len: static even int L with ``4 * num_pairs <= L`` (Zoology's constraint).
        num_pairs: static int n >= 1.
        power_a: a in (0, 1], the power of the query-gap distribution (Zoology's default 0.01).
        random_non_queries: fill non-query positions with random tokens instead of 0.

    Returns:
        An `MQAR` of [N, L] arrays.

    Examples:
        >>> data = mqar(jax.random.key(0), num_examples=2, vocab_size=16, seq_len=12, num_pairs=2)
        >>> data.inputs.shape, int(data.target_mask.sum())
        ((2, 12), 4)

    References:
        Arora et al, Zoology: Measuring and Improving Recall in Efficient Language Models,
        2023 (arXiv 2312.04927).

    Departure from Zoology's code: the labels come as ``targets`` with a boolean
    ``target_mask`` at the query positions rather than shifted labels with -100 elsewhere;
    Zoology also asserts ``vocab_size >= seq_len``, which the construction does not need.
    """
    _checks.dims(key=(key, ("[]", "[2]")))
    _checks.positive_int(num_examples=num_examples, vocab_size=vocab_size, seq_len=seq_len, num_pairs=num_pairs)
    if seq_len % 2:
        raise ValueError(f"seq_len: expected an even length, got {seq_len}")
    if 4 * num_pairs > seq_len:
        raise ValueError(f"num_pairs: expected 4 * num_pairs <= seq_len={seq_len}, got {num_pairs}")
    if vocab_size // 2 - 1 < num_pairs:
        raise ValueError(f"vocab_size: expected vocab_size // 2 - 1 >= num_pairs={num_pairs} distinct keys, "
                         f"got {vocab_size}")
    _checks.in_range("power_a", power_a, low=0.0, low_inclusive=False, high=1.0)
    n, half = num_pairs, vocab_size // 2
    space = (seq_len - 2 * n) // 2
    g = jnp.arange(1, space + 1, dtype=jnp.float32)
    p = power_a * g ** (power_a - 1.0)
    p = p / jnp.sum(p)
    pos = jnp.arange(seq_len)

    def one(k):
        kk, kv, kg, kr = jax.random.split(k, 4)
        keys = jax.random.choice(kk, jnp.arange(1, half), (n,), replace=False)
        vals = jax.random.choice(kv, jnp.arange(half, vocab_size), (n,), replace=False)
        gaps = jax.random.choice(kg, space, (n,), replace=False, p=p)
        qpos = 2 * n + 2 * gaps
        ctx = jnp.stack([keys, vals], 1).reshape(-1)
        inputs = jnp.zeros((seq_len,), jnp.int32).at[: 2 * n].set(ctx).at[qpos].set(keys)
        is_query = jnp.zeros((seq_len,), bool).at[qpos].set(True)
        targets = jnp.zeros((seq_len,), jnp.int32).at[qpos].set(vals)
        if random_non_queries:
            filler = jax.random.randint(kr, (seq_len,), 0, vocab_size, jnp.int32)
            inputs = jnp.where((pos >= 2 * n) & ~is_query, filler, inputs)
        return inputs, targets, is_query

    inputs, targets, mask = jax.vmap(one)(jax.random.split(key, num_examples))
    return MQAR(inputs, targets, mask)
