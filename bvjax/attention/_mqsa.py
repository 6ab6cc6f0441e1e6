"""MQSA: multi-query self-attention with short and L-item (long) query windows, as flax modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from bvjax import _checks
from bvjax.attention._lla import local_linear_attention
from bvjax.attention._reference import softmax_attention

ATTENTIONS = ("softmax", "lla")


def window_mean_query(h: jax.Array, mask: jax.Array | None = None, *, window: int = 3) -> jax.Array:
    r"""The L-query of MQSA: the masked mean of the last ``window`` hidden states.

    .. math::
        \bar q_t = \frac{\sum_{l=0}^{L-1} m_{t-l}\, h_{t-l}}{\sum_{l=0}^{L-1} m_{t-l}},
        \qquad m_s = 0 \text{ for } s < 0 ,

    so ``window=1`` is the ordinary (short) query :math:`h_t` itself and early positions
    average over the items they have.

    Args:
        h: [B, N, D] float hidden states.
        mask: [B, N] bool, True where the position holds an item (default all True).
        window: static L >= 1, the number of recent items the query averages.

    Returns:
        [B, N, D] in h's dtype. A position whose window holds no item gets 0 (the official
        code divides by ``count + 1e-24``, which gives the same 0).

    Examples:
        >>> h = jnp.arange(4.0).reshape(1, 4, 1)
        >>> window_mean_query(h, window=2)[0, :, 0]
        Array([0. , 0.5, 1.5, 2.5], dtype=float32)

    References:
        Zhu et al, Collaboration and Transition: Distilling Item Transitions into
        Multi-Query Self-Attention for Sequential Recommendation, WSDM 2024 (arXiv 2311.01056).
    """
    sizes = _checks.dims(kind="float", h=(h, "[B, N, D]"))
    _checks.dims(h=(h, "[B, N, D]"), mask=(mask, "[B, N]", "bool"))
    _checks.positive_int(window=window)
    m = jnp.ones(h.shape[:2], bool) if mask is None else mask
    lag = min(window, sizes["N"]) - 1 if sizes["N"] else 0
    # One windowed sum over the last `window` positions (left-padded with zeros): a single
    # reduce_window, not `window` shifted copies, and exact sums of at most `window` terms
    # (a cumulative-sum difference would cancel catastrophically on long sequences).
    # Masked items are selected out, so a NaN in a padded position never reaches the mean.
    hm = jnp.where(m[..., None], h, 0.0)
    total = jax.lax.reduce_window(hm, jnp.zeros((), h.dtype), jax.lax.add, (1, lag + 1, 1), (1, 1, 1),
                                  ((0, 0), (lag, 0), (0, 0)))
    count = jax.lax.reduce_window(m.astype(jnp.int32), 0, jax.lax.add, (1, lag + 1), (1, 1),
                                  ((0, 0), (lag, 0)))
    return jnp.where(count[..., None] > 0, total / jnp.maximum(count, 1)[..., None].astype(h.dtype),
                     0.0).astype(h.dtype)


class LQuerySelfAttention(nn.Module):
    r"""One MQSA self-attention block whose query is the mean of the last ``window`` items.

    With :math:`\bar q_t` = `window_mean_query` (``window=1``: the SASRec block),

    .. math::
        a = \mathrm{Attn}(\mathrm{LN}(\bar q) W_Q, h W_K, h W_V),\quad
        z = \mathrm{LN}(a + \mathrm{LN}(\bar q)),\quad
        \mathrm{out} = (z + \mathrm{FFN}(z)) \odot m ,

    causal over keys :math:`h_{1..t}`, with ``Attn`` one of bvjax's attention functions
    (``attention="softmax"``, or ``"lla"`` for `local_linear_attention` with ``ridge``).

    Attributes:
        num_heads: attention heads (the width must divide evenly).
        window: L, the query window (1 = short query).
        dropout_rate: dropout on the attention output and the FFN.
        attention: ``"softmax"`` or ``"lla"``.
        ridge: LLA's ridge when ``attention="lla"``.

    Call: ``block(h [B, N, D], mask [B, N] bool, deterministic=True) -> [B, N, D]``.
    Sequences must be right-padded (items first, padding after) so that causal masking
    alone keeps padding out of every valid position's keys.

    References:
        Zhu et al, Collaboration and Transition, WSDM 2024 (arXiv 2311.01056);
        Kang and McAuley, Self-Attentive Sequential Recommendation, 2018 (arXiv 1808.09781).

    Departures from the official TensorFlow code: dropout acts on the attention output
    instead of the attention weights (bvjax's attention functions return outputs);
    padding is on the right rather than masked keys on the left; LayerNorm epsilon is
    1e-6 instead of 1e-24.
    """

    num_heads: int = 1
    window: int = 1
    dropout_rate: float = 0.0
    attention: str = "softmax"
    ridge: float = 10.0

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array | None = None, deterministic: bool = True) -> jax.Array:
        _checks.one_of("attention", self.attention, ATTENTIONS)
        b, n, d = h.shape
        if d % self.num_heads:
            raise ValueError(f"h: expected a width divisible by num_heads={self.num_heads}, got shape {h.shape}")
        m = jnp.ones((b, n), bool) if mask is None else mask
        query = nn.LayerNorm(epsilon=1e-6, name="query_norm")(window_mean_query(h, m, window=self.window))
        heads = lambda x: x.reshape(b, n, self.num_heads, d // self.num_heads)
        q = heads(nn.Dense(d, name="query")(query))
        k = heads(nn.Dense(d, name="key")(h))
        v = heads(nn.Dense(d, name="value")(h))
        if self.attention == "lla":
            a = local_linear_attention(q, k, v, ridge=self.ridge, causal=True)
        else:
            a = softmax_attention(q, k, v, causal=True)
        a = nn.Dropout(self.dropout_rate)(a.reshape(b, n, d), deterministic=deterministic)
        z = nn.LayerNorm(epsilon=1e-6, name="attention_norm")(a + query)
        f = nn.Dropout(self.dropout_rate)(nn.relu(nn.Dense(d, name="ffn_1")(z)), deterministic=deterministic)
        f = nn.Dropout(self.dropout_rate)(nn.Dense(d, name="ffn_2")(f), deterministic=deterministic)
        return (z + f) * m[..., None].astype(z.dtype)


class MQSA(nn.Module):
    r"""Multi-query self-attention: a short-query and an L-query stack, mixed by ``alpha``.

    Two stacks of `LQuerySelfAttention` blocks read the same hidden states: the short
    stack with query window ``short_window`` (1: the current item, low bias and high
    variance), the long stack with ``long_window`` (L recent items, smoother). Each stack
    ends in a LayerNorm; the result is

    .. math::  H = \alpha\, H^{S} + (1 - \alpha)\, H^{L},

    whose item logits :math:`H E^\top = \alpha H^S E^\top + (1-\alpha) H^L E^\top` are the
    paper's combination of the two branches' logits.

    Attributes:
        num_blocks: blocks per stack.
        num_heads: attention heads.
        short_window: query window of the short stack (paper: 1).
        long_window: query window of the long stack (paper and code: L = 3).
        alpha: weight of the short stack (paper: 0.5).
        dropout_rate: dropout inside the blocks.
        attention: ``"softmax"`` (paper) or ``"lla"``.
        ridge: LLA's ridge when ``attention="lla"``.

    Call: ``mqsa(h [B, N, D], mask [B, N] bool, deterministic=True)`` returns
    ``(combined, short, long)``, each [B, N, D]. Right-pad the sequences.

    Examples:
        >>> h = jax.random.normal(jax.random.key(0), (2, 5, 8))
        >>> model = MQSA(num_heads=2, long_window=3)
        >>> params = model.init(jax.random.key(1), h)
        >>> combined, short, long = model.apply(params, h, jnp.arange(5) < jnp.array([[5], [3]]))
        >>> combined.shape
        (2, 5, 8)

    References:
        Zhu et al, Collaboration and Transition: Distilling Item Transitions into
        Multi-Query Self-Attention for Sequential Recommendation, WSDM 2024 (arXiv 2311.01056).

    Departures: the logits mix is applied to the representations (the same logits, by
    linearity); the transition distillation (TED) loss and the embeddings live outside
    this module; see `LQuerySelfAttention` for the block-level departures.
    """

    num_blocks: int = 1
    num_heads: int = 1
    short_window: int = 1
    long_window: int = 3
    alpha: float = 0.5
    dropout_rate: float = 0.0
    attention: str = "softmax"
    ridge: float = 10.0

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array | None = None, deterministic: bool = True):
        _checks.dims(kind="float", h=(h, "[B, N, D]"))
        _checks.dims(h=(h, "[B, N, D]"), mask=(mask, "[B, N]", "bool"))
        outs = []
        for name, window in (("short", self.short_window), ("long", self.long_window)):
            x = h
            for i in range(self.num_blocks):
                x = LQuerySelfAttention(num_heads=self.num_heads, window=window, dropout_rate=self.dropout_rate,
                                        attention=self.attention, ridge=self.ridge,
                                        name=f"{name}_block_{i}")(x, mask, deterministic)
            outs.append(nn.LayerNorm(epsilon=1e-6, name=f"{name}_norm")(x))
        short, long = outs
        return self.alpha * short + (1.0 - self.alpha) * long, short, long
