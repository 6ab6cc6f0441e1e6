"""CHIPS scores vs float64 NumPy loops; the JL sketch's error against the exact score as k grows."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import enable_x64
from jax.test_util import check_grads
from scipy import stats

from bvjax.selection import (
    chips_scores,
    infonce_curvature,
    jl_projection,
    learnability_weight,
    newton_alignment,
    relevance_weight,
)


def curvature64(g, p, pos, alpha, lam):
    r, c, d = g.shape
    phi_pos = sum(np.outer(g[i, pos[i]], g[i, pos[i]]) for i in range(r)) / r
    phi_neg = np.zeros((d, d))
    for i in range(r):
        mean = sum(p[i, j] * g[i, j] for j in range(c))
        phi_neg += sum(p[i, j] * np.outer(g[i, j], g[i, j]) for j in range(c)) - np.outer(mean, mean)
    return (1 - alpha) * phi_pos + alpha * phi_neg / r + lam * np.eye(d)


def learn64(s, scale):
    b = s.shape[0]
    out = []
    for i in range(b):
        row = np.exp(scale * s[i] - np.max(scale * s[i]))
        col = np.exp(scale * s[:, i] - np.max(scale * s[:, i]))
        pc = 0.5 * (row[i] / row.sum() + col[i] / col.sum())
        hard = max(max(s[i, j], s[j, i]) for j in range(b) if j != i)
        out.append((1 - pc) * (1 + 1 / (1 + math.exp(s[i, i] - hard))))
    return np.array(out)


def rel64(x, y, mx, my, beta):
    cos = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.array([1 / (1 + math.exp(-((1 - beta) * cos(a, mx) + beta * cos(b, my)))) for a, b in zip(x, y)])


def _problem(seed=0, n=12, b=6, p=9):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, p))
    u = rng.normal(size=p)
    lg = rng.normal(size=(b, b, p))
    z = rng.normal(size=(b, b)) * 2
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    return g, u, lg, probs


@pytest.mark.parametrize("jit", [False, True])
def test_scores_match_numpy(jit):
    g, u, lg, probs = _problem()
    f = lambda a: jnp.asarray(a, jnp.float32)
    alpha, lam = 0.7, 0.1
    m64 = curvature64(lg, probs, np.arange(6), alpha, lam)
    curv = jax.jit(infonce_curvature) if jit else infonce_curvature
    np.testing.assert_allclose(curv(f(lg), f(probs), alpha=alpha, damping=lam), m64, rtol=1e-4, atol=1e-4)
    align = jax.jit(newton_alignment) if jit else newton_alignment
    np.testing.assert_allclose(align(f(g), f(m64), f(u)), g @ np.linalg.solve(m64, u), rtol=1e-3, atol=1e-4)
    rng = np.random.default_rng(1)
    s = np.tanh(rng.normal(size=(6, 6)))
    learn = jax.jit(learnability_weight) if jit else learnability_weight
    np.testing.assert_allclose(learn(f(s), logit_scale=5.0), learn64(s, 5.0), rtol=1e-5)
    x, y, mx, my = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)), rng.normal(size=4), rng.normal(size=4)
    wr = relevance_weight(f(x), f(y), f(mx), f(my), beta=0.3)
    np.testing.assert_allclose(wr, rel64(x, y, mx, my, 0.3), rtol=1e-5)
    wl = np.linspace(0.1, 1.5, 12)
    scores = jax.jit(chips_scores) if jit else chips_scores
    out = scores(f(g), f(u), f(lg), f(probs), learnability=f(wl), relevance=wr, alpha=alpha, damping=lam)
    exact = g @ np.linalg.solve(m64, u)
    np.testing.assert_allclose(out.alignment, exact, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out.utility, exact * wl * np.asarray(wr), rtol=1e-3, atol=1e-4)
    # The sketched score is the same formula on R g, R u and R g_rc.
    r = np.asarray(jl_projection(jax.random.key(3), sketch_dim=5, num_params=9))
    sk = scores(f(g), f(u), f(lg), f(probs), projection=f(r), alpha=alpha, damping=lam)
    m_sk = curvature64(lg @ r.T, probs, np.arange(6), alpha, lam)
    np.testing.assert_allclose(sk.alignment, (g @ r.T) @ np.linalg.solve(m_sk, r @ u), rtol=1e-3, atol=1e-3)


def test_symmetric_rows_with_positives():
    # Text->image rows appended: positives name each row's positive column.
    _, _, lg, probs = _problem(2, b=4)
    lg2 = np.concatenate([lg, lg.transpose(1, 0, 2)], 0)
    p2 = np.concatenate([probs, probs.T / probs.T.sum(1, keepdims=True)], 0)
    pos = np.concatenate([np.arange(4), np.arange(4)])
    got = infonce_curvature(jnp.asarray(lg2), jnp.asarray(p2), jnp.asarray(pos), alpha=0.6, damping=0.0)
    np.testing.assert_allclose(got, curvature64(lg2, p2, pos, 0.6, 0.0), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="positives"):
        infonce_curvature(jnp.asarray(lg2), jnp.asarray(p2))


def test_sketch_error_falls_with_sketch_dim():
    """JL sketch: the sketched alignment tends to the exact one as k grows (R^T R -> I)."""
    g, u, lg, probs = _problem(4, n=60, b=8, p=24)
    f = lambda a: jnp.asarray(a, jnp.float32)
    exact = np.asarray(chips_scores(f(g), f(u), f(lg), f(probs), damping=0.5).alignment)

    def sketched(keys, k):
        return jax.vmap(lambda key: chips_scores(f(g), f(u), f(lg), f(probs), damping=0.5,
                                                 projection=jl_projection(key, sketch_dim=k, num_params=24)).alignment)(keys)

    errs, rhos = [], []
    for k in (4, 32, 256, 2048):
        a = np.asarray(jax.jit(sketched, static_argnums=1)(jax.random.split(jax.random.key(0), 4), k))
        errs.append(np.mean(np.linalg.norm(a - exact, axis=1) / np.linalg.norm(exact)))
        rhos.append(np.mean([stats.spearmanr(row, exact).statistic for row in a]))
    assert all(b < a for a, b in itertools.pairwise(errs)), errs
    assert errs[-1] < 0.15 and rhos[-1] > 0.98 and rhos[0] < rhos[-1], (errs, rhos)


def test_edge_cases_and_gradients():
    # One pair: no negatives, p_corr = 1, weight 0 (finite).
    assert float(learnability_weight(jnp.array([[0.3]]))[0]) == 0.0
    assert np.isfinite(relevance_weight(jnp.zeros((1, 2)), jnp.ones((1, 2)), jnp.ones(2), jnp.ones(2))).all()
    with pytest.raises(ValueError, match="target_grad"):
        chips_scores(jnp.ones((3, 4)), jnp.ones(5), jnp.ones((2, 2, 4)), jnp.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="projection"):
        chips_scores(jnp.ones((3, 4)), jnp.ones(4), jnp.ones((2, 2, 4)), jnp.full((2, 2), 0.5),
                     projection=jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="damping"):
        chips_scores(jnp.ones((3, 4)), jnp.ones(4), jnp.ones((2, 2, 4)), jnp.full((2, 2), 0.5), damping=0.0)
    with enable_x64(True):
        g, u, lg, probs = (jnp.asarray(a) for a in _problem(5, n=4, b=3, p=4))
        check_grads(jax.jit(lambda g, u, lg: chips_scores(g, u, lg, probs, damping=0.3).utility.sum()),
                    (g, u, lg), order=1, modes=("rev",))
        s = jnp.asarray(np.tanh(np.random.default_rng(6).normal(size=(4, 4))))
        check_grads(jax.jit(lambda s: learnability_weight(s, logit_scale=3.0).sum()), (s,), order=1, modes=("rev",))
        x = jnp.asarray(np.random.default_rng(7).normal(size=(3, 4)))
        check_grads(jax.jit(lambda x: relevance_weight(x, x[::-1], x[0], x[1]).sum()), (x,), order=1,
                    modes=("rev",))
