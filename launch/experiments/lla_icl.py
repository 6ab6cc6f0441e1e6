r"""In-context regression with a tiny trained model: softmax vs global ridge vs Local Linear Attention.

Each training sequence draws its own target function :math:`f` and N points
:math:`x_t \sim \mathcal N(0, I_{d_x})` with labels :math:`y_t = f(x_t) + \sigma\varepsilon_t`.
The model predicts :math:`y_{t+1}` at :math:`x_{t+1}` from the pairs :math:`(x_j, y_j)_{j \le t}`
(``t + 1`` is the number of in-context examples seen). Targets (``config.tasks``):

- ``piecewise``: continuous piecewise linear, :math:`f(x) = w\cdot x + b + \sum_{m=1}^{M} a_m
  |u_m\cdot x - c_m|` with per-sequence random :math:`w, b, a_m`, unit :math:`u_m` and
  :math:`c_m` (M = ``config.num_hinges``): locally linear, globally not, and the hinges move
  from one sequence to the next, so no fixed feature map linearises every task;
- ``linear``: :math:`f(x) = w\cdot x + b`, the control on which a global fit is the right model.

The model (pure jnp, the same for every mechanism): an MLP embedding :math:`h = \phi(x)`
(``d_model`` wide, one residual block), queries :math:`q_{t+1} = W_q h_{t+1}`, keys
:math:`k_j = W_k h_j`, values :math:`v_j = W_v [h_j, y_j]` over ``num_heads`` heads, one
attention layer over the shifted (strictly causal) pairs, and an MLP read-out of
:math:`h_{t+1} + W_o o_{t+1}`. Only the attention function differs:

- ``softmax``: `bvjax.attention.softmax_attention` (local constant, Nadaraya-Watson);
- ``global``: `bvjax.attention.linear_regression_attention` (the MesaNet-like global ridge fit;
  ridge learned, softplus of one scalar);
- ``lla_fixed``: Local Linear Attention with ridge ``config.fixed_ridge``, through
  `bvjax.attention.local_linear_attention_chunked` (``config.cg_iters`` CG iterations; with
  head dim 8 and ridge near 1 they match the exact closed form) or, with
  ``config.lla_impl = "xla"``, `bvjax.attention.local_linear_attention` (exact per-query solve);
- ``lla``: the same with the ridge learned (softplus of one scalar, initialised at ``fixed_ridge``).

Why CG by default on CPU: a train step holding the exact path's batched ``jnp.linalg.solve``
beside the global fit's hung at execution on XLA:CPU (jax 0.10.2, 2 cores), even with
``--xla_cpu_multi_thread_eigen=false``; with the LLA solve done by CG, and the mechanisms
serialised by `jax.lax.optimization_barrier`, it has not. For the same reason the smoke test
runs on one device.

Every mechanism has the same parameter tree (the ridge scalar is unused by ``softmax`` and
``lla_fixed``), the same initialisation per seed, the same batches and the same number of
steps. ``config.num_seeds`` replicas are trained side by side with `jax.vmap`; each seed sees
its own data. The evaluation uses one fixed held-out set (``config.eval_sequences`` sequences,
not seen in training) and reports the MSE against the noiseless :math:`f(x_{t+1})` by
in-context position. The report also gives an untrained reference: in-context ridge
regression of y on [x, 1] (ridge ``config.raw_ridge``), near optimal on the ``linear`` task.
"""

from __future__ import annotations

import functools
import itertools
import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bvjax.attention import (
    linear_regression_attention,
    local_linear_attention,
    local_linear_attention_chunked,
    softmax_attention,
)
from launch.report import mean_se, plt, save_figure, series

MECHANISMS = ("softmax", "global", "lla_fixed", "lla")
TASKS = ("piecewise", "linear")


# ----------------------------------------------------------------------------- data


def sample_tasks(config, key, shape):
    """(x [*shape, N, dx], y [*shape, N] noisy, f [*shape, N] noiseless) for ``config.task``."""
    return _sample(config, config.task, key, shape)


def _sample(config, task, key, shape):
    if task not in TASKS:
        raise KeyError(f"config.task: unknown {task!r}; valid: {list(TASKS)}")
    dx, n, m = config.x_dim, config.seq_len, config.num_hinges
    kx, kw, kb, ka, ku, kc, ke = jax.random.split(key, 7)
    x = jax.random.normal(kx, shape + (n, dx))
    w = jax.random.normal(kw, shape + (dx,)) / np.sqrt(dx)
    b = 0.5 * jax.random.normal(kb, shape)
    f = jnp.einsum("...nd,...d->...n", x, w) + b[..., None]
    if task == "piecewise":
        a = config.hinge_scale * jax.random.normal(ka, shape + (m,))
        u = jax.random.normal(ku, shape + (m, dx))
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        c = 0.5 * jax.random.normal(kc, shape + (m,))
        f = f + jnp.einsum("...nm,...m->...n", jnp.abs(jnp.einsum("...nd,...md->...nm", x, u) - c[..., None, :]), a)
    y = f + config.noise_std * jax.random.normal(ke, f.shape)
    return x, y, f


def make_batch(config, key):
    """Training sequences: leaves [batch_size, num_seeds, N(, dx)] (each seed its own data)."""
    x, y, _ = sample_tasks(config, key, (config.batch_size, config.num_seeds))
    return {"x": x, "y": y}


def held_out(config):
    """The fixed evaluation set (independent of every training key): x, y, f with leading dim eval_sequences."""
    key = jax.random.fold_in(jax.random.key(config.seed), 7_000_003)
    return sample_tasks(config, key, (config.eval_sequences,))


# ----------------------------------------------------------------------------- model


def _dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in), "b": jnp.zeros((n_out,))}


def _apply_dense(p, x):
    return x @ p["w"] + p["b"]


def init_params(config, key):
    """One replica's parameters (the same tree for every mechanism)."""
    dm, h, d = config.d_model, config.num_heads, config.head_dim
    keys = jax.random.split(key, 9)
    return {
        "embed": _dense(keys[0], config.x_dim, dm),
        "mlp1": _dense(keys[1], dm, 2 * dm), "mlp2": _dense(keys[2], 2 * dm, dm),
        "wq": _dense(keys[3], dm, h * d), "wk": _dense(keys[4], dm, h * d),
        "wv": _dense(keys[5], dm + 1, h * d), "wo": _dense(keys[6], h * d, dm),
        "read1": _dense(keys[7], dm, 2 * dm), "read2": _dense(keys[8], 2 * dm, 1),
        # softplus^{-1}(fixed_ridge): the learned ridge starts where the fixed one stays.
        "ridge": jnp.asarray(config.fixed_ridge + np.log(-np.expm1(-config.fixed_ridge)), jnp.float32),
    }


def _attend(config, mechanism, params, q, k, v):
    if mechanism == "softmax":
        return softmax_attention(q, k, v)
    if mechanism == "global":
        return linear_regression_attention(q, k, v, ridge=jax.nn.softplus(params["ridge"]) + 1e-4)
    if mechanism in ("lla_fixed", "lla"):
        ridge = config.fixed_ridge if mechanism == "lla_fixed" else jax.nn.softplus(params["ridge"]) + 1e-4
        if config.lla_impl == "xla":
            return local_linear_attention(q, k, v, ridge=ridge, implementation="xla")
        return local_linear_attention_chunked(q, k, v, ridge=ridge, cg_iters=config.cg_iters)
    raise KeyError(f"config.mechanisms: unknown {mechanism!r}; valid: {list(MECHANISMS)}")


def predict(config, mechanism, params, x, y):
    """Predictions of y_1 .. y_{N-1} [B, N-1] from x [B, N, dx], y [B, N] (y_t used only as context)."""
    b, n, _ = x.shape
    h = _apply_dense(params["embed"], x)
    h = h + _apply_dense(params["mlp2"], jax.nn.gelu(_apply_dense(params["mlp1"], h)))
    heads = (config.num_heads, config.head_dim)
    q = _apply_dense(params["wq"], h).reshape(b, n, *heads)
    k = _apply_dense(params["wk"], h).reshape(b, n, *heads)
    v = _apply_dense(params["wv"], jnp.concatenate([h, y[..., None]], -1)).reshape(b, n, *heads)
    # Query x_{t+1} against the pairs j <= t: the diagonal-inclusive causal attention on shifted inputs.
    o = _attend(config, mechanism, params, q[:, 1:], k[:, :-1], v[:, :-1]).reshape(b, n - 1, -1)
    z = h[:, 1:] + _apply_dense(params["wo"], o)
    return _apply_dense(params["read2"], jax.nn.gelu(_apply_dense(params["read1"], z)))[..., 0]


def _optimizer(config):
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                                  max(config.num_steps, config.warmup_steps + 1))
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adamw(schedule, weight_decay=1e-4))


def init(config, key):
    """Per mechanism, ``num_seeds`` replicas (params and Adam state, leading axis = seed)."""
    keys = jax.random.split(key, config.num_seeds)  # the same initial weights for every mechanism
    params = jax.vmap(functools.partial(init_params, config))(keys)
    opt = _optimizer(config)
    return {"params": {m: params for m in config.mechanisms},
            "opt_state": {m: jax.vmap(opt.init)(params) for m in config.mechanisms}}


def _loss(config, mechanism, params, x, y):
    return jnp.mean((predict(config, mechanism, params, x, y) - y[:, 1:]) ** 2)


def train_step(config, state, batch):
    opt = _optimizer(config)
    new = {"params": {}, "opt_state": {}}
    metrics = {}
    x, y = batch["x"], batch["y"]
    for mechanism in config.mechanisms:
        def one(params, opt_state, x, y, mechanism=mechanism):
            loss, grads = jax.value_and_grad(functools.partial(_loss, config, mechanism))(params, x, y)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        p, s, loss = jax.vmap(one, in_axes=(0, 0, 1, 1))(state["params"][mechanism], state["opt_state"][mechanism],
                                                         x, y)
        # Run the mechanisms one after another: XLA:CPU has hung executing independent
        # batched linear solves (LLA's and the global fit's) concurrently in one program.
        x, y, p, s = jax.lax.optimization_barrier((x, y, p, s))
        new["params"][mechanism], new["opt_state"][mechanism] = p, s
        metrics[f"train_loss/{mechanism}"] = jnp.mean(loss)
    return new, metrics


def _position_mse(config, mechanism, params, x, y, f):
    """[N-1] held-out MSE against the noiseless target, per in-context position (one replica)."""
    pred = predict(config, mechanism, params, x, y)
    return jnp.mean((pred - f[:, 1:]) ** 2, axis=0)


def evaluate(config, state, key):
    """Held-out MSE per (mechanism, seed, position); the same fixed set at every evaluation."""
    del key
    x, y, f = held_out(config)
    metrics = {}
    for mechanism in config.mechanisms:
        per = jax.vmap(functools.partial(_position_mse, config, mechanism), in_axes=(0, None, None, None))(
            state["params"][mechanism], x, y, f)
        x, y, f, per = jax.lax.optimization_barrier((x, y, f, per))  # one mechanism at a time, see train_step
        metrics[f"mse/{mechanism}"] = jnp.mean(per)
        metrics[f"ridge/{mechanism}"] = jnp.mean(jax.nn.softplus(state["params"][mechanism]["ridge"]))
        for s in range(config.num_seeds):
            for t in range(config.seq_len - 1):
                metrics[f"pmse/{mechanism}/s{s}/p{t + 1}"] = per[s, t]
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"{k.split('/')[1]}={v:.3f}" for k, v in record.items() if k.startswith("mse/"))


# ----------------------------------------------------------------------------- report


def buckets(config) -> list[tuple[int, int]]:
    """Half-open ranges [a, b) of in-context positions t + 1 (examples seen), clipped to N - 1."""
    edges = [e for e in config.bucket_edges if e < config.seq_len] + [config.seq_len]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def per_seed_positions(config, record, mechanism) -> np.ndarray:
    """[num_seeds, N-1] held-out MSE of one record."""
    return np.array([[record[f"pmse/{mechanism}/s{s}/p{t + 1}"] for t in range(config.seq_len - 1)]
                     for s in range(config.num_seeds)])


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean over seeds and its standard error (0 for one seed)."""
    mean, se = mean_se(values)
    return float(mean), float(se)


def raw_references(config) -> dict[str, np.ndarray]:
    """Untrained reference on the raw x of the held-out set: [N-1] MSE per position.

    ``ridge_ols``: ridge regression of y on [x, 1] over the pairs seen (ridge ``raw_ridge``),
    the in-context least-squares fit that is near optimal on the ``linear`` task and the
    global linear fit in x on the ``piecewise`` one.
    """
    x, y, f = held_out(config)
    x1 = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,))], -1)[:, :, None]
    o = linear_regression_attention(x1[:, 1:], x1[:, :-1], y[:, :-1, None, None], ridge=config.raw_ridge)
    return {"ridge_ols": np.mean((np.asarray(o[:, :, 0, 0]) - np.asarray(f[:, 1:])) ** 2, 0)}


def summary(config, history) -> dict[str, Any]:
    """Final held-out MSE per mechanism and bucket: mean and SE over seeds; and the raw references."""
    last = history[-1]
    out = {"buckets": buckets(config), "mechanisms": {}, "raw": {}}
    for mechanism in config.mechanisms:
        per = per_seed_positions(config, last, mechanism)
        cells = [_mean_se(per[:, a - 1:b - 1].mean(1)) for a, b in out["buckets"]]
        out["mechanisms"][mechanism] = {"buckets": cells, "all": _mean_se(per.mean(1)),
                                        "ridge": last.get(f"ridge/{mechanism}")}
    for name, curve in raw_references(config).items():
        out["raw"][name] = {"buckets": [float(curve[a - 1:b - 1].mean()) for a, b in out["buckets"]],
                            "all": float(curve.mean()), "curve": curve.tolist()}
    return out


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    summ = summary(config, history)
    (workdir / "mse.json").write_text(json.dumps(summ, indent=1))
    last = history[-1]
    positions = np.arange(1, config.seq_len)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for mechanism in config.mechanisms:
        per = per_seed_positions(config, last, mechanism)
        mean, se = mean_se(per)
        axes[0].plot(positions, mean, label=mechanism)
        axes[0].fill_between(positions, mean - 2 * se, mean + 2 * se, alpha=0.2)
        steps, value = series(history, f"mse/{mechanism}")
        axes[1].plot(steps, value, label=mechanism)
    for name, ref in summ["raw"].items():
        axes[0].plot(positions, ref["curve"], linestyle=":", label=f"{name} (untrained)")
    axes[0].set_xlabel("in-context examples seen")
    axes[0].set_ylabel("held-out MSE vs noiseless f")
    axes[0].set_title(f"{config.task}: final models, mean of {config.num_seeds} seeds (±2 SE)")
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel("held-out MSE (all positions)")
    axes[1].set_title("held-out MSE during training")
    for ax in axes:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    save_figure(fig, workdir / "lla_icl.png")

    labels = [f"{a}–{b - 1}" for a, b in summ["buckets"]]
    lines = [
        f"# In-context regression ({config.task}): softmax vs global ridge vs LLA, trained",
        "",
        (f"x ∈ R^{config.x_dim} ~ N(0, I), N = {config.seq_len} points per sequence, noise σ = {config.noise_std}"
         + (f", {config.num_hinges} random hinges of scale {config.hinge_scale}" if config.task == "piecewise"
            else "") + f". Model: d_model {config.d_model}, {config.num_heads} heads of {config.head_dim}, one "
         f"attention layer; {config.num_steps} AdamW steps of {config.batch_size} sequences, lr "
         f"{config.learning_rate}; {config.num_seeds} seeds (init and data). Figures: held-out MSE against "
         f"the noiseless target on {config.eval_sequences} fixed sequences, mean ± standard error over seeds, "
         "by bucket of in-context examples seen. Bold: the lowest trained mean in the column."),
        "",
        "| mechanism | " + " | ".join(labels) + " | all | learned ridge |",
        "|---|" + "---|" * (len(labels) + 2),
    ]
    mech = summ["mechanisms"]
    best = [min(mech[m]["buckets"][i][0] for m in config.mechanisms) for i in range(len(labels))]
    best_all = min(mech[m]["all"][0] for m in config.mechanisms)
    for m in config.mechanisms:
        cells = []
        for i, (mean, se) in enumerate(mech[m]["buckets"]):
            text = f"{mean:.4f} ± {se:.4f}"
            cells.append(f"**{text}**" if mean == best[i] else text)
        mean, se = mech[m]["all"]
        cells.append(f"**{mean:.4f} ± {se:.4f}**" if mean == best_all else f"{mean:.4f} ± {se:.4f}")
        ridge = mech[m]["ridge"] if m in ("global", "lla") else (config.fixed_ridge if m == "lla_fixed" else None)
        cells.append("–" if ridge is None else f"{ridge:.3g}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    for name, ref in summ["raw"].items():
        lines.append(f"| {name} (untrained, raw x) | " + " | ".join(f"{v:.4f}" for v in ref["buckets"])
                     + f" | {ref['all']:.4f} | – |")
    lines += ["", "## Where LLA wins and where it does not", "",
              ("Best LLA variant against each other mechanism: the difference other − LLA (positive: LLA "
               "better) in standard errors of the difference across seeds; |z| > 2 counts as a win or loss."),
              ""]
    llas = [m for m in config.mechanisms if m.startswith("lla")]
    others = [m for m in config.mechanisms if not m.startswith("lla")]
    for i, label in enumerate([*labels, "all"]):
        def get(m, i=i, label=label):
            return mech[m]["buckets"][i] if label != "all" else mech[m]["all"]
        if not llas or not others:
            break
        bl = min(llas, key=lambda m: get(m)[0])
        ml, sl = get(bl)
        cells = []
        for other in others:
            mo, so = get(other)
            z = (mo - ml) / max(np.hypot(sl, so), 1e-12)
            verdict = "LLA wins" if z > 2 else ("LLA loses" if z < -2 else "tie")
            cells.append(f"vs {other} {mo:.4f}: {verdict} ({z:+.1f} SE)")
        lines.append(f"- positions {label}: {bl} {ml:.4f}; " + "; ".join(cells))
    lines += ["", "![MSE by position and during training](lla_icl.png)", ""]
    return "\n".join(lines)
