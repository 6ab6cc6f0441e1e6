"""permutation_test and proportion_difference against mlxtend (float64) and SciPy."""

import functools

import jax
import jax.numpy as jnp
import mlxtend.evaluate as mx
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.stats import permutation_test, proportion_difference

# mlxtend's documentation example (treatment vs control).
TREATMENT = np.array([28.44, 29.32, 31.22, 29.58, 30.34, 28.76, 29.21, 30.4])
CONTROL = np.array([33.51, 30.63, 32.38, 32.52, 29.41, 30.93, 49.78, 28.96])
FUNCS = ["x_mean != y_mean", "x_mean > y_mean", "x_mean < y_mean"]


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("paired", [False, True])
def test_exact_matches_mlxtend(func, paired, x64):
    expected = mx.permutation_test(TREATMENT, CONTROL, func=func, method="exact", paired=paired)
    got = permutation_test(TREATMENT, CONTROL, func=func, paired=paired)
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    jitted = jax.jit(functools.partial(permutation_test, func=func, paired=paired))(TREATMENT, CONTROL)
    np.testing.assert_allclose(jitted, expected, rtol=1e-14)


def test_exact_unequal_sizes_and_callable_match_mlxtend(x64):
    x, y = TREATMENT[:5], CONTROL
    expected = mx.permutation_test(x, y, func="x_mean != y_mean")
    np.testing.assert_allclose(permutation_test(x, y), expected, rtol=1e-14)

    def range_gap(a, b):  # works on NumPy (mlxtend) and jax.numpy (bvjax) arrays alike
        return abs(a.max() - b.max()) + abs(a.min() - b.min())

    for paired, xs in ((False, x), (True, TREATMENT)):
        expected = mx.permutation_test(xs, y, func=range_gap, paired=paired)
        np.testing.assert_allclose(permutation_test(xs, y, func=range_gap, paired=paired), expected, rtol=1e-14)


@settings(deadline=None, max_examples=8)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=5), st.lists(st.integers(-3, 3), min_size=1, max_size=5))
def test_exact_with_ties_matches_mlxtend(x, y):
    # Small integer samples: many ties at the observed statistic exercise the isclose rule.
    with jax.enable_x64(True):
        x, y = np.asarray(x, float), np.asarray(y, float)
        for func in FUNCS:
            np.testing.assert_allclose(permutation_test(x, y, func=func),
                                       mx.permutation_test(x, y, func=func), rtol=1e-14)


@pytest.mark.parametrize("paired", [False, True])
def test_approximate_converges_to_exact(paired, x64):
    exact = permutation_test(TREATMENT, CONTROL, paired=paired)
    num_rounds = 4_000
    approx = permutation_test(TREATMENT, CONTROL, method="approximate", paired=paired, num_rounds=num_rounds,
                              key=jax.random.key(0))
    se = np.sqrt(exact * (1 - exact) / num_rounds)
    assert abs(float(approx) - float(exact)) < 5 * se + 1.0 / num_rounds
    assert float(approx) >= 1.0 / (num_rounds + 1)  # the observed data counts once


def test_approximate_counts_observed_once():
    # No rearrangement of identical pools beats the data, but ties count: p = (R + 1) / (R + 1).
    x = jnp.ones(4)
    assert float(permutation_test(x, x, method="approximate", num_rounds=50, key=jax.random.key(1))) == 1.0


def test_nonfinite_gives_nan_and_constant_gives_one():
    x = jnp.array([1.0, jnp.nan, 2.0])
    assert np.isnan(permutation_test(x, jnp.array([0.0, 1.0])))
    assert float(permutation_test(jnp.zeros(3), jnp.zeros(2))) == 1.0


@pytest.mark.parametrize("kwargs,args,match", [
    ({"func": "x_median != y_median"}, None, "func"),
    ({"method": "bootstrap"}, None, "method"),
    ({"method": "approximate"}, None, "key"),
    ({"paired": True}, (jnp.ones(3), jnp.ones(4)), "y"),
    ({}, (jnp.ones(0), jnp.ones(4)), "x"),
    ({}, (jnp.ones((3, 1)), jnp.ones(4)), "x"),
    ({"max_exact": 10}, None, "max_exact"),
    ({"func": lambda a, b: a - b[:3]}, None, "func"),
])
def test_bad_input_raises_value_error(kwargs, args, match):
    args = args or (jnp.arange(3.0), jnp.arange(4.0))
    with pytest.raises(ValueError, match=match):
        permutation_test(*args, **kwargs)


@pytest.mark.parametrize("p1,p2,n1,n2", [(0.84, 0.92, 100, None), (0.5, 0.3, 40, 90), (0.99, 0.01, 7, 3)])
def test_proportion_difference_matches_mlxtend(p1, p2, n1, n2, x64):
    expected = mx.proportion_difference(p1, p2, n1, n2)
    z, p = proportion_difference(p1, p2, n1, n2)
    np.testing.assert_allclose([z, p], expected, rtol=1e-12)
    var = p1 * (1 - p1) / n1 + p2 * (1 - p2) / (n2 or n1)
    np.testing.assert_allclose(p, scipy.stats.norm.cdf((p1 - p2) / np.sqrt(var)), rtol=1e-12)


def test_proportion_difference_broadcasts_and_degenerate_cases():
    z, p = proportion_difference(jnp.array([0.0, 1.0, 0.0, 0.3]), jnp.array([0.0, 1.0, 1.0, 0.3]), 10)
    np.testing.assert_array_equal(z[:3], [0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(p[:3], [0.5, 0.5, 0.0])
    assert float(z[3]) == 0.0
    with pytest.raises(ValueError, match="n_2"):
        proportion_difference(jnp.ones(3) / 2, 0.4, 10, jnp.ones(2))
