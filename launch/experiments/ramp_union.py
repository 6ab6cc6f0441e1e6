"""RAMP (Jiang and Singh, NeurIPS 2024) in miniature: union robustness of a small MLP on scikit-learn's digits.

Data: the 1,797 8x8 digits bundled with scikit-learn, pixels scaled to [0, 1], a fixed
stratified 80/20 split (``config.seed``). Model: a flax MLP (64 → hidden → hidden → 10,
ReLU). Threat models (per example, inputs clipped to [0, 1]): ℓ∞ ``eps_linf``, ℓ2
``eps_l2``, ℓ1 ``eps_l1`` (defaults scaled to 64 pixels: a quarter of CIFAR's ℓ1 ratio).

Training methods (each ``epochs`` epochs of Adam on minibatches, the same start and
batches for every method of a seed), attacks with ``train_steps`` PGD iterations:

- ``natural``: cross-entropy on clean inputs;
- ``linf_at`` / ``l1_at``: adversarial training against one norm (Madry et al.);
- ``max``: CE at whichever of the ℓ∞ and ℓ1 examples has the larger loss (RAMP's key
  pair, `select_max_adv`), no pairing;
- ``ramp``: ``max`` plus λ × the logit pairing over the ℓ∞ examples still classified
  correctly (`ramp_loss`);
- ``ramp_gp``: ``ramp`` plus, after every epoch, RAMP's GP merge (`gp_merge`) of the
  adversarial epoch's update with a natural-training epoch run from the same start.

Evaluation on the test split: clean accuracy, accuracy under ℓ∞, ℓ2 and ℓ1 PGD
(``eval_steps`` iterations, ``eval_restarts`` random restarts; an example counts as
robust only if every restart fails) and union accuracy (`union_accuracy`). PGD is a
weaker attack than the paper's AutoAttack, so all robust figures are upper bounds.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from bvjax.robust import gp_merge, pgd_l1, pgd_l2, pgd_linf, ramp_loss, select_max_adv, union_accuracy
from launch.report import plt, save_figure, seed0_summary, seed_mean_se

METHODS = ("natural", "linf_at", "l1_at", "max", "ramp", "ramp_gp")
NORMS = ("linf", "l2", "l1")


class MLP(nn.Module):
    hidden: int
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.num_classes)(x)


@functools.lru_cache(maxsize=2)
def _digits(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return xtr, ytr.astype(np.int32), xte, yte.astype(np.int32)


def _xent(apply, params, x, y):
    logits = apply(params, x)
    return jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0]


def _attack(config, norm, apply, params, x, y, key, steps):
    loss_fn = functools.partial(_xent, apply, params)
    fn = {"linf": pgd_linf, "l2": pgd_l2, "l1": pgd_l1}[norm]
    kw = {"sparsity": config.l1_sparsity} if norm == "l1" else {}
    eps = {"linf": config.eps_linf, "l2": config.eps_l2, "l1": config.eps_l1}[norm]
    return fn(loss_fn, x, y, key, eps=eps, steps=steps, **kw)


def _loss(config, method, apply, params, x, y, key):
    """The method's training loss on one minibatch (attacks at the current parameters, not differentiated)."""
    frozen = jax.lax.stop_gradient(params)
    if method == "natural":
        return jnp.mean(_xent(apply, params, x, y))
    k1, k2 = jax.random.split(key)
    if method == "linf_at":
        return jnp.mean(_xent(apply, params, _attack(config, "linf", apply, frozen, x, y, k1, config.train_steps), y))
    if method == "l1_at":
        return jnp.mean(_xent(apply, params, _attack(config, "l1", apply, frozen, x, y, k2, config.train_steps), y))
    x_q = _attack(config, "linf", apply, frozen, x, y, k1, config.train_steps)
    x_r = _attack(config, "l1", apply, frozen, x, y, k2, config.train_steps)
    x_max = select_max_adv(x_q, x_r, _xent(apply, frozen, x_q, y), _xent(apply, frozen, x_r, y))
    lam = 0.0 if method == "max" else config.lam
    return ramp_loss(apply(params, x_max), y, apply(params, x_q), apply(params, x_r), lam=lam)


def _epoch(config, method, apply, tx, params, opt_state, xtr, ytr, key):
    n = xtr.shape[0]
    nb = n // config.train_batch
    kperm, kstep = jax.random.split(key)
    perm = jax.random.permutation(kperm, n)[: nb * config.train_batch].reshape(nb, config.train_batch)

    def step(carry, inp):
        params, opt_state = carry
        idx, k = inp
        grads = jax.grad(lambda p: _loss(config, method, apply, p, xtr[idx], ytr[idx], k))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    (params, opt_state), _ = jax.lax.scan(step, (params, opt_state), (perm, jax.random.split(kstep, nb)))
    return params, opt_state


_FIELDS = ("hidden", "learning_rate", "train_batch", "train_steps", "eval_steps", "eval_restarts", "eps_linf",
           "eps_l2", "eps_l1", "l1_sparsity", "lam")


def _static(config):
    return tuple(getattr(config, f) for f in _FIELDS)


class _Cfg:
    def __init__(self, values):
        for f, v in zip(_FIELDS, values):
            setattr(self, f, v)


@functools.lru_cache(maxsize=16)
def _epoch_fn(static, method):
    config = _Cfg(static)
    model = MLP(config.hidden)
    tx = optax.adam(config.learning_rate)
    return jax.jit(functools.partial(_epoch, config, method, model.apply, tx))


def _train(config, method, seed):
    xtr, ytr, _, _ = _digits(config.seed)
    model = MLP(config.hidden)
    tx = optax.adam(config.learning_rate)
    params = model.init(jax.random.key(seed), jnp.zeros((1, xtr.shape[1])))
    xtr, ytr = jnp.asarray(xtr), jnp.asarray(ytr)
    adv_epoch = _epoch_fn(_static(config), "ramp" if method == "ramp_gp" else method)
    nat_epoch = _epoch_fn(_static(config), "natural")
    opt_state, nat_state = tx.init(params), tx.init(params)
    for epoch in range(config.epochs):
        k = jax.random.fold_in(jax.random.key(seed + 1000), epoch)  # same batches for every method
        new, opt_state = adv_epoch(params, opt_state, xtr, ytr, k)
        if method == "ramp_gp" and epoch >= config.gp_start:
            nat, nat_state = nat_epoch(params, nat_state, xtr, ytr, k)
            new = gp_merge(params, new, nat, beta=config.gp_beta)
        params = new
    return model.apply, params


@functools.lru_cache(maxsize=4)
def _eval_fn(static):
    config = _Cfg(static)
    apply = MLP(config.hidden).apply

    @jax.jit
    def run(params, x, y, key):
        clean = jnp.argmax(apply(params, x), -1) == y
        rows = []
        for i, norm in enumerate(NORMS):
            ok = clean
            for r in range(config.eval_restarts):
                adv = _attack(config, norm, apply, params, x, y, jax.random.fold_in(key, 10 * i + r), config.eval_steps)
                ok = ok & (jnp.argmax(apply(params, adv), -1) == y)
            rows.append(ok)
        correct = jnp.stack(rows)
        return jnp.mean(clean), jnp.mean(correct, axis=1), union_accuracy(correct)

    return run


def _robust_eval(config, params, key):
    _, _, xte, yte = _digits(config.seed)
    return _eval_fn(_static(config))(params, jnp.asarray(xte), jnp.asarray(yte), key)



def measure(config, key):
    metrics = {}
    for s in range(config.num_seeds):
        for method in config.methods:
            _, params = _train(config, method, config.seed + s)
            clean, per_norm, union = _robust_eval(config, params, jax.random.fold_in(key, s))
            metrics[f"clean/{method}/s{s}"] = clean
            metrics[f"union/{method}/s{s}"] = union
            for norm, acc in zip(NORMS, per_norm):
                metrics[f"{norm}/{method}/s{s}"] = acc
    return metrics


def progress(record: dict[str, Any]) -> str:
    return seed0_summary(record, "union")


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    seeds = config.num_seeds
    cols = ("clean", *NORMS, "union")
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(config.methods)
    for i, method in enumerate(config.methods):
        ms = [seed_mean_se(rec, c, method, seeds) for c in cols]
        ax.bar(np.arange(len(cols)) + i * width, [m for m, _ in ms], width, yerr=[s for _, s in ms], label=method)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2)
    ax.set_xticklabels(["clean", "ℓ∞", "ℓ2", "ℓ1", "union"])
    ax.set_ylabel("test accuracy")
    ax.set_title(f"digits MLP, ε∞={config.eps_linf:g}, ε2={config.eps_l2:g}, ε1={config.eps_l1:g} (PGD)")
    ax.legend(fontsize=8, ncol=3)
    save_figure(fig, workdir / "ramp_union.png")
    lines = [
        "# RAMP in miniature: union accuracy on scikit-learn digits",
        "",
        (f"MLP 64-{config.hidden}-{config.hidden}-10, {config.epochs} epochs of Adam (lr {config.learning_rate}), "
         f"batch {config.train_batch}; training attacks PGD {config.train_steps} steps; evaluation PGD "
         f"{config.eval_steps} steps x {config.eval_restarts} restarts per norm on the 360 test digits; "
         f"ε∞ = {config.eps_linf:g}, ε2 = {config.eps_l2:g}, ε1 = {config.eps_l1:g}; λ = {config.lam:g}, GP β = "
         f"{config.gp_beta:g}. Mean ± SE over {seeds} seeds."),
        "",
        "| method | clean | ℓ∞ | ℓ2 | ℓ1 | union |",
        "|---|---|---|---|---|---|",
    ]
    for method in config.methods:
        cells = []
        for c in cols:
            m, se = seed_mean_se(rec, c, method, seeds)
            cells.append(f"{m:.3f} ± {se:.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "![accuracies](ramp_union.png)", ""]
    return "\n".join(lines)
