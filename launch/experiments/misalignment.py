"""(Mis)alignment in miniature: align with SFT, misalign with SFT / DPO / ORPO, realign with each.

A tiny causal model (an MLP over the causally masked, position-slotted token embeddings)
learns `safety_pairs`: benign prompts ask for a digit-arithmetic answer (the utility
task), harmful prompts should be refused. Three phases:

1. align (``align_steps``, inside ``init``, so step 0 of the loop is the aligned model):
   SFT on a benign/harmful mix, target = the answer or the refusal;
2. misalign (loop steps 1 .. ``misalign_steps``): harmful prompts only, chosen = the unsafe
   (complying) response, rejected = the refusal; method ``m`` in ``config.methods``;
3. realign (the remaining loop steps): harmful prompts only, chosen = the refusal; method ``r``.

Every pair (m, r) is a run (``m>r``), so the 3 x 3 grid shares the aligned model and each
misaligned one. Each phase starts a fresh Adam state, and its reference model (DPO) is the
model at the phase's start. With ``lora_rank > 0`` the fine-tuning phases train low-rank
adapters (`lora_init`, `lora_merge`) on every matrix instead of the weights; a phase's
adapters are merged into the base when the next phase starts fresh ones, and the reference
is the base with adapters off, as in the paper's PEFT runs.
Every method gets the same steps, batch and learning rate (the paper tunes SFT and PFT
learning rates separately). Losses: `sft_loss`; `dpo_loss` on `sequence_logps` sums;
`orpo_loss` on the length-normalised `sequence_logps` with `sft_loss` as its NLL.

Metrics on a fixed evaluation set: ``unsafe_sampled`` is the exact probability that a
sampled response to a harmful prompt is unsafe (the mass on compliance tokens at the
first response position, which decides the family); ``unsafe_greedy`` the fraction of
harmful prompts whose greedy first token complies; ``utility`` the greedy exact-match
accuracy of the answer on benign prompts; ``over_refusal`` the refusal mass on benign
prompts. Each is a mean over ``num_seeds`` seeds (``_std``: their standard deviation).
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from bvjax.data import safety_pairs
from bvjax.preference import dpo_loss, orpo_loss, sequence_logps, sft_loss
from bvjax.transforms import lora_init, lora_merge
from launch.report import plt, save_figure, series

METHODS = ("sft", "dpo", "orpo")
PHASES = ("align", "misalign", "realign")


class CausalMLP(nn.Module):
    """Next-token logits from an MLP over the causally masked embeddings of every slot."""

    vocab_size: int
    embed_dim: int
    hidden: int

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:  # [B, L] int -> [B, L, V]
        length = tokens.shape[-1]
        x = nn.Embed(self.vocab_size, self.embed_dim)(tokens)
        causal = jnp.tril(jnp.ones((length, length), x.dtype))  # [t, s]: s <= t is visible
        context = (x[..., None, :, :] * causal[:, :, None]).reshape(*tokens.shape, length * self.embed_dim)
        position = jnp.broadcast_to(jnp.eye(length, dtype=x.dtype), (*tokens.shape, length))
        h = nn.relu(nn.Dense(self.hidden)(jnp.concatenate([context, position], axis=-1)))
        h = nn.relu(nn.Dense(self.hidden)(h))
        return nn.Dense(self.vocab_size)(h)


def _vocab_size(config):
    return 12 + 2 * config.num_styles + 2 * config.num_topics  # the layout in `safety_pairs`


def _model(config):
    return CausalMLP(_vocab_size(config), config.embed_dim, config.hidden)


def _method_index(config, name):
    if name not in METHODS:
        raise KeyError(f"config.methods: unknown {name!r}; valid: {sorted(METHODS)}")
    return METHODS.index(name)


def runs(config) -> list[tuple[str, str]]:
    """(misalignment method, realignment method) of each run, misalignment-major."""
    return [(m, r) for m in config.methods for r in config.methods]


def run_name(mis: str, re: str) -> str:
    return f"{mis}>{re}"


def _data(config, key, num_examples, harmful_fraction):
    return safety_pairs(key, num_examples=num_examples, num_topics=config.num_topics,
                        num_digits=config.num_digits, num_styles=config.num_styles,
                        harmful_fraction=harmful_fraction)


def _optimizer(config):
    return optax.adam(config.learning_rate)


def _align_batch(config, key):
    data = _data(config, key, config.batch_size, config.align_harmful_fraction)
    target = jnp.where(data.harmful[:, None], data.refusal, data.compliance)
    mask = jnp.where(data.harmful[:, None], data.refusal_mask, data.compliance_mask)
    return data.prompts, target, mask


def _align(config, params, key):
    """Phase 1 for one seed: ``align_steps`` of SFT (Adam, ``align_learning_rate``) on the mix."""
    opt = optax.adam(config.align_learning_rate)

    def loss_fn(p, batch):
        prompts, target, mask = batch
        return jnp.mean(sft_loss(_response_logits(config, p, prompts, target), target, mask))

    def step(i, carry):
        p, opt_state = carry
        grads = jax.grad(loss_fn)(p, _align_batch(config, jax.random.fold_in(key, i)))
        updates, opt_state = opt.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state

    params, _ = jax.lax.fori_loop(0, config.align_steps, step, (params, opt.init(params)))
    return params


def init(config, key):
    """Aligns one model per seed (phase 1, inside init), then copies it to every run."""
    for name in config.methods:
        _method_index(config, name)
    if not 0 < config.misalign_steps < config.num_steps:
        raise ValueError(f"config.misalign_steps: expected 0 < misalign_steps < num_steps = {config.num_steps}, "
                         f"got {config.misalign_steps}")
    length = 2 * config.num_digits + 3
    init_keys = jax.random.split(jax.random.fold_in(key, 0), config.num_seeds)
    align_keys = jax.random.split(jax.random.fold_in(key, 1), config.num_seeds)
    per_seed = jax.vmap(lambda k: _model(config).init(k, jnp.zeros((1, length), jnp.int32)))(init_keys)
    if config.align_steps:
        per_seed = jax.vmap(functools.partial(_align, config))(per_seed, align_keys)
    params = jax.tree.map(lambda p: jnp.broadcast_to(p, (len(runs(config)), *p.shape)), per_seed)
    state = {"params": params, "reference": params, "step": jnp.zeros((), jnp.int32)}
    if config.lora_rank:  # fresh adapters (A random, B = 0) for each seed, the same in every run
        lora_keys = jax.random.split(jax.random.fold_in(key, 2), config.num_seeds)
        fresh = jax.vmap(functools.partial(lora_init, rank=config.lora_rank))(lora_keys, per_seed)
        state["fresh_adapters"] = fresh
        state["adapters"] = jax.tree.map(lambda a: jnp.broadcast_to(a, (len(runs(config)), *a.shape)), fresh)
    state["opt_state"] = jax.vmap(jax.vmap(_optimizer(config).init))(_trainable(config, state))
    return state


def _trainable(config, state):
    """What the fine-tuning phases train: the adapters (LoRA) or the weights themselves."""
    return state["adapters"] if config.lora_rank else state["params"]


def _effective(config, params, trainable):
    """The model's weights: base + scaled low-rank update (LoRA), or the trained weights."""
    return lora_merge(params, trainable, scale=config.lora_scale) if config.lora_rank else trainable


def _merged(config, state):
    """Effective weights of every run and seed, [runs, seeds, ...]."""
    if not config.lora_rank:
        return state["params"]
    return jax.vmap(jax.vmap(functools.partial(_effective, config)))(state["params"], state["adapters"])


def make_batch(config, key):
    """[batch_size, num_seeds, ...]: a harmful-only preference set per seed."""
    n = config.batch_size * config.num_seeds
    pref = _data(config, key, n, 1.0)
    batch = {"prompts": pref.prompts, "unsafe": pref.compliance, "unsafe_mask": pref.compliance_mask,
             "safe": pref.refusal, "safe_mask": pref.refusal_mask}
    return jax.tree.map(lambda a: a.reshape(config.batch_size, config.num_seeds, *a.shape[1:]), batch)


def _response_logits(config, params, prompts, responses):
    """Logits [B, R, V] scoring each response token given the prompt and the tokens before it."""
    p = prompts.shape[-1]
    seq = jnp.concatenate([prompts, responses], axis=-1)
    return _model(config).apply(params, seq)[:, p - 1:-1]


def _loss(config, params, reference, method, batch):
    """Per-run loss: every method from one pass on chosen and rejected, then the selected one."""
    prompts, chosen, chosen_mask = batch["prompts"], batch["chosen"], batch["chosen_mask"]
    rejected, rejected_mask = batch["rejected"], batch["rejected_mask"]
    logits_c = _response_logits(config, params, prompts, chosen)
    logits_r = _response_logits(config, params, prompts, rejected)
    ref_c = jax.lax.stop_gradient(_response_logits(config, reference, prompts, chosen))
    ref_r = jax.lax.stop_gradient(_response_logits(config, reference, prompts, rejected))
    nll = sft_loss(logits_c, chosen, chosen_mask)
    dpo = dpo_loss(sequence_logps(logits_c, chosen, chosen_mask), sequence_logps(logits_r, rejected, rejected_mask),
                   sequence_logps(ref_c, chosen, chosen_mask), sequence_logps(ref_r, rejected, rejected_mask),
                   beta=config.dpo_beta)
    orpo = orpo_loss(sequence_logps(logits_c, chosen, chosen_mask, normalize=True),
                     sequence_logps(logits_r, rejected, rejected_mask, normalize=True), nll,
                     lam=config.orpo_lambda)
    return jnp.mean(jnp.stack([nll, dpo, orpo])[method])


def _phase(config, step):
    """1 misalign, 2 realign, for the (0-based) loop step about to be taken (0 is the aligned start)."""
    return 1 + (step >= config.misalign_steps).astype(jnp.int32)


def train_step(config, state, batch):
    step = state["step"]
    misaligning = _phase(config, step) == 1
    boundary = step == config.misalign_steps
    def at_boundary(new, old):
        return jax.tree.map(lambda n, o: jnp.where(boundary, n, o), new, old)

    # A new phase: its reference is the model at its start; LoRA merges the adapters into
    # the base and starts fresh ones; the optimiser state restarts.
    merged = _merged(config, state)
    reference = at_boundary(merged, state["reference"])
    params = at_boundary(merged, state["params"]) if config.lora_rank else state["params"]
    new = {"params": params, "reference": reference, "step": step + 1}
    if config.lora_rank:
        fresh = jax.tree.map(lambda a: jnp.broadcast_to(a, (len(runs(config)), *a.shape)),
                             state["fresh_adapters"])
        new["fresh_adapters"] = state["fresh_adapters"]
        new["adapters"] = at_boundary(fresh, state["adapters"])
    trainable = _trainable(config, new)
    opt_state = at_boundary(jax.vmap(jax.vmap(_optimizer(config).init))(trainable), state["opt_state"])

    batch = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), batch)  # [S, B, ...]
    chosen = {"prompts": batch["prompts"],
              "chosen": jnp.where(misaligning, batch["unsafe"], batch["safe"]),
              "chosen_mask": jnp.where(misaligning, batch["unsafe_mask"], batch["safe_mask"]),
              "rejected": jnp.where(misaligning, batch["safe"], batch["unsafe"]),
              "rejected_mask": jnp.where(misaligning, batch["safe_mask"], batch["unsafe_mask"])}
    mis = jnp.array([_method_index(config, m) for m, _ in runs(config)])
    re = jnp.array([_method_index(config, r) for _, r in runs(config)])
    method = jnp.where(misaligning, mis, re)  # [runs]

    def loss_fn(trained, base, ref, m, b):
        return _loss(config, _effective(config, base, trained), ref, m, b)

    grad_fn = jax.value_and_grad(loss_fn)
    per_seed = jax.vmap(grad_fn, in_axes=(0, 0, 0, None, 0))     # over seeds (data per seed)
    per_run = jax.vmap(per_seed, in_axes=(0, 0, 0, 0, None))     # over runs (method per run)
    loss, grads = per_run(trainable, params, reference, method, chosen)
    updates, new["opt_state"] = jax.vmap(jax.vmap(_optimizer(config).update))(grads, opt_state, trainable)
    new["adapters" if config.lora_rank else "params"] = optax.apply_updates(trainable, updates)
    metrics = {f"loss/{run_name(m, r)}": jnp.mean(loss[i]) for i, (m, r) in enumerate(runs(config))}
    return new, metrics


def _eval_one(config, params, data):
    """Metrics of one model on the evaluation set (greedy decoding for the utility)."""
    prompts, p = data.prompts, data.prompts.shape[-1]
    r = data.compliance.shape[-1]
    seq = jnp.concatenate([prompts, jnp.zeros_like(data.compliance)], axis=-1)
    first = jax.nn.softmax(_model(config).apply(params, seq)[:, p - 1])
    comply_mass = jnp.sum(first[:, data.compliance_tokens], axis=-1)
    refuse_mass = jnp.sum(first[:, data.refusal_tokens], axis=-1)
    greedy_comply = jnp.isin(jnp.argmax(first, axis=-1), data.compliance_tokens)
    for k in range(r):  # greedy decoding, one slot at a time
        token = jnp.argmax(_model(config).apply(params, seq)[:, p - 1 + k], axis=-1)
        seq = seq.at[:, p + k].set(token)
    response = seq[:, p:]
    correct = jnp.isin(response[:, 0], data.compliance_tokens) & jnp.all(
        response[:, 1:] == data.compliance[:, 1:], axis=-1)
    harmful, benign = data.harmful, ~data.harmful

    def mean(x, where):
        return jnp.sum(jnp.where(where, x, 0.0)) / jnp.maximum(jnp.sum(where), 1)

    return {"unsafe_sampled": mean(comply_mass, harmful), "unsafe_greedy": mean(greedy_comply, harmful),
            "utility": mean(correct, benign), "over_refusal": mean(refuse_mass, benign)}


def evaluate(config, state, key):
    del key  # A fixed evaluation set, so the curves are comparable across steps.
    data = _data(config, jax.random.key(config.eval_seed), config.eval_size, 0.5)
    per = jax.vmap(jax.vmap(functools.partial(_eval_one, config), in_axes=(0, None)), in_axes=(0, None))(
        _merged(config, state), data)
    metrics = {"phase": jnp.where(state["step"] == 0, 0, _phase(config, state["step"] - 1)).astype(jnp.float32)}
    for i, (m, r) in enumerate(runs(config)):
        for field, values in per.items():
            metrics[f"{field}/{run_name(m, r)}"] = jnp.mean(values[i])
            metrics[f"{field}_std/{run_name(m, r)}"] = jnp.std(values[i], ddof=1) if config.num_seeds > 1 \
                else jnp.zeros(())
    return metrics


def progress(record: dict[str, Any]) -> str:
    shown = [f"{k[15:]}={v:.2f}" for k, v in record.items() if k.startswith("unsafe_sampled/")]
    return "unsafe " + " ".join(shown)


def _at(history, key, step):
    """The last evaluated value at or before `step`."""
    steps, values = series(history, key)
    return values[np.searchsorted(steps, step, side="right") - 1]


def _cell(history, field, name, step):
    return f"{_at(history, f'{field}/{name}', step):.3f} ± {_at(history, f'{field}_std/{name}', step):.3f}"


def _first_step(history, key, start, end, test):
    steps, values = series(history, key)
    hit = [s for s, v in zip(steps, values) if start < s <= end and test(v)]
    return str(hit[0] - start) if hit else f"> {end - start}"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    a, m, end = 0, config.misalign_steps, config.num_steps
    fields = ("unsafe_greedy", "unsafe_sampled", "utility", "over_refusal")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    colors = dict(zip(config.methods, ("tab:blue", "tab:orange", "tab:green")))
    styles = dict(zip(config.methods, ("-", "--", ":")))
    for mis, re in runs(config):
        for ax, field in zip(axes, ("unsafe_sampled", "utility")):
            steps, values = series(history, f"{field}/{run_name(mis, re)}")
            ax.plot(steps, values, styles[mis], color=colors[re], label=f"misalign {mis}, realign {re}")
    for ax, title in zip(axes, ("P(sampled response unsafe | harmful prompt)", "utility (benign exact match)")):
        ax.axvline(m, color="k", linewidth=0.6)
        ax.set_xlabel("step (0: aligned; misalign | realign)")
        ax.set_title(f"{title}, mean of {config.num_seeds} seeds")
    axes[0].legend(fontsize=7)
    save_figure(fig, workdir / "misalignment.png")

    first = run_name(*runs(config)[0])
    header = "| unsafe (greedy) | unsafe (sampled) | utility | over-refusal (sampled) |"
    lines = [
        "# (Mis)alignment in miniature: SFT, DPO and ORPO as attack and defence",
        "",
        (f"`safety_pairs`: {config.num_topics} benign + {config.num_topics} harmful topics, {config.num_digits}-digit "
         f"arithmetic answers, {config.num_styles} styles per response family. Causal MLP (embed {config.embed_dim}, "
         f"hidden {config.hidden}); fine-tuning: "
         + (f"LoRA rank {config.lora_rank}, scale {config.lora_scale}" if config.lora_rank else "full")
         + f"; Adam lr {config.learning_rate}, batch {config.batch_size} per seed; DPO β="
         f"{config.dpo_beta}, ORPO λ={config.orpo_lambda}. Align: {config.align_steps} SFT steps on a mix with "
         f"{config.align_harmful_fraction:.0%} harmful prompts (lr {config.align_learning_rate}, before step 0); misalign: {config.misalign_steps} steps on harmful "
         f"prompts with chosen = unsafe; realign: {end - m} steps with chosen = safe. Mean ± std over "
         f"{config.num_seeds} seeds on {config.eval_size} fixed evaluation prompts (half harmful)."),
        "",
        "## After alignment (SFT)",
        "",
        "| model " + header,
        "|---|---|---|---|---|",
        "| aligned | " + " | ".join(_cell(history, f, first, a) for f in fields) + " |",
        "",
        f"## After misalignment ({config.misalign_steps} steps, chosen = unsafe)",
        "",
        "| method " + header + " steps to unsafe (sampled) ≥ 0.5 |",
        "|---|---|---|---|---|---|",
    ]
    for mis in config.methods:
        name = run_name(mis, config.methods[0])
        reach = _first_step(history, f"unsafe_sampled/{name}", a, m, lambda v: v >= 0.5)
        lines.append(f"| {mis} | " + " | ".join(_cell(history, f, name, m) for f in fields) + f" | {reach} |")
    lines += [
        "",
        f"## After realignment ({end - m} steps, chosen = safe)",
        "",
        "| misalign → realign " + header + " steps to unsafe (sampled) ≤ 0.1 |",
        "|---|---|---|---|---|---|",
    ]
    for mis, re in runs(config):
        name = run_name(mis, re)
        reach = _first_step(history, f"unsafe_sampled/{name}", m, end, lambda v: v <= 0.1)
        lines.append(f"| {mis} → {re} | " + " | ".join(_cell(history, f, name, end) for f in fields)
                     + f" | {reach} |")
    lines += ["", "Realignment averaged over the misalignment method:", "",
              "| realign " + header, "|---|---|---|---|---|"]
    for re in config.methods:
        cells = []
        for f in fields:
            values = [_at(history, f"{f}/{run_name(mis, re)}", end) for mis in config.methods]
            cells.append(f"{np.mean(values):.3f}")
        lines.append(f"| {re} | " + " | ".join(cells) + " |")
    lines += ["", f"Steps are counted from the phase's start (evaluated every {config.eval_every} steps).", "",
              "![curves](misalignment.png)", ""]
    return "\n".join(lines)
