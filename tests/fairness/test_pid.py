"""PID of disparity vs float64 NumPy brute force on a grid, the paper's canonical examples and identities."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.fairness import conditional_mutual_information, mutual_information, pid_disparity


def mi64(pxy):
    pxy = pxy / pxy.sum()
    px, py = pxy.sum(1), pxy.sum(0)
    out = 0.0
    for x in range(pxy.shape[0]):
        for y in range(pxy.shape[1]):
            if pxy[x, y] > 0:
                out += pxy[x, y] * math.log2(pxy[x, y] / (px[x] * py[y]))
    return out


def cmi64(p):
    p = p / p.sum()
    return sum(p[c].sum() * mi64(p[c]) for c in range(p.shape[0]) if p[c].sum() > 0)


def unique_bruteforce(p, n=201, zooms=8):
    """min over Δ_P of I_Q(Z;Ŷ|S) by a zooming grid over (t_0, t_1), in float64."""
    p = p / p.sum()
    pz = p.sum(axis=(0, 2))
    a = np.array([p[:, z, 1].sum() / pz[z] for z in range(2)])
    b = np.array([p[1, z, :].sum() / pz[z] for z in range(2)])
    lo, hi = np.maximum(0, a + b - 1), np.minimum(a, b)

    def value(t0, t1):
        q = np.zeros((2, 2, 2))
        for z, t in ((0, t0), (1, t1)):
            q[1, z, 1], q[1, z, 0], q[0, z, 1], q[0, z, 0] = t, b[z] - t, a[z] - t, 1 - a[z] - b[z] + t
            q[:, z, :] *= pz[z]
        return cmi64(np.maximum(q, 0))

    glo, ghi, best = lo.copy(), hi.copy(), np.inf
    for _ in range(zooms):
        g0, g1 = np.linspace(glo[0], ghi[0], n), np.linspace(glo[1], ghi[1], n)
        vals = np.array([[value(x, y) for y in g1] for x in g0])
        i, j = np.unravel_index(np.argmin(vals), vals.shape)
        best = min(best, vals[i, j])
        w = (ghi - glo) / n * 4
        centre = np.array([g0[i], g1[j]])
        glo, ghi = np.maximum(lo, centre - w), np.minimum(hi, centre + w)
    return best


def _from_fn(f):
    """P(s, z, ŷ) with S, Ŷ iid Bernoulli(1/2) and Z = f(ŷ, s)."""
    p = np.zeros((2, 2, 2))
    for s in range(2):
        for y in range(2):
            p[s, f(y, s), y] += 0.25
    return p


@pytest.mark.parametrize("seed", [0, 3])
def test_pid_matches_bruteforce_grid(seed):
    p = np.random.default_rng(seed).dirichlet(np.ones(8)).reshape(2, 2, 2)
    uni = unique_bruteforce(p, n=41, zooms=6)
    glob, local = mi64(p.sum(0)), cmi64(p)
    with jax.enable_x64(True):
        r = pid_disparity(jnp.asarray(p))
        rj = jax.jit(pid_disparity)(jnp.asarray(p))
    np.testing.assert_allclose(float(r.unique), uni, atol=1e-9)
    np.testing.assert_allclose(float(r.redundant), glob - uni, atol=1e-9)
    np.testing.assert_allclose(float(r.masked), local - uni, atol=1e-9)
    np.testing.assert_allclose(float(r.global_disparity), glob, atol=1e-12)
    np.testing.assert_allclose(float(r.local_disparity), local, atol=1e-12)
    np.testing.assert_allclose(float(r.unique_client), mi64(p.sum(2).T) - (glob - uni), atol=1e-9)
    for a, b in zip(r, rj):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)


def test_pid_spec_random_example():
    # Computed with the reference definitions: default_rng(0).dirichlet(ones(8)) gives Uni ~ 0, Red 0.015690,
    # Syn 0.027992 (an exact 2-parameter minimisation, confirmed by a 401² grid search).
    p = np.random.default_rng(0).dirichlet(np.ones(8)).reshape(2, 2, 2)
    with jax.enable_x64(True):
        r = pid_disparity(jnp.asarray(p))
    assert abs(float(r.unique)) < 1e-7
    np.testing.assert_allclose([float(r.redundant), float(r.masked)], [0.015690, 0.027992], atol=1e-6)


@pytest.mark.parametrize("name, f, expected", [
    ("xor: pure masked", lambda y, s: y ^ s, (0.0, 0.0, 1.0)),
    ("Z = Ŷ, S independent: pure unique", lambda y, s: y, (1.0, 0.0, 0.0)),
    ("Z = S, Ŷ independent: nothing", lambda y, s: s, (0.0, 0.0, 0.0)),
])
def test_canonical_examples(name, f, expected):
    r = pid_disparity(jnp.asarray(_from_fn(f), jnp.float32))
    np.testing.assert_allclose([float(r.unique), float(r.redundant), float(r.masked)], expected, atol=1e-5,
                               err_msg=name)


def test_pure_redundant_z_equals_yhat_equals_s():
    p = np.zeros((2, 2, 2))
    p[0, 0, 0] = p[1, 1, 1] = 0.5
    r = pid_disparity(jnp.asarray(p, jnp.float32))
    np.testing.assert_allclose([float(r.unique), float(r.redundant), float(r.masked)], [0, 1, 0], atol=1e-5)
    assert float(r.global_disparity) == pytest.approx(1.0) and float(r.local_disparity) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.05, 1.0, 5.0]), st.integers(0, 8))
def test_identities_and_nonnegativity(seed, conc, zeros):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(8, conc))
    p[rng.permutation(8)[:zeros]] = 0.0  # zero cells, whole groups, or an all-zero table
    with jax.enable_x64(True):
        r = pid_disparity(jnp.asarray(p.reshape(2, 2, 2)))
    vals = np.array([float(v) for v in r])
    assert np.all(np.isfinite(vals)) and np.all(vals >= 0)
    if p.sum() == 0:
        assert np.all(vals == 0)
        return
    p = p.reshape(2, 2, 2)
    np.testing.assert_allclose(vals[0] + vals[1], mi64(p.sum(0)), atol=1e-10)   # Uni + Red = I(Z;Ŷ)
    np.testing.assert_allclose(vals[0] + vals[2], cmi64(p), atol=1e-10)          # Uni + Syn = I(Z;Ŷ|S)


def test_mutual_information_matches_numpy_and_units():
    rng = np.random.default_rng(1)
    pxy, pcxy = rng.dirichlet(np.ones(12)).reshape(3, 4), rng.dirichlet(np.ones(18)).reshape(3, 2, 3)
    with jax.enable_x64(True):
        np.testing.assert_allclose(float(mutual_information(jnp.asarray(pxy))), mi64(pxy), rtol=1e-12)
        np.testing.assert_allclose(float(mutual_information(jnp.asarray(pxy), unit="nats")),
                                   mi64(pxy) * math.log(2), rtol=1e-12)
        np.testing.assert_allclose(float(jax.jit(conditional_mutual_information)(jnp.asarray(pcxy))),
                                   cmi64(pcxy), rtol=1e-12)
        # counts are normalised
        np.testing.assert_allclose(float(mutual_information(jnp.asarray(pxy * 37))), mi64(pxy), rtol=1e-12)
    assert float(mutual_information(jnp.zeros((2, 2)))) == 0.0
    assert float(conditional_mutual_information(jnp.zeros((2, 2, 2)))) == 0.0


def test_mutual_information_gradient():
    p = jnp.asarray(np.random.default_rng(2).dirichlet(np.ones(6)).reshape(2, 3))
    with jax.enable_x64(True):
        jax.test_util.check_grads(lambda x: mutual_information(x, unit="nats"), (p.astype(jnp.float64),),
                                  order=1, modes=("rev",))


def test_bad_unit():
    with pytest.raises(ValueError, match="unit"):
        mutual_information(jnp.ones((2, 2)), unit="dits")


def test_vmap_matches_loop():
    ps = jnp.asarray(np.random.default_rng(7).dirichlet(np.ones(8), size=4).reshape(4, 2, 2, 2), jnp.float32)
    batched = jax.vmap(pid_disparity)(ps)
    for i in range(4):
        single = pid_disparity(ps[i])
        for a, b in zip(batched, single):
            np.testing.assert_allclose(float(a[i]), float(b), atol=1e-5)
