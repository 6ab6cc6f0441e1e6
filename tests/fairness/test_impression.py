"""VRS impression variance vs a NumPy loop, aggregation, edge cases, and the controller's direction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.fairness import impression_variance, impression_variance_summary, pacing_multiplier_update


def tv64(d, e):
    if d.sum() == 0 or e.sum() == 0:
        return 0.0
    return 0.5 * sum(abs(d[c] / d.sum() - e[c] / e.sum()) for c in range(len(d)))


def test_matches_numpy_and_jit():
    rng = np.random.default_rng(0)
    d, e = rng.integers(0, 50, (6, 4)).astype(np.float64), rng.uniform(1, 9, (6, 4))
    d[2] = 0.0
    ref = np.array([tv64(d[a], e[a]) for a in range(6)])
    out = impression_variance(jnp.asarray(d, jnp.float32), jnp.asarray(e, jnp.float32))
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(impression_variance)(jnp.asarray(d), jnp.asarray(e))), ref,
                               atol=1e-6)
    assert float(out[2]) == 0.0  # no impressions: nothing to reassign
    # leading dimensions: [ads, attributes, classes]
    out3 = impression_variance(jnp.asarray(d[None].repeat(2, 0)), jnp.asarray(e[None].repeat(2, 0)))
    assert out3.shape == (2, 6)


def test_summary():
    d = jnp.array([[70.0, 30.0], [50.0, 50.0], [0.0, 0.0], [46.0, 54.0]])
    e = jnp.full((4, 2), 1.0)
    s = impression_variance_summary(d, e, threshold=0.1)
    np.testing.assert_allclose(np.asarray(s.per_ad), [0.2, 0.0, 0.0, 0.04], atol=1e-6)
    np.testing.assert_allclose(float(s.mean), 0.06, atol=1e-6)
    np.testing.assert_allclose(float(s.impression_weighted), (0.2 * 100 + 0.04 * 100) / 300, atol=1e-6)
    np.testing.assert_allclose(float(s.fraction_within), 2 / 3, atol=1e-6)
    empty = impression_variance_summary(jnp.zeros((2, 2)), e[:2])
    assert float(empty.fraction_within) == 1.0 and float(empty.impression_weighted) == 0.0


def test_controller_update_matches_numpy_and_reduces_gap():
    rng = np.random.default_rng(1)
    seg = rng.dirichlet(np.ones(3), size=5)
    d, e = rng.uniform(1, 9, (4, 3)), rng.uniform(1, 9, (4, 3))
    ell = rng.normal(size=(4, 5)) * 0.1
    dn, en = d / d.sum(1, keepdims=True), e / e.sum(1, keepdims=True)
    score = np.log((en + 1 / 3) / (dn + 1 / 3)) @ seg.T
    ref = np.clip(ell + 0.5 * (score - score.mean(1, keepdims=True)), -2, 2)
    out = pacing_multiplier_update(jnp.asarray(ell), jnp.asarray(d), jnp.asarray(e), jnp.asarray(seg))
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-6)
    # an ad with no delivery keeps its multipliers; clipping bounds them
    d[0] = 0
    out = pacing_multiplier_update(jnp.asarray(ell), jnp.asarray(d), jnp.asarray(e), jnp.asarray(seg),
                                   step_size=100.0, max_log=1.0)
    np.testing.assert_allclose(np.asarray(out[0]), ell[0], rtol=1e-6)
    assert np.all(np.abs(np.asarray(out)) <= 1.0 + 1e-6)


def test_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        impression_variance_summary(jnp.ones((2, 2)), jnp.ones((2, 2)), threshold=1.5)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.9))
def test_variance_property(seed, zero_share):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 20, (5, 3)).astype(np.float32)
    e = rng.uniform(0, 5, (5, 3)).astype(np.float32)
    d[rng.uniform(size=d.shape) < zero_share] = 0.0
    e[rng.uniform(size=e.shape) < zero_share] = 0.0
    out = np.asarray(impression_variance(jnp.asarray(d), jnp.asarray(e)))
    ref = np.array([tv64(d[a].astype(np.float64), e[a].astype(np.float64)) for a in range(5)])
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1 + 1e-6))
    np.testing.assert_allclose(out, ref, atol=1e-6)
