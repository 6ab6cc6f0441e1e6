"""Madaan et al. 2024 in miniature: seed variance, bootstrap CIs, monotonicity and item selection on a synthetic benchmark.

A measurement, not a training run (``measure``, run once by launch/measure.py, one
jitted program). The benchmark is generated from a 2PL IRT model: N items with discrimination
a_j (log-normal; for each share in ``noisy_fractions`` a benchmark where that fraction of
items is "broken" with a near-zero a_j, e.g. mislabelled or ambiguous) and difficulty b_j. Two training configurations A and B
(B better by ``gap`` in final ability) are each "pretrained" with K seeds and
evaluated at T checkpoints; seed s of configuration c at checkpoint t has ability

    theta = start + (final_c - start) * log1p(t) / log1p(T - 1) + u_{c,s} + e_{c,s,t},

with a seed offset u ~ N(0, seed_std^2) and checkpoint jitter e ~ N(0, ckpt_std^2), and
each seed knows a different set of facts: logit P(correct) = a_j (theta - b_j) +
eta_{c,s,j}, eta ~ N(0, item_std^2) fixed per seed. The discrete score is the accuracy
of Bernoulli responses; the continuous score is the mean probability of the correct
answer (the paper's "continuous metric"). Item analysis is done on a separate reference
population of ``num_ref_models`` models with abilities N(0, 1): the point-biserial
item-total discrimination (`item_discrimination`) and the 2PL fit's a (`fit_irt2pl`)
each select the top fraction of items, against a random selection of the same size.

Per replication (``num_replications`` independent benchmarks and training runs):
seed std at the final checkpoint, width of the percentile bootstrap 95% CI
(`bootstrap_score_ci`) and of the normal CI (`normal_score_ci`) of one seed's score,
monotonicity (`monotonicity`, Kendall tau-b of score vs checkpoint averaged over seeds),
and for each kept fraction and selector the seed-std-to-gap ratio
sqrt((s_A^2 + s_B^2)/2) / |mean_B - mean_A| (lower: the gap stands out of the seed noise).
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.stats import (
    bootstrap_indices,
    bootstrap_score_ci,
    fit_irt2pl,
    item_discrimination,
    monotonicity,
    normal_score_ci,
    seed_stats,
)
from launch.report import plt, save_figure

SELECTORS = ("point_biserial", "irt_a", "random")


def _items(config, key, noisy_fraction):
    ka, kb, kn = jax.random.split(key, 3)
    n = config.num_items
    a = jnp.exp(config.log_a_std * jax.random.normal(ka, (n,)))
    a = jnp.where(jax.random.uniform(kn, (n,)) < noisy_fraction, config.noisy_a, a)
    b = config.b_std * jax.random.normal(kb, (n,))
    return a, b


def _abilities(config, key):
    """[2, K, T] abilities of configurations A and B."""
    ku, ke = jax.random.split(key)
    k, t = config.num_seeds, config.num_checkpoints
    final = jnp.array([config.final_ability, config.final_ability + config.gap])
    curve = jnp.log1p(jnp.arange(t)) / jnp.log1p(t - 1.0)
    seed = config.seed_std * jax.random.normal(ku, (2, k, 1))
    jitter = config.ckpt_std * jax.random.normal(ke, (2, k, t))
    start = config.start_ability
    return start + (final[:, None, None] - start) * curve + seed + jitter


def simulate(config, key, noisy_fraction):
    """One replication: item parameters, per-item correctness and probabilities, reference responses."""
    k_items, k_ab, k_eta, k_resp, k_ref, k_ref_resp = jax.random.split(key, 6)
    a, b = _items(config, k_items, noisy_fraction)
    theta = _abilities(config, k_ab)                                               # [2, K, T]
    eta = config.item_std * jax.random.normal(k_eta, (2, config.num_seeds, 1, config.num_items))
    logits = a * (theta[..., None] - b) + eta                                      # [2, K, T, N]
    prob = jax.nn.sigmoid(logits)
    correct = (jax.random.uniform(k_resp, prob.shape) < prob).astype(jnp.float32)
    ref_theta = jax.random.normal(k_ref, (config.num_ref_models,))
    ref_prob = jax.nn.sigmoid(a * (ref_theta[:, None] - b))
    ref = (jax.random.uniform(k_ref_resp, ref_prob.shape) < ref_prob).astype(jnp.float32)
    return {"a": a, "b": b, "theta": theta, "correct": correct, "prob": prob, "ref": ref}


def _ratio(final):
    """sqrt((s_A^2 + s_B^2) / 2) / |mean_B - mean_A| from [2, K] final scores, and its pieces."""
    mean, std = seed_stats(final.T)                    # over seeds: [2] each
    pooled = jnp.sqrt(jnp.mean(std**2))
    gap = jnp.abs(mean[1] - mean[0])
    return pooled / jnp.maximum(gap, 1e-12), pooled, gap


def _replication(config, key, noisy_fraction):
    sim = simulate(config, key, noisy_fraction)
    correct, prob = sim["correct"], sim["prob"]
    disc_scores = correct.mean(-1)                     # [2, K, T]
    cont_scores = prob.mean(-1)
    final = correct[:, :, -1, :]                       # [2, K, N]
    out = {}
    idx = bootstrap_indices(jax.random.fold_in(key, 1), num_items=config.num_items,
                            num_resamples=config.num_resamples)
    ci = bootstrap_score_ci(final[0], idx)
    lo, hi = normal_score_ci(final[0])
    ratio, pooled, gap = _ratio(disc_scores[:, :, -1])
    out.update({"seed_std": pooled, "gap": gap, "ratio/full": ratio,
                "boot_ci_width": jnp.mean(ci.ci[1] - ci.ci[0]), "normal_ci_width": jnp.mean(hi - lo),
                "boot_se": jnp.mean(ci.standard_error),
                "mono/discrete": monotonicity(disc_scores[0]), "mono/continuous": monotonicity(cont_scores[0]),
                "cont_ratio/full": _ratio(cont_scores[:, :, -1])[0]})
    disc = item_discrimination(sim["ref"])
    fit = fit_irt2pl(sim["ref"], num_steps=config.irt_steps, learning_rate=config.irt_lr)
    informative = sim["a"] > config.noisy_a
    out["irt_a_corr"] = jnp.corrcoef(jnp.log(fit.a), jnp.log(sim["a"]))[0, 1]
    rand = jax.random.uniform(jax.random.fold_in(key, 2), (config.num_items,))
    scores_by = {"point_biserial": disc, "irt_a": fit.a, "random": rand}
    for frac in config.keep_fractions:
        keep = max(round(frac * config.num_items), 2)
        for name in SELECTORS:
            top = jnp.argsort(-scores_by[name])[:keep]
            sub = correct[..., top].mean(-1)
            r, s, g = _ratio(sub[:, :, -1])
            tag = f"{name}/keep{frac:g}"
            out.update({f"ratio/{tag}": r, f"seed_std/{tag}": s, f"gap/{tag}": g,
                        f"mono/{tag}": monotonicity(sub[0]),
                        f"informative/{tag}": jnp.mean(informative[top].astype(jnp.float32))})
    return out


def _measure(config, key):
    keys = jax.random.split(key, config.num_replications)
    metrics = {}
    for nf in config.noisy_fractions:  # the same keys: paired benchmarks with and without broken items
        per = jax.lax.map(lambda k, nf=nf: _replication(config, k, nf), keys)
        for name, v in per.items():
            metrics[f"nf{nf:g}/{name}"] = jnp.mean(v)
            metrics[f"nf{nf:g}/{name}_se"] = jnp.std(v, ddof=1) / jnp.sqrt(v.shape[0])
        # A ratio of means is steadier than the mean of per-replication ratios (the gap can be small).
        for name in [n for n in per if n.startswith("ratio/")]:
            tail = name[len("ratio/"):]
            std, gap = ("seed_std", "gap") if tail == "full" else (f"seed_std/{tail}", f"gap/{tail}")
            metrics[f"nf{nf:g}/ratio_of_means/{tail}"] = jnp.mean(per[std]) / jnp.mean(per[gap])
    return metrics


def measure(config, key):
    """The figures of every cell, as one jitted program (config fields are static)."""
    return jax.jit(functools.partial(_measure, config))(key)


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.endswith('ratio/full') for k in record)} settings measured"


def _table(config, rec, nf):
    def pm(key, fmt=".3g"):
        return f"{rec[key]:{fmt}} ± {rec[key + '_se']:.1g}"

    p = f"nf{nf:g}/"
    lines = [
        f"## {nf:.0%} broken items",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| seed std of the final accuracy (pooled A, B) | {pm(p + 'seed_std', '.4f')} |",
        f"| 95% bootstrap CI width of one seed's accuracy | {pm(p + 'boot_ci_width', '.4f')} |",
        f"| 95% normal CI width | {pm(p + 'normal_ci_width', '.4f')} |",
        f"| seed std / (bootstrap CI width / 2) | {rec[p + 'seed_std'] / (rec[p + 'boot_ci_width'] / 2):.3f} |",
        f"| gap A vs B (final accuracy) | {pm(p + 'gap', '.4f')} |",
        (f"| seed std / gap, discrete: ratio of means; mean of ratios | {rec[p + 'ratio_of_means/full']:.3f}; "
        f"{pm(p + 'ratio/full')} |"),
        f"| seed std / gap, continuous: mean of ratios | {pm(p + 'cont_ratio/full')} |",
        f"| monotonicity (Kendall tau-b), discrete | {pm(p + 'mono/discrete')} |",
        f"| monotonicity, continuous | {pm(p + 'mono/continuous')} |",
        f"| corr(log fitted a, log true a), 2PL on the reference models | {pm(p + 'irt_a_corr')} |",
        "",
        "Item selection: seed std / gap (ratio of means) / monotonicity / fraction of informative items kept",
        "",
        "| kept | " + " | ".join(SELECTORS) + " |",
        "|---|" + "---|" * len(SELECTORS),
    ]
    for f in config.keep_fractions:
        cells = [f"{rec[f'{p}ratio_of_means/{s}/keep{f:g}']:.3f} / {rec[f'{p}mono/{s}/keep{f:g}']:.3f} / "
                 f"{rec[f'{p}informative/{s}/keep{f:g}']:.2f}" for s in SELECTORS]
        lines.append(f"| {f:g} | " + " | ".join(cells) + " |")
    return lines + [""]


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    nf_plot = max(config.noisy_fractions)
    sim = jax.device_get(simulate(config, jax.random.key(config.seed), nf_plot))
    disc, cont = sim["correct"].mean(-1), sim["prob"].mean(-1)
    fracs = list(config.keep_fractions)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    steps = np.arange(config.num_checkpoints)
    for ax, scores, title in ((axes[0], disc, "discrete (accuracy)"), (axes[1], cont, "continuous (P(correct))")):
        for c, colour in ((0, "tab:blue"), (1, "tab:orange")):
            for s in range(config.num_seeds):
                ax.plot(steps, scores[c, s], color=colour, alpha=0.5, lw=1,
                        label=f"config {'AB'[c]}" if s == 0 else None)
        ax.set_xlabel("checkpoint")
        ax.set_ylabel("benchmark score")
        ax.set_title(f"{title}, {config.num_seeds} seeds each")
        ax.legend(fontsize=8)
    for nf, ls in zip(config.noisy_fractions, ("-", "--", ":")):
        for name, colour in zip(SELECTORS, ("tab:green", "tab:purple", "tab:gray")):
            vals = [rec[f"nf{nf:g}/ratio_of_means/{name}/keep{f:g}"] for f in fracs]
            axes[2].plot(fracs, vals, marker="o", ls=ls, color=colour, label=f"{name}, {nf:.0%} broken")
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("fraction of items kept")
    axes[2].set_ylabel("seed std / gap (A vs B)")
    axes[2].set_title("item selection by discrimination")
    axes[2].legend(fontsize=7)
    save_figure(fig, workdir / "benchmark_variance.png")
    lines = [
        "# Benchmark variance (Madaan et al. 2024) on a synthetic 2PL benchmark",
        "",
        (f"N = {config.num_items} items (broken items have a = {config.noisy_a:g}), K = {config.num_seeds} seeds x "
         f"T = {config.num_checkpoints} checkpoints for configurations A and B (ability {config.start_ability:g} → "
         f"{config.final_ability:g} vs {config.final_ability + config.gap:g}); seed offset sd {config.seed_std:g}, "
         f"checkpoint jitter sd {config.ckpt_std:g}, per-seed item knowledge sd {config.item_std:g}; item analysis "
         f"on {config.num_ref_models} reference models; {config.num_replications} replications (mean ± SE); "
         f"bootstrap with {config.num_resamples} resamples."),
        "",
    ]
    for nf in config.noisy_fractions:
        lines += _table(config, rec, nf)
    lines += ["![scores and item selection](benchmark_variance.png)", ""]
    return "\n".join(lines)
