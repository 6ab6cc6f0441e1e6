"""The bias–variance meter against closed forms and a float64 NumPy reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.diagnostics import bias_variance

MU = np.array([1.0, -2.0, 0.5])
SIGMA = 2.0
M = 5  # observations per estimate


def sample_mean(key):
    return jnp.mean(MU + SIGMA * jax.random.normal(key, (M, 3)), axis=0)


def shrunk_mean(key, lam=0.7):
    return lam * sample_mean(key)


def score_function_gradient(key, mu=0.8, sigma=1.5):
    """REINFORCE estimate of d/dmu E_{x~N(mu, sigma^2)}[x^2] (true value 2 mu) from M draws."""
    x = mu + sigma * jax.random.normal(key, (M,))
    return jnp.mean(x**2 * (x - mu) / sigma**2)


def score_function_variance(mu=0.8, sigma=1.5):
    # x = mu + sigma z; f(x) (x - mu)/sigma^2 = (a z + b z^2 + c z^3)/sigma with a = mu^2,
    # b = 2 mu sigma, c = sigma^2. E[z^2, z^4, z^6] = 1, 3, 15 and odd moments vanish, so
    # E[(.)^2] = (a^2 + 3 b^2 + 15 c^2 + 6 a c) / sigma^2 and the mean is 2 mu.
    a, b, c = mu**2, 2 * mu * sigma, sigma**2
    return ((a**2 + 3 * b**2 + 15 * c**2 + 6 * a * c) / sigma**2 - (2 * mu) ** 2) / M


CLOSED_FORM = {
    # name: (estimator, reference, bias^2, variance)
    "sample_mean": (sample_mean, MU, 0.0, 3 * SIGMA**2 / M),
    "shrinkage": (shrunk_mean, MU, 0.3**2 * np.sum(MU**2), 0.7**2 * 3 * SIGMA**2 / M),
    "score_function": (score_function_gradient, np.float32(1.6), 0.0, score_function_variance()),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
@pytest.mark.parametrize("jit", [False, True])
def test_agrees_with_closed_form_within_3_standard_errors(name, jit):
    estimator, reference, bias_sq, variance = CLOSED_FORM[name]
    meter = bias_variance
    if jit:
        meter = jax.jit(bias_variance, static_argnames=("estimator", "num_draws", "chunk_size"))
    r = meter(estimator, reference, jax.random.key(1), num_draws=20_000, chunk_size=4096)
    assert abs(r.bias_squared - bias_sq) < 3 * r.bias_squared_stderr + 1e-6
    assert abs(r.variance - variance) < 3 * r.variance_stderr
    assert abs(r.mse - (bias_sq + variance)) < 3 * r.mse_stderr
    # Standard errors are informative, not vacuous: a few per cent of the figure here.
    assert r.variance_stderr < 0.05 * variance


def draws_float64(estimator, key, n):
    """The meter's draws, one estimator call per key (no vmap), as float64 [n, d]."""
    keys = jax.random.split(key, n)
    rows = []
    for i in range(n):
        rows.append(np.concatenate([np.ravel(np.asarray(x, np.float64))
                                    for x in jax.tree_util.tree_leaves(estimator(keys[i]))]))
    return np.stack(rows)


def reference_statistics(x, theta):
    """Float64 loop from the docstring's equations."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    d = ((x - mean) ** 2).sum(axis=1)
    e = ((x - theta) ** 2).sum(axis=1)
    variance = d.sum() / (n - 1)
    mse = e.mean()
    bias_sq = ((mean - theta) ** 2).sum() - variance / n
    p = (x - mean) @ (mean - theta)
    trace_sq = np.mean([((x[2 * i] - mean) @ (x[2 * i + 1] - mean)) ** 2 for i in range(n // 2)])
    bias_var = max(4 * p.var(ddof=1) - 2 * trace_sq / n, 2 * trace_sq / n) / n
    return {"bias_squared": bias_sq, "variance": variance, "mse": mse,
                "bias_squared_stderr": np.sqrt(bias_var),
                "variance_stderr": d.std(ddof=1) / np.sqrt(n) * n / (n - 1),
                "mse_stderr": e.std(ddof=1) / np.sqrt(n)}


@pytest.mark.parametrize("num_draws, chunk_size", [(64, 1024), (64, 16), (50, 7), (3, 2)])
def test_matches_float64_reference_on_the_same_draws(num_draws, chunk_size):
    def estimator(key):
        k1, k2 = jax.random.split(key)
        return {"a": shrunk_mean(k1), "b": jnp.reshape(score_function_gradient(k2), (1, 1))}

    reference = {"a": MU, "b": np.full((1, 1), 1.6)}
    key = jax.random.key(7)
    r = bias_variance(estimator, reference, key, num_draws=num_draws, chunk_size=chunk_size)
    x = draws_float64(estimator, key, num_draws)
    theta = np.concatenate([MU, [1.6]])
    expected = reference_statistics(x, theta)
    for field, value in expected.items():
        np.testing.assert_allclose(getattr(r, field), value, rtol=2e-4, atol=1e-6, err_msg=field)
    # Per-leaf detail: the same statistics on each leaf alone.
    for leaf, cols, ref in (("a", slice(0, 3), MU), ("b", slice(3, 4), np.array([1.6]))):
        expected_leaf = reference_statistics(x[:, cols], ref)
        for field, value in expected_leaf.items():
            np.testing.assert_allclose(getattr(r.per_leaf[leaf], field), value, rtol=2e-4, atol=1e-6,
                                       err_msg=f"{leaf}.{field}")
    np.testing.assert_allclose(r.mean["a"], x[:, :3].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(r.mse, r.bias_squared + r.variance, rtol=1e-5)


def test_draws_do_not_depend_on_chunk_size():
    results = [bias_variance(sample_mean, MU, jax.random.key(3), num_draws=60, chunk_size=c)
               for c in (1, 7, 60)]
    for r in results[1:]:
        np.testing.assert_allclose(r.variance, results[0].variance, rtol=1e-5)
        np.testing.assert_allclose(r.bias_squared, results[0].bias_squared, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("estimator, reference, bias_se_high", [(sample_mean, MU, 1.5), (shrunk_mean, MU, 1.25)])
def test_standard_errors_are_calibrated(estimator, reference, bias_se_high):
    """Over 400 independent meters, the spread of each figure matches its mean standard error.

    At zero bias the bias² standard error is documented to be conservative (here by
    about 1.3x: the b'Σb term is pure noise there), hence the wider upper bound.
    """
    n = 64

    @jax.jit
    @jax.vmap
    def meter(key):
        return bias_variance(estimator, reference, key, num_draws=n)

    r = meter(jax.random.split(jax.random.key(11), 400))
    for field in ("bias_squared", "variance", "mse"):
        spread = float(np.std(getattr(r, field), ddof=1))
        stderr = float(np.mean(getattr(r, field + "_stderr")))
        high = bias_se_high if field == "bias_squared" else 1.25
        assert 0.8 < stderr / spread < high, (field, stderr, spread)


def test_constant_estimator_gives_zero_variance_and_no_nan():
    r = bias_variance(lambda k: {"w": jnp.ones((2, 2))}, {"w": jnp.zeros((2, 2))}, jax.random.key(0),
                      num_draws=10)
    assert float(r.variance) == 0.0 and float(r.bias_squared) == 4.0 and float(r.mse) == 4.0
    leaves = jax.tree_util.tree_leaves(r)
    assert all(np.all(np.isfinite(x)) for x in leaves)
    assert float(r.bias_squared_stderr) == 0.0 and float(r.variance_stderr) == 0.0


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="num_draws"):
        bias_variance(sample_mean, MU, jax.random.key(0), num_draws=1)
    with pytest.raises(TypeError, match="num_draws"):
        bias_variance(sample_mean, MU, jax.random.key(0), num_draws=10.0)
    with pytest.raises(ValueError, match="chunk_size"):
        bias_variance(sample_mean, MU, jax.random.key(0), num_draws=10, chunk_size=0)
    with pytest.raises(ValueError, match=r"estimator\(key\).*expected shape \(2,\)"):
        bias_variance(sample_mean, MU[:2], jax.random.key(0), num_draws=10)
    with pytest.raises(ValueError, match="pytree structure"):
        bias_variance(sample_mean, {"a": MU}, jax.random.key(0), num_draws=10)
    with pytest.raises(TypeError, match="float"):
        bias_variance(lambda k: jnp.ones(3, jnp.complex64), MU, jax.random.key(0), num_draws=10)


def test_works_with_raw_uint32_keys_and_grad_through_reference():
    r = bias_variance(sample_mean, MU, jax.random.PRNGKey(0), num_draws=32)
    assert np.isfinite(float(r.mse))
    # d MSE / d reference = -2 (mean - reference), the meter is differentiable in its reference.
    g = jax.grad(lambda ref: bias_variance(sample_mean, ref, jax.random.key(0), num_draws=32).mse)(
        jnp.asarray(MU, jnp.float32))
    mean = bias_variance(sample_mean, MU, jax.random.key(0), num_draws=32).mean
    np.testing.assert_allclose(g, -2 * (mean - MU), rtol=1e-4, atol=1e-5)
