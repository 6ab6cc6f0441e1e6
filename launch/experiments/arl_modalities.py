"""ARL (Wei, Luo and Luo, ICCV 2025) in miniature: two synthetic modalities with unequal noise.

Data: ``num_classes`` classes with Gaussian prototypes per modality, ``x_a = signal * u_y +
sigma_a * noise`` and ``x_v = signal * u'_y + sigma_v * noise`` (the "audio" modality is
the reliable one when ``sigma_a < sigma_v``), fixed train and test draws per seed.
Model: a linear encoder per modality (d → hidden), concat fusion and one linear head
whose own weights give the unimodal logits (`shared_head_logits`). Training: SGD with
momentum (plain SGD: Adam would normalise away ARL's gradient scaling), minibatches,
``epochs`` epochs; the first ``warmup_epochs`` use γ = 1 and no scaling, as the
official scripts do. Methods, all from the same start and batches:

- ``plain``: cross-entropy on the fused logits;
- ``aux``: ARL's loss (`arl_loss`, fused CE + γ × the unimodal CEs), no scaling;
- ``ogm``: ``aux`` plus an OGM-GE-style balancing of the encoder gradients (the
  dominant modality's gradient scaled by ``1 - tanh(ogm_alpha * (ratio - 1))``, no
  Gaussian enhancement): balanced learning;
- ``arl``: ``aux`` plus encoder gradients scaled by ``1 + k_m`` with ARL's
  coefficients (`arl_coefficients`, ``mode="paper"``, the coefficients applied);
- ``arl_clamp0``: ``arl`` without the code's clamp of the normalised entropies at 0.3
  (which caps the inverse-variance target ratio at 0.7/0.3);
- ``arl_released``: the released code's behaviour (``mode="released_code"``: both
  encoders scaled by 1.5).

Evaluation on the test draw: fused and unimodal accuracy, and the learned dependence
ratio ``D_a / D_v`` (mean absolute unimodal logit, bias removed); the inverse-variance
rule asks for ``sigma_v^2 / sigma_a^2``. A last ARL run with the noise levels swapped
checks that the larger coefficient moves with them.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.multimodal import arl_coefficients, arl_gradient_scale, arl_loss, shared_head_logits
from launch.report import mean_se, plt, save_figure, seed0_summary, seed_mean_se

METHODS = ("plain", "aux", "ogm", "arl", "arl_clamp0", "arl_released")
_FIELDS = ("num_classes", "dim", "hidden", "num_train", "num_test", "signal", "train_batch", "learning_rate",
           "momentum", "gamma", "temperature", "ogm_alpha", "epochs", "warmup_epochs")


class _Cfg:
    def __init__(self, values):
        for f, v in zip(_FIELDS, values):
            setattr(self, f, v)


def _static(config):
    return tuple(getattr(config, f) for f in _FIELDS)


def _data(c, key, sigma_a, sigma_v):
    kp, ka, kv, ky = jax.random.split(key, 4)
    protos = jax.random.normal(kp, (2, c.num_classes, c.dim))
    n = c.num_train + c.num_test
    y = jax.random.randint(ky, (n,), 0, c.num_classes)
    xa = c.signal * protos[0, y] + sigma_a * jax.random.normal(ka, (n, c.dim))
    xv = c.signal * protos[1, y] + sigma_v * jax.random.normal(kv, (n, c.dim))
    split = c.num_train
    return (xa[:split], xv[:split], y[:split]), (xa[split:], xv[split:], y[split:])


def _init(c, key):
    ka, kv, kh = jax.random.split(key, 3)
    return {"enc_a": jax.random.normal(ka, (c.dim, c.hidden)) / np.sqrt(c.dim),
            "enc_v": jax.random.normal(kv, (c.dim, c.hidden)) / np.sqrt(c.dim),
            "kernel": jax.random.normal(kh, (2 * c.hidden, c.num_classes)) / np.sqrt(2 * c.hidden),
            "bias": jnp.zeros(c.num_classes)}


def _forward(params, xa, xv, k):
    ha = arl_gradient_scale(xa @ params["enc_a"], k[0])
    hv = arl_gradient_scale(xv @ params["enc_v"], k[1])
    return shared_head_logits(ha, hv, params["kernel"], params["bias"])


def _coefficients(c, method, out, y, warm):
    """(k_a, k_v): the extra gradient factor minus one for each encoder."""
    zero = jnp.zeros(2)
    if method in ("plain", "aux"):
        return zero
    if method == "ogm":
        p_a = jnp.take_along_axis(jax.nn.softmax(out.audio), y[:, None], 1).sum()
        p_v = jnp.take_along_axis(jax.nn.softmax(out.visual), y[:, None], 1).sum()
        r_a, r_v = p_a / p_v, p_v / p_a
        coef = jnp.stack([jnp.where(r_a > 1, 1 - jnp.tanh(c.ogm_alpha * (r_a - 1)), 1.0),
                          jnp.where(r_v > 1, 1 - jnp.tanh(c.ogm_alpha * (r_v - 1)), 1.0)])
        k = jax.lax.stop_gradient(coef - 1.0)
    else:
        mode = "released_code" if method == "arl_released" else "paper"
        clamp = 0.0 if method == "arl_clamp0" else 0.3
        k = arl_coefficients(out.audio, out.visual, temperature=c.temperature, clamp_min=clamp, mode=mode)
    return jnp.where(warm, zero, k)


def _loss(c, method, params, xa, xv, y, k, warm):
    out = _forward(params, xa, xv, k)
    if method == "plain":
        ce = jax.nn.logsumexp(out.fused, -1) - jnp.take_along_axis(out.fused, y[:, None], -1)[:, 0]
        return jnp.mean(ce)
    return jnp.mean(arl_loss(out.fused, out.audio, out.visual, y, gamma=jnp.where(warm, 1.0, c.gamma)))


@functools.lru_cache(maxsize=16)
def _run_fn(static, method):
    c = _Cfg(static)
    tx = optax.sgd(c.learning_rate, momentum=c.momentum)

    def run(key, sigma_a, sigma_v):
        kd, ki, kb = jax.random.split(key, 3)
        (xa, xv, y), test = _data(c, kd, sigma_a, sigma_v)
        params = _init(c, ki)
        opt_state = tx.init(params)
        nb = c.num_train // c.train_batch

        def epoch(carry, e):
            params, opt_state = carry
            perm = jax.random.permutation(jax.random.fold_in(kb, e), c.num_train)[: nb * c.train_batch]
            warm = e < c.warmup_epochs

            def step(carry, idx):
                params, opt_state = carry
                out = _forward(params, xa[idx], xv[idx], jnp.zeros(2))
                k = _coefficients(c, method, out, y[idx], warm)
                grads = jax.grad(_loss, argnums=2)(c, method, params, xa[idx], xv[idx], y[idx], k, warm)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), k

            (params, opt_state), ks = jax.lax.scan(step, (params, opt_state), perm.reshape(nb, c.train_batch))
            return (params, opt_state), jnp.mean(ks, 0)

        (params, _), ks = jax.lax.scan(epoch, (params, opt_state), jnp.arange(c.epochs))
        txa, txv, ty = test
        out = _forward(params, txa, txv, jnp.zeros(2))

        def acc(z):
            return jnp.mean(jnp.argmax(z, -1) == ty)

        dep_a = jnp.mean(jnp.sum(jnp.abs(out.audio - params["bias"]), -1))
        dep_v = jnp.mean(jnp.sum(jnp.abs(out.visual - params["bias"]), -1))
        return {"acc": acc(out.fused), "acc_a": acc(out.audio), "acc_v": acc(out.visual),
                "dep_ratio": dep_a / dep_v, "k_a": ks[-1, 0], "k_v": ks[-1, 1]}

    return jax.jit(run)



def measure(config, key):
    metrics = {}
    static = _static(config)
    for s in range(config.num_seeds):
        k = jax.random.fold_in(jax.random.key(config.seed), s)
        for method in config.methods:
            out = _run_fn(static, method)(k, config.sigma_a, config.sigma_v)
            metrics.update({f"{name}/{method}/s{s}": v for name, v in out.items()})
        out = _run_fn(static, "arl")(k, config.sigma_v, config.sigma_a)  # swapped noise levels
        metrics.update({f"{name}/arl_swapped/s{s}": v for name, v in out.items()})
    del key
    return metrics


def progress(record: dict[str, Any]) -> str:
    return seed0_summary(record, "acc")


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    seeds = config.num_seeds
    rows = (*config.methods, "arl_swapped")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, name, title in ((axes[0], "acc", "fused test accuracy"), (axes[1], "dep_ratio", "dependence ratio D_a/D_v")):
        ms = [seed_mean_se(rec, name, m, seeds) for m in rows]
        ax.bar(range(len(rows)), [m for m, _ in ms], yerr=[e for _, e in ms])
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(rows, rotation=20, fontsize=8)
        ax.set_title(title)
    axes[1].axhline(config.sigma_v**2 / config.sigma_a**2, ls="--", c="k", label="σ_v²/σ_a²")
    axes[1].set_yscale("log")
    axes[1].legend()
    save_figure(fig, workdir / "arl_modalities.png")
    lines = [
        "# ARL in miniature: two modalities with unequal noise",
        "",
        (f"{config.num_classes} classes, {config.dim}-d modalities, signal {config.signal:g}, σ_a = {config.sigma_a:g}, "
         f"σ_v = {config.sigma_v:g} (σ_v²/σ_a² = {config.sigma_v**2 / config.sigma_a**2:g}); linear encoders "
         f"(hidden {config.hidden}), concat fusion, shared linear head; SGD lr {config.learning_rate:g} momentum "
         f"{config.momentum:g}, batch {config.train_batch}, {config.epochs} epochs ({config.warmup_epochs} warm-up), "
         f"γ = {config.gamma:g}, T = {config.temperature:g}; {config.num_train} train / {config.num_test} test. "
         f"Mean ± SE over {seeds} seeds. `arl_swapped` swaps σ_a and σ_v."),
        "",
        "| method | fused acc | Δ vs plain (paired) | audio-only acc | visual-only acc | D_a/D_v | k_a (last epoch) | k_v |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in rows:
        cells = [f"{seed_mean_se(rec, n, m, seeds)[0]:.3f} ± {seed_mean_se(rec, n, m, seeds)[1]:.3f}"
                 for n in ("acc", "acc_a", "acc_v", "dep_ratio", "k_a", "k_v")]
        if m in config.methods and "plain" in config.methods:
            diff, se = mean_se([rec[f"acc/{m}/s{s}"] - rec[f"acc/plain/s{s}"] for s in range(seeds)])
            cells.insert(1, f"{diff:+.4f} ± {se:.4f}")
        else:
            cells.insert(1, "—")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "![accuracy and dependence](arl_modalities.png)", ""]
    return "\n".join(lines)
