"""Mean-variance portfolios with sample, Ledoit–Wolf and factor covariances, and their ensembles, out of sample.

A measurement (``measure``, run once by launch/measure.py, eagerly; one jitted cell per seed and
window). Simulated daily returns of ``num_assets`` assets from a factor model
r_t = α + B f_t + ε_t whose loadings and means change at ``regime_change`` (a regime
change the estimators do not know about). Every ``rebalance`` days each strategy
re-estimates from the last ``window`` days and holds its weights until the next date:

* ``<est>_mv``: minimum-variance weights; ``<est>_mean_var``: mean-variance weights with
  risk aversion ``risk_aversion`` (sample means), for est in sample, ledoit_wolf, factor
  (PCA with ``num_factors`` components);
* ``equal``: 1/N; ``oracle_mv``: minimum variance with the true covariance of the
  current regime (a reference, not in the ensembles);
* ensembles over the seven estimated strategies (`combine_strategies`): ``ens_wealth``
  (buy-and-hold over strategies), ``ens_accel`` (wealth^``accel_power``), ``ens_uniform``,
  ``ens_eg``.

All strategies are evaluated on the same out-of-sample days (from the largest window on),
for several windows: T/N small is where shrinkage should beat the sample covariance.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bvjax.finance import (
    combine_strategies,
    cumulative_wealth,
    ledoit_wolf_covariance,
    max_drawdown,
    mean_variance_weights,
    min_variance_weights,
    pca_factor_covariance,
    sample_covariance,
    sharpe_ratio,
)
from launch.report import plt, save_figure

ESTIMATORS = ("sample", "ledoit_wolf", "factor")
BASE = tuple(f"{e}_{k}" for e in ESTIMATORS for k in ("mv", "mean_var")) + ("equal",)
ENSEMBLES = ("ens_wealth", "ens_accel", "ens_uniform", "ens_eg")
ALL = (*BASE, "oracle_mv", *ENSEMBLES)


def _regime(key, config):
    k_b, k_a, k_e = jax.random.split(key, 3)
    n, k = config.num_assets, config.num_factors
    loadings = jax.random.normal(k_b, (k, n)) * 0.5
    loadings = loadings.at[0].add(1.0)                                   # a market factor
    alpha = config.mean_return + config.mean_spread * jax.random.normal(k_a, (n,))
    idio = jax.random.uniform(k_e, (n,), minval=0.5, maxval=1.5) * config.idio_vol
    cov = config.factor_vol**2 * loadings.T @ loadings + jnp.diag(idio**2)
    return alpha, loadings, idio, cov


def _simulate(config, key):
    """(returns [T, N], true covariance per day [T] regime index, the two covariances)."""
    k1, k2, kf, ke = jax.random.split(key, 4)
    regimes = [_regime(k1, config), _regime(k2, config)]
    t = config.num_periods
    which = (jnp.arange(t) >= config.regime_change).astype(jnp.int32)
    f = config.factor_vol * jax.random.normal(kf, (t, config.num_factors))
    e = jax.random.normal(ke, (t, config.num_assets))
    out = []
    for alpha, loadings, idio, _ in regimes:
        out.append(alpha + f @ loadings + e * idio)
    returns = jnp.where(which[:, None] == 0, out[0], out[1])
    return returns, which, jnp.stack([regimes[0][3], regimes[1][3]])


_COV = {"sample": lambda past, k: sample_covariance(past),
        "ledoit_wolf": lambda past, k: ledoit_wolf_covariance(past).covariance,
        "factor": lambda past, k: pca_factor_covariance(past, num_factors=k)}


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _estimated_weights(estimator, window, num_factors, risk_aversion, returns, dates):
    """([D, N] min-variance, [D, N] mean-variance) weights of one covariance estimator at each date."""
    def at(date):
        past = jax.lax.dynamic_slice_in_dim(returns, date - window, window, axis=0)
        cov = _COV[estimator](past, num_factors)
        return min_variance_weights(cov), mean_variance_weights(jnp.mean(past, axis=0), cov,
                                                                risk_aversion=risk_aversion)
    return jax.vmap(at)(dates)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _ensemble_returns(rule, power, rate, stacked, oos):
    res = combine_strategies(stacked, 1.0 + oos, rule=rule, power=power, learning_rate=rate)
    return jnp.sum(res.weights * oos, axis=1)


# XLA:CPU has hung on one program holding every estimator's batched eigh/pinv (see
# launch/experiments): each estimator, the simulation and each ensemble rule is its own jitted call.
_simulate_jit = jax.jit(_simulate, static_argnums=0)


def _cell(config, window, key):
    """Out-of-sample daily returns [S, T_oos] of every strategy, for one seed and one window."""
    returns, which, covs = _simulate_jit(config, key)
    start = max(config.windows)
    dates = jnp.arange(start, config.num_periods, config.rebalance)
    per_date = {}
    for est in ESTIMATORS:
        mv, mean_var = _estimated_weights(est, window, config.num_factors, config.risk_aversion, returns, dates)
        per_date[f"{est}_mv"], per_date[f"{est}_mean_var"] = mv, mean_var
    n = config.num_assets
    per_date["equal"] = jnp.full((dates.shape[0], n), 1.0 / n)
    oracle = np.stack([np.linalg.solve(np.asarray(c, np.float64), np.ones(n)) for c in covs])
    oracle = oracle / oracle.sum(axis=1, keepdims=True)
    per_date["oracle_mv"] = jnp.asarray(oracle[np.asarray(which)[np.asarray(dates)]], jnp.float32)
    oos = returns[start:]
    t_oos = oos.shape[0]
    hold = jnp.minimum(jnp.arange(t_oos) // config.rebalance, dates.shape[0] - 1)
    daily = {name: per_date[name][hold] for name in (*BASE, "oracle_mv")}            # [T_oos, N]
    port = {name: jnp.sum(w * oos, axis=1) for name, w in daily.items()}
    stacked = jnp.stack([daily[name] for name in BASE])                                # [K, T, N]
    for name, rule, power in (("ens_wealth", "wealth", 1.0), ("ens_accel", "wealth", config.accel_power),
                              ("ens_uniform", "uniform", 1.0), ("ens_eg", "exp_gradient", 1.0)):
        port[name] = _ensemble_returns(rule, power, config.eg_rate, stacked, oos)
    return jnp.stack([port[name] for name in ALL])



def measure(config, key):
    frozen = ml_collections.FrozenConfigDict(config)  # hashable: a static argument of the jitted cell
    metrics = {}
    for w in config.windows:
        per_seed = []
        for s in range(config.num_seeds):
            r = _cell(frozen, w, jax.random.fold_in(key, s))
            wealth = np.asarray(cumulative_wealth(r)[:, -1], np.float64)
            per_seed.append({
                "vol": np.sqrt(252) * np.asarray(jnp.std(r, axis=1, ddof=1), np.float64),
                "sharpe": np.asarray(sharpe_ratio(r), np.float64),
                "log_wealth": np.log(np.maximum(wealth, 1e-12)),   # ruin floored at log 1e-12 = -27.6
                "ruined": (wealth <= 0).astype(np.float64),
                "mdd": np.asarray(max_drawdown(r), np.float64),
            })
        for stat in ("vol", "sharpe", "log_wealth", "ruined", "mdd"):
            values = np.stack([p[stat] for p in per_seed])                           # [seeds, S]
            for i, name in enumerate(ALL):
                metrics[f"{stat}/w{w}/{name}"] = float(values[:, i].mean())
                metrics[f"{stat}_sd/w{w}/{name}"] = float(values[:, i].std(ddof=1)) if len(values) > 1 else 0.0
            if stat == "log_wealth":
                for i, name in enumerate(ALL):
                    metrics[f"log_wealth_median/w{w}/{name}"] = float(np.median(values[:, i]))
                best = values[:, :len(BASE)].max(axis=1)
                for i, name in enumerate(ALL):
                    if name in ENSEMBLES:
                        metrics[f"beats_best/w{w}/{name}"] = float(np.mean(values[:, i] > best))
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('vol/') for k in record)} cells measured"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    windows = list(config.windows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for est, marker in zip(ESTIMATORS, "osd"):
        axes[0].errorbar(windows, [rec[f"vol/w{w}/{est}_mv"] for w in windows],
                         yerr=[rec[f"vol_sd/w{w}/{est}_mv"] for w in windows], marker=marker, capsize=3, label=est)
    axes[0].plot(windows, [rec[f"vol/w{w}/oracle_mv"] for w in windows], "k--", label="true Σ")
    axes[0].set_xscale("log")
    axes[0].set_xlabel(f"estimation window T (N = {config.num_assets})")
    axes[0].set_ylabel("out-of-sample annualised vol, min-variance")
    axes[0].legend(fontsize=8)
    w_mid = windows[len(windows) // 2]
    names = [n for n in ALL if n != "oracle_mv"]
    axes[1].barh(names, [rec[f"sharpe/w{w_mid}/{n}"] for n in names],
                 xerr=[rec[f"sharpe_sd/w{w_mid}/{n}"] for n in names], capsize=2)
    axes[1].set_xlabel(f"out-of-sample Sharpe, window {w_mid} (mean ± sd over {config.num_seeds} seeds)")
    save_figure(fig, workdir / "portfolio_ensemble.png")
    lines = [
        "# Portfolios out of sample: sample vs Ledoit–Wolf vs factor covariance, and strategy ensembles",
        "",
        (f"N = {config.num_assets} assets, {config.num_factors}-factor model, {config.num_periods} days, regime change "
         f"at day {config.regime_change}; out of sample from day {max(windows)}; rebalance every {config.rebalance} "
         f"days; risk aversion {config.risk_aversion:g}; {config.num_seeds} seeds (mean ± sd; wealth: median over "
         f"seeds, ruin, a day at or below −100%, floored at log 1e-12, and the share of seeds ruined)."),
        "",
    ]
    for w in windows:
        lines += [f"## Window T = {w} (T/N = {w / config.num_assets:.2f})", "",
                  "| strategy | ann. vol | Sharpe | median log final wealth | ruined | max drawdown |",
                  "|---|---|---|---|---|---|"]
        for n in ALL:
            lines.append(f"| {n} | {rec[f'vol/w{w}/{n}']:.4f} ± {rec[f'vol_sd/w{w}/{n}']:.4f} | "
                         f"{rec[f'sharpe/w{w}/{n}']:.3f} ± {rec[f'sharpe_sd/w{w}/{n}']:.3f} | "
                         f"{rec[f'log_wealth_median/w{w}/{n}']:.3f} | {rec[f'ruined/w{w}/{n}']:.2f} | "
                         f"{rec[f'mdd/w{w}/{n}']:.3f} |")
        beats = ", ".join(f"{n} {rec[f'beats_best/w{w}/{n}']:.2f}" for n in ENSEMBLES)
        lines += ["", f"Share of seeds where the ensemble's final wealth beats the best component: {beats}.", ""]
    lines += ["![portfolios](portfolio_ensemble.png)", ""]
    return "\n".join(lines)
