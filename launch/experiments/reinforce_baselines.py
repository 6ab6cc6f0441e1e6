"""REINFORCE on a K-armed Gaussian bandit: no baseline vs mean vs leave-one-out.

Three softmax policies start from the same uniform logits and are trained side by
side, each with its own score-function gradient estimator, on common random numbers
(the same Gumbel and reward noise each step). Every ``eval_every`` steps the
bias–variance meter measures each estimator's bias², variance and MSE against the
exact gradient :math:`\\pi \\odot (\\mu - J)` at the current parameters.

What theory says, and the report checks: no baseline and leave-one-out are unbiased;
the mean baseline (which includes the sample itself) shrinks the gradient by
(G-1)/G, so its bias² is ||∇J||²/G², in exchange for a variance that no longer grows
with the reward offset.
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

from bvjax.data import bandit_expected_return, bandit_policy_gradient, bandit_reinforce_gradient
from bvjax.diagnostics import bias_variance
from launch.configs.common import Field
from launch.report import plt, save_figure, series

OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam}

# Checked before any compile (launch/configs/common.py); the loop's own fields are checked there.
CONFIG_FIELDS = {
    "num_seeds": Field(int, 1, help="independent replicas per estimator"),
    "group_size": Field(int, 2, help="pulls per group G (leave-one-out needs G >= 2)"),
    "num_arms": Field(int, 2, help="arms K"),
    "reward_offset": Field(float, help="arm means are offset + linspace(0, 1, K)"),
    "noise_std": Field(float, 0, help="std of the Gaussian reward noise"),
    "estimators": Field((tuple, list), choices=("none", "mean", "leave_one_out"), help="baselines trained side by side"),
    "optimizer.name": Field(str, choices=tuple(OPTIMIZERS), help="optax optimizer"),
    "optimizer.learning_rate": Field(float, 0, low_open=True, help="its learning rate"),
    "meter_draws": Field(int, 2, help="independent batches the bias-variance meter draws per evaluation"),
}


def _means(config: ml_collections.ConfigDict) -> jax.Array:
    return config.reward_offset + jnp.linspace(0.0, 1.0, config.num_arms)


def _optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    if config.optimizer.name not in OPTIMIZERS:
        raise KeyError(f"config.optimizer.name: unknown {config.optimizer.name!r}; valid: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[config.optimizer.name](config.optimizer.learning_rate)


def init(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, Any]:
    del key  # Uniform initial policy: every estimator and seed starts from the same logits.
    params = {name: jnp.zeros((config.num_seeds, config.num_arms), jnp.float32)
              for name in config.estimators}
    return {"params": params, "opt_state": _optimizer(config).init(params)}


def _noise(config, key, prefix):
    gumbel_key, noise_key = jax.random.split(key)
    shape = prefix + (config.group_size,)
    return {"gumbel": jax.random.gumbel(gumbel_key, shape + (config.num_arms,)),
            "noise": jax.random.normal(noise_key, shape)}


def make_batch(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, jax.Array]:
    """Exogenous noise: [batch_size, num_seeds, group_size(, num_arms)], sharded on axis 0."""
    return _noise(config, key, (config.batch_size, config.num_seeds))


def _estimate(config, logits, batch, baseline):
    """One replica's batch estimate of ∇J (ascent direction): mean over its groups.

    logits [K]; batch leaves [B, G(, K)].
    """
    actions = jnp.argmax(logits + batch["gumbel"], axis=-1).astype(jnp.int32)  # Gumbel-max sampling
    rewards = _means(config)[actions] + config.noise_std * batch["noise"]
    per_group = bandit_reinforce_gradient(jnp.broadcast_to(logits, actions.shape[:-1] + logits.shape),
                                          actions, rewards, baseline=baseline)
    return jnp.mean(per_group, axis=0), jnp.mean(rewards)


def train_step(config, state, batch):
    grads, metrics = {}, {}
    for name in config.estimators:
        estimate = jax.vmap(functools.partial(_estimate, config, baseline=name), in_axes=(0, 1))
        ascent, mean_reward = estimate(state["params"][name], batch)
        grads[name] = -ascent  # optax minimises: descend on -J.
        metrics[f"sampled_reward/{name}"] = jnp.mean(mean_reward)
    updates, opt_state = _optimizer(config).update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, metrics


def _measure(config, logits, key, baseline):
    """The meter on one replica: its batch gradient estimator against the exact gradient."""
    means = _means(config)
    exact = bandit_policy_gradient(logits, means)

    def estimator(k):
        return _estimate(config, logits, _noise(config, k, (config.batch_size,)), baseline)[0]

    r = bias_variance(estimator, exact, key, num_draws=config.meter_draws)
    norm_sq = jnp.vdot(exact, exact)
    return {"return": bandit_expected_return(logits, means),
            "bias_squared": r.bias_squared, "bias_squared_se": r.bias_squared_stderr,
            "variance": r.variance, "variance_se": r.variance_stderr,
            "mse": r.mse, "mse_se": r.mse_stderr,
            "grad_norm_sq": norm_sq, "shrink_num": jnp.vdot(r.mean, exact)}


def evaluate(config, state, key):
    """Meter figures averaged over seeds (standard errors combined as independent)."""
    metrics = {}
    for i, name in enumerate(config.estimators):
        keys = jax.random.split(jax.random.fold_in(key, i), config.num_seeds)
        per_seed = jax.vmap(functools.partial(_measure, config, baseline=name))(
            state["params"][name], keys)
        for field, values in per_seed.items():
            if field.endswith("_se"):
                metrics[f"{field}/{name}"] = jnp.sqrt(jnp.sum(values**2)) / config.num_seeds
            else:
                metrics[f"{field}/{name}"] = jnp.mean(values)
        metrics[f"return_se/{name}"] = jnp.std(per_seed["return"], ddof=1) / np.sqrt(config.num_seeds) \
            if config.num_seeds > 1 else jnp.zeros(())
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"J[{k.split('/')[1]}]={v:.3f}" for k, v in record.items() if k.startswith("return/"))


def _steps_to(history, name, threshold):
    steps, value = series(history, f"return/{name}")
    hit = np.nonzero(value >= threshold)[0]
    return int(steps[hit[0]]) if hit.size else None


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    """Writes the plots and returns the markdown report."""
    best = float(_means(config).max())
    start = float(_means(config).mean())
    threshold = start + 0.9 * (best - start)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in config.estimators:
        for ax, metric in zip(axes, ("variance", "bias_squared", "return")):
            steps, value = series(history, f"{metric}/{name}")
            _, se = series(history, f"{metric}_se/{name}")
            ax.plot(steps, value, label=name)
            ax.fill_between(steps, value - 2 * se, value + 2 * se, alpha=0.2)
    axes[0].set_yscale("log")
    axes[0].set_title("gradient variance (meter, ±2 SE)")
    axes[1].set_title("gradient bias² (meter, ±2 SE)")
    axes[2].axhline(best, color="k", linestyle="--", linewidth=0.8, label="best arm")
    axes[2].set_title(f"expected return J(θ), mean of {config.num_seeds} seeds (±2 SE)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend()
    save_figure(fig, workdir / "reinforce_baselines.png")

    g = config.group_size
    lines = [
        "# REINFORCE baselines on a softmax bandit",
        "",
        (f"K={config.num_arms} arms with means {config.reward_offset} + linspace(0, 1), reward noise "
        f"σ={config.noise_std}; {config.num_seeds} seeds, each with {config.batch_size} groups of G={g} "
        f"pulls per step; {config.optimizer.name} lr={config.optimizer.learning_rate}; "
        f"{config.num_steps} steps; meter: {config.meter_draws} draws per seed every "
        f"{config.eval_every} steps, against the exact gradient π ⊙ (μ − J)."),
        "",
        ("Meter figures are averages over all evaluations and seeds (± standard error). `shrink` is "
        "Σ⟨E ĝ, ∇J⟩ / Σ‖∇J‖² over evaluations: theory puts it at 1 for the unbiased estimators and "
        f"at (G−1)/G = {(g - 1) / g:.3f} for the mean baseline. `steps to 90%` is the first evaluated step "
        f"at which the seed-mean J reaches {threshold:.3f} (90% of the way from uniform to the best arm)."),
        "",
        "| estimator | bias² | variance | MSE | shrink | steps to 90% | final J |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in config.estimators:
        cells = []
        for metric in ("bias_squared", "variance", "mse"):
            _, v = series(history, f"{metric}/{name}")
            _, se = series(history, f"{metric}_se/{name}")
            cells.append(f"{v.mean():.3g} ± {np.sqrt(np.sum(se**2)) / len(se):.2g}")
        _, num = series(history, f"shrink_num/{name}")
        _, den = series(history, f"grad_norm_sq/{name}")
        _, ret = series(history, f"return/{name}")
        _, ret_se = series(history, f"return_se/{name}")
        reached = _steps_to(history, name, threshold)
        cells += [f"{np.sum(num) / np.sum(den):.3f}", "not reached" if reached is None else str(reached),
                  f"{ret[-1]:.3f} ± {ret_se[-1]:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Best arm's mean: {best:.3f}.", "", "![curves](reinforce_baselines.png)", ""]
    return "\n".join(lines)
