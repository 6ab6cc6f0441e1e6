"""Distiller's MI-α in miniature: bias and variance of the MI estimate vs α on Gaussians with known MI.

A measurement, not a training run (``measure``, run once by launch/measure.py). For each setting (d, ρ) the pairs are x ~ N(0, I_d), y = ρx + √(1−ρ²)ε, whose
mutual information is known: I = −(d/2) log(1 − ρ²). Each draw is a minibatch of K pairs
scored by the optimal critic f(x, y) = log p(y|x) − log p(y) (the critic the bounds are
tight at, so what is measured is the estimator, not critic learning), with baseline
q ≡ 1. `bvjax.distill.mi_alpha_bound` turns the [K, K] score matrix into
the MI-α estimate for every α on the same batch, and the bias–variance meter
(`bvjax.diagnostics.bias_variance`) measures bias², variance and MSE of each α against
the true MI over ``meter_draws`` independent batches. α = 0 is the TUBA/NWJ end
(unbiased with this critic, high variance), α = 1 the (held-out) InfoNCE end (capped at
log(K − 1), low variance); Distiller states that larger α lowers variance and raises bias.
With ``learned_steps > 0`` a second part trains, for each α, Poole et al.'s concat MLP
critic (with a constant learned baseline log q) by maximising I_α itself, and measures
the trained estimator the same way: there the bias also includes the critic's gap.
"""

from __future__ import annotations

import functools
import math
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.diagnostics import bias_variance
from bvjax.distill import mi_alpha_bound
from launch.report import plt, pm, save_figure


def true_mi(dim: int, rho: float) -> float:
    return -0.5 * dim * math.log(1.0 - rho**2)


def gaussian_scores(key, batch, dim, rho):
    """[K, K] optimal-critic scores, rows y_i, columns x_j (positives on the diagonal)."""
    kx, ke = jax.random.split(key)
    x = jax.random.normal(kx, (batch, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * jax.random.normal(ke, (batch, dim))
    var = 1.0 - rho**2
    d2 = jnp.sum((y[:, None, :] - rho * x[None, :, :]) ** 2, axis=-1)
    return -0.5 * d2 / var - 0.5 * dim * math.log(var) + 0.5 * jnp.sum(y**2, axis=-1)[:, None]


def _gaussian_pairs(key, batch, dim, rho):
    kx, ke = jax.random.split(key)
    x = jax.random.normal(kx, (batch, dim))
    return x, rho * x + jnp.sqrt(1.0 - rho**2) * jax.random.normal(ke, (batch, dim))


def _init_critic(key, dim, hidden):
    k1, k2, k3 = jax.random.split(key, 3)
    return {"w1": jax.random.normal(k1, (2 * dim, hidden)) / math.sqrt(2 * dim), "b1": jnp.zeros(hidden),
            "w2": jax.random.normal(k2, (hidden, hidden)) / math.sqrt(hidden), "b2": jnp.zeros(hidden),
            "w3": jax.random.normal(k3, (hidden,)) / math.sqrt(hidden), "log_q": jnp.float32(0.0)}


def critic_scores(params, x, y):
    """Poole et al.'s concat critic: an MLP on [y_i, x_j] for every pair (rows y_i, columns x_j)."""
    k = x.shape[0]
    pairs = jnp.concatenate([jnp.broadcast_to(y[:, None, :], (k, k, y.shape[1])),
                             jnp.broadcast_to(x[None, :, :], (k, k, x.shape[1]))], axis=-1)
    h = jax.nn.relu(pairs @ params["w1"] + params["b1"])
    h = jax.nn.relu(h @ params["w2"] + params["b2"])
    return h @ params["w3"]


def _learned_bound(params, x, y, alpha):
    s = critic_scores(params, x, y)
    return mi_alpha_bound(s, jnp.full((x.shape[0],), params["log_q"]), alpha=alpha)


@functools.partial(jax.jit, static_argnames=("batch", "dim", "steps", "hidden"))
def train_critic(key, alpha, rho, *, batch, dim, steps, hidden, learning_rate=1e-3):
    """Trains the concat critic (and a constant baseline log q) by maximising I_alpha itself."""
    opt = optax.adam(learning_rate)
    params = _init_critic(jax.random.fold_in(key, 0), dim, hidden)

    def step(carry, k):
        p, s = carry
        x, y = _gaussian_pairs(k, batch, dim, rho)
        g = jax.grad(lambda p: -_learned_bound(p, x, y, alpha))(p)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    return params


def _tag(alpha: float) -> str:
    return f"a{alpha:g}"


def _estimator(config, dim, rho):
    def estimate(key):
        s = gaussian_scores(key, config.batch_pairs, dim, rho)
        return {_tag(a): mi_alpha_bound(s, alpha=a) for a in config.alphas}
    return estimate


# Each setting's meter is its own jitted program; measure runs eagerly.
_meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws"))
_chunked_meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws", "chunk_size"))


def _meter_metrics(r, leaf_name, t):
    """One estimator's meter figures, keyed ``<figure>/<t>``."""
    leaf = r.per_leaf[leaf_name]
    return {f"mean/{t}": r.mean[leaf_name], f"bias_squared/{t}": leaf.bias_squared,
            f"bias_squared_se/{t}": leaf.bias_squared_stderr, f"variance/{t}": leaf.variance,
            f"variance_se/{t}": leaf.variance_stderr, f"mse/{t}": leaf.mse, f"mse_se/{t}": leaf.mse_stderr}


def measure(config, key):
    metrics = {}
    for si, (dim, rho) in enumerate(config.settings):
        mi = true_mi(dim, rho)
        reference = {_tag(a): jnp.float32(mi) for a in config.alphas}
        r = _meter(_estimator(config, dim, rho), reference, jax.random.fold_in(key, si), num_draws=config.meter_draws)
        for a in config.alphas:
            metrics.update(_meter_metrics(r, _tag(a), f"s{si}/{_tag(a)}"))
        metrics[f"true_mi/s{si}"] = jnp.float32(mi)
    if config.learned_steps:
        dim, rho = config.learned_setting
        mi = true_mi(dim, rho)
        critics = {_tag(a): train_critic(jax.random.fold_in(key, 100 + ai), jnp.float32(a), jnp.float32(rho),
                                         batch=config.batch_pairs, dim=dim, steps=config.learned_steps,
                                         hidden=config.critic_hidden)
                   for ai, a in enumerate(config.alphas)}

        def estimate(k):  # every alpha's trained critic on the same fresh batch
            x, y = _gaussian_pairs(k, config.batch_pairs, dim, rho)
            return {_tag(a): _learned_bound(critics[_tag(a)], x, y, a) for a in config.alphas}

        reference = {_tag(a): jnp.float32(mi) for a in config.alphas}
        # The MLP critic on K^2 pairs is memory-hungry: vmap 32 draws at a time, not 1,024.
        r = _chunked_meter(estimate, reference, jax.random.fold_in(key, 200), num_draws=config.learned_draws,
                           chunk_size=32)
        for a in config.alphas:
            metrics.update(_meter_metrics(r, _tag(a), f"learned/{_tag(a)}"))
        metrics["true_mi/learned"] = jnp.float32(mi)
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('mse/') for k in record)} (setting, α) cells measured"


def _trend(values):
    d = np.diff(values)
    if np.all(d <= 0):
        return "falls monotonically"
    if np.all(d >= 0):
        return "grows monotonically"
    return "is not monotone"


def _alpha_rows(rec, alphas, t, mi) -> list[str]:
    """One table row per α: mean estimate, signed bias, bias², variance and MSE (± SE)."""
    return [f"| {a:g} | {rec[f'mean/{t(a)}']:.3f} | {rec[f'mean/{t(a)}'] - mi:+.3f} | "
            f"{pm(rec[f'bias_squared/{t(a)}'], rec[f'bias_squared_se/{t(a)}'], '.3g', '.1g')} | "
            f"{pm(rec[f'variance/{t(a)}'], rec[f'variance_se/{t(a)}'], '.3g', '.1g')} | "
            f"{pm(rec[f'mse/{t(a)}'], rec[f'mse_se/{t(a)}'], '.3g', '.1g')} |" for a in alphas]


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    alphas = list(config.alphas)
    k = config.batch_pairs
    fig, axes = plt.subplots(1, len(config.settings), figsize=(6 * len(config.settings), 4.2), squeeze=False)
    lines = [
        "# MI-α: bias and variance of the MI estimate vs α (correlated Gaussians, optimal critic)",
        "",
        (f"K = {k} pairs per batch (log(K−1) = {math.log(k - 1):.2f}), critic f = log p(y|x) − log p(y), q ≡ 1; "
         f"meter: {config.meter_draws} independent batches per setting; ± is one standard error."),
        "",
    ]
    xs = np.arange(len(alphas))
    for si, (dim, rho) in enumerate(config.settings):
        t = lambda a, si=si: f"s{si}/{_tag(a)}"
        mi = float(rec[f"true_mi/s{si}"])
        var = np.array([rec[f"variance/{t(a)}"] for a in alphas])
        var_se = np.array([rec[f"variance_se/{t(a)}"] for a in alphas])
        b2 = np.array([rec[f"bias_squared/{t(a)}"] for a in alphas])
        b2_se = np.array([rec[f"bias_squared_se/{t(a)}"] for a in alphas])
        ax = axes[0, si]
        ax.errorbar(xs, var, yerr=2 * var_se, marker="o", capsize=3, label="variance")
        ax.errorbar(xs, np.maximum(b2, 1e-6), yerr=2 * b2_se, marker="s", capsize=3, label="bias²")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"{a:g}" for a in alphas])
        ax.set_xlabel("α (0: NWJ/TUBA end, 1: InfoNCE end)")
        ax.set_title(f"d = {dim}, ρ = {rho:g}, true MI = {mi:.2f} nats")
        ax.legend(fontsize=8)
        lines += [f"## d = {dim}, ρ = {rho:g}: true MI = {mi:.3f} nats", "",
                  "| α | mean estimate | bias | bias² | variance | MSE |", "|---|---|---|---|---|---|"]
        lines += _alpha_rows(rec, alphas, t, mi)
        best = alphas[int(np.argmin([rec[f"mse/{t(a)}"] for a in alphas]))]
        bias = np.array([rec[f"mean/{t(a)}"] for a in alphas]) - mi
        lines += ["", (f"Variance {_trend(var)} in α; the signed bias {_trend(bias)} in α (more negative: "
                       f"a larger downward bias); lowest MSE at α = {best:g}."), ""]
    if config.learned_steps:
        dim, rho = config.learned_setting
        mi = float(rec["true_mi/learned"])
        t = lambda a: f"learned/{_tag(a)}"
        lines += [(f"## Learned critic (concat MLP, {config.critic_hidden} hidden, constant log q), d = {dim}, "
                   f"ρ = {rho:g}: true MI = {mi:.3f} nats"), "",
                  (f"One critic per α, trained {config.learned_steps} Adam steps by maximising I_α itself; "
                   f"then the meter over {config.learned_draws} fresh batches."), "",
                  "| α | mean estimate | bias | bias² | variance | MSE |", "|---|---|---|---|---|---|"]
        lines += _alpha_rows(rec, alphas, t, mi)
        var = np.array([rec[f"variance/{t(a)}"] for a in alphas])
        bias = np.array([rec[f"mean/{t(a)}"] for a in alphas]) - mi
        best = alphas[int(np.argmin([rec[f"mse/{t(a)}"] for a in alphas]))]
        lines += ["", (f"Variance {_trend(var)} in α; the signed bias {_trend(bias)} in α; lowest MSE at "
                       f"α = {best:g}."), ""]
    save_figure(fig, workdir / "mi_alpha.png")
    lines += ["![bias and variance vs alpha](mi_alpha.png)", ""]
    return "\n".join(lines)
