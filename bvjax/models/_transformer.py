"""A decoder-only transformer language model with pluggable attention (flax linen)."""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax.attention import (
    linear_regression_attention,
    local_linear_attention,
    local_linear_attention_chunked,
    local_linear_attention_decode,
    softmax_attention,
)

ATTENTIONS = ("softmax", "lla", "linear_regression")
POSITIONS = ("learned", "rotary")
IMPLEMENTATIONS = ("xla", "pallas", "pallas_interpret", "chunked", None)
_NEG = -0.7 * float(jnp.finfo(jnp.float32).max)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    r"""Hyperparameters of `TransformerLM` (frozen and hashable: pass it as a static argument).

    The model width is ``num_heads * head_dim``. Every attention kind has the same
    parameters (query, key, value and output projections), so models that differ only
    in ``attention`` have equal parameter counts.

    Args:
        vocab_size: number of token ids; ids are in ``[0, vocab_size)``.
        num_layers: transformer blocks.
        num_heads: attention heads per block.
        head_dim: query/key/value size per head (even for rotary positions).
        mlp_dim: hidden width of each block's MLP (GELU).
        max_len: the longest sequence (prompt plus generated tokens) the model takes.
        attention: ``"softmax"`` (`bvjax.attention.softmax_attention`), ``"lla"``
            (Local Linear Attention) or ``"linear_regression"`` (the global ridge fit,
            `bvjax.attention.linear_regression_attention`); all causal.
        positions: ``"learned"`` absolute position embeddings or ``"rotary"`` (RoPE on q, k).
        ridge: the ridge lambda > 0 of ``"lla"`` and ``"linear_regression"``.
        implementation: the LLA path: ``"xla"`` (exact per-query solve), ``"pallas"``
            (FlashLLA kernels; ``"pallas_interpret"`` forces interpret mode), ``"chunked"`` (`local_linear_attention_chunked`, memory
            linear in the length) or None (Pallas on GPU/TPU, exact XLA elsewhere).
        cg_iters: CG iterations of the Pallas and chunked LLA paths.
        platform: the platform the Pallas path lowers for (None: the backend's); set it
            to export for another platform.
        rope_base: the RoPE frequency base.
        dtype: the compute dtype of the projections (attention itself computes in at
            least float32).
        param_dtype: the parameter dtype.
    """

    vocab_size: int
    num_layers: int
    num_heads: int
    head_dim: int
    mlp_dim: int
    max_len: int
    attention: str = "softmax"
    positions: str = "learned"
    ridge: float = 1.0
    implementation: str | None = None
    cg_iters: int = 16
    platform: str | None = None
    rope_base: float = 10000.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def __post_init__(self):
        _checks.positive_int(vocab_size=self.vocab_size, num_layers=self.num_layers, num_heads=self.num_heads,
                             head_dim=self.head_dim, mlp_dim=self.mlp_dim, max_len=self.max_len,
                             cg_iters=self.cg_iters)
        _checks.one_of("attention", self.attention, ATTENTIONS)
        _checks.one_of("positions", self.positions, POSITIONS)
        _checks.one_of("implementation", self.implementation, IMPLEMENTATIONS)
        _checks.in_range("ridge", self.ridge, low=0.0, low_inclusive=False)
        if self.positions == "rotary" and self.head_dim % 2:
            raise ValueError(f"head_dim: expected an even size for rotary positions, got {self.head_dim}")

    @property
    def embed_dim(self) -> int:
        return self.num_heads * self.head_dim


def _rotary(x, positions, base):
    """RoPE: rotates the halves (x1, x2) of each head by angle ``pos * base^(-2i/D)``."""
    d = x.shape[-1]
    freq = base ** (-jnp.arange(0, d // 2, dtype=jnp.float32) * 2.0 / d)
    ang = positions.astype(jnp.float32)[..., None] * freq  # [..., T, D/2]
    cos, sin = jnp.cos(ang)[..., None, :], jnp.sin(ang)[..., None, :]  # broadcast over heads
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).astype(x.dtype)


def attend(config: TransformerConfig, q, k, v):
    """Causal attention of the configured kind on ``[B, T, H, D]`` inputs."""
    if config.attention == "softmax":
        return softmax_attention(q, k, v)
    if config.attention == "linear_regression":
        return linear_regression_attention(q, k, v, ridge=config.ridge)
    if config.implementation == "chunked":
        n = q.shape[1]
        return local_linear_attention_chunked(q, k, v, ridge=config.ridge, cg_iters=config.cg_iters,
                                              block_q=min(64, n), block_k=min(64, n))
    return local_linear_attention(q, k, v, ridge=config.ridge, implementation=config.implementation,
                                  cg_iters=config.cg_iters, platform=config.platform)


def init_cache(config: TransformerConfig, k, v, lengths, size):
    """The per-layer decoding state from a prefix's keys and values ``[B, T, H, D]``.

    Softmax and LLA keep the keys and values (the cache, ``size`` slots); the global
    ridge fit keeps only its sufficient statistics :math:`\\sum_j k_j k_j^\\top` and
    :math:`\\sum_j v_j k_j^\\top` over the ``lengths`` valid entries.
    """
    dtype = jnp.promote_types(k.dtype, jnp.float32)
    valid = jnp.arange(k.shape[1])[None, :] < lengths[:, None]
    if config.attention == "linear_regression":
        kf = jnp.where(valid[..., None, None], k.astype(dtype), 0.0)
        return {"kk": jnp.einsum("bthd,bthe->bhde", kf, kf),
                "vk": jnp.einsum("bthe,bthd->bhed", jnp.where(valid[..., None, None], v.astype(dtype), 0.0), kf)}
    pad = ((0, 0), (0, size - k.shape[1]), (0, 0), (0, 0))
    return {"k": jnp.pad(k.astype(dtype), pad), "v": jnp.pad(v.astype(dtype), pad)}


def _write(cache, x, index):
    """cache [B, M, ...] with row b's slot index[b] set to x[b]."""
    return jax.vmap(lambda c, xi, i: jax.lax.dynamic_update_slice_in_dim(c, xi[None], i, 0))(cache, x, index)


def attend_step(config: TransformerConfig, q, k, v, cache, index):
    """One query per row against the cache after writing this token's k, v at ``index``.

    ``q, k, v`` are ``[B, H, D]``; the row sees slots ``0 .. index`` (the token itself
    included, as causal attention's diagonal). Returns ``(o [B, H, D], new cache)``.
    """
    dtype = jnp.promote_types(q.dtype, jnp.float32)
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    if config.attention == "linear_regression":
        kk = cache["kk"] + jnp.einsum("bhd,bhe->bhde", k, k)
        vk = cache["vk"] + jnp.einsum("bhe,bhd->bhed", v, k)
        a = kk + config.ridge * jnp.eye(k.shape[-1], dtype=dtype)
        x = jnp.linalg.solve(a, q[..., None])[..., 0]
        return jnp.einsum("bhed,bhd->bhe", vk, x), {"kk": kk, "vk": vk}
    kc, vc = _write(cache["k"], k, index), _write(cache["v"], v, index)
    lengths = index + 1
    if config.attention == "lla":
        o = local_linear_attention_decode(q, kc, vc, ridge=config.ridge, lengths=lengths)
    else:
        s = jnp.clip(jnp.einsum("bhd,bmhd->bhm", q, kc) * q.shape[-1] ** -0.5, -1e30, 1e30)
        s = jnp.where(jnp.arange(kc.shape[1])[None, None, :] < lengths[:, None, None], s, _NEG)
        o = jnp.einsum("bhm,bmhe->bhe", jax.nn.softmax(s, axis=-1), vc)
    return o, {"k": kc, "v": vc}


class _Block(nn.Module):
    config: TransformerConfig

    def setup(self):
        c = self.config
        dense = {"dtype": c.dtype, "param_dtype": c.param_dtype}
        self.ln_attn = nn.LayerNorm(**dense)
        self.qkv = nn.DenseGeneral((3, c.num_heads, c.head_dim), **dense)
        self.out = nn.DenseGeneral(c.embed_dim, axis=(-2, -1), **dense)
        self.ln_mlp = nn.LayerNorm(**dense)
        self.mlp_in = nn.Dense(c.mlp_dim, **dense)
        self.mlp_out = nn.Dense(c.embed_dim, **dense)

    def _qkv(self, x, positions):
        qkv = self.qkv(self.ln_attn(x))
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]
        if self.config.positions == "rotary":
            q, k = _rotary(q, positions, self.config.rope_base), _rotary(k, positions, self.config.rope_base)
        return q, k, v

    def _mlp(self, x):
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.ln_mlp(x))))

    def __call__(self, x, positions):
        q, k, v = self._qkv(x, positions)
        o = attend(self.config, q, k, v).astype(x.dtype)
        return self._mlp(x + self.out(o)), (k, v)

    def step(self, x, positions, cache):
        q, k, v = self._qkv(x[:, None], positions[:, None])
        o, cache = attend_step(self.config, q[:, 0], k[:, 0], v[:, 0], cache, positions)
        return self._mlp(x + self.out(o.astype(x.dtype))), cache


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_tokens(name, tokens, vocab_size, max_len, mask=None):
    """[B, T] int with T <= max_len; when concrete, valid ids in [0, vocab_size)."""
    sizes = _checks.dims(**{name: (tokens, "[B, T]", "int")})
    if sizes["T"] > max_len:
        raise ValueError(f"{name}: expected at most max_len={max_len} positions, got shape {tuple(tokens.shape)}")
    if _concrete(tokens) and (mask is None or _concrete(mask)):
        t = np.asarray(tokens)
        valid = np.ones(t.shape, bool) if mask is None else np.asarray(mask, bool)
        bad = valid & ((t < 0) | (t >= vocab_size))
        if bad.any():
            raise ValueError(f"{name}: expected token ids in [0, vocab_size={vocab_size}), got {t[bad].ravel()[0]}")
    return sizes


def compact(tokens, mask):
    """Moves each row's unmasked tokens to the front (order kept); masked slots get id 0.

    Returns ``(compacted tokens, compacted mask, order)``: ``compacted = take(tokens, order)``.
    """
    order = jnp.argsort(jnp.logical_not(mask), axis=1, stable=True)
    tok = jnp.take_along_axis(tokens, order, 1)
    valid = jnp.take_along_axis(mask, order, 1)
    return jnp.where(valid, tok, 0), valid, order


class TransformerLM(nn.Module):
    r"""Decoder-only transformer language model whose attention is softmax, LLA or global ridge.

    Pre-LayerNorm blocks, :math:`x \leftarrow x + \mathrm{Attn}(\mathrm{LN}(x))`,
    :math:`x \leftarrow x + W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}(x))`, token embedding plus
    learned positions (or RoPE), a final LayerNorm and an untied read-out to
    ``vocab_size`` logits. Attention is causal (position ``t`` sees ``0 .. t``) for every
    kind: ``"softmax"`` (local constant), ``"lla"`` (local linear; Zuo et al 2025) or
    ``"linear_regression"`` (global ridge, MesaNet-like).

    ``model.apply(params, tokens, mask)`` with ``tokens`` ``[B, T]`` int returns logits
    ``[B, T, vocab_size]`` float32. ``mask`` ``[B, T]`` bool marks real tokens (False:
    padding, anywhere in the row, e.g. left padding). Padding is honoured by every
    attention kind without a key mask: each row's real tokens are moved to the front in
    order, the model runs on that (positions ``0, 1, ...`` count real tokens only) and
    the logits are put back, so a real token's logits are exactly those of the row with
    its padding removed, and masked positions have no effect on them. Masked positions'
    logits are 0.

    Token ids outside ``[0, vocab_size)`` raise ValueError when ``tokens`` is concrete
    (under `jax.jit` they are not checked, and the embedding lookup gives NaN rows);
    more than ``max_len`` positions raise ValueError.

    Attributes:
        config: a `TransformerConfig`.

    Examples:
        >>> cfg = TransformerConfig(vocab_size=11, num_layers=1, num_heads=2, head_dim=4,
        ...                         mlp_dim=16, max_len=8, attention="lla")
        >>> model = TransformerLM(cfg)
        >>> tokens = jnp.array([[1, 2, 3]])
        >>> params = jax.jit(model.init)(jax.random.key(0), tokens)
        >>> model.apply(params, tokens).shape
        (1, 3, 11)

    References:
        Vaswani et al, Attention Is All You Need, 2017 (arXiv 1706.03762); Zuo et al,
        Local Linear Attention: An Optimal Interpolation of Linear and Softmax Attention
        For Test-Time Regression, 2025 (arXiv 2510.01450); von Oswald et al, MesaNet, 2025
        (arXiv 2506.05233); Su et al, RoFormer, 2021 (arXiv 2104.09864).
    """

    config: TransformerConfig

    def setup(self):
        c = self.config
        self.embed = nn.Embed(c.vocab_size, c.embed_dim, param_dtype=c.param_dtype)
        if c.positions == "learned":
            self.pos_embed = nn.Embed(c.max_len, c.embed_dim, param_dtype=c.param_dtype,
                                      embedding_init=nn.initializers.normal(0.02))
        self.blocks = [_Block(c, name=f"block_{i}") for i in range(c.num_layers)]
        self.ln_f = nn.LayerNorm(dtype=c.dtype, param_dtype=c.param_dtype)
        self.head = nn.Dense(c.vocab_size, dtype=c.dtype, param_dtype=c.param_dtype)

    def _embed(self, tokens, positions):
        x = self.embed(tokens).astype(self.config.dtype)
        if self.config.positions == "learned":
            x = x + self.pos_embed(positions).astype(self.config.dtype)
        return x

    def _logits(self, x):
        return self.head(self.ln_f(x)).astype(jnp.float32)

    def forward(self, tokens):
        """Logits and per-layer ``(k, v)`` of unpadded ``tokens`` [B, T] (positions 0..T-1)."""
        positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
        x = self._embed(tokens, positions)
        kvs = []
        for block in self.blocks:
            x, kv = block(x, positions)
            kvs.append(kv)
        return self._logits(x), kvs

    def __call__(self, tokens, mask=None):
        c = self.config
        _checks.dims(tokens=(tokens, "[B, T]", "int"), mask=(mask, "[B, T]", "bool"))
        check_tokens("tokens", tokens, c.vocab_size, c.max_len, mask)
        if mask is None:
            return self.forward(tokens)[0]
        tok, _, order = compact(tokens, mask)
        logits = self.forward(tok)[0]
        inv = jnp.argsort(order, axis=1)
        logits = jnp.take_along_axis(logits, inv[..., None], 1)
        return jnp.where(mask[..., None], logits, 0.0)

    def step(self, tokens, positions, caches):
        """One token per row at ``positions`` [B]: ``(logits [B, V], new caches)``."""
        x = self._embed(tokens, positions)
        new = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block.step(x, positions, cache)
            new.append(cache)
        return self._logits(x), new
