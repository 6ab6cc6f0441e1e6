r"""Benchmark of group-relative advantages: bvjax (XLA, Pallas) vs verl- and recipe-shaped loops.

    python -m launch.bench_advantages                    # part of `make bench`
    python -m launch.bench_advantages --sizes=4096,65536 --hgpo_shapes=16x8x50

GRPO rows: ``N`` samples in groups of ``--group_size`` given by an id per sample
(shuffled, as a rollout buffer holds them). Columns:

- ``xla``: `bvjax.rl.group_advantages(rewards, group_ids)` under jit (arbitrary ids: a
  hash table gives each group a canonical id, no sort);
- ``xla ids``: the same with ``num_groups=N // group_size`` (ids promised dense: no hashing);
- ``pallas``: the same with ``implementation="pallas"``, timed only on an accelerator
  (interpret mode on CPU is a correctness path, not a speed path);
- ``loop``: a per-group Python loop in NumPy shaped like verl's
  ``compute_grpo_outcome_advantage`` (a dict from id to scores, then mean/std per id,
  then a second pass normalising each sample).

HGPO rows: ``tasks x trajectories x steps`` with ``--history_length`` levels;
``loop`` is shaped like the HGPO recipe (a dict keyed by task, level and the tuple of
the last k+1 state hashes, then a weighted average per step).

``ids GB/s`` counts the bytes the ``xla ids`` path must read and write (inputs once,
output once) over its time; ``of copy`` compares that with the bandwidth of a jitted elementwise
pass over a large array measured in the same run (a stand-in for memory bandwidth).
"""

from __future__ import annotations

import functools
from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from bvjax.rl import group_advantages, hgpo_advantages
from launch._timing import median_time

_SIZES = flags.DEFINE_list("sizes", ["4096", "65536", "1048576"], "GRPO sample counts N.")
_GROUP = flags.DEFINE_integer("group_size", 16, "Samples per GRPO group.")
_HGPO = flags.DEFINE_list("hgpo_shapes", ["16x8x50", "64x16x100"], "HGPO tasks x trajectories x steps.")
_HISTORY = flags.DEFINE_integer("history_length", 4, "HGPO levels K.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repeats of the jitted paths (median reported).")
_LOOP_REPEATS = flags.DEFINE_integer("loop_repeats", 3, "Timed repeats of the Python loops (median reported).")


def grpo_loop(scores: np.ndarray, index: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """verl-shaped: group scores by id in a dict, then normalise sample by sample."""
    id2score = defaultdict(list)
    for i in range(len(scores)):
        id2score[index[i]].append(scores[i])
    id2mean, id2std = {}, {}
    for idx, values in id2score.items():
        if len(values) == 1:
            id2mean[idx], id2std[idx] = 0.0, 1.0
        else:
            arr = np.asarray(values)
            id2mean[idx], id2std[idx] = arr.mean(), arr.std(ddof=1)
    out = np.empty_like(scores)
    for i in range(len(scores)):
        out[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + eps)
    return out


def hgpo_loop(states, returns, tasks, history, alpha=1.0, offset=1, eps=1e-6):
    """Recipe-shaped: dict keyed by (task, k, last k+1 states); weighted mean per step."""
    b, t = states.shape
    clusters = defaultdict(list)
    for i in range(b):
        for s in range(t):
            for k in range(min(history, s) + 1):
                clusters[(tasks[i], k, tuple(states[i, s - k:s + 1]))].append((i, s))
    items = defaultdict(list)
    for (_, k, _), members in clusters.items():
        if len(members) < 2:
            continue
        r = np.array([returns[i, s] for i, s in members])
        a = (r - r.mean()) / (r.std() + eps)
        for (i, s), ak in zip(members, a):
            if ak != 0:
                items[(i, s)].append(((k + 1 + offset) ** alpha, ak))
    out = np.zeros((b, t))
    for key, its in items.items():
        out[key] = sum(w * a for w, a in its) / (sum(w for w, _ in its) + eps)
    return out


def copy_bandwidth() -> float:
    x = jnp.ones((1 << 24,), jnp.float32)
    f = jax.jit(lambda v: v * 2.0 + 1.0)
    return 2 * x.nbytes / median_time(lambda: f(x), 5) / 1e9


def main(argv):
    del argv
    on_accelerator = jax.default_backend() != "cpu"
    bandwidth = copy_bandwidth()
    print(f"backend {jax.default_backend()}; jitted elementwise pass: {bandwidth:.1f} GB/s; "
          f"median of {_REPEATS.value} runs (loops: {_LOOP_REPEATS.value}), compilation excluded.")
    print(f"\nGRPO, groups of {_GROUP.value}, shuffled ids")
    header = (f"{'N':>8} | {'xla s':>9} | {'xla ids s':>9} | {'pallas s':>9} | {'loop s':>8} | "
              f"{'loop/xla':>9} | {'loop/ids':>9} | {'ids GB/s':>8} | {'of copy':>7} | max |xla-loop|")
    print(header + "\n" + "-" * len(header))
    rng = np.random.default_rng(0)
    grpo = jax.jit(group_advantages, static_argnames=("implementation", "num_groups"))
    for n in (int(v) for v in _SIZES.value):
        ids = rng.permutation(np.arange(n) // _GROUP.value).astype(np.int32)
        scores = rng.integers(0, 2, n).astype(np.float32) + 0.1 * rng.normal(size=n).astype(np.float32)
        r, g = jnp.asarray(scores), jnp.asarray(ids)
        t_xla = median_time(lambda r=r, g=g: grpo(r, g, implementation="xla"), _REPEATS.value)
        groups = n // _GROUP.value
        t_ids = median_time(lambda r=r, g=g, k=groups: grpo(r, g, implementation="xla", num_groups=k), _REPEATS.value)
        t_pallas = (f"{median_time(lambda r=r, g=g: grpo(r, g, implementation='pallas'), _REPEATS.value):>9.5f}"
                    if on_accelerator else f"{'n/a cpu':>9}")
        want = grpo_loop(scores.astype(np.float64), ids)
        t_loop = median_time(functools.partial(grpo_loop, scores.astype(np.float64), ids), _LOOP_REPEATS.value,
                             warmup=False)
        err = max(float(np.max(np.abs(np.asarray(grpo(r, g, implementation="xla", **kw)) - want)))
                  for kw in ({}, {"num_groups": groups}))
        gbs = 3 * 4 * n / t_ids / 1e9
        print(f"{n:>8} | {t_xla:>9.5f} | {t_ids:>9.5f} | {t_pallas} | {t_loop:>8.3f} | {t_loop / t_xla:>9.0f} | "
              f"{t_loop / t_ids:>9.0f} | {gbs:>8.2f} | {gbs / bandwidth:>7.1%} | {err:.1e}")

    print(f"\nHGPO, K={_HISTORY.value} levels, 4 distinct states (aliasing), recipe weights")
    header = (f"{'shape':>10} | {'steps':>7} | {'xla s':>9} | {'pallas s':>9} | {'loop s':>8} | "
              f"{'loop/xla':>9} | max |xla-loop|")
    print(header + "\n" + "-" * len(header))
    hgpo = jax.jit(hgpo_advantages, static_argnames=("history_length", "implementation"))
    for shape in _HGPO.value:
        tasks_n, traj, steps = (int(v) for v in shape.split("x"))
        b = tasks_n * traj
        states = rng.integers(0, 4, (b, steps)).astype(np.int32)
        returns = rng.integers(0, 5, (b, steps)).astype(np.float32)
        tasks = np.repeat(np.arange(tasks_n), traj).astype(np.int32)
        mask = np.ones((b, steps), bool)
        args = tuple(jnp.asarray(a) for a in (states, returns, mask, tasks))

        def run(impl, args=args):
            return hgpo(*args, history_length=_HISTORY.value, implementation=impl)

        t_xla = median_time(lambda: run("xla"), _REPEATS.value)
        t_pallas = f"{median_time(lambda: run('pallas'), _REPEATS.value):>9.5f}" if on_accelerator else f"{'n/a cpu':>9}"
        want = hgpo_loop(states, returns.astype(np.float64), tasks, _HISTORY.value)
        t_loop = median_time(functools.partial(hgpo_loop, states, returns.astype(np.float64), tasks, _HISTORY.value),
                             _LOOP_REPEATS.value, warmup=False)
        err = float(np.max(np.abs(np.asarray(run("xla")) - want)))
        print(f"{shape:>10} | {b * steps:>7} | {t_xla:>9.5f} | {t_pallas} | {t_loop:>8.3f} | "
              f"{t_loop / t_xla:>9.0f} | {err:.1e}")


if __name__ == "__main__":
    app.run(main)
