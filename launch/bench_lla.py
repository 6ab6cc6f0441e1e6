r"""Benchmark of Local Linear Attention: naive vs chunked vs Pallas vs softmax attention.

    python -m launch.bench_lla                                   # part of `make bench`: the three tables
    python -m launch.bench_lla --full                            # every (n, d, T) in --ns x --ds x --cg_iters
    python -m launch.bench_lla --ns=1024,2048 --ds=64 --cg_iters=16 --full
    python -m launch.bench_lla --only=ratio_grid                 # the naive/chunked grid alone

One (batch, head) of Gaussian q, k, v [1, n, 1, d] in float32, causal, ridge ``--ridge``.
Default grid: the n sweep ``--ns`` at d = ``--base_d``, T = ``--base_t``, plus the d
sweep ``--ds`` and the CG-iteration sweep ``--cg_iters`` at n = ``--base_n``;
``--full`` runs the whole product instead. Paths:

- ``naive``: `bvjax.attention.local_linear_attention(implementation="xla")`, the exact
  closed form with a per-query ``jnp.linalg.solve`` (memory O(n^2 + n d^2)); skipped
  where its temporary memory would exceed ``--naive_max_gb`` (the table says so);
- ``chunked``: `local_linear_attention_chunked` (query blocks of ``--block_q`` holding
  their weights, key tiles of ``--block_k`` in the T CG products; memory O(n (block_q + d)));
- ``pallas``: `local_linear_attention(implementation="pallas")` (FlashLLA kernels), timed
  only on an accelerator ("n/a cpu": interpret mode is a correctness path, not a speed path);
- ``softmax``: `softmax_attention` (the exact masked softmax, the speed floor).

Columns: seconds per call (compilation excluded; the median of ``--repeats`` runs, or one
run when a call takes over 2 s), ratios, temporary memory from
``jax.jit(f).lower(...).compile().memory_analysis().temp_size_in_bytes``, achieved
GFLOP/s of the chunked (and Pallas) path against the forward count
(`pallas_kernels.flash_lla.flash_lla_cost`: (8 + 6T) P d + 2 P e flops over the
P = n(n+1)/2 causal pairs; the chunked path's CG products skip masked tiles, its one-off
passes over a block's weights do not), and the max |error| against a float64 NumPy reference (exact closed form,
computed for n <= ``--reference_max_n``).

A second table gives the CG iterations the chunked path needs against the ridge: its
max |error| vs the float64 reference at n = ``--cg_n``, d = ``--cg_d``.

A third table, the ratio grid, times naive and chunked side by side in one process at
n = ``--base_n`` for every d in ``--ds`` and T in ``--cg_iters`` (the same inputs, the
median of ``--grid_repeats`` runs each) and prints the speed-up naive / chunked. The
chunked path's CG stops once every row of a query block has frozen (relative residual
``cg_tol`` = 1e-6), so T is an upper bound: at ridge 1 on Gaussian inputs the blocks
freeze after 7 to 14 iterations, and T = 16 and 32 cost about the same; smaller ridges
need more iterations (the CG table) and gain less.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from bvjax.attention import local_linear_attention, local_linear_attention_chunked, softmax_attention
from pallas_kernels.flash_lla import flash_lla_cost

_NS = flags.DEFINE_list("ns", ["256", "512", "1024", "2048", "4096", "8192"], "Sequence lengths n.")
_DS = flags.DEFINE_list("ds", ["32", "64", "128"], "Head dims d.")
_TS = flags.DEFINE_list("cg_iters", ["8", "16", "32"], "CG iterations T.")
_FULL = flags.DEFINE_bool("full", False, "Run every (n, d, T) instead of the three one-axis sweeps.")
_BASE_N = flags.DEFINE_integer("base_n", 2048, "n of the d and T sweeps.")
_BASE_D = flags.DEFINE_integer("base_d", 64, "d of the n and T sweeps.")
_BASE_T = flags.DEFINE_integer("base_t", 16, "T of the n and d sweeps.")
_RIDGE = flags.DEFINE_float("ridge", 1.0, "Ridge lambda.")
_BLOCK_Q = flags.DEFINE_integer("block_q", 128, "Query block of the chunked path.")
_BLOCK_K = flags.DEFINE_integer("block_k", 128, "Key tile of the chunked path.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (best reported).")
_NAIVE_MAX_GB = flags.DEFINE_float("naive_max_gb", 3.0, "Skip the naive path above this temporary memory.")
_REF_MAX_N = flags.DEFINE_integer("reference_max_n", 2048, "Largest n with a float64 reference.")
_CG_N = flags.DEFINE_integer("cg_n", 256, "n of the CG-iterations-vs-ridge table.")
_CG_D = flags.DEFINE_integer("cg_d", 32, "d of the CG-iterations-vs-ridge table.")
_CG_RIDGES = flags.DEFINE_list("cg_ridges", ["0.1", "1", "10"], "Ridges of the CG table.")
_CG_TS = flags.DEFINE_list("cg_table_iters", ["4", "8", "16", "32", "64"], "CG iterations of the CG table.")
_CG_TOL = flags.DEFINE_float("cg_target", 1e-3, "Max |error| the CG table asks for.")
_GRID_REPEATS = flags.DEFINE_integer("grid_repeats", 5, "Timed repeats of each ratio-grid cell (median).")
_ONLY = flags.DEFINE_enum("only", None, ["main", "cg", "ratio_grid"], "Run one table only (default: all three).")


def reference_float64(q, k, v, ridge):
    """Exact causal LLA in float64 NumPy, straight from the closed form (docs/notes/lla.md, "Closed form")."""
    q, k, v = (np.asarray(x, np.float64)[0, :, 0] for x in (q, k, v))
    n, d = q.shape
    s = q @ k.T / math.sqrt(d)
    mask = np.tril(np.ones((n, n), bool))
    s = np.where(mask, s, -np.inf)
    w = np.exp(s - s.max(1, keepdims=True))
    omega = w.sum(1)
    mu_t = w @ k
    sig_t = (w @ (k[:, :, None] * k[:, None, :]).reshape(n, d * d)).reshape(n, d, d)
    outer = mu_t[:, :, None] * q[:, None, :]
    sig = sig_t - outer - outer.transpose(0, 2, 1) + omega[:, None, None] * q[:, :, None] * q[:, None, :]
    a = sig + (ridge * omega)[:, None, None] * np.eye(d)
    mu = mu_t - omega[:, None] * q
    rho = np.linalg.solve(a, mu[..., None])[..., 0]
    delta = omega - np.sum(mu * rho, 1)
    coef = w * (1.0 + np.sum(rho * q, 1)[:, None] - rho @ k.T) / delta[:, None]
    return coef @ v


def compiled(fn, *args):
    exe = jax.jit(fn).lower(*args).compile()
    mem = exe.memory_analysis()
    return exe, (mem.temp_size_in_bytes if mem is not None else float("nan"))


def timed(exe, args, repeats, *, single_above=2.0):
    """(median seconds of ``repeats`` calls after a warm-up call, the output); the warm-up
    alone when it took over ``single_above`` seconds."""
    start = time.perf_counter()
    out = jax.block_until_ready(exe(*args))
    first = time.perf_counter() - start
    if first > single_above:
        return first, out
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(exe(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def grid():
    ns, ds, ts = ([int(x) for x in f.value] for f in (_NS, _DS, _TS))
    if _FULL.value:
        return [(n, d, t) for d in ds for t in ts for n in ns]
    rows = [(n, _BASE_D.value, _BASE_T.value) for n in ns]
    rows += [(_BASE_N.value, d, _BASE_T.value) for d in ds if d != _BASE_D.value]
    rows += [(_BASE_N.value, _BASE_D.value, t) for t in ts if t != _BASE_T.value]
    return rows


def inputs(n, d, seed=0):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return tuple(jax.random.normal(key, (1, n, 1, d), jnp.float32) for key in (kq, kk, kv))


def mb(x):
    return f"{x / 2**20:>9.1f}"


def ratio_grid():
    """naive / chunked at n = --base_n over d in --ds and T in --cg_iters, timed side by side."""
    n, lam, reps = _BASE_N.value, _RIDGE.value, _GRID_REPEATS.value
    ds, ts = [int(x) for x in _DS.value], [int(x) for x in _TS.value]
    print(f"\nRatio grid: naive / chunked seconds at n={n}, float32, causal, ridge {lam:g}, block_q={_BLOCK_Q.value}, "
          f"block_k={_BLOCK_K.value}; median of {reps} runs each, compilation excluded")
    header = (f"{'d':>4} | {'naive s':>8} | " + " | ".join(f"{'chk s T=' + str(t):>11}" for t in ts) + " | "
              + " | ".join(f"{'x T=' + str(t):>7}" for t in ts))
    print(header + "\n" + "-" * len(header))
    worst = math.inf
    for d in ds:
        args = inputs(n, d)
        naive = lambda q, k, v: local_linear_attention(q, k, v, ridge=lam, implementation="xla")
        t_n, _ = timed(compiled(naive, *args)[0], args, reps, single_above=math.inf)
        t_c = []
        for t in ts:
            chunked = functools.partial(local_linear_attention_chunked, ridge=lam, cg_iters=t, block_q=_BLOCK_Q.value,
                                        block_k=_BLOCK_K.value)
            t_c.append(timed(compiled(chunked, *args)[0], args, reps, single_above=math.inf)[0])
        worst = min(worst, min(t_n / c for c in t_c))
        print(f"{d:>4} | {t_n:>8.4f} | " + " | ".join(f"{c:>11.4f}" for c in t_c) + " | "
              + " | ".join(f"{t_n / c:>7.2f}" for c in t_c), flush=True)
    print(f"smallest speed-up over the grid: {worst:.2f}x")


def main(argv):
    del argv
    if _ONLY.value in (None, "main"):
        main_table()
    if _ONLY.value in (None, "cg"):
        cg_table()
    if _ONLY.value in (None, "ratio_grid"):
        ratio_grid()


def main_table():
    on_accelerator = jax.default_backend() != "cpu"
    lam = _RIDGE.value
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s); float32, causal, ridge {lam:g}, "
          f"one (batch, head); seconds: median of {_REPEATS.value} (one run above 2 s), compilation excluded.")
    print("GF/s: the forward FLOP count (causal pairs) over the time; temp MB: compiled temporary "
          "memory; err: max |out - float64 reference|.\n")
    header = (f"{'n':>5} | {'d':>3} | {'T':>2} | {'naive s':>9} | {'chunked s':>9} | {'pallas s':>9} | "
              f"{'softmax s':>9} | {'naive/chk':>9} | {'chk/soft':>8} | {'naive MB':>9} | {'chunk MB':>9} | "
              f"{'soft MB':>9} | {'chk GF/s':>8} | {'err chunked':>11} | {'err naive':>9}")
    print(header + "\n" + "-" * len(header))
    notes = []
    for n, d, t in grid():
        q, k, v = inputs(n, d)
        args = (q, k, v)
        flops = flash_lla_cost(1, n, d, d, cg_iters=t)["forward"].flops

        def chunked(q, k, v, t=t):
            return local_linear_attention_chunked(q, k, v, ridge=lam, cg_iters=t, block_q=_BLOCK_Q.value,
                                                  block_k=_BLOCK_K.value)

        def naive(q, k, v):
            return local_linear_attention(q, k, v, ridge=lam, implementation="xla")

        def pallas(q, k, v, t=t):
            return local_linear_attention(q, k, v, ridge=lam, implementation="pallas", cg_iters=t)

        def softmax(q, k, v):
            return softmax_attention(q, k, v)

        exe_c, mem_c = compiled(chunked, *args)
        t_c, out_c = timed(exe_c, args, _REPEATS.value)
        exe_s, mem_s = compiled(softmax, *args)
        t_s, _ = timed(exe_s, args, _REPEATS.value)
        exe_n, mem_n = compiled(naive, *args)
        if mem_n > _NAIVE_MAX_GB.value * 2**30:
            t_n, out_n = None, None
            naive_cell = f"{'skip':>9}"
            notes.append(f"n={n} d={d}: naive skipped, its temporary memory is {mem_n / 2**30:.1f} GB "
                         f"(> --naive_max_gb={_NAIVE_MAX_GB.value:g})")
        else:
            t_n, out_n = timed(exe_n, args, _REPEATS.value)
            naive_cell = f"{t_n:>9.4f}"
        del exe_n
        if on_accelerator:
            exe_p, _ = compiled(pallas, *args)
            t_p, _ = timed(exe_p, args, _REPEATS.value)
            pallas_cell = f"{t_p:>9.4f}"
        else:
            pallas_cell = f"{'n/a cpu':>9}"
        if n <= _REF_MAX_N.value:
            ref = reference_float64(q, k, v, lam)
            err_c = f"{np.max(np.abs(np.asarray(out_c, np.float64)[0, :, 0] - ref)):>11.1e}"
            err_n = (f"{np.max(np.abs(np.asarray(out_n, np.float64)[0, :, 0] - ref)):>9.1e}"
                     if out_n is not None else f"{'-':>9}")
        else:
            err_c, err_n = f"{'n/a':>11}", f"{'n/a':>9}"
        ratio_n = f"{t_n / t_c:>9.2f}" if t_n is not None else f"{'-':>9}"
        naive_mb = mb(mem_n) if t_n is not None else f"{mem_n / 2**20:>8.0f}*"
        print(f"{n:>5} | {d:>3} | {t:>2} | {naive_cell} | {t_c:>9.4f} | {pallas_cell} | {t_s:>9.4f} | "
              f"{ratio_n} | {t_c / t_s:>8.0f} | {naive_mb} | {mb(mem_c)} | {mb(mem_s)} | "
              f"{flops / t_c / 1e9:>8.1f} | {err_c} | {err_n}", flush=True)
    for note in notes:
        print(f"* {note}")


def cg_table():
    n, d = _CG_N.value, _CG_D.value
    q, k, v = inputs(n, d, seed=1)
    ts = [int(x) for x in _CG_TS.value]
    print(f"\nCG iterations vs ridge: chunked path, max |out - float64 reference|, n={n}, d={d}, Gaussian q, k, v")
    header = f"{'ridge':>6} | " + " | ".join(f"{'T=' + str(t):>8}" for t in ts) + f" | T for err<{_CG_TOL.value:g}"
    print(header + "\n" + "-" * len(header))
    for lam_cg in (float(x) for x in _CG_RIDGES.value):
        ref = reference_float64(q, k, v, lam_cg)
        errs = []
        for t in ts:
            out = local_linear_attention_chunked(q, k, v, ridge=lam_cg, cg_iters=t, block_q=_BLOCK_Q.value,
                                                  block_k=_BLOCK_K.value)
            errs.append(float(np.max(np.abs(np.asarray(out, np.float64)[0, :, 0] - ref))))
        needed = next((str(t) for t, e in zip(ts, errs) if e < _CG_TOL.value), f">{ts[-1]}")
        print(f"{lam_cg:>6g} | " + " | ".join(f"{e:>8.1e}" for e in errs) + f" | {needed}")


if __name__ == "__main__":
    app.run(main)
