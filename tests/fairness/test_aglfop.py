"""AGLFOP's barrier solver vs scipy SLSQP from several starts (float64), and the frontier's end points."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from bvjax.fairness import aglfop


def mi64(pxy):
    pxy = pxy / pxy.sum()
    px, py = pxy.sum(1), pxy.sum(0)
    return sum(pxy[x, y] * math.log2(pxy[x, y] / (px[x] * py[y]))
               for x in range(pxy.shape[0]) for y in range(pxy.shape[1]) if pxy[x, y] > 0)


def parts64(t, p):
    """(error, I(Z;Ŷ), I(Z;Ŷ|S)) in bits for t = q(s, z, y, ŷ=1), from the definitions."""
    err = t[..., 0].sum() + (p[..., 1] - t[..., 1]).sum()
    q1 = t.sum(-1)
    q = np.stack([p.sum(-1) - q1, q1], -1)
    local = sum(q[s].sum() * mi64(q[s]) for s in range(q.shape[0]) if q[s].sum() > 0)
    return err, mi64(q.sum(0)), local


def slsqp(p, eg, el, starts=8):
    best = np.inf
    for seed in range(starts):
        x0 = np.random.default_rng(seed).uniform(0, 1, p.size) * p.ravel()
        res = minimize(lambda x: parts64(x.reshape(p.shape), p)[0], x0, method="SLSQP",
                       bounds=[(0, v) for v in p.ravel()],
                       constraints=[{"type": "ineq", "fun": lambda x: eg - parts64(x.reshape(p.shape), p)[1]},
                                    {"type": "ineq", "fun": lambda x: el - parts64(x.reshape(p.shape), p)[2]}],
                       options={"ftol": 1e-14, "maxiter": 1000})
        e, ig, il = parts64(res.x.reshape(p.shape), p)
        if ig <= eg + 1e-9 and il <= el + 1e-9:
            best = min(best, e)
    return best


P = np.random.default_rng(1).dirichlet(np.ones(8)).reshape(2, 2, 2)
solve = jax.jit(aglfop, static_argnames=("num_stages", "newton_steps"))


@pytest.mark.parametrize("eg, el", [(0.05, 0.05), (0.01, 0.1), (0.1, 0.01), (1e-3, 1e-3)])
def test_matches_slsqp(eg, el):
    with jax.enable_x64(True):
        r = solve(jnp.asarray(P), eps_global=eg, eps_local=el)
        e, ig, il = parts64(np.asarray(r.joint)[..., 1], P)
    np.testing.assert_allclose(float(r.error), e, atol=1e-12)
    assert ig <= eg * (1 + 1e-6) and il <= el * (1 + 1e-6)
    np.testing.assert_allclose(float(r.error), slsqp(P, eg, el), atol=1e-6)
    np.testing.assert_allclose(np.asarray(r.joint).sum(-1), P, atol=1e-12)  # data marginal kept


def test_three_clients_three_groups_float32():
    p = np.random.default_rng(4).dirichlet(np.ones(18)).reshape(3, 3, 2)
    with jax.enable_x64(True):
        r = solve(jnp.asarray(p), eps_global=0.02, eps_local=0.05)
        e, ig, il = parts64(np.asarray(r.joint)[..., 1], p)
    assert ig <= 0.02 * (1 + 1e-6) and il <= 0.05 * (1 + 1e-6)
    r32 = solve(jnp.asarray(p, jnp.float32), eps_global=0.02, eps_local=0.05)
    assert r32.error.dtype == jnp.float32
    np.testing.assert_allclose(float(r32.error), e, atol=2e-4)


def test_frontier_end_points_and_monotone():
    # Large budgets: the perfect classifier Ŷ = Y; budgets below the label's own disparity cost accuracy.
    p = P / P.sum()
    with jax.enable_x64(True):
        loose = solve(jnp.asarray(p), eps_global=10.0, eps_local=10.0)
        assert float(loose.error) < 1e-9
        np.testing.assert_allclose(float(loose.global_disparity), mi64(p.sum(0)), atol=1e-8)
        budgets = jnp.array([1e-4, 1e-3, 1e-2, 5e-2])
        errs = jax.vmap(lambda e: solve(jnp.asarray(p), eps_global=e, eps_local=10.0).error)(budgets)
    assert np.all(np.diff(np.asarray(errs)) < 0)
    # with a global budget near 0, Ŷ is (almost) independent of Z
    assert float(errs[0]) > 0.05


def test_zero_mass_cells_and_all_zero():
    p = P.copy()
    p[0, 1, :] = 0.0
    with jax.enable_x64(True):
        r = solve(jnp.asarray(p), eps_global=0.01, eps_local=0.01)
        np.testing.assert_allclose(float(r.error), slsqp(p / p.sum(), 0.01, 0.01), atol=1e-6)
    z = solve(jnp.zeros((2, 2, 2)), eps_global=0.1, eps_local=0.1, num_stages=2, newton_steps=1)
    assert float(z.error) == 0.0 and np.all(np.isfinite(np.asarray(z.classifier)))


def test_bad_budget():
    with pytest.raises(ValueError, match="eps_global"):
        aglfop(jnp.asarray(P, jnp.float32), eps_global=0.0, eps_local=0.1)
