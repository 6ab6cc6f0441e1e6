"""Double descent, measured: random-features regression as the width passes the sample size.

A measurement (``measure``, run once by launch/measure.py). Each seed draws
a training set of n points x ~ N(0, I_d) with targets y = f(x) + σε, where
f(x) = ⟨w, x⟩ + 0.5 tanh(⟨v, x⟩ √d) (w, v fixed unit vectors), and a test set of
``num_test`` points with their noiseless targets f(x). The learner at width p draws a
random ReLU feature map φ(x) = relu(Wx/√d) with W ~ N(0, 1)^{p×d} from its key and fits
the minimum-norm least-squares readout (a linear solve on the primal or dual Gram
matrix with a vanishing ridge, ``ridge`` × the mean squared feature norm, for float32;
for p > n it interpolates), then predicts the test set. Two measurements per width:

- test MSE of the learner fitted on the whole training set, averaged over seeds (the
  classic double-descent curve, peaking where p reaches the rank of the data, p = n);
- `bvjax.diagnostics.bias_variance_decomp` of the learner (JAX form, ``loss="mse"``,
  ``num_rounds`` bootstrap resamples, features redrawn each round, all rounds in one
  program) against the noiseless test targets: expected loss = bias² + variance, mean
  and standard error over seeds. A bootstrap resample of n points holds only about
  (1 − 1/e) n ≈ 0.632 n distinct points, so the min-norm fit on a resample interpolates
  from p ≈ 0.632 n on: the decomposition's variance peak sits there, not at n.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.diagnostics import bias_variance_decomp
from launch.report import plt, save_figure


def _truth(config):
    rng = np.random.default_rng(config.truth_seed)
    w, v = (u / np.linalg.norm(u) for u in rng.standard_normal((2, config.dim)))
    return jnp.asarray(w, jnp.float32), jnp.asarray(v, jnp.float32)


def target(config, x):
    w, v = _truth(config)
    return x @ w + 0.5 * jnp.tanh(math.sqrt(config.dim) * (x @ v))


def sample_data(config, key):
    """(X_train [n, d], y_train [n], X_test [m, d], f_test [m]) for one seed."""
    k_tr, k_te, k_eps = jax.random.split(key, 3)
    x_tr = jax.random.normal(k_tr, (config.num_train, config.dim))
    x_te = jax.random.normal(k_te, (config.num_test, config.dim))
    y_tr = target(config, x_tr) + config.noise * jax.random.normal(k_eps, (config.num_train,))
    return x_tr, y_tr, x_te, target(config, x_te)


def make_fit_predict(config, width: int):
    """Random ReLU features of the given width (drawn from the key) + min-norm least squares."""
    def fit_predict(key, X_boot, y_boot, X_test):
        W = jax.random.normal(key, (config.dim, width))
        features = lambda x: jax.nn.relu(x @ W / math.sqrt(config.dim))
        return features(X_test) @ min_norm_readout(features(X_boot), y_boot, config.ridge)
    return fit_predict


def min_norm_readout(phi, y, ridge):
    """The (near) minimum-norm least-squares β with φβ ≈ y: primal below n features, dual above.

    A ridge of ``ridge`` times the mean squared feature norm regularises the Gram matrix only
    enough for float32 solves; it tends to the pseudo-inverse as ``ridge`` → 0.
    """
    n, p = phi.shape
    lam = ridge * jnp.mean(jnp.sum(phi**2, axis=1))
    if p <= n:
        return jnp.linalg.solve(phi.T @ phi + lam * jnp.eye(p, dtype=phi.dtype), phi.T @ y)
    return phi.T @ jnp.linalg.solve(phi @ phi.T + lam * jnp.eye(n, dtype=phi.dtype), y)


def _measure_width(config, width, keys):
    fit_predict = make_fit_predict(config, width)

    def one_seed(key):
        k_data, k_fit, k_decomp = jax.random.split(key, 3)
        x_tr, y_tr, x_te, f_te = sample_data(config, k_data)
        full = jnp.mean((fit_predict(k_fit, x_tr, y_tr, x_te) - f_te) ** 2)
        loss, bias2, var = bias_variance_decomp(fit_predict, x_tr, y_tr, x_te, f_te, loss="mse",
                                                num_rounds=config.num_rounds, key=k_decomp)
        return jnp.stack([full, loss, bias2, var])

    return jax.jit(jax.vmap(one_seed))(keys)  # [seeds, 4]


def measure(config, key):
    keys = jax.random.split(key, config.num_seeds)
    metrics = {}
    for width in config.widths:
        out = np.asarray(_measure_width(config, width, keys), np.float64)
        mean, se = out.mean(axis=0), out.std(axis=0, ddof=1) / math.sqrt(out.shape[0])
        for i, name in enumerate(("test_mse", "expected_loss", "bias_squared", "variance")):
            metrics[f"{name}/p{width}"] = mean[i]
            metrics[f"{name}_se/p{width}"] = se[i]
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('test_mse/') for k in record)} widths measured"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    widths = np.array(config.widths)
    get = lambda name: np.array([rec[f"{name}/p{w}"] for w in widths])
    n = config.num_train
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, label, marker in (("test_mse", "test MSE, fit on all n", "o"),
                                ("expected_loss", "expected loss (bootstrap)", "s"),
                                ("bias_squared", "bias² (bootstrap)", "^"), ("variance", "variance (bootstrap)", "v")):
        ax.errorbar(widths / n, get(name), yerr=2 * get(name + "_se"), marker=marker, capsize=2, label=label)
    ax.axvline(1.0, color="grey", ls="--", lw=0.8)
    ax.axvline(1 - math.exp(-1), color="grey", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width p / n  (dashed: p = n; dotted: p = 0.632 n, distinct points in a resample)")
    ax.set_ylabel("error against the noiseless target")
    ax.legend(fontsize=8)
    save_figure(fig, workdir / "double_descent.png")
    test = get("test_mse")
    peak = int(widths[np.argmax(test)])
    var_peak = int(widths[np.argmax(get("variance"))])
    lines = ["# Double descent: random-features regression, min-norm least squares", "",
             (f"n = {n} training points, d = {config.dim}, noise σ = {config.noise}, {config.num_test} test points "
              f"(noiseless targets), {config.num_seeds} seeds (± one standard error over seeds), "
              f"{config.num_rounds} bootstrap rounds per decomposition."), "",
             "| width p | p / n | test MSE (fit on all n) | expected loss | bias² | variance |",
             "|---|---|---|---|---|---|"]
    for w in widths:
        cell = lambda name, w=w: f"{rec[f'{name}/p{w}']:.4g} ± {rec[f'{name}_se/p{w}']:.2g}"
        lines.append(f"| {w} | {w / n:.2f} | {cell('test_mse')} | {cell('expected_loss')} | {cell('bias_squared')} | "
                     f"{cell('variance')} |")
    lines += ["", (f"Test MSE peaks at p = {peak} (p / n = {peak / n:.2f}) and falls again beyond it; the "
                   f"bootstrap decomposition's variance peaks at p = {var_peak} (p / n = {var_peak / n:.2f}), "
                   f"near the ≈ 0.632 n distinct points of a resample; bias² goes from {get('bias_squared')[0]:.3g} "
                   f"at p = {widths[0]} to {get('bias_squared')[-1]:.3g} at p = {widths[-1]}."),
              "", "![double descent](double_descent.png)", ""]
    return "\n".join(lines)
