r"""Benchmark of group-relative advantages: bvjax (XLA, Pallas) vs a plain segment sum and verl/recipe loops.

    python -m launch.bench_advantages                    # part of `make bench`
    python -m launch.bench_advantages --sizes=4096,65536 --hgpo_shapes=16x8x50

GRPO rows: ``N`` samples in groups of ``--group_size`` given by an id per sample
(shuffled, as a rollout buffer holds them). Columns:

- ``plain``: the simplest jitted program with known dense ids: four operations, count,
  sum, centred sum of squares (``jax.ops.segment_sum`` each) and the division; no masks,
  no rescaling, no non-finite rule. It is not a correct program: the baseline table
  printed first shows that it gives an all-equal group advantages of up to ~0.06 (groups
  of 8 equal rewards 0.7; ~0.8 for 123.456 in groups of 5) instead of 0, because its mean
  is rounded, and advantages of 0 for rewards near 1e20, because the squares overflow;
- ``guarded``: the same program with the two numerical guarantees that the benchmark's
  data needs: the rewards rescaled by a power of two (no finite reward overflows) and
  shifted by a member of their group (a segment max), so an all-equal group centres to
  exactly 0. Still no masks, no singleton or non-finite rule. ``ids/guarded`` is what the
  library costs over the simplest program that is right on these inputs;
- ``ids``: `bvjax.rl.group_advantages(rewards, group_ids, num_groups=N // group_size)`
  (ids promised dense: no hashing), with every guarantee of the library;
- ``xla``: `bvjax.rl.group_advantages(rewards, group_ids)` with the same shuffled ids but no
  ``num_groups``: ids spanning fewer than ``N`` consecutive integers are detected at run
  time and used directly (no hashing);
- ``hashed``: the same with arbitrary int32 ids (distinct random 32-bit values, one per
  group): a hash table gives each group a canonical id, no sort;
- ``pallas``: the same with ``implementation="pallas"``, timed only on an accelerator
  (interpret mode on CPU is a correctness path, not a speed path);
- ``loop``: a per-group Python loop in NumPy shaped like verl's
  ``compute_grpo_outcome_advantage`` (a dict from id to scores, then mean/std per id,
  then a second pass normalising each sample).

HGPO rows: ``tasks x trajectories x steps`` with ``--history_length`` levels;
``loop`` is shaped like the HGPO recipe (a dict keyed by task, level and the tuple of
the last k+1 state hashes, then a weighted average per step).

The jitted paths are timed interleaved (each repeat times every path once, ``--inner``
calls each), and the medians over ``--repeats`` repeats are compared, so a change in the
machine's load between paths does not enter the ratios.

The compile table compiles each function for ``--compile_repeats`` shapes it has not seen
and reports the median compile time (trace, lower and compile) and, for the last shape,
the optimised HLO's size, the serialised executable's size and XLA's temporary buffer
size (``compiled.memory_analysis()``).
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from bvjax.rl import group_advantages, hgpo_advantages
from launch._grpo_baselines import baseline_checks, guarded_segment_sum, plain_segment_sum
from launch._timing import interleaved, median_time

_SIZES = flags.DEFINE_list("sizes", ["4096", "65536", "1048576"], "GRPO sample counts N.")
_GROUP = flags.DEFINE_integer("group_size", 8, "Samples per GRPO group.")
_HGPO = flags.DEFINE_list("hgpo_shapes", ["16x8x50", "64x16x100"], "HGPO tasks x trajectories x steps.")
_HISTORY = flags.DEFINE_integer("history_length", 4, "HGPO levels K.")
_REPEATS = flags.DEFINE_integer("repeats", 15, "Timed repeats of the jitted paths (median reported).")
_INNER = flags.DEFINE_integer("inner", 10, "Calls per timed repeat of a jitted path.")
_COMPILE = flags.DEFINE_bool("compile_table", True, "Print the compile-cost table.")
_COMPILE_REPEATS = flags.DEFINE_integer("compile_repeats", 5, "Fresh shapes compiled per function (median reported).")
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


def compile_cost(fn, *args) -> tuple[float, int, int, int]:
    """(seconds, optimised HLO bytes, serialised executable bytes, temp bytes) for a fresh compile."""
    from jax.experimental import serialize_executable

    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    temp = int(getattr(memory, "temp_size_in_bytes", 0) or 0)
    try:
        executable = len(serialize_executable.serialize(compiled)[0])
    except Exception:  # noqa: BLE001 - a backend that cannot serialise: report 0
        executable = 0
    return seconds, len(compiled.as_text()), executable, temp


def main(argv):
    del argv
    on_accelerator = jax.default_backend() != "cpu"
    bandwidth = copy_bandwidth()
    print(f"backend {jax.default_backend()}; jitted elementwise pass: {bandwidth:.1f} GB/s; jitted paths: median "
          f"over {_REPEATS.value} interleaved repeats of {_INNER.value} calls (loops: {_LOOP_REPEATS.value}), "
          "compilation excluded.")
    print("\nBaselines on inputs with a known answer (float32; exactly 0, and a float64 reference)")
    header = f"{'program':>17} | {'all-equal groups: max |adv|':>27} | {'rewards ~1e20: max |err|':>24}"
    print(header + "\n" + "-" * len(header))
    for name, (zero, err) in baseline_checks().items():
        print(f"{name:>17} | {zero:>27.2e} | {err:>24.2e}")
    print(f"\nGRPO, groups of {_GROUP.value}, shuffled ids")
    header = (f"{'N':>8} | {'plain s':>9} | {'guarded s':>9} | {'ids s':>9} | {'xla s':>9} | {'hashed s':>9} | "
              f"{'pallas s':>9} | {'loop s':>8} | {'ids/plain':>9} | {'ids/guarded':>11} | {'xla/plain':>9} | "
              f"{'hash/plain':>10} | {'loop/ids':>8} | {'loop/hash':>9} | {'ids GB/s':>8} | {'of copy':>7} | "
              "max |xla-loop|")
    print(header + "\n" + "-" * len(header))
    rng = np.random.default_rng(0)
    grpo = jax.jit(group_advantages, static_argnames=("implementation", "num_groups"))
    plain = jax.jit(plain_segment_sum, static_argnames=("num_groups",))
    guarded = jax.jit(guarded_segment_sum, static_argnames=("num_groups",))
    for n in (int(v) for v in _SIZES.value):
        groups = n // _GROUP.value
        ids = rng.permutation(np.arange(n) // _GROUP.value).astype(np.int32)
        # distinct random int32 ids, one per group (2 of 131,072 independent draws would coincide at 1M)
        draws = np.unique(rng.integers(np.iinfo(np.int32).min, np.iinfo(np.int32).max, groups + 64, dtype=np.int32))
        hashes = rng.permutation(draws)[:groups][ids]
        scores = rng.integers(0, 2, n).astype(np.float32) + 0.1 * rng.normal(size=n).astype(np.float32)
        r, g, h = jnp.asarray(scores), jnp.asarray(ids), jnp.asarray(hashes)
        paths = {
            "plain": lambda r=r, g=g, k=groups: plain(r, g, k),
            "guarded": lambda r=r, g=g, k=groups: guarded(r, g, k),
            "ids": lambda r=r, g=g, k=groups: grpo(r, g, implementation="xla", num_groups=k),
            "xla": lambda r=r, g=g: grpo(r, g, implementation="xla"),
            "hashed": lambda r=r, h=h: grpo(r, h, implementation="xla"),
        }
        if on_accelerator:
            paths["pallas"] = lambda r=r, h=h: grpo(r, h, implementation="pallas")
        t = interleaved(paths, _REPEATS.value, _INNER.value)
        t_pallas = f"{t['pallas']:>9.5f}" if on_accelerator else f"{'n/a cpu':>9}"
        want = grpo_loop(scores.astype(np.float64), ids)
        t_loop = median_time(functools.partial(grpo_loop, scores.astype(np.float64), ids), _LOOP_REPEATS.value,
                             warmup=False)
        err = max(float(np.max(np.abs(np.asarray(out) - want)))
                  for out in (grpo(r, h, implementation="xla"), grpo(r, g, implementation="xla"),
                              grpo(r, g, implementation="xla", num_groups=groups)))
        gbs = 3 * 4 * n / t["ids"] / 1e9
        print(f"{n:>8} | {t['plain']:>9.5f} | {t['guarded']:>9.5f} | {t['ids']:>9.5f} | {t['xla']:>9.5f} | "
              f"{t['hashed']:>9.5f} | {t_pallas} | {t_loop:>8.3f} | {t['ids'] / t['plain']:>8.2f}x | "
              f"{t['ids'] / t['guarded']:>10.2f}x | {t['xla'] / t['plain']:>8.2f}x | "
              f"{t['hashed'] / t['plain']:>9.2f}x | {t_loop / t['ids']:>8.0f} | {t_loop / t['hashed']:>9.0f} | "
              f"{gbs:>8.2f} | {gbs / bandwidth:>7.1%} | {err:.1e}")

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

        paths = {"xla": lambda: run("xla")}
        if on_accelerator:
            paths["pallas"] = lambda: run("pallas")
        t = interleaved(paths, _REPEATS.value, _INNER.value)
        t_pallas = f"{t['pallas']:>9.5f}" if on_accelerator else f"{'n/a cpu':>9}"
        want = hgpo_loop(states, returns.astype(np.float64), tasks, _HISTORY.value)
        t_loop = median_time(functools.partial(hgpo_loop, states, returns.astype(np.float64), tasks, _HISTORY.value),
                             _LOOP_REPEATS.value, warmup=False)
        err = float(np.max(np.abs(np.asarray(run("xla")) - want)))
        print(f"{shape:>10} | {b * steps:>7} | {t['xla']:>9.5f} | {t_pallas} | {t_loop:>8.3f} | "
              f"{t_loop / t['xla']:>9.0f} | {err:.1e}")

    if not _COMPILE.value:
        return
    repeats = _COMPILE_REPEATS.value
    print(f"\nCompile cost for a new shape (XLA path; trace + lower + compile, median over {repeats} shapes no "
          "earlier call used; HLO = optimised HLO text, exec = serialised executable, of the last shape)")
    header = f"{'function':>27} | {'shape':>12} | {'compile s':>9} | {'HLO KB':>8} | {'exec KB':>8} | {'temp KB':>8}"
    print(header + "\n" + "-" * len(header))

    def cases(i):
        n, b, steps = 1003 + 7 * i, 37 + i, 41  # shapes no earlier call used
        return {
            "plain segment sum": (functools.partial(plain_segment_sum, num_groups=n // 8),
                                  (jnp.ones(n), jnp.zeros(n, jnp.int32)), f"[{n}]"),
            "group_advantages [P,G]": (functools.partial(group_advantages, implementation="xla"),
                                       (jnp.ones((n // 8, 8)),), f"[{n // 8},8]"),
            "group_advantages ids": (functools.partial(group_advantages, implementation="xla"),
                                     (jnp.ones(n), jnp.zeros(n, jnp.int32)), f"[{n}]"),
            "group_advantages num_groups": (functools.partial(group_advantages, implementation="xla",
                                                              num_groups=n // 8),
                                            (jnp.ones(n), jnp.zeros(n, jnp.int32)), f"[{n}]"),
            "hgpo_advantages K=4": (functools.partial(hgpo_advantages, history_length=4, implementation="xla"),
                                    (jnp.zeros((b, steps), jnp.int32), jnp.ones((b, steps)),
                                     jnp.ones((b, steps), bool), jnp.zeros(b, jnp.int32)), f"[{b},{steps}]"),
        }

    shapes = [cases(i) for i in range(repeats)]
    for name in shapes[0]:
        costs = [compile_cost(fn, *args) for fn, args, _ in (shape[name] for shape in shapes)]
        seconds = float(np.median([c[0] for c in costs]))
        _, hlo, exe, temp = costs[-1]
        print(f"{name:>27} | {shapes[-1][name][2]:>12} | {seconds:>9.3f} | {hlo / 1e3:>8.1f} | "
              f"{exe / 1e3:>8.1f} | {temp / 1e3:>8.1f}")


if __name__ == "__main__":
    app.run(main)
