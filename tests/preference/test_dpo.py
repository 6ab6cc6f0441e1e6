"""dpo_loss (cDPO label smoothing), ipo_loss and orpo_loss against float64 NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.preference import dpo_loss, ipo_loss, orpo_loss


def _np_log_sigmoid(x):
    return -np.logaddexp(0.0, -np.asarray(x, np.float64))


def _np_dpo(pc, pr, rc, rr, beta, eps):
    out = []
    for i in range(len(pc)):
        h = (float(pc[i]) - float(rc[i])) - (float(pr[i]) - float(rr[i]))
        e = float(np.broadcast_to(eps, (len(pc),))[i])
        out.append(-(1 - e) * _np_log_sigmoid(beta * h) - e * _np_log_sigmoid(-beta * h))
    return np.array(out)


def _np_ipo(pc, pr, rc, rr, tau):
    h = (np.float64(pc) - rc) - (np.float64(pr) - rr)
    return (h - 1.0 / (2.0 * tau)) ** 2


def _np_orpo(a_w, a_l, nll, lam):
    def log_odds(a):
        a = np.minimum(np.float64(a), -1e-6)
        return a - np.log1p(-np.exp(a))
    return np.float64(nll) - lam * _np_log_sigmoid(log_odds(a_w) - log_odds(a_l))


def _logps(seed=0, b=5, scale=20.0):
    rng = np.random.default_rng(seed)
    return tuple((-scale * rng.random(b)).astype(np.float32) for _ in range(4))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("beta,eps", [(0.1, 0.0), (0.5, 0.2), (2.0, 0.5)])
def test_dpo_matches_numpy(jit, beta, eps):
    args = _logps()
    fn = jax.jit(dpo_loss) if jit else dpo_loss
    np.testing.assert_allclose(fn(*args, beta=beta, label_smoothing=eps), _np_dpo(*args, beta, eps),
                               rtol=1e-5, atol=1e-6)


def test_dpo_per_pair_label_smoothing():
    args = _logps(seed=1)
    eps = np.array([0.0, 0.1, 0.2, 0.3, 0.5], np.float32)
    np.testing.assert_allclose(dpo_loss(*args, beta=0.3, label_smoothing=eps), _np_dpo(*args, 0.3, eps),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(*args, label_smoothing=np.zeros(4, np.float32))


def test_dpo_extreme_margins_finite():
    one = np.ones(2, np.float32)
    zero = np.zeros(2, np.float32)
    big = np.array([1e4, -1e4], np.float32)
    out = dpo_loss(big, zero, zero, zero, beta=1.0)
    np.testing.assert_allclose(out, [0.0, 1e4], rtol=1e-6)
    out = dpo_loss(big, zero, zero, zero, beta=1.0, label_smoothing=0.25)
    np.testing.assert_allclose(out, [0.25e4, 0.75e4], rtol=1e-6)
    grad = jax.grad(lambda x: dpo_loss(x, zero, zero, zero, beta=1.0, label_smoothing=0.1).sum())(big)
    np.testing.assert_allclose(grad, [-0.0 + 0.1, -(0.9)], atol=1e-6)  # -(1-e)(1-s) + e*s at s = 1, 0
    assert np.all(np.isfinite(ipo_loss(big, zero, zero, one)))


def test_dpo_gradients_and_vmap():
    args = tuple(jnp.asarray(a) for a in _logps(b=3, scale=3.0))
    check_grads(jax.jit(lambda *a: dpo_loss(*a, beta=0.7, label_smoothing=0.1)), args, order=2, modes=["rev"],
                atol=1e-2, rtol=1e-2)
    check_grads(jax.jit(lambda *a: ipo_loss(*a, tau=0.3)), args, order=2, modes=["rev"], atol=1e-2, rtol=1e-2)
    per_row = jax.vmap(lambda *a: dpo_loss(*(x[None] for x in a), beta=0.7)[0])(*args)
    np.testing.assert_allclose(per_row, dpo_loss(*args, beta=0.7), rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_ipo_matches_numpy(jit):
    args = _logps(seed=2, scale=3.0)
    fn = jax.jit(ipo_loss) if jit else ipo_loss
    for tau in (0.05, 0.1, 1.0):
        np.testing.assert_allclose(fn(*args, tau=tau), _np_ipo(*args, tau), rtol=1e-5, atol=1e-5)


def test_ipo_tajwar_target_margin():
    # Tajwar et al's bandit code writes (h - 10)^2, which is tau = 0.05.
    h = np.array([3.0], np.float32)
    zero = np.zeros(1, np.float32)
    np.testing.assert_allclose(ipo_loss(h, zero, zero, zero, tau=0.05), (3.0 - 10.0) ** 2, rtol=1e-6)


def test_hyperparameter_checks():
    args = _logps()
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(*args, beta=0.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(*args, label_smoothing=0.6)
    with pytest.raises(ValueError, match="tau"):
        ipo_loss(*args, tau=-1.0)
    with pytest.raises(ValueError, match="lam"):
        orpo_loss(*args[:3], lam=-0.1)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        dpo_loss(args[0], args[1][:3], args[2], args[3])


@pytest.mark.parametrize("jit", [False, True])
def test_orpo_matches_numpy(jit):
    rng = np.random.default_rng(4)
    a_w = -rng.uniform(0.01, 5.0, 6).astype(np.float32)
    a_l = -rng.uniform(0.01, 5.0, 6).astype(np.float32)
    nll = -a_w
    fn = jax.jit(orpo_loss) if jit else orpo_loss
    for lam in (0.0, 0.1, 1.0):
        np.testing.assert_allclose(fn(a_w, a_l, nll, lam=lam), _np_orpo(a_w, a_l, nll, lam), rtol=1e-5,
                                   atol=1e-6)


def test_orpo_edges_are_defined():
    # a = 0 (probability 1) is clamped to -1e-6; a = -2e4 (logits of 1e4) is fine.
    a_w = np.array([0.0, -2e4, -1e-9, -0.5], np.float32)
    a_l = np.array([-2e4, 0.0, -0.5, -1e-9], np.float32)
    nll = np.zeros(4, np.float32)
    out = orpo_loss(a_w, a_l, nll, lam=1.0)
    np.testing.assert_allclose(out, _np_orpo(a_w, a_l, nll, 1.0), rtol=1e-5, atol=1e-5)
    grad = jax.grad(lambda a, b: orpo_loss(a, b, -a, lam=1.0).sum(), argnums=(0, 1))(a_w, a_l)
    assert all(np.all(np.isfinite(g)) for g in grad)


def test_orpo_gradients():
    a_w = jnp.array([-0.7, -2.0])
    a_l = jnp.array([-0.3, -1.5])
    check_grads(jax.jit(lambda a, b: orpo_loss(a, b, -a, lam=0.5)), (a_w, a_l), order=2, modes=["rev"],
                atol=1e-2, rtol=1e-2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, width=32), min_size=4, max_size=4),
       st.floats(1e-3, 10.0), st.floats(0.0, 0.5))
def test_hypothesis_dpo_finite_nonnegative(vals, beta, eps):
    args = tuple(np.array([v], np.float32) for v in vals)
    out = dpo_loss(*args, beta=beta, label_smoothing=eps)
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
    a = -np.abs(np.array([vals[0]], np.float32))
    b = -np.abs(np.array([vals[1]], np.float32))
    out = orpo_loss(a, b, -a, lam=0.1)
    assert np.all(np.isfinite(out))
