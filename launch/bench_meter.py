r"""Benchmark of the bias–variance meter: bvjax vs a naive loop vs one all-in-memory vmap.

    python -m launch.bench_meter            # what `make bench` runs
    python -m launch.bench_meter --num_draws=1024,16384 --hidden=256

The estimator is the typical thing one meters: the minibatch gradient of a small MLP's
loss (a few thousand parameters) against the full-batch gradient. Three ways to get
the same bias², variance and MSE:

- ``bvjax``: `bvjax.diagnostics.bias_variance` under jit (chunked vmap inside
  ``lax.scan``, two passes, memory bounded by one chunk);
- ``loop``: what one writes by hand: a Python loop calling a jitted estimator once
  per key, then float64 NumPy statistics on the stacked draws;
- ``vmap``: one ``jax.vmap`` over every key at once and jnp statistics (one pass, the
  whole [num_draws, num_params] array in memory).

Prints median wall time over ``--repeats`` runs (compilation excluded) and the
ratios, plus the bytes of draws each approach holds at once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from bvjax.diagnostics import bias_variance
from launch._timing import median_time

_NUM_DRAWS = flags.DEFINE_list("num_draws", ["1024", "8192"], "Draw counts to time.")
_HIDDEN = flags.DEFINE_integer("hidden", 64, "MLP hidden width (sets the parameter count).")
_BATCH = flags.DEFINE_integer("batch", 32, "Minibatch size of the gradient estimator.")
_CHUNK = flags.DEFINE_integer("chunk_size", 1024, "bvjax meter chunk size.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats per method (median reported).")


def make_problem(hidden: int, batch: int):
    key = jax.random.key(0)
    kx, kw, k1, k2 = jax.random.split(key, 4)
    x = jax.random.normal(kx, (4096, 16))
    y = jnp.sin(x @ jax.random.normal(kw, (16,)))
    params = {"w1": 0.3 * jax.random.normal(k1, (16, hidden)), "b1": jnp.zeros(hidden),
              "w2": 0.3 * jax.random.normal(k2, (hidden, 1)), "b2": jnp.zeros(1)}

    def loss(p, xb, yb):
        h = jnp.tanh(xb @ p["w1"] + p["b1"])
        return jnp.mean(((h @ p["w2"] + p["b2"])[:, 0] - yb) ** 2)

    full = jax.jit(jax.grad(loss))(params, x, y)

    def estimator(k):
        idx = jax.random.randint(k, (batch,), 0, x.shape[0])
        return jax.grad(loss)(params, x[idx], y[idx])

    num_params = sum(v.size for v in jax.tree_util.tree_leaves(params))
    return estimator, full, num_params


def stats_numpy(draws: np.ndarray, ref: np.ndarray):
    mean = draws.mean(axis=0)
    var = ((draws - mean) ** 2).sum() / (len(draws) - 1)
    mse = ((draws - ref) ** 2).sum(axis=1).mean()
    return mse - var, var, mse


def main(argv):
    del argv
    estimator, full, num_params = make_problem(_HIDDEN.value, _BATCH.value)
    flat_ref = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(full)]).astype(np.float64)
    meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws", "chunk_size"))
    one = jax.jit(estimator)

    @jax.jit
    def vmap_all(keys):
        draws = jax.vmap(estimator)(keys)
        flat = jnp.concatenate([d.reshape(d.shape[0], -1) for d in jax.tree_util.tree_leaves(draws)], axis=1)
        ref = jnp.concatenate([jnp.ravel(v) for v in jax.tree_util.tree_leaves(full)])
        mean = flat.mean(axis=0)
        var = jnp.sum((flat - mean) ** 2) / (flat.shape[0] - 1)
        mse = jnp.mean(jnp.sum((flat - ref) ** 2, axis=1))
        return mse - var, var, mse

    print(f"MLP minibatch gradient: {num_params} parameters, batch {_BATCH.value}; backend "
          f"{jax.default_backend()}; median of {_REPEATS.value} runs, compilation excluded.")
    header = (f"{'draws':>7} | {'bvjax s':>8} | {'loop s':>8} | {'vmap s':>8} | {'loop/bvjax':>10} | "
              f"{'vmap/bvjax':>10} | {'bvjax MB':>8} | {'vmap MB':>8} | agree")
    print(header)
    print("-" * len(header))
    for n in (int(v) for v in _NUM_DRAWS.value):
        key = jax.random.key(1)
        keys = jax.random.split(key, n)
        t_bvjax = median_time(lambda n=n, key=key: meter(estimator, full, key, num_draws=n,
                                                   chunk_size=_CHUNK.value).mse, _REPEATS.value)

        def loop(keys=keys):
            rows = [np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(one(k))]) for k in keys]
            return stats_numpy(np.asarray(rows, np.float64), flat_ref)

        t_loop = median_time(loop, 1 if n > 4096 else _REPEATS.value)
        t_vmap = median_time(lambda keys=keys: vmap_all(keys), _REPEATS.value)
        r = meter(estimator, full, key, num_draws=n, chunk_size=_CHUNK.value)
        b2, var, mse = loop()
        agree = np.allclose([float(r.bias_squared), float(r.variance), float(r.mse)], [b2, var, mse],
                            rtol=1e-3, atol=1e-7)
        mb = 4 * num_params / 2**20
        print(f"{n:>7} | {t_bvjax:>8.4f} | {t_loop:>8.4f} | {t_vmap:>8.4f} | {t_loop / t_bvjax:>10.1f} | "
              f"{t_vmap / t_bvjax:>10.2f} | {mb * min(n, _CHUNK.value):>8.1f} | {mb * n:>8.1f} | {agree}")


if __name__ == "__main__":
    app.run(main)
