r"""Multi-query associative recall (MQAR): softmax vs Local Linear Attention vs global ridge attention.

Data: `bvjax.data.mqar` (Zoology's construction: ``n`` key-value pairs, then every key
queried once at power-law gaps; the model must output the key's value at the query).
Training mixes the pair counts ``config.train_pairs`` (the batch is split evenly among
them), as Zoology trains on a mixture; evaluation measures accuracy (argmax at every
query position) on a fixed held-out set per pair count in ``config.eval_pairs``.

Model: `bvjax.models.TransformerLM` with ``config.num_layers`` blocks, learned positions;
only ``attention`` differs (``config.attentions``), so every model has the same
parameters and the same parameter count, and each seed starts every attention kind from
the same initial weights and sees the same batches. ``config.num_seeds`` replicas per
kind are trained side by side with `jax.vmap` (each seed its own init and data). The
loss is the cross-entropy at the query positions only. Kinds are run one after another
in a step (`jax.lax.optimization_barrier`): XLA:CPU has hung executing independent
batched linear solves concurrently in one program.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.data import mqar
from bvjax.models import TransformerConfig, TransformerLM
from launch.report import errorbars, label_axes, mean_se, plt, save_figure, series


def model_config(config, attention) -> TransformerConfig:
    return TransformerConfig(vocab_size=config.vocab_size, num_layers=config.num_layers, num_heads=config.num_heads,
                             head_dim=config.head_dim, mlp_dim=config.mlp_dim, max_len=config.seq_len,
                             attention=attention, ridge=config.ridge, implementation=config.lla_impl,
                             cg_iters=config.cg_iters)


def param_count(config) -> int:
    cfg = model_config(config, "softmax")
    shapes = jax.eval_shape(TransformerLM(cfg).init, jax.random.key(0), jnp.zeros((1, config.seq_len), jnp.int32))
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def _data(config, key, num_examples, num_pairs):
    return mqar(key, num_examples=num_examples, vocab_size=config.vocab_size, seq_len=config.seq_len,
                num_pairs=num_pairs, power_a=config.power_a, random_non_queries=config.random_non_queries)


def make_batch(config, key):
    """``config.batch_size`` sequences per seed, split evenly among ``train_pairs``: leaves [B, seeds, L]."""
    per = config.batch_size // len(config.train_pairs)
    parts = []
    for i, n in enumerate(config.train_pairs):
        count = per if i < len(config.train_pairs) - 1 else config.batch_size - per * (len(config.train_pairs) - 1)
        parts.append(_data(config, jax.random.fold_in(key, i), count * config.num_seeds, n))
    x, t, m = (jnp.concatenate([p[j] for p in parts], 0) for j in range(3))
    shape = (config.batch_size, config.num_seeds, config.seq_len)
    return {"inputs": x.reshape(shape), "targets": t.reshape(shape), "mask": m.reshape(shape)}


def _optimizer(config):
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                                  max(config.num_steps, config.warmup_steps + 1))
    return optax.chain(optax.clip_by_global_norm(config.grad_clip),
                       optax.adamw(schedule, weight_decay=config.weight_decay))


def init(config, key):
    """Per attention kind, ``num_seeds`` replicas (params and AdamW state, leading axis = seed)."""
    model = TransformerLM(model_config(config, "softmax"))
    dummy = jnp.zeros((1, config.seq_len), jnp.int32)
    params = jax.vmap(lambda k: model.init(k, dummy))(jax.random.split(key, config.num_seeds))
    opt = _optimizer(config)
    return {"params": {a: params for a in config.attentions},
            "opt_state": {a: jax.vmap(opt.init)(params) for a in config.attentions}}


def _loss_acc(config, attention, params, x, t, m):
    logits = TransformerLM(model_config(config, attention)).apply(params, x)
    logp = jax.nn.log_softmax(logits)
    nll = -jnp.take_along_axis(logp, t[..., None], -1)[..., 0]
    count = jnp.maximum(jnp.sum(m), 1)
    loss = jnp.sum(jnp.where(m, nll, 0.0)) / count
    acc = jnp.sum(jnp.where(m, jnp.argmax(logits, -1) == t, False)) / count
    return loss, acc


def train_step(config, state, batch):
    opt = _optimizer(config)
    new = {"params": {}, "opt_state": {}}
    metrics = {}
    x, t, m = batch["inputs"], batch["targets"], batch["mask"]
    for attention in config.attentions:
        def one(params, opt_state, x, t, m, attention=attention):
            (loss, acc), grads = jax.value_and_grad(functools.partial(_loss_acc, config, attention), has_aux=True)(
                params, x, t, m)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, acc

        p, s, loss, acc = jax.vmap(one, in_axes=(0, 0, 1, 1, 1))(
            state["params"][attention], state["opt_state"][attention], x, t, m)
        x, t, m, p, s = jax.lax.optimization_barrier((x, t, m, p, s))
        new["params"][attention], new["opt_state"][attention] = p, s
        metrics[f"train_loss/{attention}"] = jnp.mean(loss)
        metrics[f"train_acc/{attention}"] = jnp.mean(acc)
    return new, metrics


def held_out(config):
    """The fixed evaluation sets, one per pair count (a key no training batch uses)."""
    key = jax.random.key(config.seed + 7919)
    return {n: _data(config, jax.random.fold_in(key, n), config.eval_sequences, n) for n in config.eval_pairs}


def evaluate(config, state, key):
    """Held-out accuracy per (attention, pair count, seed); the same sets at every evaluation.

    The pair counts' sets are stacked into one batch (all have length ``seq_len``), so each
    attention kind is one forward pass: independent batched linear solves in one XLA:CPU
    program have hung at execution.
    """
    del key
    metrics = {}
    sets = held_out(config)
    x, t, m = (jnp.concatenate([sets[n][j] for n in config.eval_pairs], 0) for j in range(3))

    def per_sequence(attention, params, x, t, m):
        logits = TransformerLM(model_config(config, attention)).apply(params, x)
        hits = jnp.sum(jnp.where(m, jnp.argmax(logits, -1) == t, False), -1)
        return hits / jnp.maximum(jnp.sum(m, -1), 1)

    for attention in config.attentions:
        acc = jax.vmap(functools.partial(per_sequence, attention), in_axes=(0, None, None, None))(
            state["params"][attention], x, t, m)  # [seeds, sets * E]
        x, t, m, acc = jax.lax.optimization_barrier((x, t, m, acc))
        acc = acc.reshape(config.num_seeds, len(config.eval_pairs), config.eval_sequences).mean(-1)
        for i, n in enumerate(config.eval_pairs):
            for s in range(config.num_seeds):
                metrics[f"acc/{attention}/p{n}/s{s}"] = acc[s, i]
        metrics[f"acc/{attention}"] = jnp.mean(acc)
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"{k.split('/')[1]}={v:.3f}" for k, v in record.items() if k.count("/") == 1
                    and k.startswith(("acc/", "train_loss/")))


def summary(config, history) -> dict[str, Any]:
    last = history[-1]
    out = {"param_count": param_count(config), "step": last["step"], "attentions": {}}
    for a in config.attentions:
        cells = {}
        for n in config.eval_pairs:
            mean, se = mean_se([last[f"acc/{a}/p{n}/s{s}"] for s in range(config.num_seeds)])
            cells[str(n)] = (float(mean), float(se))
        out["attentions"][a] = cells
    return out


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    summ = summary(config, history)
    (workdir / "mqar.json").write_text(json.dumps(summ, indent=1))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    pairs = np.array(config.eval_pairs)
    for a in config.attentions:
        mean = np.array([summ["attentions"][a][str(n)][0] for n in config.eval_pairs])
        se = np.array([summ["attentions"][a][str(n)][1] for n in config.eval_pairs])
        errorbars(axes[0], pairs, mean, se, label=a)
        steps, value = series(history, f"acc/{a}")
        axes[1].plot(steps, value, label=a)
    label_axes(axes[0], xlabel="key-value pairs", ylabel="held-out recall accuracy",
               title=f"MQAR, L = {config.seq_len}, V = {config.vocab_size} (mean ± 2 SE, {config.num_seeds} seeds)")
    label_axes(axes[1], xlabel="training step", ylabel="held-out accuracy (mean over pair counts)")
    save_figure(fig, workdir / "mqar.png")
    lines = [
        "# Multi-query associative recall: softmax vs LLA vs global ridge attention",
        "",
        (f"Zoology's MQAR: vocabulary {config.vocab_size}, length {config.seq_len}, power_a {config.power_a}; "
         f"trained on a mix of {list(config.train_pairs)} pairs. Model: {config.num_layers} layers, "
         f"{config.num_heads} heads of {config.head_dim}, MLP {config.mlp_dim}, {summ['param_count']} parameters "
         f"for every attention kind; ridge {config.ridge} (LLA path {config.lla_impl or 'default'}); "
         f"{config.num_steps} AdamW steps of {config.batch_size} sequences, lr {config.learning_rate}; "
         f"{config.num_seeds} seeds. Figures: held-out accuracy at the query positions "
         f"({config.eval_sequences} sequences per pair count), mean ± standard error over seeds."),
        "",
        "| attention | " + " | ".join(f"{n} pairs" for n in config.eval_pairs) + " |",
        "|---|" + "---|" * len(config.eval_pairs),
    ]
    for a in config.attentions:
        lines.append(f"| {a} | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in
                                              (summ["attentions"][a][str(n)] for n in config.eval_pairs)) + " |")
    lines += ["", "![accuracy vs pairs](mqar.png)", ""]
    return "\n".join(lines)
