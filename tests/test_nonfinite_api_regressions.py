"""One regression test per non-finite defect that the API sweep (tests/test_property_sweep_api.py)
found: each input here used to give a finite (or infinite) wrong number; now the entries the bad
value reaches are NaN and the others are unchanged."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import counterfactual, distill, fairness, finance, preference, robust, selection

nan, inf = jnp.nan, jnp.inf


def _nan_where(out, expected_nan):
    out = np.asarray(out)
    np.testing.assert_array_equal(np.isnan(out), np.broadcast_to(expected_nan, out.shape))


def test_bvpo_optimal_alpha_nan_is_not_degenerate():  # was alpha_if_degenerate (0.5)
    out = preference.bvpo_optimal_alpha(jnp.array([1.0, nan]), jnp.array([2.0, 2.0]), jnp.array([0.5, 0.5]))
    _nan_where(out, [False, True])
    assert float(out[0]) == pytest.approx(1.5 / 2.0)


def test_bvpo_alpha_estimate_nan_gradient():  # was 0.5
    g = jnp.arange(12.0).reshape(4, 3)
    assert np.isnan(float(preference.bvpo_alpha_estimate(g.at[1, 2].set(nan), g + 1.0).alpha))


def test_ips_nan_propensity_reaches_its_item_only():  # was weight 0 (a negative)
    pred, clicks = jnp.full((2, 3), 0.5), jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    out = counterfactual.ips_pointwise_loss(pred, clicks, jnp.array([0.5, nan, 0.5]), clip=0.05)
    _nan_where(out, [[False, True, False]])


def test_item_propensity_infinite_count():  # was 0 for the infinite item
    _nan_where(counterfactual.item_propensity(jnp.array([3.0, inf, 1.0])), True)


def test_snips_nan_propensity():  # was 0 for every user; a masked item's propensity had an effect
    rel = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    scores = jnp.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]])
    prop = jnp.array([0.5, nan, 0.5])
    mask = jnp.array([[True, False, True], [True, True, True]])
    out = counterfactual.snips_dcg_at_k(rel, scores, prop, k=2, clip=0.05, mask=mask)
    _nan_where(out, [False, True])
    clean = counterfactual.snips_dcg_at_k(rel, scores, prop.at[1].set(0.5), k=2, clip=0.05, mask=mask)
    assert float(out[0]) == float(clean[0])


def test_kl_family_nan_probability():  # were finite (NaN taken as 0 mass)
    p = jnp.array([[0.2, nan, 0.8], [0.2, 0.3, 0.5]])
    q = jnp.full((2, 3), 1.0 / 3.0)
    _nan_where(distill.categorical_kl(p, q), [True, False])
    _nan_where(distill.soft_target_kl_loss(jnp.zeros((2, 3)), p, temperature=2.0), [True, False])
    _nan_where(distill.temperature_scale_probs(p, temperature=2.0), [[True], [False]])
    _nan_where(distill.kd_kl_loss(jnp.zeros((2, 3)), jnp.array([[0.0, nan, 1.0], [0.0, 1.0, 2.0]])), [True, False])


def test_aggregate_teachers_nan_weight():  # was the uniform pool
    tp = jnp.full((2, 1, 3), 1.0 / 3.0)
    _nan_where(distill.aggregate_teachers(tp, jnp.array([nan, 1.0])), True)


def test_sharpe_and_information_ratio_infinite_return():  # were 0 (read as zero dispersion)
    r = jnp.array([[0.01, inf, 0.02, 0.0], [0.01, -0.01, 0.02, 0.0]])
    _nan_where(finance.sharpe_ratio(r), [True, False])
    _nan_where(finance.information_ratio(r[1:], jnp.array([0.0, inf, 0.0, 0.0])), [True])


def test_covariance_fits_infinite_return():  # were finite
    r = np.random.default_rng(0).normal(0.0, 0.05, (10, 3)).astype(np.float32)
    r[4, 1] = np.inf
    lw = finance.ledoit_wolf_covariance(jnp.asarray(r))
    _nan_where(lw.covariance, True)
    _nan_where(lw.shrinkage, True)
    _nan_where(finance.factor_model_covariance(jnp.asarray(r), jnp.asarray(r[:, :1] * 0 + np.arange(10)[:, None])), True)


def test_information_tables_infinite_count():  # were 0
    _nan_where(fairness.mutual_information(jnp.array([[1.0, inf], [2.0, 3.0]])), True)
    _nan_where(fairness.conditional_mutual_information(jnp.ones((2, 2, 2)).at[0, 1, 1].set(inf)), True)


def test_impression_variance_nan_row():  # was 0 (read as a row without impressions)
    d = jnp.array([[70.0, nan], [70.0, 30.0]])
    out = fairness.impression_variance(d, jnp.full((2, 2), 50.0))
    _nan_where(out, [True, False])
    assert float(out[1]) == pytest.approx(0.2)


def test_project_l1_ball_nan_row():  # was a finite projection that dropped the entry
    v = jnp.array([[0.5, nan, 1.0], [0.5, -2.0, 1.0]])
    out = robust.project_l1_ball(v, radius=1.0)
    _nan_where(out, [[True], [False]])
    np.testing.assert_allclose(out[1], robust.project_l1_ball(v[1:], radius=1.0)[0])


def test_expected_improvement_nan_std():  # was the std = 0 limit
    out = selection.expected_improvement(jnp.array([1.0, 1.0]), jnp.array([nan, 0.5]), 0.0)
    _nan_where(out, [True, False])


def test_aggregate_linear_regression_infinite_label():  # was [-inf, -inf]
    x = jnp.array([[0.4182389, 0.09041898], [-0.099810176, -0.36424485], [-0.4855053, 0.5978879],
                   [0.6125055, 0.01168203], [-0.033341624, -0.7301232], [0.086224176, 1.0126868],
                   [0.54856163, 0.20870653], [1.01955, -0.95775306]])
    ids = jnp.array([1, 0, 0, 2, 2, 1, 0, 1])
    labels = jnp.array([0.21520035, -inf, -0.56070787])
    _nan_where(counterfactual.aggregate_linear_regression(x, labels, ids, rho=0.5, ridge=0.1), True)


@pytest.mark.parametrize("bad", [inf, -inf, nan])
def test_newton_alignment_nonfinite(bad):  # an infinite target gradient gave ±inf
    g = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    m, u = jnp.array([[2.0, 0.5], [0.5, 1.0]]), jnp.array([1.0, -1.0])
    want = np.asarray(g, np.float64) @ np.linalg.solve(np.asarray(m, np.float64), np.asarray(u, np.float64))
    _nan_where(selection.newton_alignment(g, m, u.at[0].set(bad)), True)
    _nan_where(selection.newton_alignment(g, m.at[1, 0].set(bad), u), True)
    out = selection.newton_alignment(g.at[1, 1].set(bad), m, u)
    _nan_where(out, [False, True, False])
    np.testing.assert_allclose(np.asarray(out)[[0, 2]], want[[0, 2]], rtol=1e-6)
    np.testing.assert_allclose(selection.newton_alignment(g, m, u), want, rtol=1e-6)
