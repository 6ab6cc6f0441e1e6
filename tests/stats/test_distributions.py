"""bvjax.stats._distributions against scipy.stats, in float64, jitted and not."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax import stats

RTOL = 1e-10
T_GRID = [-40.0, -3.0, -0.5, -1e-3, 0.0, 1e-3, 0.9428090415820634, 2.5, 7.8, 40.0]
DF_GRID = [1.0, 2.0, 5.0, 9.0, 29.0, 120.0]


def _both(fn, *args):
    return fn(*args), jax.jit(fn)(*args)


def test_x64_fixture_is_scoped(x64):
    assert jnp.ones(1).dtype == jnp.float64


def test_default_precision_outside_fixture():
    assert jnp.ones(1).dtype == jnp.float32


def test_t_sf_matches_scipy(x64):
    t, df = np.meshgrid(T_GRID, DF_GRID)
    expected = scipy.stats.t.sf(t, df)
    for got in _both(stats.t_sf, jnp.asarray(t), jnp.asarray(df)):
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_f_sf_matches_scipy(x64):
    x = np.array([0.0, 1e-4, 0.5, 0.9111111111111111, 1.0, 3.0, 68.4, 500.0])
    dfs = np.array([(1, 1), (2, 7), (10, 5), (3, 40), (9, 300)], dtype=float)
    x, dfn, dfd = (a.ravel() for a in np.broadcast_arrays(x[None, :], dfs[:, :1], dfs[:, 1:]))
    expected = scipy.stats.f.sf(x, dfn, dfd)
    for got in _both(stats.f_sf, jnp.asarray(x), jnp.asarray(dfn), jnp.asarray(dfd)):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_chi2_sf_matches_scipy(x64):
    x, df = np.meshgrid([0.0, 1e-6, 0.5, 2.025, 3.5, 6.75, 30.0, 200.0], [1.0, 2.0, 3.0, 7.0, 50.0])
    expected = scipy.stats.chi2.sf(x, df)
    for got in _both(stats.chi2_sf, jnp.asarray(x), jnp.asarray(df)):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_binom_cdf_matches_scipy(x64):
    rows = [(k, n, p) for n in [0, 1, 2, 7, 40, 151] for k in range(-1, n + 2)
            for p in [0.0, 0.1, 0.5, 0.83, 1.0]]
    k, n, p = (np.array(c, dtype=float) for c in zip(*rows))
    expected = scipy.stats.binom.cdf(k, n, p)
    for got in _both(stats.binom_cdf, jnp.asarray(k), jnp.asarray(n), jnp.asarray(p)):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-300)


def test_spec_check_values(x64):
    # Values produced by scipy and mlxtend.
    assert abs(float(stats.chi2_sf(jnp.asarray(2.025), 1)) - 0.154728923485) < 1e-12
    assert abs(float(2 * stats.t_sf(jnp.asarray(0.9428090415820634), 5)) - 0.389067600700) < 1e-12
    assert abs(float(stats.f_sf(jnp.asarray(0.911111), 10, 5)) - 0.580893365939) < 1e-6
    assert abs(float(2 * stats.binom_cdf(15, 40, 0.5)) - 0.153859944163) < 1e-12


def test_infinite_arguments(x64):
    assert float(stats.t_sf(jnp.inf, 3.0)) == 0.0
    assert float(stats.t_sf(-jnp.inf, 3.0)) == 1.0
    assert float(stats.f_sf(jnp.inf, 2.0, 3.0)) == 0.0
    assert float(stats.chi2_sf(jnp.inf, 2.0)) == 0.0


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-1e3, 1e3), df=st.floats(0.5, 1e3), dfd=st.floats(0.5, 1e3))
def test_tails_are_probabilities(x, df, dfd):
    for value in (stats.t_sf(jnp.float32(x), df), stats.f_sf(jnp.float32(x), df, dfd),
                  stats.chi2_sf(jnp.float32(x), df)):
        assert 0.0 <= float(value) <= 1.0


@settings(max_examples=40, deadline=None)
@given(x=st.floats(0, 1e3), df=st.floats(0.5, 1e3))
def test_t_sf_is_symmetric(x, df):
    with jax.enable_x64(True):
        np.testing.assert_allclose(stats.t_sf(jnp.asarray(x), df) + stats.t_sf(jnp.asarray(-x), df), 1.0,
                                   rtol=1e-12)


def test_shapes_that_do_not_broadcast_raise():
    with pytest.raises(ValueError, match="df"):
        stats.t_sf(jnp.zeros(3), jnp.ones(4))
    with pytest.raises(ValueError, match="dfd"):
        stats.f_sf(jnp.zeros(3), 1.0, jnp.ones(2))
    with pytest.raises(TypeError, match="x"):
        stats.chi2_sf(jnp.zeros(3, bool), 1.0)


def test_vmap():
    x = jnp.linspace(0.0, 5.0, 6)
    np.testing.assert_allclose(jax.vmap(lambda v: stats.chi2_sf(v, 2.0))(x), stats.chi2_sf(x, 2.0), rtol=1e-6)
