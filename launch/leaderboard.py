r"""The leaderboard: bias², variance and MSE of every estimator family against a known truth.

    python -m launch.leaderboard --output_dir=workdir/leaderboard      # ~6 min on 2 shared CPU cores
    python -m launch.leaderboard --output_dir=/tmp/lb --families=mi_bounds,covariance --num_draws=512

Runs `bvjax.diagnostics.bias_variance` (the meter) on each estimator of each family, on a
synthetic problem whose true value is known exactly, and prints one table (family,
estimator, mean estimate, truth, bias², variance, MSE with their Monte Carlo standard
errors, and the cost of one estimate in µs: median time of a jitted ``vmap`` over
``--timing_draws`` keys, divided by the number of keys). It writes the same table as
``leaderboard.md`` (each estimator linked to its paper) and a bar chart
``leaderboard.png`` (bias² and variance stacked, per family) into ``--output_dir``.

Families (problem, truth):

- ``pg_baselines``: 256 Bernoulli "prompts" with pass rates p ~ U(0.05, 0.95), G = 4
  rollouts each; the policy gradient w.r.t. each prompt's logit,
  ĝ = (1/G) Σ_i (r_i − b_i)(r_i − p), against p(1 − p); baselines none, group mean
  (GRPO / Dr.GRPO centring), leave-one-out (RLOO), V0.5 (prior v = p + N(0, 0.1²),
  clipped to [0, 1]) and OBLR (weights (r − p)²).
- ``preference``: the exact-marginal BVPO toy (`launch/configs/bvpo_toy.py`) at θ = π_ref:
  the minibatch gradient (8 pairs) of DPO on sampled traces (α = 1), BVPO's mixture
  α = 0.5, and the empty-trace gradient (α = 0), against the exact marginal DPO gradient.
- ``off_policy``: DCG@10 / total relevance of a fixed ranking from one draw of MNAR clicks
  (200 users × 100 items, exposure θ from 0.02 to 1), against its value under the true
  relevance: IPS, clipped IPS (M = 0.1), SNIPS, and the naive estimate.
- ``mi_bounds``: NWJ, InfoNCE and MI-α (α = 0.5) with each bound's optimal critic (the
  log density ratio; plus 1 for NWJ) on a batch of K = 64 pairs of correlated Gaussians (d = 4, ρ = 0.8), against the true MI.
- ``covariance``: sample, Ledoit–Wolf and 3-factor PCA covariance from T = 40 days of
  N = 20 assets of a 3-factor model, against the true Σ (squared Frobenius error).
- ``ci_coverage``: whether a 95% interval for the mean of n = 20 Exponential(1) draws
  covers 1: normal (Wald) vs percentile bootstrap (500 resamples); truth 0.95, so bias²
  is the squared coverage error and the mean column is the coverage.
- ``step_advantages``: a key-and-door corridor (`bvjax.envs`, 5 cells, key in cell 0, door in
  cell 4, start in cell 2, 12 steps, γ = 0.95) whose observation is the cell only (the key
  flag is hidden), under a fixed policy of the observation (up 0.1, right 0.45, down 0.1,
  left 0.35). One estimate: for each of 6 probe (history, action) pairs, a group of G = 8
  trajectories of the task, the first one the probe's forced action prefix plus a sampled
  continuation; each estimator's advantage at the probe step, against the exact advantage
  Q(s_t, a_t) − Σ_a π(a) Q(s_t, a) of the true state (cell and key flag) by backward
  induction. Estimators, all in return units (``mean_norm``): GRPO's episode-level
  group-mean advantage, GiGPO's step part (groups by the current cell) and GiGPO's episode
  + step sum (ω = 1), and HGPO with K = 2 history levels, α = 1, with the recipe's
  (k + 2)^α and the paper's (k + 1)^α level weights. Bias here is of the advantage, not of
  the policy gradient: an error that depends on the history but not on the action (a
  mismatched baseline) counts as bias² yet leaves the expected gradient nearly unchanged.

Runtime: the default (2,000 draws, all 7 families) took 5.6 minutes on 2 CPU cores shared
with other jobs (load average ~6), mostly compilation (earlier, with 6 families and load
average ~15, 5.7 and 7.4 minutes); the table is in docs/leaderboard.md.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import app, flags

from bvjax.counterfactual import dcg_at_k, snips_dcg_at_k
from bvjax.diagnostics import bias_variance
from bvjax.distill import infonce_bound, mi_alpha_bound, nwj_bound
from bvjax.envs import key_door_reset, key_door_step
from bvjax.finance import ledoit_wolf_covariance, pca_factor_covariance, sample_covariance
from bvjax.rl import (
    gigpo_advantages,
    group_advantages,
    hgpo_advantages,
    optimal_baseline_advantages,
    rloo_advantages,
    v05_baseline,
)
from bvjax.stats import bootstrap_ci, bootstrap_indices, normal_score_ci
from launch._timing import median_time

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FAMILIES = ("pg_baselines", "preference", "off_policy", "mi_bounds", "covariance", "ci_coverage",
            "step_advantages")

_OUTPUT_DIR = flags.DEFINE_string("output_dir", "workdir/leaderboard", "Where leaderboard.md and .png go.")
_FAMILIES = flags.DEFINE_list("families", list(FAMILIES), f"Which families to run, of {FAMILIES}.")
_NUM_DRAWS = flags.DEFINE_integer("num_draws", 2000, "Meter draws per estimator.")
_TIMING_DRAWS = flags.DEFINE_integer("timing_draws", 256, "Keys in the timed vmap (cost per estimate).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (median reported).")
_SMALL = flags.DEFINE_bool("small", False, "Tiny problem sizes (for the smoke test).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the meter's keys.")

PAPERS = {
    "REINFORCE": ("Williams 1992", "https://doi.org/10.1007/BF00992696"),
    "GRPO": ("Shao et al 2024", "https://arxiv.org/abs/2402.03300"),
    "GiGPO": ("Feng et al 2025", "https://arxiv.org/abs/2505.10978"),
    "HGPO": ("He et al 2026", "https://arxiv.org/abs/2602.22817"),
    "RLOO": ("Kool et al 2019", "https://openreview.net/forum?id=r1lgTGL5DE"),
    "V0.5": ("Zhang et al 2026", "https://arxiv.org/abs/2603.10848"),
    "OBLR": ("Huang et al 2025", "https://arxiv.org/abs/2511.23310"),
    "DPO": ("Rafailov et al 2023", "https://arxiv.org/abs/2305.18290"),
    "BVPO": ("Zhu et al 2025", "https://arxiv.org/abs/2510.05095"),
    "IPS": ("Saito et al 2020", "https://arxiv.org/abs/1909.03601"),
    "SNIPS": ("Swaminathan and Joachims 2015",
              "https://papers.nips.cc/paper/5748-the-self-normalized-estimator-for-counterfactual-learning"),
    "NWJ": ("Nguyen et al 2010", "https://arxiv.org/abs/0809.0853"),
    "InfoNCE": ("van den Oord et al 2018", "https://arxiv.org/abs/1807.03748"),
    "MI-α": ("Poole et al 2019; He et al 2021", "https://arxiv.org/abs/1905.06922"),
    "Ledoit–Wolf": ("Ledoit and Wolf 2004", "https://doi.org/10.1016/S0047-259X%2803%2900096-4"),
    "factor": ("Connor and Korajczyk 1986", "https://doi.org/10.1016/0304-405X%2886%2990027-9"),
    "sample": ("Markowitz 1952", "https://doi.org/10.2307/2975974"),
    "bootstrap": ("Efron 1979", "https://doi.org/10.1214/aos/1176344552"),
    "normal": ("Wald 1943", "https://doi.org/10.1090/S0002-9947-1943-0012401-3"),
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One leaderboard row: an estimator ``estimate(key) -> array`` and its true value."""

    family: str
    name: str
    paper: str  # a key of PAPERS
    estimate: Callable[[jax.Array], jax.Array]
    truth: jax.Array


def pg_baselines(small: bool) -> list[Entry]:
    num_prompts, group = (16, 4) if small else (256, 4)
    kp, ke = jax.random.split(jax.random.key(100))
    p = jax.random.uniform(kp, (num_prompts,), minval=0.05, maxval=0.95)
    prior = jnp.clip(p + 0.1 * jax.random.normal(ke, (num_prompts,)), 0.0, 1.0)
    baselines = {
        "none": ("REINFORCE", lambda r: r),
        "group mean": ("GRPO", lambda r: group_advantages(r, normalize=False, singleton="zero")),
        "leave-one-out": ("RLOO", rloo_advantages),
        "V0.5 (prior sd 0.1)": ("V0.5", lambda r: r - v05_baseline(r, prior).baseline[:, None]),
        "OBLR": ("OBLR", lambda r: optimal_baseline_advantages(r, (r - p[:, None]) ** 2)),
    }

    def make(advantage):
        def estimate(key):
            r = jax.random.bernoulli(key, p[:, None], (num_prompts, group)).astype(jnp.float32)
            return jnp.mean(advantage(r) * (r - p[:, None]), axis=1)
        return estimate

    return [Entry("pg_baselines", n, paper, make(fn), p * (1 - p)) for n, (paper, fn) in baselines.items()]


def preference(small: bool) -> list[Entry]:
    # The BVPO toy's model and gradients, at the reference parameters.
    from launch.configs import bvpo_toy as bvpo_config
    from launch.experiments import bvpo_toy

    config = bvpo_config.get_config()
    reference, _ = bvpo_toy._model(config)
    flat = lambda tree: jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(tree)])
    mu = flat(bvpo_toy.marginal_grad(config, reference))

    def make(alpha):
        def estimate(key):
            k_t, k_e = jax.random.split(key)
            g_t = flat(bvpo_toy.trace_grad(config, reference, bvpo_toy._sample(config, k_t, True, config.batch_size)))
            g_e = flat(bvpo_toy.empty_grad(config, reference,
                                           bvpo_toy._sample(config, k_e, False, config.batch_size)))
            return alpha * g_t + (1.0 - alpha) * g_e
        return estimate

    del small
    return [Entry("preference", "DPO on traces (α = 1)", "DPO", make(1.0), mu),
            Entry("preference", "BVPO mixture (α = 0.5)", "BVPO", make(0.5), mu),
            Entry("preference", "empty trace only (α = 0)", "BVPO", make(0.0), mu)]


def off_policy(small: bool) -> list[Entry]:
    users, items, k = (20, 30, 5) if small else (200, 100, 10)
    ku, ki, ks = jax.random.split(jax.random.key(200), 3)
    relevance = jax.nn.sigmoid(jax.random.normal(ku, (users, 4)) @ jax.random.normal(ki, (4, items)) - 1.0)
    theta = 0.02 + 0.98 * ((jnp.arange(items) + 1.0) / items) ** 2  # item exposure, popular items last
    scores = relevance + 0.3 * jax.random.normal(ks, (users, items))
    total = jnp.sum(relevance, axis=1)
    truth = jnp.mean(dcg_at_k(relevance, scores, k=k) / total)

    def clicks(key):
        return jax.random.bernoulli(key, theta * relevance).astype(jnp.float32)

    # The barrier keeps XLA from constant-folding the ranking of the fixed scores (slow to compile).
    ranked = lambda: jax.lax.optimization_barrier(scores)

    def ips(clip):
        return lambda key: jnp.mean(dcg_at_k(clicks(key) / jnp.maximum(theta, clip), ranked(), k=k) / total)

    return [Entry("off_policy", "IPS", "IPS", ips(0.0), truth),
            Entry("off_policy", "clipped IPS (M = 0.1)", "IPS", ips(0.1), truth),
            Entry("off_policy", "SNIPS", "SNIPS",
                  lambda key: jnp.mean(snips_dcg_at_k(clicks(key), ranked(), theta, k=k)), truth),
            Entry("off_policy", "naive (clicks as relevance)", "IPS",
                  lambda key: jnp.mean(dcg_at_k(clicks(key), ranked(), k=k, normalize=True)), truth)]


def mi_bounds(small: bool) -> list[Entry]:
    from launch.experiments import mi_alpha

    batch, dim, rho = (16, 2, 0.8) if small else (64, 4, 0.8)
    truth = jnp.asarray(mi_alpha.true_mi(dim, rho))
    # NWJ is tight at the critic 1 + log p(y|x)/p(y); the others at log p(y|x)/p(y) (any shift).
    bounds = {"NWJ": lambda s: nwj_bound(s + 1.0), "InfoNCE": infonce_bound,
              "MI-α": lambda s: mi_alpha_bound(s, alpha=0.5)}
    names = {"NWJ": "NWJ", "InfoNCE": f"InfoNCE (log K = {math.log(batch):.2f})", "MI-α": "MI-α (α = 0.5)"}
    return [Entry("mi_bounds", names[n], n, _mi_estimator(fn, batch, dim, rho), truth) for n, fn in bounds.items()]


def _mi_estimator(bound, batch, dim, rho):
    from launch.experiments import mi_alpha  # the MI experiment's optimal-critic scores

    return lambda key: bound(mi_alpha.gaussian_scores(key, batch, dim, rho))


def covariance(small: bool) -> list[Entry]:
    assets, days, factors = (8, 16, 2) if small else (20, 40, 3)
    kb, kd = jax.random.split(jax.random.key(300))
    loadings = jax.random.normal(kb, (assets, factors))
    idio = 0.5 + jax.random.uniform(kd, (assets,))
    sigma = loadings @ loadings.T + jnp.diag(idio)
    chol = jnp.linalg.cholesky(sigma)

    def returns(key):
        return jax.random.normal(key, (days, assets)) @ chol.T

    return [Entry("covariance", "sample", "sample", lambda key: sample_covariance(returns(key)), sigma),
            Entry("covariance", "Ledoit–Wolf", "Ledoit–Wolf",
                  lambda key: ledoit_wolf_covariance(returns(key)).covariance, sigma),
            Entry("covariance", f"PCA factor ({factors} factors)", "factor",
                  lambda key: pca_factor_covariance(returns(key), num_factors=factors), sigma)]


def ci_coverage(small: bool) -> list[Entry]:
    n, resamples = (10, 100) if small else (20, 500)

    def sample(key):
        return jax.random.exponential(key, (n,))

    def normal(key):
        lo, hi = normal_score_ci(sample(key), ddof=1)
        return ((lo <= 1.0) & (1.0 <= hi)).astype(jnp.float32)

    def bootstrap(key):
        k_x, k_b = jax.random.split(key)
        lo, hi = bootstrap_ci(sample(k_x), bootstrap_indices(k_b, num_items=n, num_resamples=resamples)).ci
        return ((lo <= 1.0) & (1.0 <= hi)).astype(jnp.float32)

    truth = jnp.asarray(0.95)
    return [Entry("ci_coverage", f"normal (Wald), n = {n}", "normal", normal, truth),
            Entry("ci_coverage", f"percentile bootstrap, B = {resamples}", "bootstrap", bootstrap, truth)]


# The step_advantages family: a key-and-door corridor (key in cell 0, door in the last cell, start
# in the middle) whose observation is the cell only, and a fixed policy that sees the observation only.
_KD_POLICY = np.array([0.1, 0.45, 0.1, 0.35])  # up, right, down, left (up/down stay put in a corridor)
_KD_GAMMA = 0.95
# Probes: forced action prefixes; the last action is the probe (history, action) pair.
_KD_PROBES = ((3,), (1,), (1, 3), (3, 3, 1), (3, 3, 1, 1), (3, 3, 1, 1, 1))


def key_door_q_values(*, width: int, max_steps: int, policy=_KD_POLICY, gamma: float = _KD_GAMMA):
    """Exact Q[t, cell, has_key, a] of a policy that ignores the hidden key flag (backward induction).

    Follows `bvjax.envs.key_door_step` on a 1-row corridor (key cell 0, door cell width − 1):
    moves are clipped at the ends, the door is a wall without the key, entering it with the key
    pays 1 and ends the episode; the time limit ends it with 0. Q sums γ^k r_{t+k}.
    """
    door, moves = width - 1, (0, 1, 0, -1)
    value = np.zeros((width, 2))  # V_{t+1}, zero after the last step
    q = np.zeros((max_steps, width, 2, 4))
    for t in reversed(range(max_steps)):
        for cell in range(width):
            for key in (0, 1):
                for a, move in enumerate(moves):
                    target = min(max(cell + move, 0), width - 1)
                    if target == door and not key:
                        target = cell
                    new_key = int(key or target == 0)
                    success = target == door and new_key
                    q[t, cell, key, a] = 1.0 if success else gamma * value[target, new_key]
        value = q[t] @ policy
    return q


def _kd_probe_truth(q, start, policy=_KD_POLICY):
    """[P] true advantages Q(s_t, a_t) − Σ_a π(a) Q(s_t, a) at the probes (s_t: cell and key flag)."""
    width = q.shape[1]
    truth = []
    for prefix in _KD_PROBES:
        cell, key = start, 0
        for a in prefix[:-1]:
            target = min(max(cell + (0, 1, 0, -1)[a], 0), width - 1)
            cell = cell if (target == width - 1 and not key) else target
            key = int(key or cell == 0)
        t = len(prefix) - 1
        truth.append(q[t, cell, key, prefix[-1]] - q[t, cell, key] @ policy)
    return np.asarray(truth, np.float32)


def step_advantages(small: bool) -> list[Entry]:
    width, max_steps, group, depth = (5, 8, 4, 2) if small else (5, 12, 8, 2)
    start = width // 2
    q = key_door_q_values(width=width, max_steps=max_steps)
    truth = jnp.asarray(_kd_probe_truth(q, start))
    num_forced = jnp.asarray([len(p) for p in _KD_PROBES], jnp.int32)
    forced = jnp.asarray([p + (0,) * (max_steps - len(p)) for p in _KD_PROBES], jnp.int32)
    logits = jnp.log(jnp.asarray(_KD_POLICY, jnp.float32))
    t_idx = np.arange(max_steps)
    discount = jnp.asarray(np.where(t_idx[None] >= t_idx[:, None],
                                    _KD_GAMMA ** np.maximum(t_idx[None] - t_idx[:, None], 0), 0.0), jnp.float32)

    def rollout(key, forced_row, n_forced):
        state, obs = key_door_reset(key, width=width, max_steps=max_steps, start_cell=start)

        def body(carry, t):
            state, obs = carry
            sampled = jax.random.categorical(jax.random.fold_in(key, t), logits)
            action = jnp.where(t < n_forced, forced_row[t], sampled)
            new_state, new_obs, reward, _ = key_door_step(state, action)
            return (new_state, new_obs), (obs, reward, ~state.done)

        _, (obs, reward, valid) = jax.lax.scan(body, (state, obs), jnp.arange(max_steps))
        return obs, reward, valid

    def make(advantage):
        def one_probe(key, forced_row, n_forced):
            # Row 0 is the probe's trajectory (forced prefix, sampled continuation); rows 1.. are free.
            n = jnp.zeros((group,), jnp.int32).at[0].set(n_forced)
            obs, reward, valid = jax.vmap(rollout, (0, None, 0))(jax.random.split(key, group), forced_row, n)
            adv = advantage(obs, reward @ discount.T, valid, jnp.zeros((group,), jnp.int32), jnp.sum(reward, 1))
            return adv[0, n_forced - 1]

        def estimate(key):
            return jax.vmap(one_probe)(jax.random.split(key, len(_KD_PROBES)), forced, num_forced)
        return estimate

    def grpo(obs, step_returns, valid, task, episode):
        return jnp.where(valid, group_advantages(episode[None], normalize=False, singleton="zero")[0][:, None], 0.0)

    def gigpo_step(obs, step_returns, valid, task, episode):  # a zero episode part: the step part alone
        return gigpo_advantages(obs, step_returns, valid, task, jnp.zeros_like(episode))

    def gigpo(obs, step_returns, valid, task, episode):
        return gigpo_advantages(obs, step_returns, valid, task, episode)

    def hgpo(offset):
        return lambda obs, step_returns, valid, task, episode: hgpo_advantages(
            obs, step_returns, valid, task, history_length=depth, level_offset=offset, mode="mean_norm")

    return [Entry("step_advantages", "GRPO episode-level (mean-centred)", "GRPO", make(grpo), truth),
            Entry("step_advantages", "GiGPO step part (anchor = cell)", "GiGPO", make(gigpo_step), truth),
            Entry("step_advantages", "GiGPO episode + step (ω = 1)", "GiGPO", make(gigpo), truth),
            Entry("step_advantages", f"HGPO K = {depth}, (k + 2)^α (recipe)", "HGPO", make(hgpo(1)), truth),
            Entry("step_advantages", f"HGPO K = {depth}, (k + 1)^α (paper)", "HGPO", make(hgpo(0)), truth)]


BUILDERS = {"pg_baselines": pg_baselines, "preference": preference, "off_policy": off_policy,
            "mi_bounds": mi_bounds, "covariance": covariance, "ci_coverage": ci_coverage,
            "step_advantages": step_advantages}

_meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws"))


def measure(entry: Entry, *, num_draws: int, timing_draws: int, repeats: int, key: jax.Array) -> dict:
    """The meter's figures for one entry, plus the µs per estimate of a jitted vmap."""
    r = _meter(entry.estimate, entry.truth, key, num_draws=num_draws)
    batched = jax.jit(jax.vmap(entry.estimate))
    keys = jax.random.split(jax.random.fold_in(key, 1), timing_draws)
    seconds = median_time(lambda: batched(keys), repeats)
    truth = np.asarray(entry.truth)
    return {"family": entry.family, "estimator": entry.name, "paper": entry.paper,
            "mean": float(np.mean(np.asarray(r.mean))) if truth.size == 1 else float("nan"),
            "truth": float(truth) if truth.size == 1 else float("nan"),
            **{f: float(getattr(r, f)) for f in ("bias_squared", "variance", "mse", "bias_squared_stderr",
                                                  "variance_stderr", "mse_stderr")},
            "us_per_estimate": 1e6 * seconds / timing_draws}


def _g(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.3g}"


def _pm(value: float, se: float) -> str:
    return f"{_g(value)} ± {se:.2g}"


def format_table(rows: list[dict], *, markdown: bool) -> str:
    header = ["family", "estimator", "mean", "truth", "bias²", "variance", "MSE", "µs / estimate"]
    lines = []
    for row in rows:
        _, url = PAPERS[row["paper"]]
        name = f"[{row['estimator']}]({url})" if markdown else row["estimator"]
        lines.append([row["family"], name, _g(row["mean"]), _g(row["truth"]),
                      _pm(row["bias_squared"], row["bias_squared_stderr"]), _pm(row["variance"], row["variance_stderr"]),
                      _pm(row["mse"], row["mse_stderr"]), f"{row['us_per_estimate']:.1f}"])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))
    return "\n".join([fmt(header), "-+-".join("-" * w for w in widths)] + [fmt(line) for line in lines])


def plot(rows: list[dict], path: pathlib.Path) -> None:
    families = list(dict.fromkeys(r["family"] for r in rows))
    fig, axes = plt.subplots(len(families), 1, figsize=(8, 1.0 + 1.1 * len(rows) / max(len(families), 1)
                                                         * len(families) / 2 + len(families)), squeeze=False)
    for ax, family in zip(axes[:, 0], families):
        sub = [r for r in rows if r["family"] == family]
        y = np.arange(len(sub))
        bias = np.maximum([r["bias_squared"] for r in sub], 0.0)
        var = np.array([r["variance"] for r in sub])
        ax.barh(y, bias, color="tab:red", label="bias²")
        ax.barh(y, var, left=bias, color="tab:blue", label="variance")
        ax.set_yticks(y, [r["estimator"] for r in sub], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(family, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[-1, 0].set_xlabel("MSE = bias² + variance (against the known truth)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(families, *, num_draws: int, timing_draws: int, repeats: int, small: bool, seed: int,
        output_dir: pathlib.Path) -> list[dict]:
    """Measures every entry of ``families`` and writes leaderboard.md and leaderboard.png."""
    unknown = sorted(set(families) - set(BUILDERS))
    if unknown:
        raise ValueError(f"families: unknown {unknown}; valid: {sorted(BUILDERS)}")
    start = time.perf_counter()
    rows = []
    key = jax.random.key(seed)
    for family in families:
        for i, entry in enumerate(BUILDERS[family](small)):
            rows.append(measure(entry, num_draws=num_draws, timing_draws=timing_draws, repeats=repeats,
                                key=jax.random.fold_in(jax.random.fold_in(key, len(rows)), i)))
            print(f"[{time.perf_counter() - start:6.1f} s] {family} / {entry.name}: MSE {rows[-1]['mse']:.4g}",
                  flush=True)
    elapsed = time.perf_counter() - start
    output_dir.mkdir(parents=True, exist_ok=True)
    note = (f"{num_draws} draws per estimator; ± is one Monte Carlo standard error; µs per estimate from a "
            f"jitted vmap over {timing_draws} keys on {jax.default_backend()} ({jax.device_count()} device(s)); "
            f"total {elapsed:.0f} s including compilation.")
    (output_dir / "leaderboard.md").write_text(format_table(rows, markdown=True) + "\n\n" + note + "\n")
    plot(rows, output_dir / "leaderboard.png")
    print(format_table(rows, markdown=False))
    print(note)
    return rows


def main(argv):
    del argv
    run(_FAMILIES.value, num_draws=_NUM_DRAWS.value, timing_draws=_TIMING_DRAWS.value, repeats=_REPEATS.value,
        small=_SMALL.value, seed=_SEED.value, output_dir=pathlib.Path(_OUTPUT_DIR.value))


if __name__ == "__main__":
    app.run(main)
