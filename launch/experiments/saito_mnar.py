"""Saito et al. 2020 in miniature: MF trained with naive, IPS and clipped-IPS losses on MNAR clicks.

Data (`bvjax.data.synthetic_mnar_factors` + `sample_mnar_feedback`): ``num_users`` x
``num_items`` pairs with relevance probability γ = σ(clip(r̂, 1, 5) − 5) and exposure
θ = σ(ℓ)^power (item popularity a power law in the item index); one draw of O, R and
clicks Y = O·R is the training data, fixed by ``config.seed``.

Training: one matrix factorisation per estimator (user and item factors of dimension
``dim``, user, item and global biases, sigmoid output), all trained side by side on the
same minibatches of pairs with Adam and an L2 penalty, on the mean pointwise log loss:
``ideal`` (the oracle: soft label γ), ``naive`` (every unclicked pair a negative), ``ips``
(true θ, unclipped) and ``clip_M`` (θ clipped below at M).

Evaluation, as in the paper's semi-synthetic protocol: each user's candidates are the
pairs with Y = 0 in training, the relevant ones those with R = 1; DCG@K with Saito's
discount normalised by the number of relevant items (`dcg_at_k`), Recall@5 and MAP@5,
averaged over users with a relevant candidate, over all items and over rare items
(training clicks at most the ``rare_quantile`` quantile of the items' click counts).
The SNIPS DCG@5 (`snips_dcg_at_k`) on a fresh, independent draw of clicks, with the true
propensities, shows what an unbiased validation metric reads. The bias–variance meter
measures the mean-loss estimators themselves: at each evaluation, on the current
predictions of the ``ips`` model for the first ``meter_users`` users, the IPS loss with
clip M (M = 0: unbiased; M = 1: the naive loss) over fresh draws of O and R, against the
ideal loss.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.counterfactual import (
    dcg_at_k,
    ideal_pointwise_loss,
    ips_pointwise_loss,
    map_at_k,
    naive_pointwise_loss,
    recall_at_k,
    snips_dcg_at_k,
)
from bvjax.data import sample_mnar_feedback, synthetic_mnar_factors
from bvjax.diagnostics import bias_variance
from launch.report import plt, save_figure, series


def _clip_of(name: str) -> float | None:
    """The clip threshold of an estimator name (``ips`` is 0, ``clip_0.05`` is 0.05), None otherwise."""
    if name == "ips":
        return 0.0
    if name.startswith("clip_"):
        return float(name[len("clip_"):])
    if name in ("ideal", "naive"):
        return None
    raise KeyError(f"config.estimators: unknown {name!r}; valid: 'ideal', 'naive', 'ips', 'clip_<M>'")


def _make_data(seed, num_users, num_items, rank, popularity_skew, base_rate, power, rare_quantile):
    """The data set, computed by traced ops from ``seed``: inside the jitted ``init`` it is made by the
    program (whose size does not depend on the data set's), never embedded in it as constants."""
    k_factors, k_train, k_valid = jax.random.split(jax.random.key(seed), 3)
    rating, logits = synthetic_mnar_factors(k_factors, num_users=num_users, num_items=num_items, rank=rank,
                                            popularity_skew=popularity_skew, base_rate=base_rate)
    train = sample_mnar_feedback(k_train, rating, logits, power=power)
    valid = sample_mnar_feedback(k_valid, rating, logits, power=power)
    counts = jnp.sum(train.clicks, axis=0, dtype=jnp.float32)
    rare = counts <= jnp.quantile(counts, rare_quantile)
    return {"gamma": train.relevance_prob, "theta": train.propensity, "clicks": train.clicks,
            "relevance": train.relevance, "valid_clicks": valid.clicks, "rare": rare}


def _data_args(config):
    return (config.seed, config.num_users, config.num_items, config.rank, config.popularity_skew,
            config.base_rate, config.power, config.rare_quantile)


_data_jit = jax.jit(_make_data, static_argnums=tuple(range(8)))


def _data(config):
    """The same data set outside a trace (the report's summary figures)."""
    return _data_jit(*_data_args(config))


def _init_mf(config, key):
    ku, ki = jax.random.split(key)
    scale = 0.1
    return {"user": scale * jax.random.normal(ku, (config.num_users, config.dim)),
            "item": scale * jax.random.normal(ki, (config.num_items, config.dim)),
            "user_bias": jnp.zeros(config.num_users), "item_bias": jnp.zeros(config.num_items),
            "bias": jnp.zeros(())}


def _predict(params, users, items):
    logit = (jnp.sum(params["user"][users] * params["item"][items], -1) + params["user_bias"][users]
             + params["item_bias"][items] + params["bias"])
    return jax.nn.sigmoid(logit)


def _predict_all(params):
    logit = (params["user"] @ params["item"].T + params["user_bias"][:, None] + params["item_bias"][None, :]
             + params["bias"])
    return jax.nn.sigmoid(logit)


def _optimizer(config):
    return optax.adam(config.learning_rate)


def init(config, key):
    params = {name: _init_mf(config, key) for name in config.estimators}  # same start for every estimator
    # The data rides in the state so that jitted steps see it as an argument, not as constants that
    # XLA would try to fold (sorting 10^5 constant scores at compile time is very slow); `init` itself
    # (jitted by the launcher) computes it from the seed rather than embedding it.
    return {"params": params, "opt_state": _optimizer(config).init(params), "step": jnp.zeros((), jnp.int32),
            "data": _make_data(*_data_args(config))}


def make_batch(config, key):
    """[batch_size] random pair indices (flattened user * num_items + item)."""
    return {"pair": jax.random.randint(key, (config.batch_size,), 0, config.num_users * config.num_items)}


def _pair_loss(name, pred, gamma, clicks, theta):
    clip = _clip_of(name)
    if name == "ideal":
        return ideal_pointwise_loss(pred, gamma)
    if name == "naive":
        return naive_pointwise_loss(pred, clicks)
    return ips_pointwise_loss(pred, clicks, theta, clip=clip)


def train_step(config, state, batch):
    data = state["data"]
    users, items = batch["pair"] // config.num_items, batch["pair"] % config.num_items
    gamma, theta = data["gamma"][users, items], data["theta"][users, items]
    clicks = data["clicks"][users, items]

    def loss_fn(params):
        total, metrics = 0.0, {}
        for name in config.estimators:
            p = params[name]
            loss = jnp.mean(_pair_loss(name, _predict(p, users, items), gamma, clicks, theta))
            l2 = sum(jnp.sum(v**2) for v in (p["user"][users], p["item"][items]))
            total = total + loss + config.l2 * l2 / config.batch_size
            metrics[f"train_loss/{name}"] = loss
        return total, metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state["params"])
    updates, opt_state = _optimizer(config).update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
            "step": state["step"] + 1, "data": data}, metrics


def _user_mean(values, valid):
    return jnp.sum(jnp.where(valid, values, 0.0)) / jnp.maximum(jnp.sum(valid), 1)


def evaluate(config, state, key):
    data = state["data"]
    candidates = data["clicks"] == 0
    relevance = data["relevance"]
    metrics = {}
    for name in config.estimators:
        pred = _predict_all(state["params"][name])
        metrics[f"ideal_loss/{name}"] = jnp.mean(ideal_pointwise_loss(pred, data["gamma"]))
        for subset, mask in (("all", candidates), ("rare", candidates & data["rare"][None, :])):
            valid = jnp.sum(jnp.where(mask, relevance, 0.0), axis=1) > 0
            for k in config.ks:
                dcg = dcg_at_k(relevance, pred, k=k, mask=mask, normalize=True)
                metrics[f"dcg@{k}/{subset}/{name}"] = _user_mean(dcg, valid)
            metrics[f"recall@5/{subset}/{name}"] = _user_mean(recall_at_k(relevance, pred, k=5, mask=mask), valid)
            metrics[f"map@5/{subset}/{name}"] = _user_mean(map_at_k(relevance, pred, k=5, mask=mask), valid)
        vclicks = data["valid_clicks"]
        snips = snips_dcg_at_k(vclicks, pred, data["theta"], k=5, clip=config.snips_clip)
        metrics[f"snips_dcg@5/{name}"] = _user_mean(snips, jnp.sum(vclicks, axis=1) > 0)

    for subset, mask in (("all", candidates), ("rare", candidates & data["rare"][None, :])):  # oracle: rank by γ
        valid = jnp.sum(jnp.where(mask, relevance, 0.0), axis=1) > 0
        for k in config.ks:
            dcg = dcg_at_k(relevance, data["gamma"], k=k, mask=mask, normalize=True)
            metrics[f"oracle_dcg@{k}/{subset}"] = _user_mean(dcg, valid)
            # A uniformly random ranking: E[DCG@k / n_rel] = sum_{r<=k} 1/d_r / n_candidates, exactly.
            gain = sum(1.0 / (1.0 if r == 1 else np.log2(r)) for r in range(1, k + 1))
            metrics[f"random_dcg@{k}/{subset}"] = _user_mean(gain / jnp.maximum(jnp.sum(mask, axis=1), 1), valid)
    metrics.update(jax.lax.cond(state["step"] == config.num_steps, functools.partial(_meter, config),
                                functools.partial(_no_meter, config), state, key))
    return metrics


def _meter_keys(config):
    return [f"meter_{m}{se}/M{clip:g}" for clip in config.meter_clips
            for m in ("bias_squared", "variance", "mse") for se in ("", "_se")]


def _no_meter(config, state, key):
    del state, key
    return {k: jnp.full((), jnp.nan) for k in _meter_keys(config)}


def _meter(config, state, key):
    """The meter on the clipped mean-loss estimators, at the ips model's predictions (final step only)."""
    data = state["data"]
    metrics = {}
    meter_model = "ips" if "ips" in config.estimators else config.estimators[0]
    n = config.meter_users
    pred = _predict_all(state["params"][meter_model])[:n]
    gamma, theta = data["gamma"][:n], data["theta"][:n]
    ideal = jnp.mean(ideal_pointwise_loss(pred, gamma))
    for i, clip in enumerate(config.meter_clips):

        def estimator(k, clip=clip):
            ko, kr = jax.random.split(k)
            clicks = jax.random.bernoulli(ko, theta) & jax.random.bernoulli(kr, gamma)
            return jnp.mean(ips_pointwise_loss(pred, clicks, theta, clip=clip))

        r = bias_variance(estimator, ideal, jax.random.fold_in(key, i), num_draws=config.meter_draws)
        tag = f"M{clip:g}"
        metrics.update({f"meter_bias_squared/{tag}": r.bias_squared, f"meter_bias_squared_se/{tag}": r.bias_squared_stderr,
                        f"meter_variance/{tag}": r.variance, f"meter_variance_se/{tag}": r.variance_stderr,
                        f"meter_mse/{tag}": r.mse, f"meter_mse_se/{tag}": r.mse_stderr})
    return {k: metrics[k] for k in _meter_keys(config)}


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"DCG@5[{k.split('/')[-1]}]={v:.3f}" for k, v in record.items() if k.startswith("dcg@5/all/"))


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    rec = history[-1]
    data = _data(config)
    clips = list(config.meter_clips)
    tags = [f"M{c:g}" for c in clips]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    xs = [max(c, 1e-4) for c in clips]
    for metric, label in (("meter_bias_squared", "bias²"), ("meter_variance", "variance"), ("meter_mse", "MSE")):
        v = np.array([rec[f"{metric}/{t}"] for t in tags])
        se = np.array([rec[f"{metric}_se/{t}"] for t in tags])
        axes[0].errorbar(xs, np.maximum(v, 1e-12), yerr=2 * se, marker="o", capsize=3, label=label)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("clip threshold M (M=0 plotted at 1e-4; M=1 is the naive loss)")
    axes[0].set_title("mean-loss estimator vs the ideal loss (meter, ±2 SE)")
    axes[0].legend()
    for ax, subset in zip(axes[1:], ("all", "rare")):
        for name in config.estimators:
            steps, v = series(history, f"dcg@5/{subset}/{name}")
            ax.plot(steps, v, label=name)
        ax.set_xlabel("step")
        ax.set_title(f"DCG@5 (Saito discount, normalised), {subset} items")
        ax.legend(fontsize=8)
    save_figure(fig, workdir / "saito_mnar.png")

    clicks = np.asarray(data["clicks"])
    lines = [
        "# Saito et al. 2020 in miniature: naive vs IPS vs clipped IPS on MNAR clicks",
        "",
        (f"{config.num_users} users x {config.num_items} items, exposure power p = {config.power:g} (mean θ "
         f"{float(np.mean(data['theta'])):.4f}, min {float(np.min(data['theta'])):.2e}), mean γ "
         f"{float(np.mean(data['gamma'])):.3f}, {int(clicks.sum())} training clicks; rare items: "
         f"{int(np.sum(data['rare']))} items with at most the {config.rare_quantile:g}-quantile of training "
         f"clicks. MF dim {config.dim}, Adam lr {config.learning_rate}, L2 {config.l2}, {config.num_steps} "
         f"steps of {config.batch_size} pairs; log local loss. Evaluation on each user's unclicked items, "
         "relevant = R = 1 (figures are the final step's)."),
        "",
        "## The clipped estimator's bias–variance trade-off (meter)",
        "",
        (f"Mean IPS log loss over the first {config.meter_users} users' pairs with clip M, on the `"
         f"{'ips' if 'ips' in config.estimators else config.estimators[0]}` model's final predictions, "
         f"{config.meter_draws} fresh draws of O and R, against the ideal loss. M = 1 is the naive loss. "
         "Figures ± one standard error."),
        "",
        "| M | bias² | variance | MSE |",
        "|---|---|---|---|",
    ]
    for c, t in zip(clips, tags):
        cells = [f"{rec[f'{m}/{t}']:.3g} ± {rec[f'{m}_se/{t}']:.2g}"
                 for m in ("meter_bias_squared", "meter_variance", "meter_mse")]
        lines.append(f"| {c:g} | " + " | ".join(cells) + " |")
    best = min(tags, key=lambda t: rec[f"meter_mse/{t}"])
    lines += ["", f"Lowest MSE at M = {best[1:]}.", "", "## Ranking quality", "",
              "| estimator | ideal loss | " + " | ".join(f"DCG@{k}" for k in config.ks) + " | Recall@5 | MAP@5 | "
              + " | ".join(f"rare DCG@{k}" for k in config.ks) + " | rare Recall@5 | SNIPS DCG@5 (fresh clicks) |",
              "|---|---|" + "---|" * (2 * len(config.ks) + 4)]
    for name in ("oracle", "random"):
        cells = ["—"] + [f"{rec[f'{name}_dcg@{k}/all']:.4f}" for k in config.ks] + ["—", "—"]
        cells += [f"{rec[f'{name}_dcg@{k}/rare']:.4f}" for k in config.ks] + ["—", "—"]
        label = "oracle (rank by true γ)" if name == "oracle" else "random ranking (exact expectation)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for name in config.estimators:
        cells = [f"{rec[f'ideal_loss/{name}']:.4f}"]
        cells += [f"{rec[f'dcg@{k}/all/{name}']:.4f}" for k in config.ks]
        cells += [f"{rec[f'recall@5/all/{name}']:.4f}", f"{rec[f'map@5/all/{name}']:.4f}"]
        cells += [f"{rec[f'dcg@{k}/rare/{name}']:.4f}" for k in config.ks]
        cells += [f"{rec[f'recall@5/rare/{name}']:.4f}", f"{rec[f'snips_dcg@5/{name}']:.4f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", ("The SNIPS column ranks all items (training clicks included) against an independent draw of "
                   "clicks, so it rewards memorising the training clicks and is not comparable with the DCG "
                   "columns, which rank only each user's unclicked items."), "",
              "![meter and DCG](saito_mnar.png)", ""]
    return "\n".join(lines)
