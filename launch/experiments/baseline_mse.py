"""Baselines for sparse rollouts: GRPO's mean, RLOO, V0.5 and OBLR-PO by group size and prior error.

A measurement, not a training run (``measure``, run once by launch/measure.py, one
jitted program). A population of ``num_prompts`` prompts has
known pass rates p ~ U(p_low, p_high); each prompt's policy is a Bernoulli with logit
θ = logit(p), so a rollout's reward is r ~ Bernoulli(p), its score is
∂ log π(r)/∂θ = r − p, and the exact policy gradient is p (1 − p). A value model's
prior is v = clip(p + s·ε, 0, 1) with ε ~ N(0, 1) fixed per prompt and s the prior's
error level. For group sizes G and each baseline the bias–variance meter measures

- the policy-gradient estimate ĝ_p = (1/G) Σ_i (r_i − b_i)(r_i − p) against p (1 − p),
  over the whole population (bias², variance and MSE summed over prompts);
- the baseline itself, b for the first rollout against p (what V0.5 minimises).

Baselines: ``mean`` (GRPO's group mean, i.e. Dr.GRPO centring, sample included),
``rloo`` (leave-one-out mean), ``v05`` (the prior fused with the mean by
positive-part shrinkage, `bvjax.rl.v05_baseline`), ``oblr`` (the gradient-weighted
leave-one-out baseline with weights ‖∂ log π‖² = (r − p)², `bvjax.rl.optimal_baseline_advantages`)
and ``prior`` (v alone, for reference).
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.diagnostics import bias_variance
from bvjax.rl import group_advantages, optimal_baseline_advantages, rloo_advantages, v05_baseline
from launch.report import errorbars, label_axes, plt, save_figure

BASELINES = ("mean", "rloo", "v05", "oblr", "prior")


def _population(config):
    key = jax.random.key(config.seed)
    kp, ke = jax.random.split(key)
    p = jax.random.uniform(kp, (config.num_prompts,), minval=config.p_low, maxval=config.p_high)
    noise = jax.random.normal(ke, (config.num_prompts,))
    return p, noise


def _advantages(name, rewards, p, prior):
    """[P, G] advantages r - b for one baseline."""
    if name == "mean":
        return group_advantages(rewards, normalize=False, singleton="zero")
    if name == "rloo":
        return rloo_advantages(rewards)
    if name == "v05":
        return rewards - v05_baseline(rewards, prior).baseline[:, None]
    if name == "oblr":
        return optimal_baseline_advantages(rewards, (rewards - p[:, None]) ** 2)
    if name == "prior":
        return rewards - prior[:, None]
    raise KeyError(f"baseline: unknown {name!r}; valid: {list(BASELINES)}")


def _measure(config, key):
    p, noise = _population(config)
    exact = p * (1 - p)
    metrics = {}
    for gi, group in enumerate(config.group_sizes):
        for li, level in enumerate(config.prior_errors):
            prior = jnp.clip(p + level * noise, 0.0, 1.0)
            for bi, name in enumerate(BASELINES):

                def gradient(k, group=group, name=name, prior=prior):
                    rewards = jax.random.bernoulli(k, p[:, None], (config.num_prompts, group))
                    rewards = rewards.astype(jnp.float32)
                    adv = _advantages(name, rewards, p, prior)
                    return jnp.mean(adv * (rewards - p[:, None]), axis=1)

                def baseline(k, group=group, name=name, prior=prior):
                    rewards = jax.random.bernoulli(k, p[:, None], (config.num_prompts, group))
                    rewards = rewards.astype(jnp.float32)
                    return rewards[:, 0] - _advantages(name, rewards, p, prior)[:, 0]

                k = jax.random.fold_in(key, (gi * 100 + li) * 10 + bi)
                tag = f"G{group}/s{level:g}/{name}"
                g = bias_variance(gradient, exact, k, num_draws=config.meter_draws)
                b = bias_variance(baseline, p, jax.random.fold_in(k, 1), num_draws=config.meter_draws)
                metrics.update({f"grad_mse/{tag}": g.mse, f"grad_mse_se/{tag}": g.mse_stderr,
                                f"grad_bias_squared/{tag}": g.bias_squared,
                                f"grad_variance/{tag}": g.variance,
                                f"baseline_mse/{tag}": b.mse, f"baseline_mse_se/{tag}": b.mse_stderr})
    return metrics


def measure(config, key):
    """The figures of every cell, as one jitted program (config fields are static)."""
    return jax.jit(functools.partial(_measure, config))(key)


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('grad_mse/') for k in record)} settings measured"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    groups, levels = list(config.group_sizes), list(config.prior_errors)
    fig, axes = plt.subplots(2, len(levels), figsize=(4 * len(levels), 7), squeeze=False)
    for li, level in enumerate(levels):
        for row, metric in enumerate(("grad_mse", "baseline_mse")):
            ax = axes[row, li]
            for name in BASELINES:
                v = np.array([rec[f"{metric}/G{g}/s{level:g}/{name}"] for g in groups])
                se = np.array([rec[f"{metric}_se/G{g}/s{level:g}/{name}"] for g in groups])
                errorbars(ax, groups, v, se, label=name)
            label_axes(ax, xscale="log", xbase=2, yscale="log", xlabel="group size G",
                       title=f"{'gradient' if row == 0 else 'baseline'} MSE, prior error s={level:g}")
    save_figure(fig, workdir / "baseline_mse.png")

    lines = [
        "# Baselines for sparse rollouts: MSE by group size and prior error",
        "",
        (f"{config.num_prompts} prompts, pass rates p ~ U({config.p_low}, {config.p_high}); prior "
        f"v = clip(p + s·ε); meter: {config.meter_draws} draws per cell. Figures are MSE summed over "
        "prompts (± one standard error). Lower is better; bold marks the best non-oracle baseline "
        "(`prior` is shown for reference)."),
        "",
    ]
    for metric, title in (("grad_mse", "Policy-gradient MSE vs the exact p(1-p)"),
                          ("baseline_mse", "Baseline MSE vs the true pass rate p")):
        lines += [f"## {title}", "", "| s | G | " + " | ".join(BASELINES) + " |",
                  "|---|---|" + "---|" * len(BASELINES)]
        for level in levels:
            for g in groups:
                vals = {n: rec[f"{metric}/G{g}/s{level:g}/{n}"] for n in BASELINES}
                best = min((n for n in BASELINES if n != "prior"), key=vals.get)
                cells = []
                for n in BASELINES:
                    cell = f"{vals[n]:.3g} ± {rec[f'{metric}_se/G{g}/s{level:g}/{n}']:.1g}"
                    cells.append(f"**{cell}**" if n == best else cell)
                lines.append(f"| {level:g} | {g} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["![MSE by group size](baseline_mse.png)", ""]
    return "\n".join(lines)
