"""The semi-synthetic MNAR generator: its probabilities from the formulas, and the draws' frequencies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.data import sample_mnar_feedback, synthetic_mnar_factors


def sigmoid64(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("power", [0.5, 1.0, 3.0])
def test_probabilities_match_numpy_and_draws_match_them(jit, power):
    rating, logits = synthetic_mnar_factors(jax.random.key(0), num_users=200, num_items=100)
    fn = jax.jit(sample_mnar_feedback, static_argnames="power") if jit else sample_mnar_feedback
    d = fn(jax.random.key(1), rating, logits, power=power)
    r64, l64 = np.asarray(rating, np.float64), np.asarray(logits, np.float64)
    np.testing.assert_allclose(d.relevance_prob, sigmoid64(np.clip(r64, 1, 5) - 5), rtol=1e-5)
    np.testing.assert_allclose(d.propensity, sigmoid64(l64) ** power, rtol=1e-4, atol=1e-30)
    assert float(d.relevance_prob.max()) <= 0.5 and float(d.relevance_prob.min()) >= sigmoid64(-4) - 1e-7
    np.testing.assert_array_equal(d.clicks, d.exposure * d.relevance)
    # Frequencies within 4 binomial standard errors of the probabilities' means.
    for draw, prob in ((d.exposure, d.propensity), (d.relevance, d.relevance_prob)):
        se = np.sqrt(np.sum(prob * (1 - prob))) / prob.size
        assert abs(float(draw.mean() - prob.mean())) < 4 * se


def test_factors_calibrate_rate_and_popularity():
    _rating, logits = synthetic_mnar_factors(jax.random.key(3), num_users=300, num_items=200, base_rate=0.06)
    theta = jax.nn.sigmoid(logits)
    np.testing.assert_allclose(float(theta.mean()), 0.06, rtol=1e-3)
    per_item = np.asarray(theta.mean(0))
    assert per_item[:20].mean() > 5 * per_item[-20:].mean()  # item 0 most popular
    # Larger power, more skew: the share of exposure held by the top 10% of items grows.
    shares = [float(jnp.sum((theta**p)[:, :20]) / jnp.sum(theta**p)) for p in (0.5, 1.0, 2.0)]
    assert shares[0] < shares[1] < shares[2]


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match="exposure_logits"):
        sample_mnar_feedback(jax.random.key(0), jnp.ones((2, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="power"):
        sample_mnar_feedback(jax.random.key(0), jnp.ones((2, 3)), jnp.ones((2, 3)), power=0.0)
    with pytest.raises(ValueError, match="key"):
        synthetic_mnar_factors(jax.random.split(jax.random.key(0), 3), num_users=2, num_items=2)
