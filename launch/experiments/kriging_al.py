"""Tian et al. 2021 in miniature: Kriging active learning, error vs number of experiments per utility.

A measurement, not a training run (``measure``, run once by launch/measure.py). Two pool-based problems: the 1-D Forrester curve on a grid of ``curve_pool``
points, and the Hartmann-3 surface on ``hartmann_pool`` uniform points in [0, 1]³
(maximising −f, i.e. hunting its minimum). Responses are standardised over the pool (mean
0, std 1), so the error is a normalised RMSE and the noise level a fraction of the
function's spread. For every seed a random initial design of ``n0`` points is drawn,
then each utility (`kriging_active_learning`: maximum variance, EI, KG, UCB, random)
chooses the next experiments one at a time; the ordinary-kriging surrogate (RBF kernel,
signal variance 1, the true noise variance plus a 1e-4 jitter) refits its lengthscale
at every step by maximum marginal likelihood over a grid. The error is the RMSE of the
posterior mean over the whole pool against the noiseless truth, averaged over seeds.
"""

from __future__ import annotations

import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.selection import forrester_curve, hartmann3, kriging_active_learning
from launch.report import label_axes, mean_se, plt, save_figure

PROBLEMS = ("forrester", "hartmann3")
LABELS = {"max_variance": "MV", "expected_improvement": "EI", "knowledge_gradient": "KG", "ucb": "UCB",
          "random": "random", "exploit": "exploit"}


def _problem(config, name):
    """(pool [M, D], standardised truth [M], n0, steps)."""
    if name == "forrester":
        x = jnp.linspace(0.0, 1.0, config.curve_pool)[:, None]
        f = forrester_curve(x)
        n0, steps = config.curve_n0, config.curve_steps
    else:
        x = jax.random.uniform(jax.random.key(config.seed + 1000), (config.hartmann_pool, 3))
        f = -hartmann3(x)
        n0, steps = config.hartmann_n0, config.hartmann_steps
    return x, (f - jnp.mean(f)) / jnp.std(f), n0, steps


class _Settings(NamedTuple):
    """The hashable part of the config one cell needs (a static jit argument)."""

    kernel: str
    xi: float
    kappa: float
    kg_method: str
    jitter: float
    lengthscale_min: float
    lengthscale_max: float
    lengthscale_grid: int
    num_seeds: int


def _settings(config) -> _Settings:
    return _Settings(*(config[f] for f in _Settings._fields))


def _cell(config: _Settings, x, truth, n0, steps, noise_frac, utility, key):
    """Normalised RMSE curves [S, steps + 1] over seeds for one (problem, noise, utility)."""
    grid = jnp.geomspace(config.lengthscale_min, config.lengthscale_max, config.lengthscale_grid)
    model_noise = noise_frac**2 + config.jitter

    def one(k):
        k_init, k_noise, k_al = jax.random.split(k, 3)
        init = jax.random.choice(k_init, x.shape[0], (n0,), replace=False)
        y = truth + noise_frac * jax.random.normal(k_noise, truth.shape)
        tr = kriging_active_learning(k_al, x, y, init, num_steps=steps, utility=utility, kernel=config.kernel,
                                     signal_variance=1.0, noise=model_noise, mean="ordinary", xi=config.xi,
                                     kappa=config.kappa, kg_method=config.kg_method, lengthscale_grid=grid)
        return jnp.sqrt(jnp.mean((tr.means - truth[None]) ** 2, axis=1))

    # Seeds share their key across utilities: the same initial designs and noise draws.
    return jax.vmap(one)(jax.random.split(key, config.num_seeds))


# Each cell is its own jitted call; measure runs eagerly (see launch/experiments).
_cell_jit = jax.jit(_cell, static_argnums=(0, 3, 4, 5, 6))


def measure(config, key):
    metrics = {}
    for pi, name in enumerate(PROBLEMS):
        x, truth, n0, steps = _problem(config, name)
        for noise_frac in config.noise_fracs:
            cell_key = jax.random.fold_in(key, pi)  # same designs for every utility and noise level
            for utility in config.utilities:
                err = np.asarray(_cell_jit(_settings(config), x, truth, n0, steps, float(noise_frac), utility, cell_key))
                mean, se = mean_se(err)
                tag = f"{name}/noise{noise_frac:g}/{utility}"
                for t in range(steps + 1):
                    metrics[f"nrmse/{tag}/n{n0 + t}"] = mean[t]
                    metrics[f"nrmse_se/{tag}/n{n0 + t}"] = se[t]
                metrics[f"auc/{tag}"] = mean.mean()
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('auc/') for k in record)} cells measured"


def _curve(rec, tag, ns):
    return (np.array([rec[f"nrmse/{tag}/n{n}"] for n in ns]), np.array([rec[f"nrmse_se/{tag}/n{n}"] for n in ns]))


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    sizes = {"forrester": (config.curve_n0, config.curve_steps),
             "hartmann3": (config.hartmann_n0, config.hartmann_steps)}
    fig, axes = plt.subplots(len(config.noise_fracs), 2, figsize=(12, 4 * len(config.noise_fracs)), squeeze=False)
    for col, name in enumerate(PROBLEMS):
        n0, steps = sizes[name]
        ns = list(range(n0, n0 + steps + 1))
        for row, noise in enumerate(config.noise_fracs):
            ax = axes[row, col]
            for utility in config.utilities:
                m, se = _curve(rec, f"{name}/noise{noise:g}/{utility}", ns)
                ax.plot(ns, m, label=LABELS[utility])
                ax.fill_between(ns, m - se, m + se, alpha=0.2)
            label_axes(ax, yscale="log", xlabel="number of experiments", ylabel="normalised RMSE of the posterior mean",
                       title=f"{name}, noise sd {noise:g} (x function std)")
    save_figure(fig, workdir / "kriging_al.png")
    lines = [
        "# Kriging active learning: error vs number of experiments per utility",
        "",
        (f"{config.num_seeds} seeds (random initial designs); ordinary kriging, {config.kernel} kernel, lengthscale by "
         f"max marginal likelihood over {config.lengthscale_grid} values in [{config.lengthscale_min:g}, "
         f"{config.lengthscale_max:g}]; KG by {config.kg_method}; EI ξ = {config.xi:g}; UCB κ = {config.kappa:g}. "
         "Normalised RMSE (± SE over seeds) of the posterior mean over the pool vs the noiseless truth; 'mean' is the "
         "average over the whole curve (lower is better)."),
        "",
    ]
    for name in PROBLEMS:
        n0, steps = sizes[name]
        marks = sorted({n0 + steps // 4, n0 + steps // 2, n0 + steps})
        for noise in config.noise_fracs:
            lines += [f"## {name}, noise {noise:g}", "",
                      "| utility | " + " | ".join(f"n = {n}" for n in marks) + " | mean |",
                      "|---|" + "---|" * (len(marks) + 1)]
            best = {}
            for utility in config.utilities:
                tag = f"{name}/noise{noise:g}/{utility}"
                cells = [f"{rec[f'nrmse/{tag}/n{n}']:.3g} ± {rec[f'nrmse_se/{tag}/n{n}']:.1g}" for n in marks]
                best[utility] = rec[f"auc/{tag}"]
                lines.append(f"| {LABELS[utility]} | " + " | ".join(cells) + f" | {best[utility]:.3g} |")
            winner = min(best, key=best.get)
            final = min(config.utilities, key=lambda u: rec[f"nrmse/{name}/noise{noise:g}/{u}/n{n0 + steps}"])
            lines += ["", f"Lowest mean error: {LABELS[winner]}; lowest at n = {n0 + steps}: {LABELS[final]}.", ""]
    lines += ["![error curves](kriging_al.png)", ""]
    return "\n".join(lines)
