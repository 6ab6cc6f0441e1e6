"""RAMP's losses, max selection, GP merge and union accuracy against float64 NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.robust import gp_merge, logit_pairing_loss, ramp_loss, select_max_adv, union_accuracy


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _pair_np(src, tgt, y, kind):
    out = np.zeros(len(y))
    for i in range(len(y)):
        if np.argmax(src[i]) != y[i]:
            continue
        if kind == "kl":
            p, q = _softmax(src[i]), _softmax(tgt[i])
            out[i] = np.sum(p * (np.log(p) - np.log(q)))
        elif kind == "mse":
            out[i] = np.mean((src[i] - tgt[i]) ** 2)
        else:
            out[i] = 1 - src[i] @ tgt[i] / (np.linalg.norm(src[i]) * np.linalg.norm(tgt[i]))
    return out


def _data(seed=0, b=12, v=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(b, v)) * 2, rng.normal(size=(b, v)) * 2, rng.normal(size=(b, v)), rng.integers(0, v, b)


@pytest.mark.parametrize("kind", ["kl", "mse", "cosine"])
@pytest.mark.parametrize("jit", [False, True])
def test_logit_pairing_matches_numpy(kind, jit):
    src, tgt, _, y = _data()
    fn = jax.jit(logit_pairing_loss, static_argnames="kind") if jit else logit_pairing_loss
    out = fn(jnp.asarray(src, jnp.float32), jnp.asarray(tgt, jnp.float32), jnp.asarray(y), kind=kind)
    np.testing.assert_allclose(out, _pair_np(src, tgt, y, kind), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_ramp_loss_matches_numpy(jit):
    src, tgt, zmax, y = _data(1)
    fn = jax.jit(ramp_loss) if jit else ramp_loss
    out = fn(*(jnp.asarray(a, jnp.float32) for a in (zmax,)), jnp.asarray(y), jnp.asarray(src, jnp.float32),
             jnp.asarray(tgt, jnp.float32), lam=2.0)
    p = _softmax(zmax)
    ce = -np.log(p[np.arange(len(y)), y]).mean()
    in_c = np.argmax(src, 1) == y
    ref = ce + 2.0 * _pair_np(src, tgt, y, "kl").sum() / max(in_c.sum(), 1)
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_ramp_loss_empty_c_is_cross_entropy_and_grads_check():
    src = jnp.array([[0.0, 3.0], [0.0, 3.0]])
    z = jnp.array([[1.0, -1.0], [0.5, 0.2]])
    y = jnp.array([0, 0])  # the source predicts class 1 for both: C is empty
    ce = float(jnp.mean(jax.nn.logsumexp(z, -1) - z[:, 0]))
    np.testing.assert_allclose(ramp_loss(z, y, src, z, lam=5.0), ce, rtol=1e-6)
    src, tgt, zmax, y = _data(2, b=4, v=3)
    y = jnp.asarray(np.argmax(src, 1))  # all in C
    with jax.enable_x64(True):
        f = lambda a, b, c: ramp_loss(a, y, b, c, lam=1.5)
        check_grads(f, tuple(jnp.asarray(t, jnp.float64) for t in (zmax, src, tgt)), order=1, modes=["rev"])
        for kind in ("kl", "mse", "cosine"):
            g = lambda a, b, kind=kind: jnp.sum(logit_pairing_loss(a, b, y, kind=kind))
            check_grads(g, (jnp.asarray(src, jnp.float64), jnp.asarray(tgt, jnp.float64)), order=1, modes=["rev"])


def test_cosine_zero_logits_are_finite():
    out = logit_pairing_loss(jnp.array([[1.0, 0.0]]), jnp.zeros((1, 2)), jnp.array([0]), kind="cosine")
    np.testing.assert_allclose(out, [1.0])


def test_select_max_adv():
    xa, xb = jnp.zeros((3, 2, 2)), jnp.ones((3, 2, 2))
    out = select_max_adv(xa, xb, jnp.array([1.0, 0.0, 2.0]), jnp.array([0.5, 0.1, 2.0]))
    np.testing.assert_array_equal(out[:, 0, 0], [0.0, 1.0, 0.0])  # ties go to x_a
    out = select_max_adv(xa, xb, jnp.array([1.0, 0.0, 2.0]), jnp.array([1.5, 0.1, 2.5]))
    np.testing.assert_array_equal(out[:, 0, 0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="loss_b"):
        select_max_adv(xa, xb, jnp.zeros(3), jnp.zeros(4))


def _gp_np(old, at, nt, beta):
    da, dn = at - old, nt - old
    den = np.linalg.norm(da) * np.linalg.norm(dn)
    c = da.ravel() @ dn.ravel() / den if den > 0 else 0.0
    return old + (1 - beta) * da + beta * max(c, 0.0) * dn


@pytest.mark.parametrize("jit", [False, True])
def test_gp_merge_matches_numpy_per_leaf(jit):
    rng = np.random.default_rng(3)
    trees = [{"dense": {"kernel": rng.normal(size=(3, 4)), "bias": rng.normal(size=4)}, "scale": rng.normal(size=())}
             for _ in range(3)]
    fn = jax.jit(gp_merge) if jit else gp_merge
    out = fn(*(jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), t) for t in trees), beta=0.3)
    for path in (("dense", "kernel"), ("dense", "bias"), ("scale",)):
        leaf = [t for t in trees]
        for p in path:
            leaf = [t[p] for t in leaf]
        o = out
        for p in path:
            o = o[p]
        np.testing.assert_allclose(o, _gp_np(*leaf, 0.3), rtol=1e-5, atol=1e-6)


def test_gp_merge_orthogonal_or_opposed_update_is_dropped_and_ints_copied():
    old = {"w": jnp.zeros(3), "count": jnp.array(4)}
    at = {"w": jnp.array([1.0, 0.0, 0.0]), "count": jnp.array(9)}
    for nt_w in (jnp.array([0.0, 2.0, -1.0]), jnp.array([-3.0, 1.0, 0.0])):
        out = gp_merge(old, at, {"w": nt_w, "count": jnp.array(5)}, beta=0.5)
        np.testing.assert_allclose(out["w"], 0.5 * at["w"])
        assert int(out["count"]) == 9
    # a zero natural update (or zero adversarial one) gives cos = 0, never NaN
    out = gp_merge(old, {"w": jnp.zeros(3), "count": jnp.array(0)}, {"w": jnp.ones(3), "count": jnp.array(0)})
    np.testing.assert_allclose(out["w"], 0.0)
    with pytest.raises(ValueError, match="theta_nt"):
        gp_merge(old, at, {"w": jnp.zeros(4), "count": jnp.array(0)})


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=4))
def test_union_accuracy_property(rows):
    c = np.asarray(rows)
    np.testing.assert_allclose(union_accuracy(jnp.asarray(c)), np.mean(np.all(c, axis=0)), rtol=1e-6)
