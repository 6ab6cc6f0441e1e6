"""GRPO vs GiGPO vs HGPO on an aliased key-and-door corridor, with the advantages' bias and variance.

The environment (`bvjax.envs.key_door_reset` / `key_door_step`) hides whether the agent
holds the key: the observation is the agent's cell only. The policy is a small flax MLP
that sees what an LLM agent's memory module shows: the current observation and the last
``memory`` (observation, action) pairs. The three advantage estimators are trained side
by side from the same initial parameters, on the same tasks (start cells) and the same
number of trajectories per step (``batch_size`` tasks x ``group_size`` rollouts):

- ``grpo``: episode-level group advantage (`bvjax.rl.group_advantages`) broadcast to
  every step of the trajectory;
- ``gigpo``: `bvjax.rl.gigpo_advantages` (episode part + step part grouped by the
  current observation, i.e. across states with and without the key);
- ``hgpo``: `bvjax.rl.hgpo_advantages` (step groups over matching observation
  histories of depth 0..K, deeper levels weighted more).

The meter also measures ``gigpo_step``, GiGPO's step part alone (HGPO with K = 0), which
isolates the effect of grouping by the current observation vs by the history.

The policy loss is `bvjax.rl.ppo_clip_loss` (one on-policy update per batch, so the
ratio is 1) reduced with `bvjax.rl.aggregate_loss` (token-mean over valid steps).

**The meter.** At ``config.meter_steps``, for the first ``meter_seeds`` policies of each
method, ``meter_probes`` (history, action) pairs are drawn from the policy's own rollouts (a random task, then a
uniformly chosen valid step). The ground truth is the Monte Carlo advantage
:math:`A^*(h_t, a_t) = Q(h_t, a_t) - \\sum_a \\pi(a\\mid h_t) Q(h_t, a)`, each
:math:`Q(h_t, a)` the mean discounted return from step t over ``meter_rollouts``
continuations of the *true* state (the prefix replayed with action a, the policy after).
An estimate is one draw of a fresh group of ``group_size`` trajectories of that task, the
probe's trajectory being its fixed prefix plus a sampled continuation; each estimator's
advantage at the probe step is read off the same group (common random numbers). The
meter (`bvjax.diagnostics.bias_variance`) gives bias², variance and MSE per estimator;
the figures are per probe step (summed over probes / number of probes) and averaged over
those policies. Bias here is of the advantage, not of the policy gradient: an error that
depends on the history but not on the action (a mismatched baseline) counts as bias² yet
leaves the expected gradient (nearly) unchanged. With ``mode="mean_norm"`` (the default)
every estimator is in return units, as :math:`A^*` is; with ``"mean_std_norm"`` they are
not, and bias² then mostly measures scale.
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
from flax import linen as nn

from bvjax.diagnostics import bias_variance
from bvjax.envs import key_door_reset, key_door_step
from bvjax.rl import aggregate_loss, gigpo_advantages, group_advantages, hgpo_advantages, ppo_clip_loss
from launch.report import plt, pm, save_figure, series

NUM_ACTIONS = 4
METHODS = ("grpo", "gigpo", "hgpo")
# The meter also reads GiGPO's step part alone (= HGPO with K = 0 in mean_norm): state-only vs history groups.
ESTIMATORS = (*METHODS, "gigpo_step")
MODES = ("mean_norm", "mean_std_norm")


class Policy(nn.Module):
    """MLP over the one-hot (current observation, memory window); zero last layer = uniform start."""

    hidden: int

    @nn.compact
    def __call__(self, x):
        h = nn.tanh(nn.Dense(self.hidden)(x))
        h = nn.tanh(nn.Dense(self.hidden)(h))
        return nn.Dense(NUM_ACTIONS, kernel_init=nn.initializers.zeros)(h)


def _check(config):
    for name in config.methods:
        if name not in METHODS:
            raise KeyError(f"config.methods: unknown {name!r}; valid: {list(METHODS)}")
    if config.mode not in MODES:
        raise KeyError(f"config.mode: unknown {config.mode!r}; valid: {list(MODES)}")


def _cells(config):
    return config.width * config.height


def _model(config):
    return Policy(config.hidden)


def _num_features(config):
    n = _cells(config)
    return n + config.memory * (n + 1 + NUM_ACTIONS + 1)


def _features(config, obs, window_obs, window_act):
    n = _cells(config)
    parts = [jax.nn.one_hot(obs, n)]
    if config.memory:
        parts += [jax.nn.one_hot(window_obs, n + 1).reshape(-1), jax.nn.one_hot(window_act, NUM_ACTIONS + 1).reshape(-1)]
    return jnp.concatenate(parts)


def _reset(config, key):
    return key_door_reset(key, width=config.width, height=config.height, max_steps=config.max_steps)


def _rollout(config, params, reset_key, sample_key, forced, num_forced):
    """One episode of ``max_steps`` steps; actions[t] = forced[t] for t < num_forced, else sampled.

    Returns a dict of [T]-leading arrays: obs (the anchor state id), action, reward, valid
    (the step happened before the end), x (policy features), logp_all [T, A], has_key.
    """
    state, obs = _reset(config, reset_key)
    model = _model(config)
    carry = (state, obs, jnp.full((config.memory,), _cells(config), jnp.int32),
             jnp.full((config.memory,), NUM_ACTIONS, jnp.int32))

    def body(carry, t):
        state, obs, wo, wa = carry
        x = _features(config, obs, wo, wa)
        logits = model.apply(params, x)
        sampled = jax.random.categorical(jax.random.fold_in(sample_key, t), logits)
        action = jnp.where(t < num_forced, forced[t], sampled).astype(jnp.int32)
        new_state, new_obs, reward, _ = key_door_step(state, action)
        if config.memory:
            wo = jnp.concatenate([obs[None], wo[:-1]])
            wa = jnp.concatenate([action[None], wa[:-1]])
        out = {"obs": obs, "action": action, "reward": reward, "valid": ~state.done, "x": x,
               "logp_all": jax.nn.log_softmax(logits), "has_key": state.has_key}
        return (new_state, new_obs, wo, wa), out

    _, traj = jax.lax.scan(body, carry, jnp.arange(config.max_steps))
    return traj


def _discount_matrix(config):
    t = np.arange(config.max_steps)
    k = t[None, :] - t[:, None]
    return jnp.asarray(np.where(k >= 0, config.gamma ** np.maximum(k, 0), 0.0), jnp.float32)  # [t, k]


def _step_returns(config, rewards):
    """R_t = sum_{k >= t} gamma^(k - t) r_k, rewards [..., T]."""
    return rewards @ _discount_matrix(config).T


def _advantages(config, method, traj, task_ids):
    """[B, T] advantages of one method on a batch of trajectories [B, T] grouped by task_ids [B]."""
    mask = traj["valid"]
    rewards = traj["reward"]
    episode = jnp.sum(rewards, axis=-1)
    normalize = config.mode == "mean_std_norm"
    if method == "grpo":
        adv = group_advantages(episode, task_ids, normalize=normalize)
        return jnp.where(mask, adv[:, None], 0.0)
    returns = _step_returns(config, rewards)
    if method == "gigpo":
        return gigpo_advantages(traj["obs"], returns, mask, task_ids, episode, mode=config.mode,
                                step_weight=config.gigpo_step_weight)
    depth = 0 if method == "gigpo_step" else config.history_length
    return hgpo_advantages(traj["obs"], returns, mask, task_ids, history_length=depth,
                           alpha=config.hgpo_alpha, level_offset=config.hgpo_level_offset, mode=config.mode)


def _optimizer(config):
    return optax.adam(config.learning_rate)


def init(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, Any]:
    """Per seed one initial parameter set, shared by every method (leading axis: seed)."""
    _check(config)
    keys = jax.random.split(key, config.num_seeds)
    x = jnp.zeros((_num_features(config),))
    seed_params = jax.vmap(lambda k: _model(config).init(k, x))(keys)
    params = {name: seed_params for name in config.methods}
    return {"params": params, "opt_state": _optimizer(config).init(params), "step": jnp.zeros((), jnp.int32)}


def make_batch(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, jax.Array]:
    """One task key and one sampling key per task: [batch_size] each, sharded on axis 0."""
    task_key, sample_key = jax.random.split(key)
    return {"task": jax.random.split(task_key, config.batch_size),
            "sample": jax.random.split(sample_key, config.batch_size)}


def _group_rollouts(config, params, task_keys, sample_keys):
    """group_size rollouts of each task: trajectories [tasks * G, T] and task ids [tasks * G]."""
    g = config.group_size
    reset = jnp.repeat(task_keys, g, axis=0)
    sample = jax.vmap(lambda k: jax.random.split(k, g))(sample_keys).reshape(-1)
    zeros = jnp.zeros((config.max_steps,), jnp.int32)
    traj = jax.vmap(lambda r, s: _rollout(config, params, r, s, zeros, 0))(reset, sample)
    return traj, jnp.repeat(jnp.arange(task_keys.shape[0], dtype=jnp.int32), g)


def _loss(config, params, traj, adv):
    logits = _model(config).apply(params, traj["x"])
    logp_all = jax.nn.log_softmax(logits)
    logp = jnp.take_along_axis(logp_all, traj["action"][..., None], axis=-1)[..., 0]
    per_step = ppo_clip_loss(logp, jax.lax.stop_gradient(logp), adv)
    if config.entropy_coef:
        per_step = per_step + config.entropy_coef * jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1)
    return aggregate_loss(per_step, traj["valid"], mode="token-mean")


def _seed_update(config, method, params, task_keys, sample_keys):
    traj, task_ids = _group_rollouts(config, params, task_keys, sample_keys)
    adv = _advantages(config, method, traj, task_ids)
    grads = jax.grad(functools.partial(_loss, config))(params, traj, adv)
    valid = traj["valid"]
    nonzero = jnp.sum((adv != 0) & valid) / jnp.maximum(jnp.sum(valid), 1)
    return grads, jnp.mean(jnp.sum(traj["reward"], axis=-1)), nonzero


def train_step(config, state, batch):
    grads, metrics = {}, {}
    seeds = jnp.arange(config.num_seeds)
    # Per seed its own tasks; the same tasks and sampling keys for every method.
    task_keys = jax.vmap(lambda s: jax.vmap(lambda k: jax.random.fold_in(k, s))(batch["task"]))(seeds)
    sample_keys = jax.vmap(lambda s: jax.vmap(lambda k: jax.random.fold_in(k, s))(batch["sample"]))(seeds)
    for name in config.methods:
        update = jax.vmap(functools.partial(_seed_update, config, name))
        grads[name], success, nonzero = update(state["params"][name], task_keys, sample_keys)
        metrics[f"train_success/{name}"] = jnp.mean(success)
        metrics[f"nonzero_adv/{name}"] = jnp.mean(nonzero)
    updates, opt_state = _optimizer(config).update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
            "step": state["step"] + 1}, metrics


def _success_rate(config, params, key):
    reset_key, sample_key = jax.random.split(key)
    zeros = jnp.zeros((config.max_steps,), jnp.int32)
    traj = jax.vmap(lambda r, s: _rollout(config, params, r, s, zeros, 0))(
        jax.random.split(reset_key, config.eval_episodes), jax.random.split(sample_key, config.eval_episodes))
    return jnp.mean(jnp.sum(traj["reward"], axis=-1))


def _ground_truth(config, params, reset_key, actions, t, probs, key):
    """A*(h_t, a_t) = Q(a_t) - sum_a pi(a) Q(a) by Monte Carlo from the true state, and its MC variance."""
    disc = config.gamma ** jnp.maximum(jnp.arange(config.max_steps) - t, 0) * (jnp.arange(config.max_steps) >= t)

    def q(a, k):
        forced = actions.at[t].set(a)
        traj = jax.vmap(lambda s: _rollout(config, params, reset_key, s, forced, t + 1))(
            jax.random.split(k, config.meter_rollouts))
        g = traj["reward"] @ disc
        return jnp.mean(g), jnp.var(g, ddof=1) / config.meter_rollouts

    qs, qvar = jax.vmap(q)(jnp.arange(NUM_ACTIONS), jax.random.split(key, NUM_ACTIONS))
    a_t = actions[t]
    coef = jax.nn.one_hot(a_t, NUM_ACTIONS) - probs  # A* = sum_a coef_a Q(a)
    return jnp.dot(coef, qs), jnp.dot(coef**2, qvar), qs - jnp.dot(probs, qs)


def _probe_estimates(config, params, reset_key, actions, t, probs, key):
    """One draw: each estimator's advantage at the probe step, from a fresh group of the probe's task.

    The probe's prefix is replayed with each action a at step t (one continuation per a, on
    the same sampling key), and each variant joins the same group_size - 1 fresh
    trajectories: ``name`` is the advantage for the probe's own action (one draw of the
    estimator as training sees it); ``name/centred`` the sqrt(pi)-weighted, action-centred
    advantages sqrt(pi_a) (A_a - sum_b pi_b A_b) over all four actions.
    """
    g = config.group_size
    variants = jax.vmap(lambda a: actions.at[t].set(a))(jnp.arange(NUM_ACTIONS))
    forced = jnp.concatenate([variants, jnp.zeros((g - 1, config.max_steps), jnp.int32)])
    num_forced = jnp.concatenate([jnp.full((NUM_ACTIONS,), t + 1), jnp.zeros((g - 1,), jnp.int32)])
    probe_key, others_key = jax.random.split(key)
    sample = jnp.concatenate([jnp.stack([probe_key] * NUM_ACTIONS), jax.random.split(others_key, g - 1)])
    traj = jax.vmap(lambda s, f, n: _rollout(config, params, reset_key, s, f, n))(sample, forced, num_forced)
    rows = jnp.concatenate([jnp.arange(NUM_ACTIONS)[:, None],
                            jnp.broadcast_to(jnp.arange(NUM_ACTIONS, NUM_ACTIONS + g - 1), (NUM_ACTIONS, g - 1))],
                           axis=1)  # [A, g]: group a = variant a + the shared fresh trajectories
    groups = jax.tree.map(lambda x: x[rows], traj)
    task_ids = jnp.zeros((g,), jnp.int32)
    out = {}
    for name in ESTIMATORS:
        adv = jax.vmap(lambda tr, name=name: _advantages(config, name, tr, task_ids)[0, t])(groups)  # [A]
        out[name] = adv[actions[t]]
        out[f"{name}/centred"] = jnp.sqrt(probs) * (adv - jnp.dot(probs, adv))
    return out


def _meter(config, params, key):
    """Bias², variance, MSE (per probe step) of every estimator at one policy, and the reference noise."""
    probe_key, ref_key, draw_key = jax.random.split(key, 3)
    p = config.meter_probes
    reset_keys = jax.random.split(jax.random.fold_in(probe_key, 0), p)
    zeros = jnp.zeros((config.max_steps,), jnp.int32)
    probes = jax.vmap(lambda r, s: _rollout(config, params, r, s, zeros, 0))(
        reset_keys, jax.random.split(jax.random.fold_in(probe_key, 1), p))
    logits = jnp.where(probes["valid"], 0.0, -jnp.inf)
    t = jax.random.categorical(jax.random.fold_in(probe_key, 2), logits).astype(jnp.int32)
    rows = jnp.arange(p)
    probs = jnp.exp(probes["logp_all"][rows, t])
    truth, truth_var, centred = jax.vmap(functools.partial(_ground_truth, config, params))(
        reset_keys, probes["action"], t, probs, jax.random.split(ref_key, p))

    def estimator(k):
        return jax.vmap(functools.partial(_probe_estimates, config, params))(
            reset_keys, probes["action"], t, probs, jax.random.split(k, p))

    reference = dict.fromkeys(ESTIMATORS, truth)
    reference.update({f"{name}/centred": jnp.sqrt(probs) * centred for name in ESTIMATORS})
    result = bias_variance(estimator, reference, draw_key, num_draws=config.meter_draws,
                           chunk_size=config.meter_chunk)
    out = {"ref_noise": jnp.mean(truth_var), "ref_var": jnp.var(truth),
           "key_fraction": jnp.mean(probes["has_key"][rows, t])}
    for name in ESTIMATORS:
        stats = result.per_leaf[name]
        for field in ("bias_squared", "variance", "mse"):
            out[f"{field}/{name}"] = getattr(stats, field) / p
            out[f"{field}_se/{name}"] = getattr(stats, f"{field}_stderr") / p
        mean = result.mean[name]
        cov = jnp.mean((mean - mean.mean()) * (truth - truth.mean()))
        out[f"corr/{name}"] = cov / jnp.maximum(jnp.std(mean) * jnp.std(truth), 1e-12)
        stats = result.per_leaf[f"{name}/centred"]
        out[f"centred_bias_squared/{name}"] = stats.bias_squared / p
        out[f"centred_bias_squared_se/{name}"] = stats.bias_squared_stderr / p
    return out


def _meter_all(config, params, key):
    """The meter on the first ``meter_seeds`` policies of every method, averaged; SEs combined as independent."""
    s = min(config.meter_seeds, config.num_seeds)
    # One vmap over every (method, seed) policy, so the meter is traced and compiled once.
    policies = jax.tree.map(lambda *x: jnp.concatenate([v[:s] for v in x]), *(params[n] for n in config.methods))
    keys = jax.random.split(key, s * len(config.methods))
    stacked = jax.vmap(functools.partial(_meter, config))(policies, keys)
    n = stacked["ref_noise"].shape[0]
    return {k: (jnp.sqrt(jnp.sum(v**2)) / n if "_se/" in k else jnp.mean(v)) for k, v in stacked.items()}


def _meter_keys(config):
    fields = ["ref_noise", "ref_var", "key_fraction"]
    for name in ESTIMATORS:
        fields += [f"{f}/{name}" for f in ("bias_squared", "variance", "mse", "bias_squared_se", "variance_se",
                                            "mse_se", "corr", "centred_bias_squared", "centred_bias_squared_se")]
    return fields


def evaluate(config, state, key):
    """Success rate per method (mean and std over seeds); the meter at ``config.meter_steps``."""
    metrics = {}
    success_key, meter_key = jax.random.split(key)
    s, m = config.num_seeds, len(config.methods)
    policies = jax.tree.map(lambda *x: jnp.concatenate(x), *(state["params"][n] for n in config.methods))
    rates = jax.vmap(functools.partial(_success_rate, config))(policies, jax.random.split(success_key, s * m))
    for i, name in enumerate(config.methods):
        rate = rates[i * s:(i + 1) * s]
        metrics[f"success/{name}"] = jnp.mean(rate)
        metrics[f"success_std/{name}"] = jnp.std(rate, ddof=1) if s > 1 else jnp.zeros(())
    if config.meter_steps:
        on = jnp.any(state["step"] == jnp.asarray(config.meter_steps))
        nan = dict.fromkeys(_meter_keys(config), jnp.full((), jnp.nan))
        metrics.update(jax.lax.cond(on, lambda: _meter_all(config, state["params"], meter_key), lambda: nan))
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"succ[{k.split('/')[1]}]={v:.3f}" for k, v in record.items() if k.startswith("success/"))


def _first_step(history, key, threshold):
    steps, value = series(history, key)
    hit = np.nonzero(value >= threshold)[0]
    return int(steps[hit[0]]) if hit.size else None


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    """Writes the success-curve and meter plots and returns the markdown report."""
    workdir = pathlib.Path(workdir)
    meter_rows = [r for r in history if np.isfinite(r.get("ref_noise", np.nan))]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name in config.methods:
        steps, value = series(history, f"success/{name}")
        _, sd = series(history, f"success_std/{name}")
        axes[0].plot(steps, value, label=name)
        axes[0].fill_between(steps, np.clip(value - sd, 0, 1), np.clip(value + sd, 0, 1), alpha=0.2)
    axes[0].set_xlabel("step")
    axes[0].set_title(f"success rate (mean ± std over {config.num_seeds} seeds)")
    axes[0].legend()
    if meter_rows:
        width = 0.8 / len(ESTIMATORS)
        x = np.arange(len(meter_rows))
        for j, name in enumerate(ESTIMATORS):
            b = [r[f"bias_squared/{name}"] for r in meter_rows]
            v = [r[f"variance/{name}"] for r in meter_rows]
            axes[1].bar(x + j * width, b, width, color=f"C{j}", label=f"{name} bias²")
            axes[1].bar(x + j * width, v, width, bottom=np.maximum(b, 0), color=f"C{j}", alpha=0.35,
                        label=f"{name} variance")
        axes[1].set_xticks(x + 1.5 * width, [str(r["step"]) for r in meter_rows])
        axes[1].set_xlabel("checkpoint step")
        axes[1].set_title("step-advantage MSE = bias² (solid) + variance (light)")
        axes[1].legend(fontsize=7)
    save_figure(fig, workdir / "agentic_hgpo.png")

    g, tasks = config.group_size, config.batch_size
    lines = [
        "# GRPO vs GiGPO vs HGPO on an aliased key-and-door grid",
        "",
        (f"{config.height}x{config.width} grid, key in cell 0, door in the last cell, random start, "
         f"max {config.max_steps} steps, reward 1 on success, γ = {config.gamma}. The observation is the cell "
         f"only (the key flag is hidden). Policy: MLP({config.hidden}, {config.hidden}) on the current "
         f"observation and the last {config.memory} (observation, action) pairs. Each method: {tasks} tasks x "
         f"{g} rollouts = {tasks * g} trajectories per step, {config.num_steps} Adam steps (lr "
         f"{config.learning_rate}), {config.num_seeds} seeds, mode `{config.mode}`; HGPO K = "
         f"{config.history_length}, α = {config.hgpo_alpha}, level offset {config.hgpo_level_offset}. "
         f"Success is measured on {config.eval_episodes} sampled episodes per seed."),
        "",
        "| method | success at end (mean ± std over seeds) | mean success over the run | first step ≥ 0.9 |",
        "|---|---|---|---|",
    ]
    for name in config.methods:
        _, value = series(history, f"success/{name}")
        _, sd = series(history, f"success_std/{name}")
        reached = _first_step(history, f"success/{name}", 0.9)
        lines.append(f"| {name} | {value[-1]:.3f} ± {sd[-1]:.3f} | {value.mean():.3f} | "
                     f"{'not reached' if reached is None else reached} |")
    if meter_rows:
        lines += [
            "",
            (f"Step-advantage meter against the Monte Carlo advantage A* = Q − V ({config.meter_probes} probe "
             f"steps per policy, {config.meter_rollouts} rollouts per (probe, action) for Q, "
             f"{config.meter_draws} group draws; per probe step, averaged over "
             f"{len(config.methods) * min(config.meter_seeds, config.num_seeds)} trained policies: the first "
             f"{min(config.meter_seeds, config.num_seeds)} seeds of each method). `corr` is the correlation across "
             "probes between an estimator's mean and A*; `ref noise` the Monte Carlo variance of A* itself "
             "(bias² carries it as a floor), `Var A*` the spread of the true advantages, `key` the share of "
             "probe steps taken while holding the key. `gigpo_step` is GiGPO's step part alone (groups by the "
             "current observation only; = HGPO with K = 0), the estimator HGPO's history levels refine. `action-centred bias²` is the "
             "π-weighted Σ_a π(a)(E[Â_a − Σ_b π(b) Â_b] − A*(a))² over all four actions at the probe (each "
             "action replayed into the same group): the part of the bias that can bias the policy gradient, "
             "with history-only offsets removed."),
            "",
            "| step | estimator | bias² | variance | MSE | action-centred bias² | corr | ref noise | Var A* | key |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in meter_rows:
            for name in ESTIMATORS:
                lines.append(
                    f"| {r['step']} | {name} | {pm(r[f'bias_squared/{name}'], r[f'bias_squared_se/{name}'], '.4f')} "
                    f"| {pm(r[f'variance/{name}'], r[f'variance_se/{name}'], '.4f')} | "
                    f"{r[f'mse/{name}']:.4f} | {r[f'centred_bias_squared/{name}']:.2g} ± "
                    f"{r[f'centred_bias_squared_se/{name}']:.1g} | {r[f'corr/{name}']:.3f} | {r['ref_noise']:.5f} | "
                    f"{r['ref_var']:.4f} | {r['key_fraction']:.2f} |")
    lines += ["", "![curves](agentic_hgpo.png)", ""]
    return "\n".join(lines)
