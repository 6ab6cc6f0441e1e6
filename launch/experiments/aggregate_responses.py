"""Javanmard et al. 2024 in miniature: risk of the interpolating estimator vs rho and bag size.

A measurement, not a training run (``measure``, run once by launch/measure.py). Linear regression y = xᵀθ₀ + ε with x ~ N(0, I_d), ‖θ₀‖² = ``signal``, ε ~ N(0, σ²),
in the proportional regime (n / d fixed); n samples are split into random bags of size k
and only bag means are revealed. For each bag size k and each ρ the bias–variance meter
measures the closed-form interpolating estimator θ̂_ρ (`aggregate_linear_regression`)
against θ₀ over fresh data draws: its MSE ‖θ̂_ρ − θ₀‖² is the excess prediction risk for
isotropic x. ρ = 0 is the bag-level loss, ρ = 1 the instance-level loss. With label DP
the bag means are released through `laplace_bag_means` (clip C, budget ε), and the risk
is measured against k to find the best bag size.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.counterfactual import aggregate_linear_regression, laplace_bag_means
from bvjax.data import sample_aggregate_regression
from bvjax.diagnostics import bias_variance
from launch.report import errorbars, label_axes, plt, save_figure


def _theta(config):
    direction = jax.random.normal(jax.random.key(config.seed), (config.dim,))
    return jnp.sqrt(config.signal) * direction / jnp.linalg.norm(direction)


def _estimator(config, theta, k, private):
    """key -> {rho: theta_hat_rho}: every rho on the same data draw (one meter per bag size)."""
    def estimate(key):
        kd, kn = jax.random.split(key)
        d = sample_aggregate_regression(kd, theta, num_samples=config.num_samples, bag_size=k,
                                        noise_std=config.noise_std)
        labels = d.bag_labels
        if private:
            labels = laplace_bag_means(kn, d.responses, d.bag_ids, num_bags=config.num_samples // k,
                                       clip=config.dp_clip, epsilon=config.dp_epsilon)
        return {f"rho{rho:g}": aggregate_linear_regression(d.x, labels, d.bag_ids, rho=rho, ridge=config.ridge)
                for rho in config.rhos}
    return estimate


# Each cell's meter is its own jitted call, and measure runs eagerly (see launch/experiments:
# one XLA:CPU program holding every cell's batched linear solves hung at execution).
_meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws"))


def measure(config, key):
    theta = _theta(config)
    reference = {f"rho{rho:g}": theta for rho in config.rhos}
    metrics = {}
    for private in (False, True):
        for ki, k in enumerate(config.bag_sizes):
            r = _meter(_estimator(config, theta, k, private), reference,
                       jax.random.fold_in(key, int(private) * 100 + ki), num_draws=config.meter_draws)
            for rho in config.rhos:
                leaf = r.per_leaf[f"rho{rho:g}"]
                tag = f"{'dp' if private else 'plain'}/k{k}/rho{rho:g}"
                metrics.update({f"risk/{tag}": leaf.mse, f"risk_se/{tag}": leaf.mse_stderr,
                                f"bias_squared/{tag}": leaf.bias_squared, f"variance/{tag}": leaf.variance})
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('risk/') for k in record)} settings measured"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    rhos, ks = list(config.rhos), list(config.bag_sizes)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, private in zip(axes, ("plain", "dp")):
        for k in ks:
            v = np.array([rec[f"risk/{private}/k{k}/rho{r:g}"] for r in rhos])
            se = np.array([rec[f"risk_se/{private}/k{k}/rho{r:g}"] for r in rhos])
            errorbars(ax, rhos, v, se, label=f"k={k}")
        title = "no privacy" if private == "plain" else f"label DP, ε={config.dp_epsilon:g}, C={config.dp_clip:g}"
        label_axes(ax, yscale="log", xlabel="ρ (0: bag-level loss, 1: instance-level loss)",
                   ylabel="risk ‖θ̂ − θ₀‖²", title=title)
    save_figure(fig, workdir / "aggregate_responses.png")
    lines = [
        "# Aggregate responses: risk of the interpolating estimator vs ρ and bag size",
        "",
        (f"n = {config.num_samples}, d = {config.dim} (n/d = {config.num_samples / config.dim:g}), "
         f"‖θ₀‖² = {config.signal:g}, σ = {config.noise_std:g}, ridge {config.ridge:g}; meter: "
         f"{config.meter_draws} data draws per cell; risk = E‖θ̂_ρ − θ₀‖² (± SE). DP: responses clipped to "
         f"[−{config.dp_clip:g}, {config.dp_clip:g}], Laplace(2C/(kε)) on each bag mean, ε = {config.dp_epsilon:g}."),
        "",
    ]
    for private in ("plain", "dp"):
        lines += [f"## {'No privacy' if private == 'plain' else 'Label DP'}", "",
                  "| k | " + " | ".join(f"ρ={r:g}" for r in rhos) + " | best ρ |",
                  "|---|" + "---|" * (len(rhos) + 1)]
        for k in ks:
            vals = [rec[f"risk/{private}/k{k}/rho{r:g}"] for r in rhos]
            ses = [rec[f"risk_se/{private}/k{k}/rho{r:g}"] for r in rhos]
            cells = [f"{v:.3g} ± {s:.1g}" for v, s in zip(vals, ses)]
            lines.append(f"| {k} | " + " | ".join(cells) + f" | {rhos[int(np.argmin(vals))]:g} |")
        best_k = min(ks, key=lambda k: min(rec[f"risk/{private}/k{k}/rho{r:g}"] for r in rhos))
        lines += ["", f"Lowest risk over the grid at k = {best_k}.", ""]
    lines += ["![risk curves](aggregate_responses.png)", ""]
    return "\n".join(lines)
