"""IBCL (Lu, Caprio, Eaton and Lee, 2023) in miniature: zero-shot preference models on a two-task toy.

Tasks: two binary problems on 2-D Gaussian inputs with conflicting decision boundaries
(task A's classes at ±(1, 0), task B's at ±(cos φ, sin φ) with φ = ``angle_deg``, noise
``noise``), ``num_train`` training and ``num_test`` test points per task. Model: logistic
regression, 3 weights (a "Bayesian neural network" with no hidden layer).

Knowledge base (the FGCS): for each task in order and each prior j, a mean-field
Gaussian posterior fitted by variational inference (reparameterised ELBO, Adam,
`diag_gaussian_kl`); task A's priors are N(0, s_j² I) for ``prior_scales`` and task B's
prior j is task A's posterior j, as in IBCL. Preferences w = (w_A, 1 − w_A) on a grid:
each zero-shot model comes from `preference_weights` and `combine_gaussians` (no
training), and ``num_models`` models are drawn from its HDR box (`gaussian_hdr_box`,
mass 1 − α; `sample_hdr_box`), the best on the training data by the preference-weighted
accuracy being kept (IBCL's selection), besides the combined mean itself.

Reference: the Pareto-optimal parameter θ*_w = argmin w_A L_A + w_B L_B of the expected
logistic losses (fitted by Newton's method on ``num_population`` fresh points per task),
i.e. retraining once per preference. Reported per preference: each model's test
accuracies on A and B, the preference-weighted accuracy and its gap to θ*_w's, and
whether θ*_w lies in the 1 − α HDR (exact ellipsoid, the joint box, and the official
code's box of mass α per coordinate).
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.continual import (
    combine_gaussians,
    diag_gaussian_kl,
    gaussian_hdr_box,
    in_gaussian_hdr,
    preference_weights,
    sample_hdr_box,
)
from launch.report import label_axes, mean_se, plt, save_figure

_FIELDS = ("angle_deg", "noise", "num_train", "num_test", "num_population", "prior_scales", "vi_steps",
           "vi_samples", "vi_lr", "num_preferences", "num_models", "alpha")


class _Cfg:
    def __init__(self, values):
        for f, v in zip(_FIELDS, values):
            setattr(self, f, v)


def _static(config):
    return tuple(tuple(v) if isinstance(v, (list, tuple)) else v for v in (getattr(config, f) for f in _FIELDS))


def _task(c, key, task, n):
    ky, kx = jax.random.split(key)
    phi = 0.0 if task == 0 else np.deg2rad(c.angle_deg)
    center = jnp.array([np.cos(phi), np.sin(phi)])
    y = jax.random.bernoulli(ky, 0.5, (n,)).astype(jnp.float32)
    x = (2 * y - 1)[:, None] * center + c.noise * jax.random.normal(kx, (n, 2))
    return x, y


def _nll(theta, x, y):
    z = x @ theta[:2] + theta[2]
    return jnp.mean(jax.nn.softplus(z) - y * z)


def _acc(theta, x, y):
    return jnp.mean(((x @ theta[:2] + theta[2]) > 0) == (y > 0.5))


def _vi(c, x, y, prior_mean, prior_sigma, key):
    """Mean-field Gaussian VI for logistic regression: returns (mean, sigma) of the posterior."""
    tx = optax.adam(c.vi_lr)
    n = x.shape[0]
    params = {"mu": prior_mean, "rho": jnp.log(jnp.expm1(jnp.minimum(prior_sigma, 0.5)))}

    def neg_elbo(p, k):
        sigma = jax.nn.softplus(p["rho"])
        eps = jax.random.normal(k, (c.vi_samples, 3))
        thetas = p["mu"] + sigma * eps
        nll = jnp.mean(jax.vmap(_nll, (0, None, None))(thetas, x, y)) * n
        return nll + diag_gaussian_kl(p["mu"], sigma, prior_mean, prior_sigma)

    def step(carry, k):
        p, s = carry
        g = jax.grad(neg_elbo)(p, k)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(key, c.vi_steps))
    return params["mu"], jax.nn.softplus(params["rho"])


def _pareto(x_a, y_a, x_b, y_b, w):
    """argmin w L_A + (1 - w) L_B by Newton's method (a tiny ridge keeps it defined when separable)."""
    def obj(t):
        return w * _nll(t, x_a, y_a) + (1 - w) * _nll(t, x_b, y_b) + 1e-6 * jnp.sum(t**2)

    def newton(t, _):
        g, h = jax.grad(obj)(t), jax.hessian(obj)(t)
        return t - jnp.linalg.solve(h, g), None

    t, _ = jax.lax.scan(newton, jnp.zeros(3), None, length=30)
    return t


@functools.lru_cache(maxsize=4)
def _run_fn(static):
    c = _Cfg(static)

    def run(key):
        keys = jax.random.split(key, 8)
        train = [_task(c, keys[t], t, c.num_train) for t in range(2)]
        test = [_task(c, keys[2 + t], t, c.num_test) for t in range(2)]
        pop = [_task(c, keys[4 + t], t, c.num_population) for t in range(2)]
        means, sigmas, ids = [], [], []
        for j, s in enumerate(c.prior_scales):
            pm, ps = jnp.zeros(3), jnp.full(3, float(s))
            for t in range(2):  # task B's prior is task A's posterior, per prior j
                pm, ps = _vi(c, *train[t], pm, ps, jax.random.fold_in(keys[6], 10 * j + t))
                means.append(pm)
                sigmas.append(ps)
                ids.append(t)
        means, sigmas, ids = jnp.stack(means), jnp.stack(sigmas), jnp.array(ids)
        ws = jnp.linspace(0.0, 1.0, c.num_preferences)

        def per_pref(w, k):
            pref = jnp.stack([w, 1.0 - w])
            g = combine_gaussians(means, sigmas, preference_weights(pref, ids, num_tasks=2))
            box = gaussian_hdr_box(g.mean, g.sigma, alpha=c.alpha)
            code_box = gaussian_hdr_box(g.mean, g.sigma, alpha=c.alpha, mass="code")
            samples = sample_hdr_box(box, k, num_samples=c.num_models)
            train_score = jax.vmap(lambda t: w * _acc(t, *train[0]) + (1 - w) * _acc(t, *train[1]))(samples)
            best = samples[jnp.argmax(train_score)]
            star = _pareto(*pop[0], *pop[1], w)
            out = {}
            for name, t in (("mean", g.mean), ("best", best), ("pareto", star)):
                a, b = _acc(t, *test[0]), _acc(t, *test[1])
                out[f"acc_a/{name}"], out[f"acc_b/{name}"] = a, b
                out[f"weighted/{name}"] = w * a + (1 - w) * b
            out["in_hdr"] = in_gaussian_hdr(star, g.mean, g.sigma, alpha=c.alpha).astype(jnp.float32)
            out["in_box"] = jnp.all((star >= box.lower) & (star <= box.upper)).astype(jnp.float32)
            out["in_code_box"] = jnp.all((star >= code_box.lower) & (star <= code_box.upper)).astype(jnp.float32)
            out["sigma_mean"] = jnp.mean(g.sigma)
            out["dist_over_sigma"] = jnp.sqrt(jnp.sum(((star - g.mean) / g.sigma) ** 2))
            return out

        return jax.vmap(per_pref)(ws, jax.random.split(keys[7], c.num_preferences))

    return jax.jit(run)



def measure(config, key):
    del key
    metrics = {}
    ws = np.linspace(0.0, 1.0, config.num_preferences)
    for s in range(config.num_seeds):
        out = _run_fn(_static(config))(jax.random.fold_in(jax.random.key(config.seed), s))
        for name, v in out.items():
            for i, w in enumerate(ws):
                metrics[f"{name}/w{w:.2f}/s{s}"] = v[i]
    return metrics


def _avg(rec, name, config, per_w=None):
    ws = np.linspace(0.0, 1.0, config.num_preferences) if per_w is None else [per_w]
    v = np.array([[rec[f"{name}/w{w:.2f}/s{s}"] for w in ws] for s in range(config.num_seeds)])
    return mean_se(v.mean(1))


def progress(record: dict[str, Any]) -> str:
    return f"{sum(k.startswith('in_hdr/') for k in record)} preference cells"


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    ws = np.linspace(0.0, 1.0, config.num_preferences)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, style in (("pareto", "k-o"), ("mean", "b-s"), ("best", "r--^")):
        a = [_avg(rec, f"acc_a/{name}", config, w)[0] for w in ws]
        b = [_avg(rec, f"acc_b/{name}", config, w)[0] for w in ws]
        ax.plot(a, b, style, ms=4, label={"pareto": "θ*_w (retrained per w)", "mean": "IBCL zero-shot (HDR centre)",
                                          "best": f"IBCL best of {config.num_models} HDR samples"}[name])
    label_axes(ax, xlabel="test accuracy, task A", ylabel="test accuracy, task B",
               title=f"preference sweep w_A ∈ [0, 1], {config.num_seeds} seeds")
    save_figure(fig, workdir / "ibcl_toy.png")
    lines = [
        "# IBCL in miniature: zero-shot preference models on two conflicting tasks",
        "",
        (f"Logistic regression on 2-D inputs, boundaries {config.angle_deg:g}° apart, noise {config.noise:g}, "
         f"{config.num_train} training points per task; FGCS of {len(config.prior_scales)} priors × 2 tasks by VI "
         f"({config.vi_steps} Adam steps); {config.num_preferences} preferences; HDR mass 1 − α with α = "
         f"{config.alpha:g}; θ*_w from {config.num_population} fresh points per task. Means ± SE over "
         f"{config.num_seeds} seeds (each averaged over preferences)."),
        "",
        "| model | acc A | acc B | preference-weighted acc | gap to θ*_w | acc A at w_A = 1 | acc B at w_A = 0 |",
        "|---|---|---|---|---|---|---|",
    ]
    star = _avg(rec, "weighted/pareto", config)[0]
    for name, label in (("pareto", "θ*_w (retrained)"), ("mean", "IBCL HDR centre"),
                        ("best", f"IBCL best of {config.num_models}")):
        a, b, wt = (_avg(rec, f"{m}/{name}", config) for m in ("acc_a", "acc_b", "weighted"))
        end_a = _avg(rec, f"acc_a/{name}", config, 1.0)
        end_b = _avg(rec, f"acc_b/{name}", config, 0.0)
        lines.append(f"| {label} | {a[0]:.3f} ± {a[1]:.3f} | {b[0]:.3f} ± {b[1]:.3f} | {wt[0]:.3f} ± {wt[1]:.3f} | "
                     f"{star - wt[0]:+.3f} | {end_a[0]:.3f} ± {end_a[1]:.3f} | {end_b[0]:.3f} ± {end_b[1]:.3f} |")
    lines += ["", "| θ*_w inside | rate (over preferences and seeds) |", "|---|---|"]
    for name, label in (("in_hdr", "exact HDR (ellipsoid), mass 1 − α"), ("in_box", "joint box, mass 1 − α"),
                        ("in_code_box", "official code's box, mass α per coordinate")):
        m, se = _avg(rec, name, config)
        lines.append(f"| {label} | {m:.3f} ± {se:.3f} |")
    d, dse = _avg(rec, "dist_over_sigma", config)
    lines += ["", (f"Mahalanobis distance of θ*_w from the HDR centre: {d:.2f} ± {dse:.2f} (the 1 − α ellipsoid's radius "
              f"is {np.sqrt(_chi2_ppf(1 - config.alpha, 3)):.2f})."), "", "![preference sweep](ibcl_toy.png)", ""]
    return "\n".join(lines)


def _chi2_ppf(q, df):
    from scipy import stats

    return float(stats.chi2.ppf(q, df))
