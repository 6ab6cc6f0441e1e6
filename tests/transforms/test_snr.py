"""bvjax.transforms.scale_by_snr: NumPy reference, optax chaining, SNR on a noisy quadratic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.transforms import scale_by_snr


def np_snr(micro):
    """SNR from M micro-batch gradients [M, D]: unbiased signal over the mean's noise."""
    m = micro.shape[0]
    mean = micro.mean(0)
    noise = sum(np.sum((g - mean) ** 2) for g in micro) / (m * (m - 1))
    signal = max(np.sum(mean**2) - noise, 0.0)
    return signal, noise


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.sampled_from([2, 3, 5]), jit=st.booleans())
def test_matches_numpy(seed, m, jit):
    rng = np.random.default_rng(seed)
    micro = {"a": rng.normal(0.5, 1.0, (m, 3)), "b": rng.normal(-0.2, 1.0, (m, 2, 2))}
    flat = np.concatenate([micro["a"], micro["b"].reshape(m, -1)], axis=1)
    signal, noise = np_snr(flat)
    tx = scale_by_snr(min_scale=0.05)
    mg = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), micro)
    g = jax.tree.map(lambda x: x.mean(0), mg)
    update = jax.jit(tx.update) if jit else tx.update
    out, state = update(g, tx.init(g), micro_grads=mg)
    scale = np.clip(signal / (signal + noise), 0.05, 1.0)
    np.testing.assert_allclose(float(state.snr), signal / noise, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(state.scale), scale, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["a"]), scale * micro["a"].mean(0), rtol=1e-4, atol=1e-6)


def _noisy_quadratic_grads(key, theta, m, sigma):
    """f = 1/2 |theta|^2: gradient theta, each micro-batch gradient adds N(0, sigma^2 I)."""
    return theta[None] + sigma * jax.random.normal(key, (m,) + theta.shape)


def test_snr_on_quadratic_within_10_percent_of_truth():
    d, m, sigma = 16384, 8, 2.0
    theta = jnp.full((d,), 1.0)  # truth = d / (d * 4 / 8) = 2
    truth = float(jnp.sum(theta**2)) / (d * sigma**2 / m)  # |g|^2 / tr Var(mean of M)
    tx = scale_by_snr()
    params = {"w": theta}
    state = tx.init(params)
    errs = []
    for k in range(3):
        micro = {"w": _noisy_quadratic_grads(jax.random.key(k), theta, m, sigma)}
        _, state = jax.jit(tx.update)({"w": micro["w"].mean(0)}, state, params, micro_grads=micro)
        errs.append(abs(float(state.snr) / truth - 1.0))
    assert 0.2 < truth < 5.0  # a regime where the step-size factor matters
    assert max(errs) < 0.10, (errs, truth)


def test_chains_with_optax_and_descends_the_quadratic():
    d, m, sigma = 256, 4, 0.5
    opt = optax.chain(scale_by_snr(decay=0.5), optax.sgd(1.0))  # eta_max = 1 / L, L = 1
    params = {"w": jnp.full((d,), 1.0)}
    state = opt.init(params)

    @jax.jit
    def step(params, state, key):
        micro = {"w": _noisy_quadratic_grads(key, params["w"], m, sigma)}
        g = jax.tree.map(lambda x: x.mean(0), micro)
        updates, state = opt.update(g, state, params, micro_grads=micro)
        return optax.apply_updates(params, updates), state

    start = float(jnp.sum(params["w"] ** 2))
    scales = []
    for k in range(30):
        params, state = step(params, state, jax.random.key(k))
        scales.append(float(state[0].scale))
    assert float(jnp.sum(params["w"] ** 2)) < 0.05 * start
    assert scales[0] > 0.9 and scales[-1] < 0.5  # high SNR far away, low SNR near the optimum


def test_edge_cases():
    tx = scale_by_snr()
    g = {"w": jnp.zeros(3)}
    # identical micro-gradients: zero noise -> factor 1, SNR inf, no NaN
    out, st_ = tx.update({"w": jnp.ones(3)}, tx.init(g), micro_grads={"w": jnp.ones((4, 3))})
    assert float(st_.scale) == 1.0 and np.isinf(float(st_.snr))
    # ... also when their mean rounds (0.1 x 7 had noise ~1e-16 and an SNR of ~1e15)
    for value in (0.1, 0.7, 1 / 3):
        _, st_ = tx.update({"w": jnp.full(3, value)}, tx.init(g), micro_grads={"w": jnp.full((7, 3), value)})
        assert float(st_.noise) == 0.0 and np.isinf(float(st_.snr)), (value, st_)
    # all-zero gradients: no NaN
    out, st_ = tx.update(g, tx.init(g), micro_grads={"w": jnp.zeros((4, 3))})
    assert np.all(np.isfinite(np.asarray(out["w"])))
    with pytest.raises(ValueError, match="micro_grads"):
        tx.update(g, tx.init(g), micro_grads={"w": jnp.zeros((1, 3))})
    with pytest.raises(ValueError, match="micro_grads"):
        tx.update(g, tx.init(g), micro_grads={"w": jnp.zeros((4, 2))})
    with pytest.raises(ValueError, match="micro_grads"):
        tx.update(g, tx.init(g))
    with pytest.raises(ValueError, match="decay"):
        scale_by_snr(decay=1.0)
