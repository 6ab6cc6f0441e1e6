"""DCPO vs GRPO on a prompts x arms softmax bandit: policy entropy and reward over training.

Each of ``num_prompts`` prompts has ``num_arms`` answers ("arms"), ``num_correct`` of them
correct (reward 1, else 0); the policy is a table of logits, one softmax per prompt,
started from random logits (the same per seed for both methods). Every step samples
``batch_size`` prompts and ``group_size`` answers each, and updates with the PPO-clip
loss (`bvjax.rl.ppo_clip_loss`, clip 0.2, dual clip 3, token-mean via
`bvjax.rl.aggregate_loss`; one on-policy update per batch, so the ratio is 1) on

- ``grpo``: the group advantages (`bvjax.rl.group_advantages`, mean/std normalised);
- ``dcpo``: the same advantages reshaped by `bvjax.rl.dcpo_advantages`:
  :math:`(1-\\alpha)\\hat A + \\alpha\\,c\\,\\rho` with :math:`\\rho = \\pi^T/\\pi` at the
  temperature `bvjax.rl.dcpo_temperature` picks from the previous update's mean entropy
  :math:`H` (0 at the first step) against ``entropy_base`` :math:`H_0`.

Several correct answers per prompt is what lets entropy mean something: GRPO's
rich-get-richer dynamics collapse each prompt onto few correct answers, while DCPO's
regulariser pulls the policy towards the hotter :math:`\\pi^T` whenever :math:`H < H_0`.
The report tracks the exact mean entropy of the policy over prompts, its exact expected
reward, and the coverage (correct answers holding at least ``coverage_threshold`` of a
prompt's probability).
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from bvjax.rl import aggregate_loss, dcpo_advantages, dcpo_temperature, group_advantages, ppo_clip_loss
from launch.report import plt, pm, save_figure, series

METHODS = ("grpo", "dcpo")


def _check(config):
    for name in config.methods:
        if name not in METHODS:
            raise KeyError(f"config.methods: unknown {name!r}; valid: {list(METHODS)}")
    if not 0 < config.num_correct < config.num_arms:
        raise ValueError(f"config.num_correct: expected 0 < num_correct < num_arms = {config.num_arms}, "
                         f"got {config.num_correct}")


def _task(config, key):
    """Per seed: initial logits [P, K] and the correct-answer indicator [P, K]."""
    logit_key, correct_key = jax.random.split(key)
    logits = config.init_scale * jax.random.normal(logit_key, (config.num_prompts, config.num_arms))
    order = jax.vmap(lambda k: jax.random.permutation(k, config.num_arms))(
        jax.random.split(correct_key, config.num_prompts))
    correct = jnp.zeros((config.num_prompts, config.num_arms)).at[
        jnp.arange(config.num_prompts)[:, None], order[:, :config.num_correct]].set(1.0)
    return logits, correct


def _optimizer(config):
    return optax.adam(config.learning_rate)


def init(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, Any]:
    _check(config)
    logits, correct = jax.vmap(functools.partial(_task, config))(jax.random.split(key, config.num_seeds))
    params = {name: logits for name in config.methods}
    return {"params": params, "opt_state": _optimizer(config).init(params), "correct": correct,
            "entropy": {name: jnp.zeros((config.num_seeds,)) for name in config.methods},
            "step": jnp.zeros((), jnp.int32)}


def make_batch(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, jax.Array]:
    """One key per sampled prompt: [batch_size], sharded on axis 0."""
    return {"key": jax.random.split(key, config.batch_size)}


def _entropy(logits):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


def _seed_update(config, method, logits, correct, prev_entropy, keys):
    """Gradient of one seed's loss, and the batch's mean entropy (DCPO's H for the next step)."""
    prompt = jax.vmap(lambda k: jax.random.randint(jax.random.fold_in(k, 0), (), 0, config.num_prompts))(keys)
    z = logits[prompt]  # [B, K]
    arms = jax.vmap(lambda k, zz: jax.random.categorical(jax.random.fold_in(k, 1), zz, shape=(config.group_size,)))(
        keys, z)  # [B, G]
    rewards = jnp.take_along_axis(correct[prompt], arms, axis=1)
    adv = group_advantages(rewards).reshape(-1)
    n = adv.shape[0]
    mask = jnp.ones((n, 1), bool)
    alpha = jnp.zeros(())
    temperature = jnp.ones(())
    if method == "dcpo":
        temperature = dcpo_temperature(prev_entropy, entropy_base=config.entropy_base)
        log_t = jax.nn.log_softmax(z / temperature, axis=-1)
        log_1 = jax.nn.log_softmax(z, axis=-1)
        tlr = jnp.take_along_axis(log_t - log_1, arms, axis=1).reshape(n, 1)
        out = dcpo_advantages(adv, rewards.reshape(-1), tlr, mask, prev_entropy, entropy_base=config.entropy_base)
        token_adv, alpha = out.advantages, out.alpha
    else:
        token_adv = adv[:, None]

    def loss(params):
        logp = jnp.take_along_axis(jax.nn.log_softmax(params[prompt], axis=-1), arms, axis=1).reshape(n, 1)
        per_token = ppo_clip_loss(logp, jax.lax.stop_gradient(logp), token_adv, clip_low=config.clip,
                                  dual_clip=config.dual_clip)
        return aggregate_loss(per_token, mask, mode="token-mean")

    grads = jax.grad(loss)(logits)
    return grads, jnp.mean(_entropy(z)), jnp.mean(rewards), alpha, temperature


def train_step(config, state, batch):
    grads, metrics = {}, {}
    seeds = jnp.arange(config.num_seeds)
    keys = jax.vmap(lambda s: jax.vmap(lambda k: jax.random.fold_in(k, s))(batch["key"]))(seeds)
    entropy = {}
    for name in config.methods:
        update = jax.vmap(functools.partial(_seed_update, config, name))
        grads[name], entropy[name], reward, alpha, temperature = update(
            state["params"][name], state["correct"], state["entropy"][name], keys)
        metrics[f"batch_reward/{name}"] = jnp.mean(reward)
        metrics[f"alpha/{name}"] = jnp.mean(alpha)
        metrics[f"temperature/{name}"] = jnp.mean(temperature)
    updates, opt_state = _optimizer(config).update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
            "correct": state["correct"], "entropy": entropy, "step": state["step"] + 1}, metrics


def evaluate(config, state, key):
    """Exact figures of each policy: mean entropy, expected reward, coverage (mean and std over seeds)."""
    del key
    metrics = {}
    correct = state["correct"]
    for name in config.methods:
        probs = jax.nn.softmax(state["params"][name], axis=-1)  # [S, P, K]
        per_seed = {
            "entropy": jnp.mean(_entropy(state["params"][name]), axis=-1),
            "reward": jnp.mean(jnp.sum(probs * correct, axis=-1), axis=-1),
            "coverage": jnp.mean(jnp.sum((probs >= config.coverage_threshold) * correct, axis=-1), axis=-1),
        }
        for field, values in per_seed.items():
            metrics[f"{field}/{name}"] = jnp.mean(values)
            metrics[f"{field}_std/{name}"] = jnp.std(values, ddof=1) if config.num_seeds > 1 else jnp.zeros(())
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"{k.split('/')[0][0]}[{k.split('/')[1]}]={v:.3f}" for k, v in record.items()
                    if k.startswith(("entropy/", "reward/")))


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    """Writes the entropy/reward/coverage curves and returns the markdown table."""
    workdir = pathlib.Path(workdir)
    fields = (("entropy", "mean policy entropy (nats)"), ("reward", "expected reward"),
              ("coverage", f"correct answers with π ≥ {config.coverage_threshold}"))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (field, title) in zip(axes, fields):
        for name in config.methods:
            steps, value = series(history, f"{field}/{name}")
            _, sd = series(history, f"{field}_std/{name}")
            ax.plot(steps, value, label=name)
            ax.fill_between(steps, value - sd, value + sd, alpha=0.2)
        ax.set_title(f"{title}, mean ± std over {config.num_seeds} seeds")
        ax.set_xlabel("step")
        ax.legend()
    axes[0].axhline(config.entropy_base, color="k", linestyle="--", linewidth=0.8)
    axes[0].axhline(np.log(config.num_correct), color="grey", linestyle=":", linewidth=0.8)
    save_figure(fig, workdir / "dcpo_entropy.png")

    marks = sorted({s for s in (config.num_steps // 4, config.num_steps // 2, config.num_steps) if s > 0})
    lines = [
        "# DCPO vs GRPO: policy entropy on a prompts x answers bandit",
        "",
        (f"{config.num_prompts} prompts x {config.num_arms} answers, {config.num_correct} correct per prompt "
         f"(max entropy over the correct ones: ln {config.num_correct} = {np.log(config.num_correct):.3f}); "
         f"initial logits N(0, {config.init_scale}²); {config.batch_size} prompts x {config.group_size} samples "
         f"per step, Adam lr {config.learning_rate}, {config.num_steps} steps, {config.num_seeds} seeds; DCPO "
         f"H₀ = {config.entropy_base}. Exact figures of the policy (no sampling), mean ± std over seeds."),
        "",
        "| step | method | entropy | expected reward | coverage | DCPO α (batch) |",
        "|---|---|---|---|---|---|",
    ]
    for step in marks:
        rows = [r for r in history if r["step"] == step]
        if not rows:
            continue
        r = rows[0]
        for name in config.methods:
            alpha = r.get(f"alpha/{name}", float("nan"))
            lines.append(
                f"| {step} | {name} | {pm(r[f'entropy/{name}'], r[f'entropy_std/{name}'])} | "
                f"{pm(r[f'reward/{name}'], r[f'reward_std/{name}'])} | "
                f"{pm(r[f'coverage/{name}'], r[f'coverage_std/{name}'], '.2f')} | "
                f"{'—' if name == 'grpo' else f'{alpha:.3f}'} |")
    lines += ["", "![curves](dcpo_entropy.png)", ""]
    return "\n".join(lines)
