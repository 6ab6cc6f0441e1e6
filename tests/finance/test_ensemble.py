"""Strategy ensembles vs float64 NumPy loops: buy-and-hold identity, EG updates, ruin handling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.finance import combine_strategies


def _data(k=3, t=40, n=4, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.dirichlet(np.ones(n), size=(k, t))
    x = np.exp(rng.normal(0.0005, 0.02, (t, n)))
    return b, x


def loop64(b, x, rule, power=1.0, eta=0.05):
    k, t, _ = b.shape
    g = np.einsum("ktn,tn->kt", b, x)
    s = np.ones(k)
    m = np.full(k, 1 / k)
    wealth, mix = [], []
    total = 1.0
    for i in range(t):
        if rule == "wealth":
            m = s**power / np.sum(s**power)
        elif rule == "uniform":
            m = np.full(k, 1 / k)
        mix.append(m.copy())
        port = m @ g[:, i]
        total *= port
        wealth.append(total)
        if rule == "exp_gradient":
            m = m * np.exp(eta * g[:, i] / port)
            m /= m.sum()
        s = s * g[:, i]
    return np.array(wealth), np.array(mix)


@pytest.mark.parametrize("rule, power", [("wealth", 1.0), ("wealth", 3.0), ("uniform", 1.0), ("exp_gradient", 1.0)])
def test_matches_numpy_loop(rule, power):
    b, x = _data()
    wealth, mix = loop64(b, x, rule, power)
    with jax.enable_x64(True):
        out = jax.jit(combine_strategies, static_argnames="rule")(jnp.asarray(b), jnp.asarray(x), rule=rule,
                                                                  power=power)
    np.testing.assert_allclose(np.asarray(out.wealth), wealth, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(out.mixture), mix, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(out.weights).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(out.component_wealth), np.cumprod(np.einsum("ktn,tn->kt", b, x), 1),
                               rtol=1e-10)


def test_buy_and_hold_is_average_wealth():
    b, x = _data(k=5, t=300, seed=4)
    with jax.enable_x64(True):
        out = combine_strategies(jnp.asarray(b), jnp.asarray(x), rule="wealth")
    wealth, comp = np.asarray(out.wealth), np.asarray(out.component_wealth)
    np.testing.assert_allclose(wealth, comp.mean(0), rtol=1e-10)
    assert wealth[-1] >= comp[:, -1].max() / 5


def test_ruined_strategy_is_dropped():
    b = np.array([[[3.0, -2.0]] * 3, [[0.5, 0.5]] * 3])  # strategy 0 is levered and ruined at t = 0
    x = np.array([[0.5, 1.5], [1.0, 1.0], [1.1, 0.9]])
    out = combine_strategies(jnp.asarray(b, jnp.float32), jnp.asarray(x, jnp.float32))
    assert float(out.component_wealth[0, 0]) == 0.0
    np.testing.assert_allclose(np.asarray(out.mixture[1:]), [[0, 1], [0, 1]], atol=1e-6)
    assert np.all(np.isfinite(np.asarray(out.wealth)))


def test_bad_rule():
    b, x = _data()
    with pytest.raises(ValueError, match="rule"):
        combine_strategies(jnp.asarray(b), jnp.asarray(x), rule="best")
