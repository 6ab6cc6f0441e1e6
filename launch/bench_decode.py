r"""Benchmark of decoding: cached `bvjax.models.sample` vs re-running the prefix per token.

    python -m launch.bench_decode --repeats=1                  # 16 min on 2 CPU cores (shared, load 8-20)
    python -m launch.bench_decode --new_tokens=128 --attention=softmax,lla

One `TransformerLM` per attention kind (``--num_layers`` blocks of ``--num_heads`` x
``--head_dim``, MLP ``--mlp_dim``, vocabulary ``--vocab_size``, learned positions, float32,
random initial weights; LLA on its default path for the backend, the exact XLA solve on
CPU), a batch of ``--batch`` prompts of ``--prompt_len`` tokens, and ``n`` new tokens for
each ``n`` in ``--new_tokens``:

- ``cached``: `bvjax.models.sample`, one forward pass over the prompts and then one step
  per token against each layer's state (KV cache for softmax; the same cache read in
  LLA's moment form; the running ridge statistics for the global fit);
- ``recompute``: no state: each token runs the whole model over a fixed buffer of
  ``prompt_len + n`` positions (static shapes under jit; positions past the current one
  are masked out by causality) and reads the logits at the current position. This is
  how one decodes without a cache in JAX without recompiling per length.

Both are jitted (compilation excluded: one untimed call first; median of ``--repeats``) and draw with the same
keys, so they sample the same tokens; the table gives tokens/s (``batch * n / seconds``),
the speed-up, and the max |difference| of the returned log-probs between the two.

Measured (``--repeats=1``, float32, 2 CPU cores shared with other jobs, load average 8-20;
tokens/s cached / recompute, speed-up): at 128 new tokens softmax 5,549 / 336 (16.5x), LLA
1,546 / 72 (21.5x), global ridge 15,095 / 81 (187x); at 512 softmax 8,066 / 59 (137x), LLA
859 / 9.7 (89x), global ridge 31,202 / 31 (1,011x). Same tokens in every case; log-probs
agree to 2e-5. Single timed runs on a loaded machine: the cached figures at 128 tokens are
dominated by per-call overhead (softmax is faster per token at 512).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from bvjax.models import TransformerConfig, TransformerLM, sample
from launch._timing import median_time

_ATTENTION = flags.DEFINE_list("attention", ["softmax", "lla", "linear_regression"], "Attention kinds.")
_NEW = flags.DEFINE_list("new_tokens", ["128", "512"], "Numbers of new tokens.")
_BATCH = flags.DEFINE_integer("batch", 4, "Prompts per batch.")
_PROMPT = flags.DEFINE_integer("prompt_len", 16, "Prompt length.")
_LAYERS = flags.DEFINE_integer("num_layers", 2, "Transformer blocks.")
_HEADS = flags.DEFINE_integer("num_heads", 4, "Heads per block.")
_HEAD_DIM = flags.DEFINE_integer("head_dim", 16, "Head dim.")
_MLP = flags.DEFINE_integer("mlp_dim", 256, "MLP width.")
_VOCAB = flags.DEFINE_integer("vocab_size", 256, "Vocabulary size.")
_RIDGE = flags.DEFINE_float("ridge", 1.0, "Ridge of LLA and the global fit.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (median reported).")


@functools.partial(jax.jit, static_argnames=("config", "max_new_tokens"))
def sample_recompute(params, prompts, key, *, config, max_new_tokens):
    """Sampling without a cache: the full forward pass over a ``P + n`` buffer per token."""
    b, p = prompts.shape
    model = TransformerLM(config)
    keys = jax.random.split(key, max_new_tokens)
    buf = jnp.concatenate([prompts.astype(jnp.int32), jnp.zeros((b, max_new_tokens), jnp.int32)], 1)

    def body(t, carry):
        buf, logps = carry
        logits = jax.lax.dynamic_index_in_dim(model.apply(params, buf), p - 1 + t, 1, keepdims=False)
        logp = jax.nn.log_softmax(logits, axis=-1)
        y = jax.random.categorical(keys[t], logp, axis=-1).astype(jnp.int32)
        buf = jax.lax.dynamic_update_index_in_dim(buf, y[:, None], p + t, 1)
        lp = jnp.take_along_axis(logp, y[:, None], 1)
        return buf, jax.lax.dynamic_update_index_in_dim(logps, lp, t, 1)

    return jax.lax.fori_loop(0, max_new_tokens, body, (buf, jnp.zeros((b, max_new_tokens), jnp.float32)))


def run(attention, new_tokens, *, batch, prompt_len, num_layers, num_heads, head_dim, mlp_dim, vocab_size, ridge,
        repeats, on_row=None):
    """One table row per (n, attention): cached and recompute tokens/s, ratio, |logp difference|."""
    rows = []
    for n in new_tokens:
        for kind in attention:
            cfg = TransformerConfig(vocab_size=vocab_size, num_layers=num_layers, num_heads=num_heads,
                                    head_dim=head_dim, mlp_dim=mlp_dim, max_len=prompt_len + n, attention=kind,
                                    ridge=ridge)
            prompts = jax.random.randint(jax.random.key(1), (batch, prompt_len), 0, vocab_size)
            params = jax.jit(TransformerLM(cfg).init)(jax.random.key(0), prompts)
            key = jax.random.key(2)
            cached = jax.jit(functools.partial(sample, config=cfg, max_new_tokens=n))
            recompute = functools.partial(sample_recompute, config=cfg, max_new_tokens=n)
            # The untimed first calls compile and give the outputs compared below.
            (tok_c, lp_c), (buf, lp_r) = jax.block_until_ready(
                (cached(params, prompts=prompts, key=key), recompute(params, prompts, key)))
            t_cached = median_time(functools.partial(cached, params, prompts=prompts, key=key), repeats, warmup=False)
            t_full = median_time(functools.partial(recompute, params, prompts, key), repeats, warmup=False)
            rows.append({"attention": kind, "new_tokens": n, "cached_tok_s": batch * n / t_cached,
                         "recompute_tok_s": batch * n / t_full, "speedup": t_full / t_cached,
                         "same_tokens": bool(np.array_equal(np.asarray(tok_c), np.asarray(buf))),
                         "max_logp_diff": float(np.max(np.abs(np.asarray(lp_c) - np.asarray(lp_r))))})
            if on_row is not None:
                on_row(rows[-1])
    return rows


HEADER = ["attention         |   n | cached tok/s | recompute tok/s | speed-up | same tokens | max |dlogp|",
          "------------------|-----|--------------|-----------------|----------|-------------|------------"]


def row_text(r):
    return (f"{r['attention']:<17} | {r['new_tokens']:>3} | {r['cached_tok_s']:>12.1f} | "
            f"{r['recompute_tok_s']:>15.1f} | {r['speedup']:>7.1f}x | {r['same_tokens']!s:>11} | "
            f"{r['max_logp_diff']:.1e}")


def table(rows):
    return "\n".join(HEADER + [row_text(r) for r in rows])


def main(argv):
    del argv
    print(f"devices: {jax.devices()}; batch {_BATCH.value}, prompt {_PROMPT.value}, {_LAYERS.value} layers x "
          f"{_HEADS.value} heads x {_HEAD_DIM.value}, mlp {_MLP.value}, vocab {_VOCAB.value}")
    print("\n".join(HEADER), flush=True)
    run(_ATTENTION.value, [int(n) for n in _NEW.value], batch=_BATCH.value, prompt_len=_PROMPT.value,
        num_layers=_LAYERS.value, num_heads=_HEADS.value, head_dim=_HEAD_DIM.value, mlp_dim=_MLP.value,
        vocab_size=_VOCAB.value, ridge=_RIDGE.value, repeats=_REPEATS.value,
        on_row=lambda r: print(row_text(r), flush=True))


if __name__ == "__main__":
    app.run(main)
