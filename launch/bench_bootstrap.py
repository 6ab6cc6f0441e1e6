r"""Benchmark of the bootstrap confidence interval of a mean: bvjax's linear path, its general
path, and scipy.stats.bootstrap, side by side in one run.

    python -m launch.bench_bootstrap                       # n = 10k items, B = 10k resamples
    python -m launch.bench_bootstrap --num_items=1000,10000 --num_resamples=10000 --repeats=7

All three compute the 95% percentile interval of the mean and the bootstrap standard error:

- ``linear``: `bvjax.stats.bootstrap_mean_ci` (``generator="hash"``), the fast path for
  statistics linear in the data: resamples in blocks, each block's indices hashed in
  place, gathered and summed by one matrix-vector product; neither the [B, n] indices nor
  the [B, n] gather is ever stored;
- ``general``: `bvjax.stats.bootstrap_indices` (``generator="hash"``) then
  `bvjax.stats.bootstrap_ci` with ``statistic=jnp.mean``, the path every other statistic
  takes (vmapped over the resamples), in one jitted call;
- ``scipy``: ``scipy.stats.bootstrap((x,), np.mean, method="percentile", vectorized=True)``
  in float64 (its default batch: all resamples at once).

bvjax runs in float32 with ``quantile_rule="linear"`` (scipy's ``np.percentile`` rule).
Prints the median wall time over ``--repeats`` interleaved runs, each after an untimed
call of the same method (compilation excluded, shown separately; without that call, the
first jitted call after scipy's 800 MB of resamples are freed takes ~40% longer here),
the ratios scipy/linear and scipy/general, and two parity checks: the linear and general
paths on the same key (hence the same resamples) agree, and bvjax on scipy's
own index stream (``default_rng(seed).integers(0, n, (B, n))``) gives scipy's interval to
float32 accuracy. The machine's load average is printed with the table: timings taken
under load are noisy, ratios less so since every method runs in the same minute.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from absl import app, flags

from bvjax import stats
from launch._timing import interleaved

_NUM_ITEMS = flags.DEFINE_list("num_items", ["10000"], "Sample sizes n to time.")
_NUM_RESAMPLES = flags.DEFINE_integer("num_resamples", 10_000, "Bootstrap resamples B.")
_REPEATS = flags.DEFINE_integer("repeats", 9, "Timed repeats per method, interleaved (median reported).")
_CONFIDENCE = 0.95


@functools.partial(jax.jit, static_argnames=("num_resamples",))
def linear_ci(x, key, *, num_resamples):
    return stats.bootstrap_mean_ci(x, key, num_resamples=num_resamples, generator="hash", confidence=_CONFIDENCE,
                                   quantile_rule="linear")


@functools.partial(jax.jit, static_argnames=("num_resamples",))
def general_ci(x, key, *, num_resamples):
    idx = stats.bootstrap_indices(key, num_items=x.shape[0], num_resamples=num_resamples, generator="hash")
    return stats.bootstrap_ci(x, idx, statistic=jnp.mean, confidence=_CONFIDENCE, quantile_rule="linear")


@jax.jit
def ci_on(x, idx):
    return stats.bootstrap_ci(x, idx, confidence=_CONFIDENCE, quantile_rule="linear")


def scipy_ci(x, seed, num_resamples):
    res = scipy.stats.bootstrap((x,), np.mean, n_resamples=num_resamples, method="percentile",
                                confidence_level=_CONFIDENCE, vectorized=True, rng=np.random.default_rng(seed))
    return res.confidence_interval.low, res.confidence_interval.high, res.standard_error


def _flat(ci) -> np.ndarray:
    return np.array([*ci.ci, ci.standard_error], np.float64)


def bench_row(n: int, b: int, repeats: int) -> str:
    """Times the three methods at one size and checks parity; returns the table row."""
    x64 = np.random.default_rng(0).lognormal(size=n)
    x = jnp.asarray(x64, jnp.float32)
    key = jax.random.key(1)
    start = time.perf_counter()
    lin = jax.block_until_ready(linear_ci(x, key, num_resamples=b))
    t_compile = time.perf_counter() - start
    gen = jax.block_until_ready(general_ci(x, key, num_resamples=b))
    t = interleaved({"linear": functools.partial(linear_ci, x, key, num_resamples=b),
                     "general": functools.partial(general_ci, x, key, num_resamples=b),
                     "scipy": functools.partial(scipy_ci, x64, 0, b)}, repeats, settle=1)
    t_linear, t_general, t_scipy = t["linear"], t["general"], t["scipy"]
    paths = float(np.max(np.abs(_flat(lin) - _flat(gen))))
    # Parity: bvjax on scipy's index stream gives scipy's interval (float32 vs float64).
    lo, hi, se = scipy_ci(x64, 0, b)
    idx = jnp.asarray(np.random.default_rng(0).integers(0, n, (b, n)), jnp.int32)
    diff = float(np.max(np.abs(_flat(ci_on(x, idx)) - [lo, hi, se])))
    tol = 1e-4 * max(1.0, abs(hi))
    agree = diff < tol and paths < tol
    return (f"{n:>7} | {t_linear:>8.4f} | {t_general:>9.4f} | {t_scipy:>8.4f} | {t_scipy / t_linear:>12.2f} | "
            f"{t_scipy / t_general:>13.2f} | {t_general / t_linear:>14.2f} | {t_compile:>9.3f} | {paths:>14.2e} | "
            f"{diff:>17.2e} | {agree}")


def main(argv):
    del argv
    b = _NUM_RESAMPLES.value
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"Percentile bootstrap CI of the mean, B = {b} resamples, {int(100 * _CONFIDENCE)}%; backend "
          f"{jax.default_backend()} ({jax.device_count()} device(s), {os.cpu_count()} CPU cores, load average "
          f"{load}); median of {_REPEATS.value} interleaved runs.")
    header = (f"{'n':>7} | {'linear s':>8} | {'general s':>9} | {'scipy s':>8} | {'scipy/linear':>12} | "
              f"{'scipy/general':>13} | {'general/linear':>14} | {'compile s':>9} | {'linear-general':>14} | "
              f"{'vs scipy, its idx':>17} | agree")
    print(header)
    print("-" * len(header))
    for n in (int(v) for v in _NUM_ITEMS.value):
        print(bench_row(n, b, _REPEATS.value))
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    app.run(main)
