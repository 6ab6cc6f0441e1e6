"""bvjax.stats._runtime against numpy.linalg.lstsq, scikit-learn and HELM's davinci check values."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.linear_model import LinearRegression

from bvjax import stats

RTOL = 1e-10


def _grid(seed, k=5, o=7):
    rng = np.random.default_rng(seed)
    outs = rng.integers(1, 200, size=(k, o)).astype(float)
    f, g = np.sort(rng.uniform(0.05, 1.0, k)), 0.03
    t = f[:, None] + g * (outs - 1) + rng.normal(0, 0.01, size=(k, o))
    mask = rng.uniform(size=(k, o)) < 0.8
    mask[:, :2] = True
    outs[:, 1] = outs[:, 0] + 5  # every row has spread in o
    return outs, t, mask


def test_shared_slope_matches_lstsq(x64):
    outs, t, mask = _grid(0)
    k = outs.shape[0]
    rows = np.argwhere(mask)
    design = np.zeros((len(rows), k + 1))
    design[np.arange(len(rows)), rows[:, 0]] = 1.0
    design[:, k] = outs[mask] - 1.0
    coef = np.linalg.lstsq(design, t[mask], rcond=None)[0]
    fn = functools.partial(stats.fit_runtime_model, mask=jnp.asarray(mask))
    for got in (fn(jnp.asarray(outs), jnp.asarray(t)), jax.jit(fn)(jnp.asarray(outs), jnp.asarray(t))):
        np.testing.assert_allclose(got.prompt_times, coef[:k], rtol=RTOL)
        np.testing.assert_allclose(got.per_token_time, coef[k], rtol=RTOL)


def test_per_row_slopes_match_sklearn(x64):
    outs, t, mask = _grid(1)
    got = jax.jit(functools.partial(stats.fit_runtime_model, method="per_prompt"))(
        jnp.asarray(outs), jnp.asarray(t), mask=jnp.asarray(mask))
    for i in range(outs.shape[0]):
        lr = LinearRegression().fit(outs[i, mask[i], None] - 1.0, t[i, mask[i]])
        np.testing.assert_allclose(got.per_token_time[i], lr.coef_[0], rtol=RTOL)
        np.testing.assert_allclose(got.prompt_times[i], lr.intercept_, rtol=RTOL)


def _helm_reference(outs, t, mask, regression, denoised):
    """The two-stage fit of the authors' profiling script, from its description, in NumPy + sklearn."""
    k = outs.shape[0]
    f = np.zeros(k)
    for i in range(k):
        o_i, t_i = outs[i, mask[i]], t[i, mask[i]]
        if regression:
            lr = LinearRegression().fit(o_i[:, None], t_i)
            f[i] = lr.coef_[0] + lr.intercept_
            if i > 0:
                f[i] = max(f[i], f[0])
        else:
            f[i] = t_i[np.flatnonzero(o_i == 1)[0]]
    xs = np.concatenate([outs[i, mask[i]] for i in range(k)])
    ys = np.concatenate([t[i, mask[i]] - f[i] for i in range(k)])
    g = LinearRegression().fit(xs[:, None], ys).coef_[0]
    overhead = f[0] - g if denoised else 0.0
    return f - overhead, g, overhead


@pytest.mark.parametrize("method", ["helm_measured", "helm_regression"])
@pytest.mark.parametrize("denoised", [False, True])
def test_helm_two_stage_fit_matches_reference(method, denoised, x64):
    outs, t, mask = _grid(3)
    outs[:, 0] = 1.0  # every row has its o = 1 run, as the profiling grid does
    f, g, overhead = _helm_reference(outs, t, mask, method == "helm_regression", denoised)
    fn = jax.jit(functools.partial(stats.fit_runtime_model, method=method, denoised=denoised))
    got = fn(jnp.asarray(outs), jnp.asarray(t), mask=jnp.asarray(mask))
    np.testing.assert_allclose(got.prompt_times, f, rtol=RTOL)
    np.testing.assert_allclose(got.per_token_time, g, rtol=RTOL)
    np.testing.assert_allclose(got.overhead, overhead, rtol=RTOL, atol=1e-15)


def test_fit_vmaps_over_models_and_handles_degenerate_rows(x64):
    outs, t, _ = _grid(2)
    batch_o, batch_t = np.stack([outs, outs]), np.stack([t, 2 * t])
    got = jax.vmap(stats.fit_runtime_model)(jnp.asarray(batch_o), jnp.asarray(batch_t))
    np.testing.assert_allclose(got.per_token_time[1], 2 * got.per_token_time[0], rtol=RTOL)
    flat = stats.fit_runtime_model(jnp.ones((2, 3)), jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                                   mask=jnp.array([[True, True, True], [False, False, False]]))
    assert float(flat.per_token_time) == 0.0
    np.testing.assert_allclose(flat.prompt_times, [2.0, 0.0])


# HELM 0.5.16 davinci tables: F at the profiled
# sizes 1, 128, 512 and 1920 (implied by its four [V-run] check values), g = 0.081; the
# denoised table has g = 0.03 and overhead 0.183.
_KEYS = np.array([1.0, 128.0, 512.0, 1920.0])
_F_IDEAL = np.array([0.084, 0.094, 0.178, 0.597])


@pytest.mark.parametrize("p,o,expected", [(100, 10, 0.8024375), (1, 1, 0.084), (2000, 0, 0.621875),
                                          (512, 100, 8.197)])
def test_idealized_runtime_helm_check_values(p, o, expected, x64):
    got = jax.jit(stats.idealized_runtime)(jnp.array(p), jnp.array(o), jnp.asarray(_KEYS),
                                           jnp.asarray(_F_IDEAL), jnp.array(0.081))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_idealized_runtime_overhead_and_bucket_rule(x64):
    p = np.array([0, 1, 2, 64, 128, 129, 600, 1920, 4000])
    o = np.array([0, 1, 5, 0, 3, 2, 50, 1, 7])
    keys, f = _KEYS, _F_IDEAL
    k = np.minimum(np.searchsorted(keys, p, side="left"), len(keys) - 1)
    expected = f[k] * p / keys[k] + 0.03 * np.maximum(o - 1, 0) + 0.183
    got = stats.idealized_runtime(jnp.asarray(p), jnp.asarray(o), jnp.asarray(keys), jnp.asarray(f),
                                  jnp.array(0.03), overhead=jnp.array(0.183))
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    check_grads(lambda g: stats.idealized_runtime(jnp.asarray(p), jnp.asarray(o), jnp.asarray(keys),
                                                  jnp.asarray(f), g),
                (jnp.array(0.03),), order=1)


def test_fit_then_predict_roundtrip(x64):
    keys = np.array([1.0, 16.0, 64.0, 256.0])
    outs = np.tile(np.array([1.0, 8.0, 32.0, 64.0]), (4, 1))
    t = np.array([0.01, 0.02, 0.05, 0.17])[:, None] + 0.02 * (outs - 1)
    fit = stats.fit_runtime_model(jnp.asarray(outs), jnp.asarray(t))
    pred = stats.idealized_runtime(jnp.asarray(keys), 20.0, jnp.asarray(keys), fit.prompt_times, fit.per_token_time)
    np.testing.assert_allclose(pred, t[:, 0] + 0.02 * 19, rtol=1e-10)


def test_accelerator_cost(x64):
    t, n = np.array([0.8024375, 2.0]), np.array([8, 24])
    fn = jax.jit(stats.accelerator_cost, static_argnames="unit")
    # The authors' idealized cost in cents: runtime * price per GPU-hour * GPUs / 36.
    np.testing.assert_allclose(fn(jnp.asarray(t), jnp.asarray(n)), t * 4.096 * n / 36.0, rtol=RTOL)
    np.testing.assert_allclose(fn(jnp.asarray(t), jnp.asarray(n), price_per_accelerator_hour=3.06, unit="dollars"),
                               t * n * 3.06 / 3600, rtol=RTOL)
    np.testing.assert_allclose(fn(jnp.asarray(t), jnp.asarray(n), unit="accelerator_seconds"), t * n, rtol=RTOL)
