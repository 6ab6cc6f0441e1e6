"""Cached autoregressive sampling from `TransformerLM`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax.models import _transformer as _tf
from bvjax.models._transformer import TransformerConfig, TransformerLM  # noqa: F401  (doctest namespace)


def sample(params, config: _tf.TransformerConfig, prompts: jax.Array, *, key: jax.Array, max_new_tokens: int,
           temperature: float | jax.Array = 1.0, prompt_mask: jax.Array | None = None):
    r"""Samples ``max_new_tokens`` tokens per prompt with cached decoding.

    Token :math:`y_t \sim \mathrm{softmax}(z_t/\tau)` with :math:`z_t` the model's logits
    after the prompt and :math:`y_{<t}`, and :math:`\log p_t = \log\mathrm{softmax}(z_t/\tau)
    [y_t]`, the log-probability of the sampled token under the distribution it was drawn
    from (at :math:`\tau = 1`, the model's own log-likelihood).

    Decoding never re-runs the prefix: one forward pass over the prompts fills each
    layer's state, then each new token costs one step against it. The state is the
    key/value cache for ``"softmax"``, the same cache read in LLA's single-pass moment
    form for ``"lla"`` (`bvjax.attention.local_linear_attention_decode`: the LLA weights
    depend on the query, so no fixed-size summary of the past exists), and the running
    sums :math:`\sum_j k_j k_j^\top`, :math:`\sum_j v_j k_j^\top` (``D x D`` per head, no
    cache) for ``"linear_regression"``. Per token, softmax and LLA cost
    :math:`O(M)` in the cache length :math:`M` (LLA :math:`O(M D^2)`), the global ridge fit
    :math:`O(D^3)`; re-running the prefix would cost the whole forward pass each token.

    Variable-length prompts: ``prompt_mask`` [B, P] bool marks real prompt tokens (for
    example left padding); each row is decoded as if its padding were absent
    (`TransformerLM` compacts rows the same way), so the returned log-probs equal those
    recomputed by ``TransformerLM(config).apply(params, tokens, mask)`` on the returned
    tokens with ``mask = concat(prompt_mask, ones)``.

    Args:
        params: the `TransformerLM` parameters (``model.init`` output).
        config: a `TransformerConfig` (static).
        prompts: [B, P] int token ids (ids at masked positions are ignored); P >= 1.
        key: a PRNG key.
        max_new_tokens: static int >= 0; ``P + max_new_tokens <= config.max_len``.
        temperature: tau > 0 (a Python float is checked; a traced one is not).
        prompt_mask: [B, P] bool, True at real prompt tokens; default all True. Every
            row needs at least one real token (checked when concrete; under `jax.jit`
            such a row's log-probs are NaN).

    Returns:
        ``(tokens [B, P + max_new_tokens] int32, logps [B, max_new_tokens] float32)``:
        the prompts as given followed by the sampled tokens, and their log-probs.

    Raises:
        ValueError: ``prompts`` longer than ``config.max_len`` or with an id outside
            ``[0, vocab_size)`` (when concrete); ``P + max_new_tokens > max_len``
            (naming ``max_new_tokens``); ``temperature <= 0``.

    Examples:
        >>> cfg = TransformerConfig(vocab_size=7, num_layers=1, num_heads=2, head_dim=4,
        ...                         mlp_dim=8, max_len=10)
        >>> prompts = jnp.array([[1, 2, 3]])
        >>> params = jax.jit(TransformerLM(cfg).init)(jax.random.key(0), prompts)
        >>> tokens, logps = sample(params, cfg, prompts, key=jax.random.key(1), max_new_tokens=4)
        >>> tokens.shape, logps.shape
        ((1, 7), (1, 4))

    References:
        Pope et al, Efficiently Scaling Transformer Inference, 2022 (arXiv 2211.05102);
        Zuo et al, Local Linear Attention, 2025 (arXiv 2510.01450).
    """
    if not isinstance(config, _tf.TransformerConfig):
        raise TypeError(f"config: expected a TransformerConfig, got {type(config).__name__}")
    sizes = _checks.dims(prompts=(prompts, "[B, P]", "int"), prompt_mask=(prompt_mask, "[B, P]", "bool"))
    _tf.check_tokens("prompts", prompts, config.vocab_size, config.max_len, prompt_mask)
    if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens: expected a static int >= 0, got {max_new_tokens!r}")
    if sizes["P"] < 1:
        raise ValueError(f"prompts: expected at least one position, got shape {tuple(prompts.shape)}")
    if sizes["P"] + max_new_tokens > config.max_len:
        raise ValueError(f"max_new_tokens: expected P + max_new_tokens <= max_len={config.max_len}, "
                         f"got P={sizes['P']} and max_new_tokens={max_new_tokens}")
    if isinstance(temperature, (int, float, np.number)) and not temperature > 0:
        raise ValueError(f"temperature: expected > 0, got {temperature!r}")
    if (prompt_mask is not None and not isinstance(prompt_mask, jax.core.Tracer)
            and not np.asarray(prompt_mask).any(axis=1).all()):
        raise ValueError("prompt_mask: expected at least one real token in every row, got an empty row")
    mask = jnp.ones(prompts.shape, bool) if prompt_mask is None else prompt_mask
    return _sample(params, prompts, mask, key, jnp.asarray(temperature, jnp.float32), config=config,
                   max_new_tokens=int(max_new_tokens))


@functools.partial(jax.jit, static_argnames=("config", "max_new_tokens"))
def _sample(params, prompts, mask, key, temperature, *, config, max_new_tokens):
    b, p = prompts.shape
    prompts = prompts.astype(jnp.int32)
    if max_new_tokens == 0:
        return prompts, jnp.zeros((b, 0), jnp.float32)
    model = _tf.TransformerLM(config)
    tok, _, _ = _tf.compact(prompts, mask)
    lengths = jnp.sum(mask, axis=1).astype(jnp.int32)
    logits, kvs = model.apply(params, tok, method=_tf.TransformerLM.forward)
    last = jnp.take_along_axis(logits, jnp.maximum(lengths - 1, 0)[:, None, None], 1)[:, 0]
    caches = [_tf.init_cache(config, k, v, lengths, p + max_new_tokens) for k, v in kvs]
    keys = jax.random.split(key, max_new_tokens)

    def draw(logits, k):
        logp = jax.nn.log_softmax(logits / temperature, axis=-1)
        y = jax.random.categorical(k, logp, axis=-1).astype(jnp.int32)
        return y, jnp.take_along_axis(logp, y[:, None], 1)[:, 0]

    def body(carry, xs):
        y, caches = carry
        t, k = xs
        logits, caches = model.apply(params, y, lengths + t, caches, method=_tf.TransformerLM.step)
        y_new, lp = draw(logits, k)
        return (y_new, caches), (y_new, lp)

    y0, lp0 = draw(last, keys[0])
    _, (ys, lps) = jax.lax.scan(body, (y0, caches), (jnp.arange(max_new_tokens - 1, dtype=jnp.int32), keys[1:]))
    new = jnp.concatenate([y0[:, None], ys.T], 1)
    logps = jnp.concatenate([lp0[:, None], lps.T], 1)
    logps = jnp.where((lengths > 0)[:, None], logps, jnp.nan)
    return jnp.concatenate([prompts, new], 1), logps
