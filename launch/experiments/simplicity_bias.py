"""Shah et al. 2020 in miniature: an MLP trained on LMS-5 or MS-(5,7) relies on the simplest coordinate only.

Each of ``num_seeds`` MLPs (flax, ``depth`` hidden ReLU layers of ``width`` units, the
paper's FCN) is trained with SGD and weight decay on fresh draws of the dataset
(`lms_data` or `ms57_data`, un-rotated, then multiplied by one fixed random orthonormal W
as the notebooks' ``random_transform``), every seed with its own initialisation and data
stream. Evaluation on a held-out set: test accuracy and AUC, the AUC when the simple
coordinate (linear for LMS-5, 5-slab for MS-(5,7)) is shuffled across the test samples
(S-randomised) and when all the complex slab coordinates are (S^c-randomised), with
`randomize_coordinates` in the un-rotated basis. Extreme simplicity bias reads as
S-randomised AUC ≈ 0.5 and S^c-randomised AUC ≈ 1.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from bvjax.data import lms_data, ms57_data, randomize_coordinates
from launch.report import plt, save_figure, series

SIMPLE = {"lms5": "linear", "ms57": "5-slab"}
COMPLEX = {"lms5": "5-slab", "ms57": "7-slab"}


class MLP(nn.Module):
    """The paper's fully connected network: ``depth`` ReLU layers of ``width``, one logit."""

    width: int
    depth: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(1)(x)[..., 0]


def _model(config):
    return MLP(config.width, config.depth)


def _optimizer(config):
    return optax.chain(optax.add_decayed_weights(config.weight_decay), optax.sgd(config.learning_rate,
                                                                                 momentum=config.momentum or None))


def _rotation(config):
    q, r = jnp.linalg.qr(jax.random.normal(jax.random.key(config.seed + 7), (config.dim, config.dim)))
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)[None, :]


def _draw(config, key, n):
    """(x [n, D] rotated, y [n]) from the configured dataset."""
    gen = lms_data if config.dataset == "lms5" else ms57_data
    d = gen(key, num_samples=n, dim=config.dim, margin=config.margin)
    w = _rotation(config) if config.rotate else jnp.eye(config.dim)
    return d.x @ w, d.y


def init(config, key):
    if config.dataset not in SIMPLE:
        raise KeyError(f"config.dataset: unknown {config.dataset!r}; valid: {sorted(SIMPLE)}")
    model, tx = _model(config), _optimizer(config)

    def one(k):
        params = model.init(k, jnp.zeros((1, config.dim)))
        return {"params": params, "opt_state": tx.init(params)}

    return jax.vmap(one)(jax.random.split(key, config.num_seeds))


def make_batch(config, key):
    """x [B, S, D], y [B, S]: an independent draw for each seed."""
    xs, ys = jax.vmap(lambda k: _draw(config, k, config.batch_size))(jax.random.split(key, config.num_seeds))
    return {"x": jnp.swapaxes(xs, 0, 1), "y": jnp.swapaxes(ys, 0, 1)}


def _loss(model, params, x, y):
    logits = model.apply(params, x)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y.astype(logits.dtype))), logits


def train_step(config, state, batch):
    model, tx = _model(config), _optimizer(config)

    def one(s, x, y):
        (loss, logits), grads = jax.value_and_grad(lambda p: _loss(model, p, x, y), has_aux=True)(s["params"])
        updates, opt_state = tx.update(grads, s["opt_state"], s["params"])
        acc = jnp.mean((logits > 0) == (y == 1))
        return {"params": optax.apply_updates(s["params"], updates), "opt_state": opt_state}, (loss, acc)

    state, (loss, acc) = jax.vmap(one, in_axes=(0, 1, 1))(state, batch["x"], batch["y"])
    return state, {"train_loss": jnp.mean(loss), "train_accuracy": jnp.mean(acc)}


def roc_auc(scores, y):
    """Mann–Whitney AUC with ties counted 1/2 (equals sklearn.metrics.roc_auc_score)."""
    pos = y == 1
    n1 = jnp.sum(pos)
    n0 = y.shape[0] - n1
    neg_sorted = jnp.sort(jnp.where(pos, jnp.inf, scores))  # negatives first, positives pushed to +inf
    below = jnp.searchsorted(neg_sorted, scores, side="left")
    upto = jnp.minimum(jnp.searchsorted(neg_sorted, scores, side="right"), n0)
    wins = jnp.where(pos, jnp.minimum(below, n0) + 0.5 * (upto - jnp.minimum(below, n0)), 0.0)
    return jnp.sum(wins) / jnp.maximum(n1 * n0, 1)


def evaluate(config, state, key):
    model = _model(config)
    x, y = _draw(config, jax.random.key(config.seed + 12345), config.num_test)
    w = _rotation(config) if config.rotate else jnp.eye(config.dim)
    simple = jnp.arange(config.dim) == 0
    k_s, k_c = jax.random.split(key)
    x_s = randomize_coordinates(k_s, x, simple, rotation=w)
    x_c = randomize_coordinates(k_c, x, ~simple, rotation=w)

    def one(params):
        f = lambda v: model.apply(params, v)
        logits = f(x)
        return {"accuracy": jnp.mean((logits > 0) == (y == 1)), "auc": roc_auc(logits, y),
                "auc_simple_randomized": roc_auc(f(x_s), y), "auc_complex_randomized": roc_auc(f(x_c), y),
                "accuracy_simple_randomized": jnp.mean((f(x_s) > 0) == (y == 1)),
                "accuracy_complex_randomized": jnp.mean((f(x_c) > 0) == (y == 1))}

    per_seed = jax.vmap(one)(state["params"])
    out = {}
    for name, v in per_seed.items():
        out[name] = jnp.mean(v)
        out[f"{name}_min"] = jnp.min(v)
        out[f"{name}_max"] = jnp.max(v)
        out[f"{name}_se"] = jnp.std(v, ddof=1) / np.sqrt(config.num_seeds) if config.num_seeds > 1 else 0.0 * v[0]
        for i in range(config.num_seeds):
            out[f"{name}/seed{i}"] = v[i]
    return out


def progress(record: dict[str, Any]) -> str:
    return (f"acc {record.get('accuracy', float('nan')):.3f} | AUC S-rand "
            f"{record.get('auc_simple_randomized', float('nan')):.3f} | Sc-rand "
            f"{record.get('auc_complex_randomized', float('nan')):.3f}")


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label in (("auc", "standard AUC"), ("auc_simple_randomized", f"{SIMPLE[config.dataset]} randomised"),
                       ("auc_complex_randomized", f"all {COMPLEX[config.dataset]} randomised")):
        steps, v = series(history, key)
        _, se = series(history, f"{key}_se")
        ax.errorbar(steps, v, yerr=se, marker="o", capsize=3, label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(f"test AUC (mean over {config.num_seeds} seeds)")
    ax.set_title(f"Simplicity bias on {config.dataset.upper()} (d = {config.dim})")
    ax.legend(fontsize=8)
    save_figure(fig, workdir / "simplicity_bias.png")

    def cell(name):
        return f"{rec[name]:.3f} ± {rec[name + '_se']:.3f} [{rec[name + '_min']:.3f}, {rec[name + '_max']:.3f}]"

    lines = [
        f"# Simplicity bias: {config.dataset.upper()}",
        "",
        (f"d = {config.dim} (coordinate 0 {SIMPLE[config.dataset]}, the rest {COMPLEX[config.dataset]}), margin "
         f"{config.margin:g}, {'randomly rotated' if config.rotate else 'axis-aligned'}; MLP {config.depth} x "
         f"{config.width} ReLU, SGD lr {config.learning_rate:g} (momentum {config.momentum:g}), weight decay "
         f"{config.weight_decay:g}, batch {config.batch_size} fresh samples per step, {config.num_steps} steps; "
         f"{config.num_test} held-out samples; mean ± SE [min, max] over {config.num_seeds} seeds."),
        "",
        "| metric | value |",
        "|---|---|",
        f"| test accuracy | {cell('accuracy')} |",
        f"| AUC | {cell('auc')} |",
        f"| AUC, {SIMPLE[config.dataset]} coordinate randomised | {cell('auc_simple_randomized')} |",
        f"| AUC, all {COMPLEX[config.dataset]} coordinates randomised | {cell('auc_complex_randomized')} |",
        f"| accuracy, {SIMPLE[config.dataset]} randomised | {cell('accuracy_simple_randomized')} |",
        f"| accuracy, {COMPLEX[config.dataset]} randomised | {cell('accuracy_complex_randomized')} |",
        "",
        "Per seed (AUC: standard / simple coordinate randomised / complex coordinates randomised):",
        "",
        "| seed | AUC | S-randomised | S^c-randomised |",
        "|---|---|---|---|",
    ]
    for i in range(config.num_seeds):
        lines.append(f"| {i} | {rec[f'auc/seed{i}']:.3f} | {rec[f'auc_simple_randomized/seed{i}']:.3f} | "
                     f"{rec[f'auc_complex_randomized/seed{i}']:.3f} |")
    learned = [i for i in range(config.num_seeds) if rec[f"auc/seed{i}"] > 0.95]
    if learned:
        s_rand = np.mean([rec[f"auc_simple_randomized/seed{i}"] for i in learned])
        c_rand = np.mean([rec[f"auc_complex_randomized/seed{i}"] for i in learned])
        lines += ["", (f"{len(learned)} of {config.num_seeds} seeds reach AUC > 0.95; among them the S-randomised "
                       f"AUC is {s_rand:.3f} and the S^c-randomised AUC {c_rand:.3f}.")]
    else:
        lines += ["", f"No seed reaches AUC > 0.95 in {config.num_steps} steps (still on the plateau)."]
    lines += ["", "![AUC over training](simplicity_bias.png)", ""]
    return "\n".join(lines)
