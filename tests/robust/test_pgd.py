"""PGD attacks and the exact l1 projection, against float64 NumPy references (sort-based, bisection, KKT)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.robust import pgd_l1, pgd_l2, pgd_linf, project_l1_ball


def _duchi_np(v, radius):
    """Duchi et al.'s sort-based l1-ball projection, float64 NumPy, one vector."""
    v = np.asarray(v, np.float64)
    if np.abs(v).sum() <= radius:
        return v.copy()
    u = np.sort(np.abs(v))[::-1]
    css = np.cumsum(u)
    j = np.arange(1, v.size + 1)
    idx = np.nonzero(u - (css - radius) / j > 0)[0]
    rho = idx[-1] + 1 if idx.size else 1  # j = 1 always qualifies in exact arithmetic
    theta = (css[rho - 1] - radius) / rho
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0.0)


def _box_np(v, radius, lo, hi):
    """l1 ∩ box projection by bisection on the multiplier (float64, 200 halvings)."""
    v = np.asarray(v, np.float64)
    cap = np.where(v >= 0, hi, -lo)

    def z(lam):
        return np.sign(v) * np.minimum(np.maximum(np.abs(v) - lam, 0.0), cap)

    if np.abs(z(0.0)).sum() <= radius:
        return z(0.0)
    a, b = 0.0, np.abs(v).max()
    for _ in range(200):
        m = 0.5 * (a + b)
        a, b = (m, b) if np.abs(z(m)).sum() > radius else (a, m)
    return z(b)


@pytest.mark.parametrize("jit", [False, True])
def test_l1_projection_matches_sort_reference_feasible_and_optimal(jit):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 17)) * rng.uniform(0.1, 3, size=(40, 1))
    radius = rng.uniform(0.0, 6.0, size=40)
    fn = jax.jit(project_l1_ball) if jit else project_l1_ball
    with jax.enable_x64(True):
        p = np.asarray(fn(jnp.asarray(v), radius=jnp.asarray(radius)))
    for i in range(40):
        ref = _duchi_np(v[i], radius[i])
        np.testing.assert_allclose(p[i], ref, atol=1e-10)
        # feasibility
        assert np.abs(p[i]).sum() <= radius[i] + 1e-9
        # optimality: the linear function <v - p, z> is maximised over the ball at a vertex,
        # so p is the projection iff eps * ||v - p||_inf == <v - p, p> (variational inequality).
        r = v[i] - p[i]
        np.testing.assert_allclose(radius[i] * np.abs(r).max() if np.abs(v[i]).sum() > radius[i] else 0.0,
                                   r @ p[i], atol=1e-9)
        # KKT: one threshold theta >= 0 with p = sign(v) * max(|v| - theta, 0)
        nz = np.abs(p[i]) > 0
        if np.abs(v[i]).sum() > radius[i] and nz.any():
            theta = np.abs(v[i])[nz] - np.abs(p[i])[nz]
            np.testing.assert_allclose(theta, theta[0], atol=1e-9)
            assert np.all(np.abs(v[i])[~nz] <= theta[0] + 1e-9)


def test_l1_projection_float32_and_inside_points_unchanged():
    v = jnp.array([[0.1, -0.2, 0.3], [3.0, -1.0, 0.0]])
    p = project_l1_ball(v, radius=1.0)
    np.testing.assert_allclose(p[0], v[0])
    np.testing.assert_allclose(p[1], _duchi_np(np.asarray(v[1]), 1.0), atol=1e-6)
    np.testing.assert_array_equal(project_l1_ball(v, radius=0.0), jnp.zeros_like(v))
    np.testing.assert_allclose(project_l1_ball(v, radius=2), project_l1_ball(v, radius=2.0))  # a Python int radius


@pytest.mark.parametrize("jit", [False, True])
def test_l1_box_projection_matches_bisection_and_kkt(jit):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(30, 12))           # images in [0, 1]: the box on delta is [-x, 1 - x]
    v = rng.normal(size=(30, 12)) * 0.8
    radius = rng.uniform(0.05, 4.0, size=30)
    fn = jax.jit(project_l1_ball) if jit else project_l1_ball
    with jax.enable_x64(True):
        p = np.asarray(fn(jnp.asarray(v), radius=jnp.asarray(radius), lower=jnp.asarray(-x),
                          upper=jnp.asarray(1 - x)))
    for i in range(30):
        ref = _box_np(v[i], radius[i], -x[i], 1 - x[i])
        np.testing.assert_allclose(p[i], ref, atol=1e-9)
        assert np.abs(p[i]).sum() <= radius[i] + 1e-9
        assert np.all(p[i] >= -x[i] - 1e-12) and np.all(p[i] <= 1 - x[i] + 1e-12)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=4), st.floats(0, 6))
def test_l1_projection_property(values, radius):
    v = np.asarray(values)
    with jax.enable_x64(True):
        p = np.asarray(project_l1_ball(jnp.asarray(v), radius=radius))
    np.testing.assert_allclose(p, _duchi_np(v, radius), atol=1e-9)
    assert np.all(np.isfinite(p))


def test_projection_rejects_bad_shapes():
    with pytest.raises(ValueError, match="upper"):
        project_l1_ball(jnp.zeros((2, 3)), radius=1.0, upper=jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="radius"):
        project_l1_ball(jnp.zeros((2, 3)), radius=jnp.ones(3))


# A fixed linear "model" so the optimum of each attack is known in closed form.
W = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 0.5]])


def _loss(x, y):
    logits = x @ jnp.asarray(W, x.dtype).T
    return jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0]


def _linear(x, y):
    return jnp.sum(x * y, axis=-1)


@pytest.mark.parametrize("jit", [False, True])
def test_attacks_reach_the_closed_form_optimum_of_a_linear_loss(jit):
    g = np.array([[1.0, -3.0, 2.0, 0.5], [0.2, 0.1, -0.4, 0.3]])
    x = np.zeros((2, 4))
    key = jax.random.key(0)
    kw = {"clip_min": None, "clip_max": None, "random_start": False, "steps": 20}
    attacks = {"linf": pgd_linf, "l2": pgd_l2, "l1": pgd_l1}
    for name, fn in attacks.items():
        f = jax.jit(fn, static_argnames=("loss_fn", "steps", "random_start", "clip_min", "clip_max")) if jit else fn
        out = np.asarray(f(_linear, jnp.asarray(x, jnp.float32), jnp.asarray(g, jnp.float32), key, eps=0.5, **kw))
        if name == "linf":
            ref = 0.5 * np.sign(g)
        elif name == "l2":
            ref = 0.5 * g / np.linalg.norm(g, axis=1, keepdims=True)
        else:
            ref = np.zeros_like(g)
            ref[np.arange(2), np.abs(g).argmax(1)] = 0.5 * np.sign(g[np.arange(2), np.abs(g).argmax(1)])
        np.testing.assert_allclose(out, ref, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("attack,eps,order", [(pgd_linf, 0.1, np.inf), (pgd_l2, 0.6, 2), (pgd_l1, 1.5, 1)])
def test_attacks_stay_feasible_and_raise_the_loss(attack, eps, order):
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.uniform(0, 1, size=(16, 4)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, size=16))
    adv = attack(_loss, x, y, jax.random.key(3), eps=eps, steps=6)
    delta = np.asarray(adv - x)
    assert np.all(np.linalg.norm(delta, ord=order, axis=1) <= eps * (1 + 1e-5) + 1e-6)
    assert np.all(np.asarray(adv) >= -1e-7) and np.all(np.asarray(adv) <= 1 + 1e-7)
    assert float(jnp.mean(_loss(adv, y))) > float(jnp.mean(_loss(x, y))) + 1e-3
    # eps = 0 leaves the input alone
    np.testing.assert_allclose(attack(_loss, x, y, jax.random.key(3), eps=0.0, steps=3), x, atol=1e-7)


def test_attacks_on_image_shaped_inputs_and_zero_gradient():
    x = jnp.full((3, 2, 2), 0.5)
    y = jnp.zeros(3, jnp.int32)
    zero = lambda x, y: jnp.zeros(x.shape[0])
    for attack in (pgd_linf, pgd_l2, pgd_l1):
        out = attack(zero, x, y, jax.random.key(0), eps=0.3, steps=2, random_start=False)
        assert out.shape == x.shape and bool(jnp.all(jnp.isfinite(out)))
        np.testing.assert_allclose(out, x)


def test_attack_errors_name_the_argument():
    with pytest.raises(ValueError, match="y"):
        pgd_linf(_loss, jnp.zeros((4, 4)), jnp.zeros(3, jnp.int32), jax.random.key(0))
    with pytest.raises(ValueError, match="x"):
        pgd_l2(_loss, jnp.zeros(4), jnp.zeros(4, jnp.int32), jax.random.key(0))
    with pytest.raises(TypeError, match="loss_fn"):
        pgd_l1(None, jnp.zeros((4, 4)), jnp.zeros(4, jnp.int32), jax.random.key(0))
