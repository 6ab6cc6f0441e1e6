"""BVPO losses, the closed-form alpha*, and its plug-in estimate.

Expected values: float64 NumPy from the equations, and for alpha* a brute-force grid search
of the empirical MSE over alpha on synthetic gradients with means and covariances set here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.diagnostics import bias_variance
from bvjax.preference import (
    bvpo_alpha_estimate,
    bvpo_empty_trace_loss,
    bvpo_loss,
    bvpo_optimal_alpha,
    bvpo_trace_loss,
)

GRID = np.linspace(0.0, 1.0, 1001)


class Model:
    """g_t = mu + b_t + s_t e_t, g_e = mu + b_e + s_e e_e, corr(e_t, e_e) = rho per coordinate."""

    def __init__(self, dim=20, s_t=2.0, s_e=0.5, rho=0.3, bias_t=0.1, bias_e=1.0, seed=0):
        rng = np.random.default_rng(seed)
        self.dim, self.s_t, self.s_e, self.rho = dim, s_t, s_e, rho
        self.mu = rng.standard_normal(dim)
        self.b_t = bias_t * rng.standard_normal(dim)
        self.b_e = bias_e * rng.standard_normal(dim)

    def moments(self):  # A, C, X from the set parameters
        a = self.dim * self.s_t**2 + self.b_t @ self.b_t
        c = self.dim * self.s_e**2 + self.b_e @ self.b_e
        x = self.dim * self.rho * self.s_t * self.s_e + self.b_t @ self.b_e
        return a, c, x

    def draw_np(self, n, seed):
        rng = np.random.default_rng(seed)
        z1, z2 = rng.standard_normal((2, n, self.dim))
        e_t = z1
        e_e = self.rho * z1 + np.sqrt(1 - self.rho**2) * z2
        return self.mu + self.b_t + self.s_t * e_t, self.mu + self.b_e + self.s_e * e_e

    def draw_jax(self, key):
        z1, z2 = jax.random.normal(key, (2, self.dim))
        e_e = self.rho * z1 + np.sqrt(1 - self.rho**2) * z2
        return (jnp.asarray(self.mu + self.b_t, jnp.float32) + self.s_t * z1,
                jnp.asarray(self.mu + self.b_e, jnp.float32) + self.s_e * e_e)


def _grid_argmin(g_t, g_e, mu):
    """Brute force: the empirical MSE of a*g_t + (1-a)*g_e evaluated at every grid alpha."""
    mse = np.empty(len(GRID))
    for start in range(0, len(GRID), 64):
        a = GRID[start:start + 64, None, None]
        mse[start:start + 64] = np.mean(np.sum((a * g_t + (1 - a) * g_e - mu) ** 2, axis=2), axis=1)
    return GRID[int(np.argmin(mse))], mse


# ----- losses -----------------------------------------------------------------------------

def _np_dpo(pc, pr, rc, rr, beta):
    h = (np.float64(pc) - rc) - (np.float64(pr) - rr)
    return np.logaddexp(0.0, -beta * h)


@pytest.mark.parametrize("jit", [False, True])
def test_trace_and_empty_losses_are_dpo(jit):
    rng = np.random.default_rng(0)
    args = tuple((-50 * rng.random(4)).astype(np.float32) for _ in range(4))
    for fn in (bvpo_trace_loss, bvpo_empty_trace_loss):
        f = jax.jit(fn) if jit else fn
        np.testing.assert_allclose(f(*args, beta=0.2), _np_dpo(*args, 0.2), rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_mixed_loss_value_and_masks(jit):
    lt = np.array([1.0, 2.0, 6.0], np.float32)
    le = np.array([0.5, 1.5, 9.0, 9.0], np.float32)
    fn = jax.jit(bvpo_loss) if jit else bvpo_loss
    np.testing.assert_allclose(fn(lt, le, alpha=0.3), 0.3 * 3.0 + 0.7 * 5.0, rtol=1e-6)
    out = fn(lt, le, alpha=0.3, trace_mask=np.array([True, True, False]),
             empty_mask=np.array([True, True, False, False]))
    np.testing.assert_allclose(out, 0.3 * 1.5 + 0.7 * 1.0, rtol=1e-6)
    empty = fn(lt, le, alpha=0.3, trace_mask=np.zeros(3, bool))
    np.testing.assert_allclose(empty, 0.7 * 5.0, rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        bvpo_loss(lt, le, alpha=1.5)


def test_mixed_loss_gradient_is_the_mixed_gradient():
    # Toy policy: log-probs linear in theta; the gradient of the mixture is a*g_t + (1-a)*g_e.
    rng = np.random.default_rng(1)
    feats_t = jnp.asarray(rng.standard_normal((4, 3, 5)), jnp.float32)  # 4 logps x B_t=3 x dim 5
    feats_e = jnp.asarray(rng.standard_normal((4, 2, 5)), jnp.float32)
    theta = jnp.asarray(rng.standard_normal(5), jnp.float32)

    def trace_mean(th):
        return jnp.mean(bvpo_trace_loss(*(f @ th for f in feats_t), beta=0.5))

    def empty_mean(th):
        return jnp.mean(bvpo_empty_trace_loss(*(f @ th for f in feats_e), beta=0.5))

    def mixed(th, alpha):
        return bvpo_loss(bvpo_trace_loss(*(f @ th for f in feats_t), beta=0.5),
                         bvpo_empty_trace_loss(*(f @ th for f in feats_e), beta=0.5), alpha=alpha)

    g_t, g_e = jax.grad(trace_mean)(theta), jax.grad(empty_mean)(theta)
    for alpha in (0.0, 0.5, 0.8):
        np.testing.assert_allclose(jax.grad(mixed)(theta, alpha), alpha * g_t + (1 - alpha) * g_e,
                                   rtol=1e-5, atol=1e-6)


# ----- closed form -------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {},  # a simulation where alpha* is small
    {"s_t": 1.0, "s_e": 1.0, "rho": 0.0, "bias_t": 0.0, "bias_e": 0.5},  # interior
    {"s_t": 0.3, "s_e": 0.3, "rho": 0.5, "bias_t": 0.0, "bias_e": 2.0},  # trace wins: alpha* = 1
])
def test_closed_form_matches_brute_force_grid(params):
    model = Model(**params)
    g_t, g_e = model.draw_np(6000, seed=1)
    grid_alpha, mse = _grid_argmin(g_t, g_e, model.mu)
    a, c, x = model.moments()
    closed = float(bvpo_optimal_alpha(jnp.float32(a), jnp.float32(c), jnp.float32(x)))
    assert abs(closed - grid_alpha) < 0.02
    i = round(closed * (len(GRID) - 1))
    assert mse[i] <= min(mse[0], mse[-1]) * (1 + 1e-2)


def test_clipping_at_zero():
    # g_t = g_e + independent noise: the trace estimator only adds variance, alpha* = 0.
    rng = np.random.default_rng(2)
    mu = np.zeros(10)
    g_e = 0.5 + rng.standard_normal((5000, 10))
    g_t = g_e + rng.standard_normal((5000, 10))
    grid_alpha, _ = _grid_argmin(g_t, g_e, mu)
    est = bvpo_alpha_estimate(jnp.asarray(g_t, jnp.float32), jnp.asarray(g_e, jnp.float32),
                              jnp.zeros(10))
    assert grid_alpha < 0.01 and float(est.alpha) < 0.01
    assert float(bvpo_optimal_alpha(jnp.array(2.0), jnp.array(1.0), jnp.array(1.0))) == 0.0
    assert float(bvpo_optimal_alpha(jnp.array(1.0), jnp.array(2.0), jnp.array(1.0))) == 1.0


@pytest.mark.parametrize("jit", [False, True])
def test_degenerate_denominator_is_defined(jit):
    fn = jax.jit(bvpo_optimal_alpha) if jit else bvpo_optimal_alpha
    out = fn(jnp.ones(3), jnp.ones(3), jnp.ones(3))
    np.testing.assert_array_equal(out, 0.5)
    grad = jax.grad(lambda a: fn(a, jnp.ones(()), jnp.ones(())))(jnp.ones(()))
    assert np.isfinite(grad)
    out = fn(jnp.array([4.0, 2.0, 1.0]), jnp.array([1.0, 1.0, 2.0]), jnp.array([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(out, [0.2, 0.0, 1.0], rtol=1e-6)  # (C-X)/(A+C-2X) by hand, clipped
    out = bvpo_optimal_alpha(jnp.zeros(()), jnp.zeros(()), jnp.zeros(()), alpha_if_degenerate=0.3)
    np.testing.assert_allclose(out, 0.3)
    g = {"w": jnp.arange(6.0).reshape(3, 2)}
    est = bvpo_alpha_estimate(g, g)  # identical estimators
    assert float(est.alpha) == 0.5
    with pytest.raises(ValueError, match="alpha_if_degenerate"):
        bvpo_optimal_alpha(jnp.ones(()), jnp.ones(()), jnp.ones(()), alpha_if_degenerate=2.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e30, 1e30), st.floats(-1e30, 1e30), st.floats(-1e30, 1e30))
def test_hypothesis_any_finite_input_gives_alpha_in_unit_interval(a, c, x):
    out = float(bvpo_optimal_alpha(jnp.float32(a), jnp.float32(c), jnp.float32(x)))
    assert np.isfinite(out) and 0.0 <= out <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16), st.floats(0.01, 10.0), st.floats(0.01, 10.0))
def test_hypothesis_optimal_beats_both_endpoints_and_the_grid(seed, scale_t, scale_e):
    rng = np.random.default_rng(seed)
    u = scale_t * rng.standard_normal((8, 3))  # g_t - mu per draw
    v = scale_e * rng.standard_normal((8, 3)) + 0.3 * u  # g_e - mu, correlated
    a = np.mean(np.sum(u * u, 1))
    c = np.mean(np.sum(v * v, 1))
    x = np.mean(np.sum(u * v, 1))
    alpha = float(bvpo_optimal_alpha(jnp.float32(a), jnp.float32(c), jnp.float32(x)))

    def mse(al):
        return al**2 * a + (1 - al) ** 2 * c + 2 * al * (1 - al) * x

    best = min(mse(g) for g in GRID)
    assert mse(alpha) <= min(mse(0.0), mse(1.0)) * (1 + 1e-5) + 1e-9
    assert mse(alpha) <= best * (1 + 1e-4) + 1e-9


# ----- plug-in estimate ----------------------------------------------------------------------

@pytest.mark.parametrize("jit", [False, True])
def test_plug_in_equals_grid_argmin_on_the_same_draws(jit):
    model = Model(seed=3)
    g_t, g_e = model.draw_np(2000, seed=4)
    grid_alpha, _ = _grid_argmin(g_t, g_e, model.mu)
    fn = jax.jit(bvpo_alpha_estimate, static_argnames=("projection", "projection_dim")) if jit \
        else bvpo_alpha_estimate
    # A pytree split of the P = 20 coordinates, with a single reference vector.
    def tree(g):
        return {"a": jnp.asarray(g[:, :8].reshape(-1, 2, 4), jnp.float32), "b": jnp.asarray(g[:, 8:], jnp.float32)}
    ref = {"a": jnp.asarray(model.mu[:8].reshape(2, 4), jnp.float32), "b": jnp.asarray(model.mu[8:], jnp.float32)}
    est = fn(tree(g_t), tree(g_e), ref)
    assert abs(float(est.alpha) - grid_alpha) <= 1e-3
    d_t, d_e = g_t - model.mu, g_e - model.mu
    np.testing.assert_allclose(est.trace_mse, np.mean(np.sum(d_t * d_t, 1)), rtol=1e-4)
    np.testing.assert_allclose(est.empty_mse, np.mean(np.sum(d_e * d_e, 1)), rtol=1e-4)
    np.testing.assert_allclose(est.cross, np.mean(np.sum(d_t * d_e, 1)), rtol=1e-3)


def test_per_row_reference_and_default_reference():
    model = Model(bias_t=0.0, seed=5)
    g_t, g_e = model.draw_np(20000, seed=6)
    a, c, x = model.moments()
    truth = (c - x) / (a + c - 2 * x)
    # reference=None uses the mean of the trace rows (b_t = 0 here, so it is consistent).
    est = bvpo_alpha_estimate(jnp.asarray(g_t, jnp.float32), jnp.asarray(g_e, jnp.float32))
    assert abs(float(est.alpha) - truth) < 0.02
    # A per-row reference: the multi-trace average (mean of R = 4 extra trace draws).
    extra = np.stack([model.draw_np(20000, seed=10 + r)[0] for r in range(4)]).mean(0)
    est_rows = bvpo_alpha_estimate(jnp.asarray(g_t, jnp.float32), jnp.asarray(g_e, jnp.float32),
                                   jnp.asarray(extra, jnp.float32))
    d_e = g_e - extra
    expected = np.mean(np.sum(d_e * (g_e - g_t), 1)) / np.mean(np.sum((g_e - g_t) ** 2, 1))
    np.testing.assert_allclose(est_rows.alpha, np.clip(expected, 0, 1), rtol=1e-4)


@pytest.mark.parametrize("projection", ["gaussian", "sparse"])
def test_projection_keeps_the_estimate(projection):
    model = Model(dim=2000, s_t=0.3, s_e=0.1, rho=0.2, bias_t=0.01, bias_e=0.05, seed=7)
    g_t, g_e = model.draw_np(64, seed=8)
    args = (jnp.asarray(g_t, jnp.float32), jnp.asarray(g_e, jnp.float32), jnp.asarray(model.mu, jnp.float32))
    exact = float(bvpo_alpha_estimate(*args).alpha)
    projected = [float(bvpo_alpha_estimate(*args, projection=projection, projection_dim=512,
                                           key=jax.random.key(k)).alpha) for k in range(4)]
    assert 0.05 < exact < 0.95
    assert abs(np.mean(projected) - exact) < 0.05
    with pytest.raises(ValueError, match="key"):
        bvpo_alpha_estimate(*args, projection=projection)


def test_estimate_bad_arguments():
    g = {"w": jnp.zeros((4, 3))}
    with pytest.raises(ValueError, match="empty_grads"):
        bvpo_alpha_estimate(g, {"w": jnp.zeros((4, 2))})
    with pytest.raises(ValueError, match="reference"):
        bvpo_alpha_estimate(g, g, {"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match="projection"):
        bvpo_alpha_estimate(g, g, projection="srht")
    with pytest.raises(ValueError, match="trace_grads"):
        bvpo_alpha_estimate({"w": jnp.zeros((4, 3)), "b": jnp.zeros((5,))}, {"w": jnp.zeros((4, 3)),
                                                                           "b": jnp.zeros((5,))})


# ----- the bias-variance meter ----------------------------------------------------------------

def test_meter_confirms_alpha_star_beats_both_estimators():
    model = Model(seed=9)
    a, c, x = model.moments()
    alpha_star = float(bvpo_optimal_alpha(jnp.float32(a), jnp.float32(c), jnp.float32(x)))
    reference = jnp.asarray(model.mu, jnp.float32)
    key = jax.random.key(0)  # the same draws for every alpha (common random numbers)

    @jax.jit
    def meter(alpha):
        def estimator(k):
            g_t, g_e = model.draw_jax(k)
            return alpha * g_t + (1 - alpha) * g_e
        return bias_variance(estimator, reference, key, num_draws=4096)

    r0, rs, r1 = (meter(jnp.float32(al)) for al in (0.0, alpha_star, 1.0))
    assert float(rs.mse) <= min(float(r0.mse), float(r1.mse))
    for r, al in ((r0, 0.0), (rs, alpha_star), (r1, 1.0)):  # and each matches MSE(alpha) in closed form
        expected = al**2 * a + (1 - al) ** 2 * c + 2 * al * (1 - al) * x
        assert abs(float(r.mse) - expected) < 5 * float(r.mse_stderr)
