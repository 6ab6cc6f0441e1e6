r"""Benchmark of the bootstrap confidence interval: bvjax (jit + vmap) vs scipy.stats.bootstrap.

    python -m launch.bench_bootstrap                       # n = 10k items, B = 10k resamples
    python -m launch.bench_bootstrap --num_items=1000,10000 --num_resamples=10000 --repeats=5

Both compute the percentile interval of the mean (95%) and the bootstrap standard error:

- ``bvjax``: one jitted call drawing the [B, n] indices with `bvjax.stats.bootstrap_indices`
  and reducing them with `bvjax.stats.bootstrap_ci` (``quantile_rule="linear"``, which is
  scipy's ``np.percentile`` rule), in the default float32, timed with JAX's default
  threefry key, with an ``impl="rbg"`` key (faster bits on CPU) and with
  ``generator="hash"`` (counter-based bits that XLA fuses into the gather, so the
  [B, n] indices are never stored);
- ``scipy``: ``scipy.stats.bootstrap((x,), np.mean, method="percentile", vectorized=True)``
  in float64 (its default batch: all resamples at once).

Prints the median wall time over ``--repeats`` runs (bvjax's compilation excluded and
shown separately), the ratio scipy/bvjax, and a parity check: bvjax re-run on scipy's own
index stream (``default_rng(seed).integers(0, n, (B, n))``) must give scipy's interval to
float32 accuracy. ``reduce s`` times bvjax's `bootstrap_ci` alone on those given indices:
on CPU, drawing the indices (JAX's counter-based threefry or rbg bits) costs far more
than NumPy's PCG64, while the gather-and-reduce is cheap.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from absl import app, flags

from bvjax import stats
from launch._timing import median_time

_NUM_ITEMS = flags.DEFINE_list("num_items", ["10000"], "Sample sizes n to time.")
_NUM_RESAMPLES = flags.DEFINE_integer("num_resamples", 10_000, "Bootstrap resamples B.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats per method (median reported).")
_CONFIDENCE = 0.95


@functools.partial(jax.jit, static_argnames=("num_resamples", "generator"))
def bvjax_ci(x, key, *, num_resamples, generator="jax"):
    idx = stats.bootstrap_indices(key, num_items=x.shape[0], num_resamples=num_resamples, generator=generator)
    return stats.bootstrap_ci(x, idx, confidence=_CONFIDENCE, quantile_rule="linear")


@jax.jit
def bvjax_ci_on(x, idx):
    return stats.bootstrap_ci(x, idx, confidence=_CONFIDENCE, quantile_rule="linear")


def scipy_ci(x, seed, num_resamples):
    res = scipy.stats.bootstrap((x,), np.mean, n_resamples=num_resamples, method="percentile",
                                confidence_level=_CONFIDENCE, vectorized=True, rng=np.random.default_rng(seed))
    return res.confidence_interval.low, res.confidence_interval.high, res.standard_error


def bench_row(n: int, b: int, repeats: int) -> str:
    """Times both methods at one size and checks parity; returns the table row."""
    x64 = np.random.default_rng(0).lognormal(size=n)
    x = jnp.asarray(x64, jnp.float32)
    key, rbg_key = jax.random.key(1), jax.random.key(1, impl="rbg")
    start = time.perf_counter()
    jax.block_until_ready(bvjax_ci(x, key, num_resamples=b))
    t_compile = time.perf_counter() - start
    jax.block_until_ready(bvjax_ci(x, rbg_key, num_resamples=b))
    jax.block_until_ready(bvjax_ci(x, key, num_resamples=b, generator="hash"))
    t_bvjax = median_time(functools.partial(bvjax_ci, x, key, num_resamples=b), repeats, warmup=False)
    t_rbg = median_time(functools.partial(bvjax_ci, x, rbg_key, num_resamples=b), repeats, warmup=False)
    t_hash = median_time(functools.partial(bvjax_ci, x, key, num_resamples=b, generator="hash"), repeats,
                         warmup=False)
    t_scipy = median_time(functools.partial(scipy_ci, x64, 0, b), repeats, warmup=False)
    # Parity: bvjax on scipy's index stream gives scipy's interval (float32 vs float64).
    lo, hi, se = scipy_ci(x64, 0, b)
    idx = jnp.asarray(np.random.default_rng(0).integers(0, n, (b, n)), jnp.int32)
    ours = bvjax_ci_on(x, idx)
    t_reduce = median_time(functools.partial(bvjax_ci_on, x, idx), repeats, warmup=False)
    diff = float(np.max(np.abs(np.array([*ours.ci, ours.standard_error], np.float64) - [lo, hi, se])))
    agree = diff < 1e-4 * max(1.0, abs(hi))
    return (f"{n:>7} | {t_bvjax:>8.4f} | {t_rbg:>11.4f} | {t_hash:>12.4f} | {t_reduce:>9.4f} | {t_compile:>9.3f} | "
            f"{t_scipy:>8.4f} | {t_scipy / t_bvjax:>11.2f} | {t_scipy / t_rbg:>9.2f} | {t_scipy / t_hash:>10.2f} | "
            f"{diff:>21.2e} | {agree}")


def main(argv):
    del argv
    b = _NUM_RESAMPLES.value
    print(f"Percentile bootstrap CI of the mean, B = {b} resamples, {int(100 * _CONFIDENCE)}%; backend "
          f"{jax.default_backend()} ({jax.device_count()} device(s)); median of {_REPEATS.value} runs.")
    header = (f"{'n':>7} | {'bvjax s':>8} | {'bvjax rbg s':>11} | {'bvjax hash s':>12} | {'reduce s':>9} | "
              f"{'compile s':>9} | {'scipy s':>8} | {'scipy/bvjax':>11} | {'scipy/rbg':>9} | {'scipy/hash':>10} | "
              f"{'max |dCI| same stream':>21} | agree")
    print(header)
    print("-" * len(header))
    for n in (int(v) for v in _NUM_ITEMS.value):
        print(bench_row(n, b, _REPEATS.value))


if __name__ == "__main__":
    app.run(main)
