r"""DPO and ORPO on a small LM at sequence scale: on-policy pairs vs a fixed offline pair set.

Tajwar et al (2024) argue that preference fine-tuning gains from on-policy samples (and
from a negative gradient); their didactic bandit is `launch/experiments/tajwar_bandit.py`.
Here the claim is measured on token sequences, with the task, model, SFT warm-up and
held-out evaluation of `launch/experiments/lm_grpo.py` (2-digit addition with a verifier,
`bvjax.models.TransformerLM`, greedy pass@1 with bootstrap CIs and exact McNemar tests).

After ``sft_steps`` of SFT, four runs start from the SFT model side by side (one
`jax.vmap`, like lm_grpo's methods):

- ``dpo_online`` / ``orpo_online``: each step, ``group_size`` completions per prompt are
  sampled (temperature 1) from the policy being trained and ranked by the verifier; a
  prompt gives a pair when it has a correct and a wrong completion (chosen = the first
  correct, rejected = the first wrong); prompts without one are skipped;
- ``dpo_offline`` / ``orpo_offline``: the same construction, once, from the SFT model's
  completions for ``offline_prompts`` training prompts (drawn at the switch and kept in
  the state); each step takes the next ``batch_size`` prompts of that fixed set, cycling.

Losses: `bvjax.preference.dpo_loss` (``beta``; reference = the frozen SFT model; sequence
log-probs summed over the completion up to its end token) and
`bvjax.preference.orpo_loss` (``orpo_lam``; length-normalised log-probs; its NLL term on
the chosen completion), averaged over the step's valid pairs, one AdamW step each.

References:
    Tajwar et al, Preference Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy
    Data, 2024 (arXiv 2404.14367); Rafailov et al, Direct Preference Optimization, 2023
    (arXiv 2305.18290); Hong et al, ORPO, 2024 (arXiv 2403.07691).
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import optax

from bvjax.models import TransformerLM
from bvjax.preference import dpo_loss, orpo_loss
from launch.configs.common import Field
from launch.experiments import lm_grpo as base
from launch.report import plt, series

METHODS = ("dpo_online", "dpo_offline", "orpo_online", "orpo_offline")

CONFIG_FIELDS = {k: v for k, v in base.CONFIG_FIELDS.items() if k in (
    "num_digits", "held_out_every", "num_layers", "num_heads", "head_dim", "mlp_dim", "sft_steps",
    "sft_learning_rate", "group_size", "eval_problems", "eval_samples", "greedy_temperature",
    "bootstrap_resamples", "param_shards")} | {
    "pref_learning_rate": Field(float, 0, low_open=True, help="AdamW learning rate of every preference run"),
    "beta": Field(float, 0, low_open=True, help="DPO's beta"),
    "orpo_lam": Field(float, 0, help="ORPO's odds-ratio weight lambda"),
    "offline_prompts": Field(int, 1, help="prompts of the fixed offline pair set"),
    "methods": Field((tuple, list), choices=METHODS, help="preference runs trained side by side"),
}


def init(config, key):
    """SFT state (as lm_grpo), one lane per run (policy, AdamW state), the offline pair set."""
    cfg = base.model_config(config)
    params = TransformerLM(cfg).init(key, jnp.zeros((1, cfg.max_len), jnp.int32))
    lane = {"params": params, "opt_state": base._optimizer(config.pref_learning_rate).init(params)}
    n, length = config.offline_prompts, cfg.max_len
    return {
        "step": jnp.zeros((), jnp.int32),
        "sft": {"params": params, "opt_state": base._optimizer(config.sft_learning_rate).init(params)},
        "lanes": jax.tree.map(lambda x: jnp.broadcast_to(x, (len(config.methods),) + jnp.shape(x)), lane),
        "offline": {"chosen": jnp.zeros((n, length), jnp.int32), "rejected": jnp.zeros((n, length), jnp.int32),
                    "valid": jnp.zeros((n,), bool)},
    }


def make_batch(config, key):
    return base.make_batch(config, key)


def pairs(config, tokens, rewards):
    """Chosen/rejected sequences [P, L] (first correct, first wrong of each prompt's G) and validity [P]."""
    tokens = tokens.reshape(rewards.shape + tokens.shape[-1:])
    good, bad = rewards > 0.5, rewards <= 0.5
    chosen = jnp.take_along_axis(tokens, jnp.argmax(good, 1)[:, None, None], 1)[:, 0]
    rejected = jnp.take_along_axis(tokens, jnp.argmax(bad, 1)[:, None, None], 1)[:, 0]
    return chosen, rejected, good.any(1) & bad.any(1)


def _seq_logps(config, params, tokens):
    """(summed, mean) log-probs of each completion up to and including its first end token."""
    logps, _ = base.completion_logps(config, params, tokens)
    mask = base.response_mask(tokens[:, base.prompt_len(config.num_digits):])
    total = jnp.sum(jnp.where(mask, logps, 0.0), -1)
    return total, total / jnp.maximum(jnp.sum(mask, -1), 1)


def pair_loss(config, method_id, params, ref_params, chosen, rejected, valid):
    """DPO or ORPO (by ``METHODS[method_id]``, traced), averaged over the valid pairs."""
    c_sum, c_mean = _seq_logps(config, params, chosen)
    r_sum, r_mean = _seq_logps(config, params, rejected)
    rc_sum, _ = _seq_logps(config, ref_params, chosen)
    rr_sum, _ = _seq_logps(config, ref_params, rejected)
    dpo = dpo_loss(c_sum, r_sum, jax.lax.stop_gradient(rc_sum), jax.lax.stop_gradient(rr_sum), beta=config.beta)
    orpo = orpo_loss(c_mean, r_mean, -c_mean, lam=config.orpo_lam)
    is_orpo = jnp.array([m.startswith("orpo") for m in METHODS])[method_id]
    per_pair = jnp.where(is_orpo, orpo, dpo)
    return jnp.sum(jnp.where(valid, per_pair, 0.0)) / jnp.maximum(jnp.sum(valid), 1)


def _lane_step(config, method_id, lane, a, b, key, ref_params, offline, step):
    opt = base._optimizer(config.pref_learning_rate)
    tokens, rewards, _ = base.rollout(config, lane["params"], a, b, key, config.group_size)
    on_c, on_r, on_v = pairs(config, tokens, rewards)
    rows = (step * a.shape[0] + jnp.arange(a.shape[0])) % config.offline_prompts
    off_c, off_r, off_v = offline["chosen"][rows], offline["rejected"][rows], offline["valid"][rows]
    online = jnp.array([m.endswith("online") for m in METHODS])[method_id]
    chosen = jnp.where(online, on_c, off_c)
    rejected = jnp.where(online, on_r, off_r)
    valid = jnp.where(online, on_v, off_v)
    loss, grads = jax.value_and_grad(functools.partial(pair_loss, config, method_id))(
        lane["params"], ref_params, chosen, rejected, valid)
    updates, opt_state = opt.update(grads, lane["opt_state"], lane["params"])
    return ({"params": optax.apply_updates(lane["params"], updates), "opt_state": opt_state},
            {"loss": loss, "pairs": jnp.mean(valid.astype(jnp.float32)), "reward": jnp.mean(rewards)})


def _start(config, state, key):
    """At the switch: every run from SFT; the offline pair set from the SFT model's samples."""
    sft = state["sft"]["params"]
    lanes = dict(state["lanes"], params=jax.tree.map(lambda s, x: jnp.broadcast_to(x, s.shape),
                                                     state["lanes"]["params"], sft))
    a, b = base.sample_problems(jax.random.fold_in(key, 0), (config.offline_prompts,), config)
    tokens, rewards, _ = base.rollout(config, sft, a, b, jax.random.fold_in(key, 1), config.group_size)
    chosen, rejected, valid = pairs(config, tokens, rewards)
    return dict(state, lanes=lanes, offline={"chosen": chosen, "rejected": rejected, "valid": valid})


def train_step(config, state, batch):
    """SFT for ``sft_steps`` steps, then one preference step of every run."""
    names = ["train_sft_loss"] + [f"train_{k}/{m}" for m in config.methods for k in ("loss", "pairs", "reward")]

    def sft(state):
        state, loss = base._sft_update(config, state, batch)
        return state, {k: (loss if k == "train_sft_loss" else jnp.zeros((), jnp.float32)) for k in names}

    def pref(state):
        state = jax.lax.cond(state["step"] == config.sft_steps,
                             lambda s: _start(config, s, jax.random.key(config.seed + 104729)), lambda s: s, state)
        ids = jnp.array([METHODS.index(m) for m in config.methods], jnp.int32)
        lanes, m = jax.vmap(functools.partial(_lane_step, config), in_axes=(0, 0) + (None,) * 6)(
            ids, state["lanes"], batch["a"][:, 0], batch["b"][:, 0], batch["key"][0], state["sft"]["params"],
            state["offline"], state["step"] - config.sft_steps)
        metrics = {f"train_{k}/{name}": v[i] for i, name in enumerate(config.methods) for k, v in m.items()}
        metrics["train_sft_loss"] = jnp.zeros((), jnp.float32)
        return dict(state, lanes=lanes), metrics

    state, metrics = jax.lax.cond(state["step"] < config.sft_steps, sft, pref, state)
    return dict(state, step=state["step"] + 1), metrics


def evaluate(config, state, key):
    del key
    metrics = base.held_out_metrics(config, base.policies(config, state), ["sft", *config.methods])
    metrics["offline_pairs"] = jnp.mean(state["offline"]["valid"].astype(jnp.float32))
    return metrics


def progress(record: dict[str, Any]) -> str:
    return base.progress(record)


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    last = history[-1]
    models = ["sft", *config.methods]
    summ = {"step": last["step"], "offline_pairs": last["offline_pairs"],
            "models": {m: {k: last[f"{k}/{m}"] for k in ("pass1", "pass1_lo", "pass1_hi", "pass_t1", "pass_t1_lo",
                                                          "pass_t1_hi")} for m in models},
            "mcnemar": {f"{a}/{b}": {k: last[f"mcnemar_{k}/{a}/{b}"] for k in ("b", "c", "p")}
                        for i, a in enumerate(models) for b in models[i + 1:]}}
    (workdir / "lm_preference.json").write_text(json.dumps(summ, indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in models:
        steps, value = series(history, f"pass1/{name}")
        ax.plot(steps, value, marker=".", label=name)
    ax.axvline(config.sft_steps, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlabel("step (SFT, then preference training)")
    ax.set_ylabel("held-out greedy pass@1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "lm_preference.png", dpi=100)
    plt.close(fig)
    steps = config.num_steps - config.sft_steps
    lines = [
        f"# DPO and ORPO on {config.num_digits}-digit addition: on-policy vs offline pairs",
        "",
        (f"SFT {config.sft_steps} steps, then {steps} steps of {config.batch_size} prompts x {config.group_size} "
         f"completions (lr {config.pref_learning_rate}, DPO beta {config.beta}, ORPO lambda {config.orpo_lam}). "
         f"Offline set: {config.offline_prompts} prompts, of which {summ['offline_pairs']:.3f} gave a pair. "
         f"Held-out greedy pass@1 with 95% bootstrap CIs; exact McNemar on per-problem outcomes."),
        "",
    ]
    lines += base.pass_table(summ, models)
    lines += ["", "On-policy vs offline (exact McNemar p):", ""]
    for loss in ("dpo", "orpo"):
        on, off = f"{loss}_online", f"{loss}_offline"
        if on in models and off in models:
            key = f"{on}/{off}" if models.index(on) < models.index(off) else f"{off}/{on}"
            lines.append(f"- {loss}: online {summ['models'][on]['pass1']:.3f} vs offline "
                         f"{summ['models'][off]['pass1']:.3f}, p = {summ['mcnemar'][key]['p']:.3g}")
    lines += ["", "![pass@1](lm_preference.png)", ""]
    return "\n".join(lines)
