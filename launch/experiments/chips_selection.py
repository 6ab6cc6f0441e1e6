"""CHIPS in miniature: selecting pool pairs for target-domain fine-tuning of a tiny CLIP-style model.

A measurement (``measure``, run once by launch/measure.py, eagerly, one jitted program
per stage). Model: frozen random nonlinear "encoders" (x = tanh(zA_x + noise),
y = tanh(zA_y + noise) from a latent concept z) and trainable linear projection heads
W_v, W_t with a learned logit scale: the endpoint subspace ϑ = {W_v, W_t, τ} of CHIPS.
The heads are pre-trained with symmetric InfoNCE on general-domain pairs, whose latent
variation lives in the first half of z's coordinates; the target domain is shifted and
varies mostly in the second half. The pool mixes general pairs, clean target pairs and
noisy target pairs (the text drawn for another concept). A dev set of clean target pairs
gives the target gradient u and the centroids μ_x, μ_y; a disjoint test set measures
image→text recall@1 (and general-domain recall@1 for forgetting).

Selectors at the same budget (``fraction`` of the pool): random; TracIn-like gᵀu (the
simpler score); the exact Newton alignment alone (no weights); CHIPS exact (`bvjax.selection.chips_scores` without sketch) and CHIPS
with a JL sketch of dimension ``sketch_dim``, both with learnability and relevance
weights; and CHIPS exact over a sweep of the curvature mix α. Each subset, and the full pool, fine-tunes the pre-trained heads for the same
number of Adam steps. Repeated over ``num_seeds`` pools; figures are mean ± SE.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from scipy import stats

from bvjax.selection import chips_scores, jl_projection, learnability_weight, relevance_weight
from launch.report import plt, save_figure

METHODS = ("random", "tracin", "newton", "chips_exact", "chips", "full")


def _encoders(key, config):
    k1, k2 = jax.random.split(key)
    c, d = config.latent_dim, config.feature_dim
    return jax.random.normal(k1, (c, d)) / math.sqrt(c) * 2.0, jax.random.normal(k2, (c, d)) / math.sqrt(c) * 2.0


def _latents(key, n, domain, config):
    c = config.latent_dim
    half = c // 2
    major = jnp.concatenate([jnp.ones(half), jnp.full(c - half, config.minor_scale)])
    if domain == "general":
        return jax.random.normal(key, (n, c)) * major
    shift = jnp.concatenate([jnp.full(half, config.target_shift), jnp.zeros(c - half)])
    return shift + jax.random.normal(key, (n, c)) * major[::-1]


def _featurize(key, z, enc, config):
    ax, ay = enc
    kx, ky = jax.random.split(key)
    x = jnp.tanh(z @ ax + config.feature_noise * jax.random.normal(kx, (z.shape[0], ax.shape[1])))
    y = jnp.tanh(z @ ay + config.feature_noise * jax.random.normal(ky, (z.shape[0], ay.shape[1])))
    return x, y


def _pairs(key, n, domain, enc, config, noisy=False):
    kz, kf, kp = jax.random.split(key, 3)
    z = _latents(kz, n, domain, config)
    x, y = _featurize(kf, z, enc, config)
    if noisy:  # the caption of another concept
        _, y = _featurize(kp, _latents(jax.random.fold_in(kp, 1), n, domain, config), enc, config)
    return x, y


def _init_heads(key, config):
    k1, k2 = jax.random.split(key)
    d, e = config.feature_dim, config.embed_dim
    return {"wv": jax.random.normal(k1, (d, e)) / math.sqrt(d), "wt": jax.random.normal(k2, (d, e)) / math.sqrt(d),
            "log_scale": jnp.float32(math.log(10.0))}


def _embed(params, x, y):
    u, v = x @ params["wv"], y @ params["wt"]
    u = u / jnp.sqrt(jnp.sum(u * u, -1, keepdims=True) + 1e-12)
    v = v / jnp.sqrt(jnp.sum(v * v, -1, keepdims=True) + 1e-12)
    return u, v


def _logits(params, x, y):
    u, v = _embed(params, x, y)
    return jnp.exp(params["log_scale"]) * u @ v.T


def _pair_losses(params, x, y):
    """Symmetric InfoNCE per pair with in-batch negatives: [B]."""
    logits = _logits(params, x, y)
    i = jnp.arange(x.shape[0])
    return 0.5 * (-jax.nn.log_softmax(logits, 1)[i, i] - jax.nn.log_softmax(logits, 0)[i, i])


def _train(params, x, y, idx, key, *, lr, batch, steps):
    """Adam on symmetric InfoNCE, minibatches drawn from the rows ``idx``."""
    opt = optax.adam(lr)

    def step(carry, k):
        p, s = carry
        b = jax.random.choice(k, idx, (batch,), replace=idx.shape[0] < batch)
        g = jax.grad(lambda p: jnp.mean(_pair_losses(p, x[b], y[b])))(p)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    return params


_train_jit = jax.jit(_train, static_argnames=("lr", "batch", "steps"))


def _recall_at_1(params, x, y):
    logits = _logits(params, x, y)
    return jnp.mean(jnp.argmax(logits, 1) == jnp.arange(x.shape[0]))


def _grads_and_weights(params, px, py, dev_x, dev_y, key, *, score_batch, curvature_batch, beta):
    """Per-candidate InfoNCE gradients (in-batch negatives), w_L, w_R; target gradient u; a curvature batch."""
    flat, unravel = ravel_pytree(params)
    n, b = px.shape[0], score_batch
    perm = jax.random.permutation(key, n).reshape(-1, b)

    def chunk(rows):
        x, y = px[rows], py[rows]
        jac = jax.jacrev(lambda f: _pair_losses(unravel(f), x, y))(flat)  # [b, P]
        u, v = _embed(params, x, y)
        wl = learnability_weight(u @ v.T, logit_scale=jnp.exp(params["log_scale"]))
        return jac, wl, u, v

    jac, wl, u, v = jax.lax.map(chunk, perm)
    order = jnp.argsort(perm.reshape(-1))
    g = jac.reshape(n, -1)[order]
    wl = wl.reshape(n)[order]
    u, v = u.reshape(n, -1)[order], v.reshape(n, -1)[order]
    du, dv = _embed(params, dev_x, dev_y)
    wr = relevance_weight(u, v, du.mean(0), dv.mean(0), beta=beta)
    target = jax.grad(lambda f: jnp.mean(_pair_losses(unravel(f), dev_x, dev_y)))(flat)
    cb = perm[0][:curvature_batch]
    cx, cy = px[cb], py[cb]
    lg = jax.jacrev(lambda f: _logits(unravel(f), cx, cy))(flat)  # [B, B, P]
    logits = _logits(params, cx, cy)
    logit_grads = jnp.concatenate([lg, jnp.swapaxes(lg, 0, 1)], 0)  # image->text rows, then text->image
    probs = jnp.concatenate([jax.nn.softmax(logits, 1), jax.nn.softmax(logits.T, 1)], 0)
    positives = jnp.concatenate([jnp.arange(cb.shape[0])] * 2)
    return g, wl, wr, target, logit_grads, probs, positives


_grads_jit = jax.jit(_grads_and_weights, static_argnames=("score_batch", "curvature_batch", "beta"))


@jax.jit
def _chips_exact(g, target, lg, probs, pos, wl, wr, alpha, damping):
    return chips_scores(g, target, lg, probs, pos, learnability=wl, relevance=wr, alpha=alpha, damping=damping)


@jax.jit
def _chips_sketch(g, target, lg, probs, pos, wl, wr, proj, alpha, damping):
    return chips_scores(g, target, lg, probs, pos, projection=proj, learnability=wl, relevance=wr,
                        alpha=alpha, damping=damping)


def _one_seed(config, seed):
    key = jax.random.key(1000 + seed)
    ks = jax.random.split(key, 12)
    enc = _encoders(jax.random.key(config.seed), config)  # the "encoders" are fixed across seeds
    gx, gy = _pairs(ks[0], config.pretrain_size, "general", enc, config)
    train = lambda p, idx, k, steps: _train_jit(p, px_all[0], px_all[1], idx, k, lr=config.learning_rate,
                                                batch=config.train_batch, steps=steps)
    px_all = (gx, gy)
    params = train(_init_heads(ks[1], config), jnp.arange(config.pretrain_size), ks[2], config.pretrain_steps)
    n_gen, n_tgt = int(config.pool_size * config.pool_general), int(config.pool_size * config.pool_target)
    n_noisy = config.pool_size - n_gen - n_tgt
    parts = [_pairs(ks[3], n_gen, "general", enc, config), _pairs(ks[4], n_tgt, "target", enc, config),
             _pairs(ks[5], n_noisy, "target", enc, config, noisy=True)]
    px = jnp.concatenate([p[0] for p in parts])
    py = jnp.concatenate([p[1] for p in parts])
    kind = np.array([0] * n_gen + [1] * n_tgt + [2] * n_noisy)
    dev_x, dev_y = _pairs(ks[6], config.dev_size, "target", enc, config)
    test_x, test_y = _pairs(ks[7], config.test_size, "target", enc, config)
    gtest_x, gtest_y = _pairs(ks[8], config.test_size, "general", enc, config)

    g, wl, wr, target, lg, probs, pos = _grads_jit(params, px, py, dev_x, dev_y, ks[9], score_batch=config.score_batch,
                                                   curvature_batch=config.curvature_batch, beta=config.beta)
    exact = _chips_exact(g, target, lg, probs, pos, wl, wr, config.alpha, config.damping)
    proj = jl_projection(ks[10], sketch_dim=config.sketch_dim, num_params=g.shape[1])
    sketch = _chips_sketch(g, target, lg, probs, pos, wl, wr, proj, config.alpha, config.damping)
    budget = int(config.fraction * config.pool_size)
    top = lambda s: np.argsort(-np.asarray(s))[:budget]
    subsets = {"random": np.asarray(jax.random.permutation(ks[11], config.pool_size)[:budget]),
               "tracin": top(g @ target), "newton": top(exact.alignment), "chips_exact": top(exact.utility),
               "chips": top(sketch.utility),
               "full": np.arange(config.pool_size)}
    out = {"pretrained/target_r1": float(_recall_at_1(params, test_x, test_y)),
           "pretrained/general_r1": float(_recall_at_1(params, gtest_x, gtest_y)),
           "sketch_spearman": float(stats.spearmanr(np.asarray(sketch.alignment), np.asarray(exact.alignment)).statistic)}
    for m in METHODS:
        idx = subsets[m]
        tuned = _train_jit(params, px, py, jnp.asarray(idx), jax.random.fold_in(key, 7), lr=config.learning_rate,
                           batch=config.train_batch, steps=config.finetune_steps)
        out[f"{m}/target_r1"] = float(_recall_at_1(tuned, test_x, test_y))
        out[f"{m}/general_r1"] = float(_recall_at_1(tuned, gtest_x, gtest_y))
        out[f"{m}/frac_target"] = float(np.mean(kind[idx] == 1))
        out[f"{m}/frac_noisy"] = float(np.mean(kind[idx] == 2))
    for a in config.alpha_sweep:  # CHIPS exact with the curvature mix alpha (0: positive-only, 1: negative-only)
        idx = top(_chips_exact(g, target, lg, probs, pos, wl, wr, a, config.damping).utility)
        tuned = _train_jit(params, px, py, jnp.asarray(idx), jax.random.fold_in(key, 7), lr=config.learning_rate,
                           batch=config.train_batch, steps=config.finetune_steps)
        out[f"alpha{a:g}/target_r1"] = float(_recall_at_1(tuned, test_x, test_y))
    return out



def measure(config, key):
    del key
    runs = [_one_seed(config, s) for s in range(config.num_seeds)]
    for r in runs:  # paired differences: every selector sees the same pool and pre-trained heads
        for m in METHODS:
            r[f"{m}/target_r1_vs_random"] = r[f"{m}/target_r1"] - r["random/target_r1"]
            r[f"{m}/target_r1_vs_full"] = r[f"{m}/target_r1"] - r["full/target_r1"]
    metrics = {}
    for name in runs[0]:
        vals = np.array([r[name] for r in runs])
        metrics[name] = float(vals.mean())
        metrics[f"{name}_se"] = float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else 0.0
    return metrics


def progress(record: dict[str, Any]) -> str:
    return f"CHIPS target R@1 {record.get('chips/target_r1', float('nan')):.3f}"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.arange(len(METHODS))
    ax.bar(xs, [rec[f"{m}/target_r1"] for m in METHODS], yerr=[2 * rec[f"{m}/target_r1_se"] for m in METHODS],
           capsize=4)
    ax.axhline(rec["pretrained/target_r1"], color="k", ls="--", label="pre-trained heads")
    ax.set_xticks(xs, METHODS)
    ax.set_ylabel(f"target image→text recall@1 (of {config.test_size})")
    ax.set_title(f"{config.fraction:.0%} of a {config.pool_size}-pair pool, {config.num_seeds} seeds (±2 SE)")
    ax.legend(fontsize=8)
    save_figure(fig, workdir / "chips_selection.png")
    f = lambda name: f"{rec[name]:.3f} ± {rec[name + '_se']:.3f}"
    lines = [
        "# CHIPS: selecting pool pairs for target-domain fine-tuning of a tiny CLIP",
        "",
        (f"Pool {config.pool_size} pairs ({config.pool_general:.0%} general, {config.pool_target:.0%} clean target, "
         f"rest noisy target); budget {config.fraction:.0%}; heads fine-tuned {config.finetune_steps} Adam steps; "
         f"CHIPS α = {config.alpha:g}, λ = {config.damping:g}, sketch k = {config.sketch_dim} of P = "
         f"{2 * config.feature_dim * config.embed_dim + 1}; {config.num_seeds} seeds, mean ± SE."),
        "",
        f"Pre-trained heads: target R@1 {f('pretrained/target_r1')}, general R@1 {f('pretrained/general_r1')}.",
        "",
        ("| selector | target R@1 | Δ vs random (paired) | Δ vs full pool (paired) | general R@1 | "
         "clean-target share | noisy share |"),
        "|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        lines.append(f"| {m} | {f(m + '/target_r1')} | {f(m + '/target_r1_vs_random')} | "
                     f"{f(m + '/target_r1_vs_full')} | {f(m + '/general_r1')} | {f(m + '/frac_target')} | "
                     f"{f(m + '/frac_noisy')} |")
    if config.alpha_sweep:
        lines += ["", "CHIPS (exact) target R@1 by the curvature mix α:", "",
                  "| α | " + " | ".join(f"{a:g}" for a in config.alpha_sweep) + " |",
                  "|---|" + "---|" * len(config.alpha_sweep),
                  "| target R@1 | " + " | ".join(f(f"alpha{a:g}/target_r1") for a in config.alpha_sweep) + " |"]
    lines += ["", f"Spearman correlation of the sketched with the exact alignment: {f('sketch_spearman')}.", "",
              "![target recall by selector](chips_selection.png)", ""]
    return "\n".join(lines)
