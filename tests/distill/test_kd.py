"""Intermediate-representation and logit distillation losses vs float64 NumPy, edge cases, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import enable_x64
from jax.test_util import check_grads

from bvjax.distill import hidden_cosine_loss, hidden_mse_loss, kd_kl_loss, layer_map, logit_mse_loss, pkd_loss


def _h(seed, shape):
    return np.random.default_rng(seed).normal(size=shape)


def mse64(s, t):
    return np.mean((s - t) ** 2, -1)


def cos64(s, t):
    return 1 - np.sum(s * t, -1) / (np.linalg.norm(s, axis=-1) * np.linalg.norm(t, axis=-1))


def pkd64(s, t):
    return np.sum((s / np.linalg.norm(s, axis=-1, keepdims=True) - t / np.linalg.norm(t, axis=-1, keepdims=True)) ** 2, -1)


def kl64(zs, zt, tau):
    out = np.zeros(zs.shape[:-1])
    for idx in np.ndindex(out.shape):
        p = np.exp(zt[idx] / tau - np.max(zt[idx] / tau))
        p /= p.sum()
        q = np.exp(zs[idx] / tau - np.max(zs[idx] / tau))
        q /= q.sum()
        out[idx] = tau**2 * sum(pi * np.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)
    return out


@pytest.mark.parametrize("jit", [False, True])
def test_hidden_losses_match_numpy(jit):
    s, t, w = _h(0, (2, 3, 4)), _h(1, (2, 3, 5)), _h(2, (4, 5))
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    for fn, ref in ((hidden_mse_loss, mse64), (hidden_cosine_loss, cos64), (pkd_loss, pkd64)):
        g = jax.jit(fn) if jit else fn
        np.testing.assert_allclose(g(f32(s), f32(t), f32(w)), ref(s @ w, t), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g(f32(s), f32(s[..., ::-1])), ref(s, s[..., ::-1]), rtol=1e-4, atol=1e-5)
    # PKD is 2 - 2 cos.
    np.testing.assert_allclose(pkd_loss(f32(s), f32(t), f32(w)), 2 * hidden_cosine_loss(f32(s), f32(t), f32(w)),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("tau", [0.5, 1.0, 4.0])
def test_logit_losses_match_numpy(jit, tau):
    zs, zt = 3 * _h(3, (4, 6)), 3 * _h(4, (4, 6))
    kl = jax.jit(kd_kl_loss, static_argnames="temperature") if jit else kd_kl_loss
    np.testing.assert_allclose(kl(jnp.asarray(zs, jnp.float32), jnp.asarray(zt, jnp.float32), temperature=tau),
                               kl64(zs, zt, tau), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logit_mse_loss(jnp.asarray(zs, jnp.float32), jnp.asarray(zt, jnp.float32)),
                               mse64(zs, zt), rtol=1e-5)


def test_edge_cases():
    zero, x = jnp.zeros((1, 3)), jnp.array([[1.0, 2.0, 2.0]])
    assert float(hidden_cosine_loss(zero, x)[0]) == 1.0
    np.testing.assert_allclose(pkd_loss(zero, x), [1.0], rtol=1e-6)
    for fn in (hidden_cosine_loss, pkd_loss):
        g = jax.grad(lambda a, fn=fn: fn(a, x).sum())(zero)
        assert np.all(np.isfinite(g))
    # A teacher that rules a class out (-inf logit) contributes 0 there.
    got = kd_kl_loss(jnp.zeros((1, 2)), jnp.array([[0.0, -jnp.inf]]))
    np.testing.assert_allclose(got, [np.log(2.0)], rtol=1e-6)
    assert np.all(np.isfinite(jax.grad(lambda z: kd_kl_loss(z, jnp.array([[0.0, -jnp.inf]])).sum())(jnp.zeros((1, 2)))))
    with pytest.raises(ValueError, match="teacher"):
        hidden_mse_loss(jnp.ones((2, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="projection"):
        hidden_mse_loss(jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="temperature"):
        kd_kl_loss(jnp.ones((2, 3)), jnp.ones((2, 3)), temperature=0.0)


def test_gradients():
    with enable_x64(True):
        s, t, w = jnp.asarray(_h(5, (3, 4))), jnp.asarray(_h(6, (3, 5))), jnp.asarray(_h(7, (4, 5)))
        for fn in (hidden_mse_loss, hidden_cosine_loss, pkd_loss):
            check_grads(jax.jit(lambda a, b, fn=fn: fn(a, t, b).sum()), (s, w), order=1, modes=("rev",))
        zt = jnp.asarray(_h(8, (3, 4)))
        check_grads(jax.jit(lambda z: kd_kl_loss(z, zt, temperature=2.0).sum()), (s,), order=1, modes=("rev",))
        check_grads(jax.jit(lambda z: logit_mse_loss(z, zt).sum()), (s,), order=1, modes=("rev",))


@pytest.mark.parametrize(("n", "m"), [(1, 1), (3, 12), (4, 6), (6, 12), (5, 5)])
def test_layer_map(n, m):
    # skip: the i-th of N evenly spaced stops ending at the teacher's top layer; last: the top N layers.
    skip = [int(np.ceil((i + 1) * m / n)) - 1 for i in range(n)]
    np.testing.assert_array_equal(layer_map(n, m), skip)
    np.testing.assert_array_equal(layer_map(n, m, mode="last"), np.arange(m - n, m))
    assert layer_map(n, m)[-1] == m - 1 and np.all(np.diff(np.asarray(layer_map(n, m))) > 0)
    if m % n == 0:
        np.testing.assert_array_equal(layer_map(n, m), np.arange(m // n - 1, m, m // n))  # PKD-skip
    with pytest.raises(ValueError, match="num_teacher"):
        layer_map(m + 1, m)
    with pytest.raises(ValueError, match="mode"):
        layer_map(n, m, mode="emd")
