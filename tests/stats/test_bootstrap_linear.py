"""The linear-statistic fast path `bootstrap_mean_ci` (and `bootstrap_ci`'s mean) against a
float64 NumPy reference computed on the same indices."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import stats


def _reference(x, idx, w, statistic, confidence, ddof, rule):
    """float64 NumPy: replicates from the explicit [B, n] gather, then SE and percentile CI."""
    x = np.asarray(x, np.float64)
    cols = x[:, None] if x.ndim == 1 else x
    w = np.ones(len(cols)) if w is None else np.asarray(w, np.float64)
    num = np.einsum("brd,br->bd", cols[idx], w[idx])
    den = w[idx].sum(axis=1)[:, None]
    reps = num if statistic == "sum" else num / den
    original = (w @ cols) if statistic == "sum" else (w @ cols) / w.sum()
    se = reps.std(axis=0, ddof=ddof)
    b = len(reps)
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    if rule == "linear":
        lo, hi = np.percentile(reps, [100 * lo_q, 100 * hi_q], axis=0)
    else:
        ordered = np.sort(reps, axis=0)
        rank = lambda q: min(max(round(q * b) - 1, 0), b - 1)
        lo, hi = ordered[rank(lo_q)], ordered[rank(hi_q)]
    squeeze = (lambda a: a[0]) if x.ndim == 1 else (lambda a: a)
    return squeeze(original), squeeze(se), squeeze(lo), squeeze(hi)


def _assert_close(got, ref, rtol):
    original, se, (lo, hi) = got
    for a, b in zip((original, se, lo, hi), ref):
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=rtol, atol=rtol * 1e-3)


CASES = [  # (n, D, B, weighted, statistic, generator, rule): B * n spans one block and several, B ragged
    (5, None, 7, False, "mean", "hash", "mlxtend"),
    (30, None, 400, True, "mean", "jax", "linear"),
    (1000, None, 1500, False, "sum", "hash", "linear"),
    (1000, 3, 700, True, "mean", "hash", "mlxtend"),
    (257, 2, 300, True, "sum", "jax", "mlxtend"),
]


@pytest.mark.parametrize("n,d,b,weighted,statistic,generator,rule", CASES)
def test_bootstrap_mean_ci_matches_numpy_on_the_same_indices(x64, n, d, b, weighted, statistic, generator, rule):
    rng = np.random.default_rng(n + b)
    x = rng.lognormal(size=(n,) if d is None else (n, d))
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    key = jax.random.key(b)
    idx = np.asarray(stats.bootstrap_indices(key, num_items=n, num_resamples=b, generator=generator))
    ref = _reference(x, idx, w, statistic, 0.9, 1, rule)
    call = functools.partial(stats.bootstrap_mean_ci, num_resamples=b, statistic=statistic, generator=generator,
                             confidence=0.9, quantile_rule=rule)
    wj = None if w is None else jnp.asarray(w)
    for fn in ((call, jax.jit(call)) if n == 5 else (jax.jit(call),)):
        got = fn(jnp.asarray(x), key, weights=wj)
        assert got.standard_error.dtype == jnp.float64
        assert got.standard_error.shape == (() if d is None else (d,))
        _assert_close(got, ref, 1e-11)


def test_bootstrap_mean_ci_float32_matches_numpy():
    n, b = 2000, 600
    x = np.random.default_rng(0).normal(3.0, 1.0, size=n)
    key = jax.random.key(4)
    idx = np.asarray(stats.bootstrap_indices(key, num_items=n, num_resamples=b, generator="hash"))
    got = jax.jit(functools.partial(stats.bootstrap_mean_ci, num_resamples=b))(jnp.asarray(x, jnp.float32), key)
    assert got.original.dtype == jnp.float32
    _assert_close(got, _reference(np.float32(x), idx, None, "mean", 0.95, 1, "mlxtend"), 2e-5)


def test_linear_path_equals_the_general_path_on_the_same_key(x64):
    n, b = 300, 1100
    x = jnp.asarray(np.random.default_rng(2).exponential(size=n))
    key = jax.random.key(9)
    for generator in ("jax", "hash"):
        idx = stats.bootstrap_indices(key, num_items=n, num_resamples=b, generator=generator)
        for rule in ("mlxtend", "linear"):
            general = jax.jit(functools.partial(stats.bootstrap_ci, quantile_rule=rule))(x, idx)
            linear = stats.bootstrap_mean_ci(x, key, num_resamples=b, generator=generator, quantile_rule=rule)
            _assert_close(linear, (general.original, general.standard_error, *general.ci), 1e-12)
            _assert_close(general, _reference(np.asarray(x), np.asarray(idx), None, "mean", 0.95, 1, rule), 1e-12)


def test_bootstrap_mean_ci_vmaps_over_data(x64):
    x = jnp.asarray(np.random.default_rng(3).normal(size=(4, 50)))
    key = jax.random.key(1)
    call = functools.partial(stats.bootstrap_mean_ci, num_resamples=200)
    batched = jax.vmap(call, in_axes=(0, None))(x, key)
    columns = call(x.T, key)  # the [N, D] form shares the resamples the same way
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(columns)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_zero_weight_resamples_give_nan_not_a_number():
    # With weight only on item 2 of 3, some of 200 resamples never draw it: no weighted mean.
    got = stats.bootstrap_mean_ci(jnp.array([1.0, 2.0, 3.0]), jax.random.key(0), num_resamples=200,
                                  weights=jnp.array([0.0, 0.0, 1.0]))
    assert float(got.original) == 3.0
    assert np.isnan(float(got.standard_error)) and np.isnan(float(got.ci[0])) and np.isnan(float(got.ci[1]))
    total = stats.bootstrap_mean_ci(jnp.array([1.0, 2.0, 3.0]), jax.random.key(0), num_resamples=200,
                                    weights=jnp.array([0.0, 0.0, 1.0]), statistic="sum")
    assert np.isfinite(float(total.standard_error))


def test_bootstrap_mean_ci_contract_errors():
    x, key = jnp.arange(6.0), jax.random.key(0)
    with pytest.raises(ValueError, match="weights"):
        stats.bootstrap_mean_ci(x, key, num_resamples=10, weights=jnp.ones(5))
    with pytest.raises(ValueError, match="weights"):
        stats.bootstrap_mean_ci(x, key, num_resamples=10, weights=-jnp.ones(6))
    with pytest.raises(ValueError, match="statistic"):
        stats.bootstrap_mean_ci(x, key, num_resamples=10, statistic="median")
    with pytest.raises(ValueError, match="num_resamples"):
        stats.bootstrap_mean_ci(x, key, num_resamples=1)  # B must exceed ddof = 1
    with pytest.raises(ValueError, match="num_resamples"):
        stats.bootstrap_mean_ci(jnp.zeros(2**16), key, num_resamples=2**16)
    with pytest.raises(ValueError, match="x"):
        stats.bootstrap_mean_ci(jnp.zeros((2, 3, 4)), key, num_resamples=10)
    with pytest.raises(ValueError, match="statistic"):
        stats.bootstrap_ci(jnp.zeros((6, 2)), stats.bootstrap_indices(key, num_items=6, num_resamples=10))


def test_a_nan_item_makes_the_interval_nan_not_a_plausible_number():
    # Most resamples draw the NaN: sorting would leave a finite lower bound; it must be NaN.
    x = jnp.arange(20.0).at[3].set(jnp.nan)
    idx = stats.bootstrap_indices(jax.random.key(0), num_items=20, num_resamples=300)
    for got in (stats.bootstrap_ci(x, idx), stats.bootstrap_ci(x, idx, statistic=jnp.mean),
                stats.bootstrap_mean_ci(x, jax.random.key(0), num_resamples=300)):
        assert all(np.isnan(float(v)) for v in (got.original, got.standard_error, *got.ci))
    # Column-wise: a NaN in one column leaves the other's interval finite.
    two = jnp.stack([jnp.arange(20.0), x], axis=1)
    got = stats.bootstrap_mean_ci(two, jax.random.key(0), num_resamples=300)
    assert np.isfinite(np.asarray(got.ci[0][0])) and np.isnan(np.asarray(got.ci[0][1]))
    with pytest.raises(ValueError, match="x"):
        stats.bootstrap_mean_ci(jnp.zeros(0), jax.random.key(0), num_resamples=10)
