"""The dtype policy, for every public function of bvjax.stats.

Each function runs on its contract case's inputs (tests/api_cases*.py) with the floating
inputs cast to float16, float32 and float64 (x64 on). Float outputs must follow the
policy of ``bvjax._numerics``: float64 in, float64 out (computed in float64); float32
stays float32; float16 and bfloat16 are computed and returned in float32; integer-only
inputs give JAX's default float. Where a float64 reference is cheap the float64 values are
also compared with NumPy or SciPy on the same inputs.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from bvjax import stats
from tests.api_cases import CASES

NAMES = sorted(f"bvjax.stats.{n}" for n in stats.__all__ if inspect.isfunction(getattr(stats, n)))


def _is_float_array(a) -> bool:
    return isinstance(a, (jax.Array, np.ndarray)) and jnp.issubdtype(a.dtype, jnp.floating)


def _cast(tree, dtype):
    def cast(a):
        if not _is_float_array(a):
            return a
        return jnp.asarray(a, dtype) if isinstance(a, jax.Array) else np.asarray(a, dtype)

    return jax.tree.map(cast, tree)


def _float_leaves(out):
    return [a for a in jax.tree.leaves(out) if _is_float_array(a)]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_output_dtype_follows_the_policy(name, dtype):
    fn = getattr(stats, name.rsplit(".", 1)[1])
    with jax.enable_x64(dtype == "float64"):
        args, kwargs = _cast(CASES[name].good(), jnp.dtype(dtype))
        out = fn(*args, **kwargs)
        expected = jnp.float64 if dtype == "float64" else jnp.float32
        leaves = _float_leaves(out)
        for leaf in leaves:
            assert leaf.dtype == expected, f"{name}({dtype} inputs) returned {leaf.dtype}, expected {expected}"


def test_every_public_stats_function_is_covered():
    assert len(NAMES) >= 50 and all(n in CASES for n in NAMES)


def _np(a):
    return np.asarray(a, np.float64)


def _ttest_ref(args, kwargs):
    d = _np(args[0])
    r = len(d)
    t = d.mean() / np.sqrt((1 / r + kwargs.get("test_train_ratio", 0.0)) * d.var(ddof=1))
    return [t, 2 * scipy.stats.t.sf(abs(t), r - 1)]


def _normal_score_ref(args, kwargs):
    x = _np(args[0])
    half = scipy.stats.norm.ppf(0.975) * x.std(axis=-1, ddof=kwargs.get("ddof", 0)) / np.sqrt(x.shape[-1])
    return [x.mean(axis=-1) - half, x.mean(axis=-1) + half]


def _bootstrap_mean_ref(args, kwargs):
    x, key = _np(args[0]), args[1]
    b = kwargs["num_resamples"]
    idx = np.asarray(stats.bootstrap_indices(key, num_items=len(x), num_resamples=b, generator="hash"))
    w = _np(kwargs["weights"])
    reps = (x[idx] * w[idx]).sum(axis=1) / w[idx].sum(axis=1)
    ordered = np.sort(reps)
    rank = lambda q: min(max(round(q * b) - 1, 0), b - 1)
    return [x @ w / w.sum(), reps.std(ddof=1), ordered[rank(0.025)], ordered[rank(0.975)]]


# name -> float64 reference of the float outputs (in tree-leaf order) from the case's inputs.
REFERENCES = {
    "bvjax.stats.t_sf": lambda a, k: [scipy.stats.t.sf(_np(a[0]), _np(a[1]))],
    "bvjax.stats.f_sf": lambda a, k: [scipy.stats.f.sf(_np(a[0]), a[1], _np(a[2]))],
    "bvjax.stats.chi2_sf": lambda a, k: [scipy.stats.chi2.sf(_np(a[0]), _np(a[1]))],
    "bvjax.stats.binom_cdf": lambda a, k: [scipy.stats.binom.cdf(_np(a[0]), _np(a[1]), _np(a[2]))],
    "bvjax.stats.mcnemar": lambda a, k: [min(a[0][0, 1], a[0][1, 0]),
                                         scipy.stats.binomtest(int(a[0][0, 1]), int(a[0][0, 1] + a[0][1, 0])).pvalue],
    "bvjax.stats.paired_ttest": _ttest_ref,
    "bvjax.stats.normal_approx_ci": lambda a, k: [
        _np(a[0]) + s * scipy.stats.norm.ppf(0.975) * np.sqrt(_np(a[0]) * (1 - _np(a[0])) / _np(a[1]))
        for s in (-1, 1)],
    "bvjax.stats.normal_score_ci": _normal_score_ref,
    "bvjax.stats.bootstrap_mean_ci": _bootstrap_mean_ref,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float64_values_match_a_float64_reference(name, x64):
    fn = getattr(stats, name.rsplit(".", 1)[1])
    args, kwargs = _cast(CASES[name].good(), jnp.dtype("float64"))
    got = _float_leaves(fn(*args, **kwargs))
    expected = REFERENCES[name](args, kwargs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-12, atol=1e-15)
