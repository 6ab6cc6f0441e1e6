"""VRS in miniature (Timmaraju et al. 2023): a pacing-multiplier controller lowers the impression variance.

Simulated ad auctions (our reconstruction; the paper's simulator and RL controller were
not available). Each round ``batch_size`` users arrive. A user has a protected class c
(2 classes, never seen by the controller) and a non-protected segment g (``num_segments``
of them) whose class mix M[g, c] = P(c | g) is known in aggregate only. Each of
``num_ads`` ads targets a random subset of segments (its eligible audience, whose class
mix is e_a) and bids a total value v = bid × eAR, where the ad's estimated action rate
depends on the user's class (log eAR gets ``class_skew`` × s_a with s_a ~ N(0, 1) per ad:
the source of the skew) plus noise; outside advertisers bid a log-normal value. The
highest total value wins the impression.

The controller (`bvjax.fairness.pacing_multiplier_update`) keeps a multiplier per (ad,
segment) on the ad's total value and, after each round, moves it from that round's
aggregate delivery by class. Every evaluation simulates ``eval_users`` fresh users twice,
with the current multipliers and with none (the baseline), and reports the impression
variance (`impression_variance_summary`: TV distance between delivered and eligible
class mixes) and the share of total value kept.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp

from bvjax.fairness import impression_variance_summary, pacing_multiplier_update
from launch.report import plt, save_figure, series

NUM_CLASSES = 2


@functools.lru_cache(maxsize=4)
def _market(seed, num_ads, num_segments, class_skew, segment_purity):
    """The fixed market: segment class mixes, targeting, ad bids and class skews."""
    with jax.ensure_compile_time_eval():
        k_mix, k_target, k_bid, k_skew = jax.random.split(jax.random.key(seed), 4)
        # segments range from mostly class 0 to mostly class 1
        p1 = jnp.linspace(0.5 - segment_purity / 2, 0.5 + segment_purity / 2, num_segments)
        p1 = jax.random.permutation(k_mix, p1)
        mix = jnp.stack([1 - p1, p1], axis=1)                                   # [G, C]
        target = jax.random.bernoulli(k_target, 0.6, (num_ads, num_segments))
        target = target.at[:, 0].set(True)                                      # no ad with an empty audience
        log_bid = 0.3 * jax.random.normal(k_bid, (num_ads,))
        skew = class_skew * jax.random.normal(k_skew, (num_ads,))
        # eligible class mix: users are uniform over segments
        eligible = target.astype(jnp.float32) @ mix / num_segments               # [A, C]
        return {"mix": mix, "target": target, "log_bid": log_bid, "skew": skew, "eligible": eligible}


def _market_of(config):
    return _market(config.seed, config.num_ads, config.num_segments, config.class_skew, config.segment_purity)


def _users(config, key, n):
    m = _market_of(config)
    k_seg, k_cls, k_ear, k_out = jax.random.split(key, 4)
    segment = jax.random.randint(k_seg, (n,), 0, config.num_segments)
    cls = jax.random.bernoulli(k_cls, m["mix"][segment, 1]).astype(jnp.int32)
    noise = config.value_noise * jax.random.normal(k_ear, (n, config.num_ads))
    outside = config.outside_mean + config.value_noise * jax.random.normal(k_out, (n,))
    return {"segment": segment, "cls": cls, "noise": noise, "outside": outside}


def _auction(config, log_m, users):
    """(delivered [A, C] counts, value won with the base values, value won by the ads) for one batch."""
    m = _market_of(config)
    log_value = m["log_bid"][None] + m["skew"][None] * users["cls"][:, None] + users["noise"]   # [B, A]
    eligible = m["target"][:, users["segment"]].T                                              # [B, A]
    ranked = jnp.where(eligible, log_value + log_m[:, users["segment"]].T, -jnp.inf)
    winner = jnp.argmax(ranked, axis=1)
    won = jnp.max(ranked, axis=1) > users["outside"]
    onehot = jax.nn.one_hot(winner, config.num_ads) * won[:, None]                            # [B, A]
    delivered = onehot.T @ jax.nn.one_hot(users["cls"], NUM_CLASSES)                          # [A, C]
    base_value = jnp.sum(onehot * jnp.exp(log_value))
    return delivered, base_value, jnp.sum(won)


def init(config, key):
    del key
    return {"log_m": jnp.zeros((config.num_ads, config.num_segments))}


def make_batch(config, key):
    return _users(config, key, config.batch_size)


def train_step(config, state, batch):
    m = _market_of(config)
    delivered, _, _ = _auction(config, state["log_m"], batch)
    log_m = pacing_multiplier_update(state["log_m"], delivered, m["eligible"], m["mix"],
                                     step_size=config.step_size, max_log=config.max_log)
    tv = impression_variance_summary(delivered, m["eligible"])
    return {"log_m": log_m}, {"train_tv_mean": tv.mean}


def evaluate(config, state, key):
    m = _market_of(config)
    users = _users(config, key, config.eval_users)
    out = {}
    for name, log_m in (("vrs", state["log_m"]), ("baseline", jnp.zeros_like(state["log_m"]))):
        delivered, value, impressions = _auction(config, log_m, users)
        s = impression_variance_summary(delivered, m["eligible"], threshold=config.threshold)
        out.update({f"tv_mean/{name}": s.mean, f"tv_weighted/{name}": s.impression_weighted,
                    f"tv_max/{name}": jnp.max(s.per_ad), f"within/{name}": s.fraction_within,
                    f"value/{name}": value, f"impressions/{name}": impressions})
    out["value_kept"] = out["value/vrs"] / out["value/baseline"]
    out["max_abs_log_multiplier"] = jnp.max(jnp.abs(state["log_m"]))
    return out


def progress(record: dict[str, Any]) -> str:
    return (f"TV mean {record['tv_mean/vrs']:.4f} (baseline {record['tv_mean/baseline']:.4f}), "
            f"share within threshold {record['within/vrs']:.2f}")


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (("vrs", "-o"), ("baseline", "--")):
        steps, tv = series(history, f"tv_mean/{name}")
        axes[0].plot(steps, tv, style, label=f"{name}: mean over ads")
        steps, tvmax = series(history, f"tv_max/{name}")
        axes[0].plot(steps, tvmax, style, alpha=0.5, label=f"{name}: worst ad")
        steps, within = series(history, f"within/{name}")
        axes[1].plot(steps, within, style, label=name)
    axes[0].axhline(config.threshold, color="k", lw=0.8)
    axes[0].set_xlabel("round")
    axes[0].set_ylabel("impression variance (TV distance)")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("round")
    axes[1].set_ylabel(f"share of ads with variance <= {config.threshold:g}")
    axes[1].legend(fontsize=8)
    save_figure(fig, workdir / "vrs_pacing.png")
    first, last = history[0], history[-1]
    rows = [r for r in history if "tv_mean/vrs" in r]
    lines = [
        "# VRS pacing multipliers: impression variance over rounds",
        "",
        (f"{config.num_ads} ads, {config.num_segments} segments (class-1 share from "
         f"{0.5 - config.segment_purity / 2:.2f} to {0.5 + config.segment_purity / 2:.2f}), class skew "
         f"{config.class_skew:g}, {config.batch_size} users per round, evaluation on {config.eval_users} fresh users; "
         f"controller step {config.step_size:g}, |log m| <= {config.max_log:g}."),
        "",
        ("| round | TV mean (VRS) | TV mean (baseline) | worst ad (VRS) | worst ad (baseline) | "
        f"share <= {config.threshold:g} (VRS) | value kept |"),
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['step']} | {r['tv_mean/vrs']:.4f} | {r['tv_mean/baseline']:.4f} | {r['tv_max/vrs']:.4f} | "
                     f"{r['tv_max/baseline']:.4f} | {r['within/vrs']:.2f} | {r['value_kept']:.3f} |")
    lines += ["", (f"Mean variance {first['tv_mean/vrs']:.4f} → {last['tv_mean/vrs']:.4f} "
                   f"(baseline {last['tv_mean/baseline']:.4f}); share within {config.threshold:g}: "
                   f"{first['within/vrs']:.2f} → {last['within/vrs']:.2f}; total value kept "
                   f"{last['value_kept']:.3f} of the baseline's."), "", "![VRS](vrs_pacing.png)", ""]
    return "\n".join(lines)
