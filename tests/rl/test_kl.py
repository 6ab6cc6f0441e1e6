"""bvjax.rl.kl_penalty against float64 NumPy k1/k2/k3 and their gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.rl import kl_penalty

kl_jit = jax.jit(kl_penalty, static_argnames=("estimator", "straight_through", "log_ratio_clip", "value_clip"))


def np_kl(lp, ref, estimator):
    """Value and d/d lp with x = ref - lp (no clamps: inputs stay small)."""
    x = ref - lp
    if estimator == "k1":
        return -x, np.ones_like(x)
    if estimator == "k2":
        return 0.5 * x**2, -x
    if estimator == "abs":
        return np.abs(x), -np.sign(x)
    return np.exp(x) - x - 1, -np.exp(x) + 1


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), jit=st.booleans(), est=st.sampled_from(["k1", "k2", "k3", "abs"]),
       st_=st.booleans())
def test_matches_numpy(seed, jit, est, st_):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.uniform(0.05, 0.95, (3, 4)))
    ref = lp + rng.normal(0, 0.5, (3, 4))
    fn = kl_jit if jit else kl_penalty
    val = fn(jnp.asarray(lp, jnp.float32), jnp.asarray(ref, jnp.float32), estimator=est, straight_through=st_)
    grad = jax.grad(lambda x: jnp.sum(fn(x, jnp.asarray(ref, jnp.float32), estimator=est, straight_through=st_)))(
        jnp.asarray(lp, jnp.float32))
    want_val, want_grad = np_kl(lp, ref, est)
    if st_:
        want_grad = np_kl(lp, ref, "k2")[1]  # straight-through: k2's gradient
    np.testing.assert_allclose(np.asarray(val), want_val, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-5, atol=1e-6)


def test_k3_is_nonnegative_and_unbiased_on_a_categorical():
    # E_{y~p}[k3] = KL(p || q) exactly for a categorical (sum over the support).
    rng = np.random.default_rng(0)
    p = rng.dirichlet(5 * np.ones(6))
    q = rng.dirichlet(5 * np.ones(6))
    kl = float(np.sum(p * np.log(p / q)))
    k3 = np.asarray(kl_penalty(jnp.log(jnp.asarray(p, jnp.float32))[None], jnp.log(jnp.asarray(q, jnp.float32))[None]))
    k1 = np.asarray(kl_penalty(jnp.log(jnp.asarray(p, jnp.float32))[None], jnp.log(jnp.asarray(q, jnp.float32))[None],
                               estimator="k1"))
    assert np.all(k3 >= 0)
    np.testing.assert_allclose(float(np.sum(p * k3[0])), kl, rtol=1e-5)
    np.testing.assert_allclose(float(np.sum(p * k1[0])), kl, rtol=1e-5)


def test_check_grads():
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        lp = jnp.asarray(np.log(rng.uniform(0.1, 0.9, (2, 3))))
        ref = lp + 0.3
        for est in ("k1", "k2", "k3"):
            check_grads(lambda x, e=est: jnp.sum(kl_penalty(x, ref, estimator=e)), (lp,), order=2, modes=["rev"])


def test_extreme_log_ratios_are_finite():
    lp = jnp.zeros((1, 2))
    ref = jnp.array([[1e4, -1e4]])
    for est in ("k1", "k2", "k3", "abs"):
        val = kl_penalty(lp, ref, estimator=est, straight_through=True)
        grad = jax.grad(lambda x, e=est: jnp.sum(kl_penalty(x, ref, estimator=e, straight_through=True)))(lp)
        assert np.all(np.isfinite(np.asarray(val))) and np.all(np.isfinite(np.asarray(grad))), est
    # x is clamped to +-20 first, then k3 to 10: e^20 - 21 and e^-20 + 19 both become 10.
    np.testing.assert_allclose(np.asarray(kl_penalty(lp, ref)), [[10.0, 10.0]])
    unclamped = kl_penalty(lp, ref, log_ratio_clip=None, value_clip=None)
    assert np.isinf(np.asarray(unclamped)[0, 0]) and not np.any(np.isnan(np.asarray(unclamped)))
