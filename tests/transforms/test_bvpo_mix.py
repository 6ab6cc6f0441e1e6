"""bvpo_mix: the optax transform that mixes trace and empty-trace gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bvjax.preference import bvpo_optimal_alpha
from bvjax.transforms import BVPOMixState, bvpo_mix


def _tree(x):
    x = jnp.asarray(x, jnp.float32)
    return {"w": x[:4].reshape(2, 2), "b": x[4:]}


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_fixed_alpha_in_a_chain(jit, alpha):
    lr = 0.1
    opt = optax.chain(bvpo_mix(alpha), optax.sgd(lr))
    params = _tree(np.zeros(6))
    state = opt.init(params)
    rng = np.random.default_rng(0)
    update = jax.jit(opt.update) if jit else opt.update
    expected = np.zeros(6)
    for _ in range(3):
        g_t, g_e = rng.standard_normal(6), rng.standard_normal(6)
        updates, state = update(_tree(g_t), state, params, empty_trace_grads=_tree(g_e))
        params = optax.apply_updates(params, updates)
        expected = expected - lr * (alpha * g_t + (1 - alpha) * g_e)
    flat = np.concatenate([np.ravel(params["w"]), np.ravel(params["b"])])
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    assert isinstance(state[0], BVPOMixState) and int(state[0].count) == 3
    np.testing.assert_allclose(state[0].alpha, alpha)


def test_composes_with_adam_and_optimal_mode():
    opt = optax.chain(bvpo_mix("optimal"), optax.adam(1e-2))
    params = _tree(np.ones(6))

    def loss_t(p):
        return jnp.sum(p["w"] ** 2) + jnp.sum(p["b"] ** 2)

    def loss_e(p):
        return jnp.sum((p["w"] - 0.1) ** 2) + jnp.sum(p["b"] ** 2)

    @jax.jit
    def step(p, s):
        updates, s = opt.update(jax.grad(loss_t)(p), s, p, empty_trace_grads=jax.grad(loss_e)(p))
        return optax.apply_updates(p, updates), s

    state = opt.init(params)
    for _ in range(200):
        params, state = step(params, state)
    assert float(loss_t(params)) < 0.5 * float(loss_t(_tree(np.ones(6))))
    assert 0.0 <= float(state[0].alpha) <= 1.0


def _stream(n, seed, dim=6, s_t=2.0, s_e=0.5, rho=0.3, bias_e=1.0):
    rng = np.random.default_rng(seed)
    b_e = bias_e * np.random.default_rng(99).standard_normal(dim)
    z1, z2 = rng.standard_normal((2, n, dim))
    g_t = s_t * z1
    g_e = b_e + s_e * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    a = dim * s_t**2
    c = dim * s_e**2 + b_e @ b_e
    x = dim * rho * s_t * s_e
    return g_t, g_e, (c - x) / (a + c - 2 * x)


@pytest.mark.parametrize("use_reference", [True, False])
def test_running_estimate_tracks_alpha_star(use_reference):
    # Stationary stream, true gradient mu = 0, unbiased trace estimator: the running
    # estimate should settle near the closed-form alpha*.
    g_t, g_e, alpha_star = _stream(3000, seed=1)
    tx = bvpo_mix("optimal", decay=0.999, initial_alpha=0.5)
    zero = jnp.zeros(6)
    state = tx.init(zero)

    def body(state, gs):
        t, e = gs
        extra = {"reference_grads": zero} if use_reference else {}
        mixed, state = tx.update(t, state, empty_trace_grads=e, **extra)
        return state, (mixed, state.alpha)

    state, (mixed, alphas) = jax.lax.scan(body, state, (jnp.asarray(g_t, jnp.float32),
                                                        jnp.asarray(g_e, jnp.float32)))
    if not use_reference:  # no moments before a mean of past trace gradients exists
        assert float(alphas[0]) == 0.5
    assert abs(float(state.alpha) - alpha_star) < 0.05
    # The weight used at step k comes from steps before k.
    k = 1000
    np.testing.assert_allclose(mixed[k], alphas[k - 1] * g_t[k] + (1 - alphas[k - 1]) * g_e[k], rtol=1e-5,
                               atol=1e-5)
    # And the moments' ratio is exactly the closed form of the stored EMAs.
    np.testing.assert_allclose(state.alpha, bvpo_optimal_alpha(state.trace_mse, state.empty_mse, state.cross),
                               atol=1e-4)


def test_first_step_uses_initial_alpha_and_degenerate_case():
    tx = bvpo_mix("optimal", initial_alpha=0.2, alpha_if_degenerate=0.7)
    g = jnp.array([1.0, -2.0])
    state = tx.init(g)
    mixed, state = tx.update(g, state, empty_trace_grads=g)
    np.testing.assert_allclose(mixed, g)
    np.testing.assert_allclose(state.alpha, 0.2)  # no reference yet: no moments
    _, state = tx.update(g, state, empty_trace_grads=g)
    np.testing.assert_allclose(state.alpha, 0.7)  # g_t == g_e so far: zero denominator
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(state))


def test_errors_name_the_argument():
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="alpha"):
            bvpo_mix(bad)
    with pytest.raises(ValueError, match="alpha"):
        bvpo_mix("best")
    with pytest.raises(ValueError, match="decay"):
        bvpo_mix("optimal", decay=1.0)
    tx = bvpo_mix(0.5)
    params = {"w": jnp.zeros(3)}
    state = tx.init(params)
    with pytest.raises(ValueError, match="empty_trace_grads"):
        tx.update(params, state)
    with pytest.raises(ValueError, match="empty_trace_grads"):
        tx.update(params, state, empty_trace_grads={"w": jnp.zeros(4)})
    with pytest.raises(ValueError, match="empty_trace_grads"):
        jax.jit(tx.update)(params, state, empty_trace_grads={"w": jnp.zeros(4)})
