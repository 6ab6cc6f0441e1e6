"""Saito-discount ranking metrics and the SNIPS DCG vs float64 NumPy transcriptions of the definitions."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.counterfactual import dcg_at_k, map_at_k, recall_at_k, snips_dcg_at_k


def order64(score, mask):
    idx = [i for i in range(len(score)) if mask[i]]
    return sorted(idx, key=lambda i: (-score[i], i))  # decreasing score, ties by index


def disc(r):
    return 1.0 if r == 1 else math.log2(r)


def metrics64(rel, score, k, mask=None, theta=None, clip=0.01):
    mask = np.ones(len(rel), bool) if mask is None else mask
    ranked = order64(score, mask)[:k]
    total = sum(rel[i] for i in range(len(rel)) if mask[i])
    dcg = sum(rel[i] / disc(r) for r, i in enumerate(ranked, 1))
    hits = sum(rel[i] for i in ranked)
    ap, seen = 0.0, 0.0
    for r, i in enumerate(ranked, 1):
        seen += rel[i]
        ap += rel[i] * seen / r
    out = {"dcg": dcg, "ndcg": dcg / total if total > 0 else 0.0,
           "recall": hits / total if total > 0 else 0.0, "map": ap / total if total > 0 else 0.0}
    if theta is not None:
        w = [rel[i] / max(theta[i], clip) if mask[i] else 0.0 for i in range(len(rel))]
        num = sum(w[i] / disc(r) for r, i in enumerate(ranked, 1))
        out["snips"] = num / sum(w) if sum(w) > 0 else 0.0
    return out


def test_spec_check_values():
    # Values from the definitions in float64; sklearn's dcg_score is 1.5.
    rel, score = jnp.array([1, 0, 1, 0, 0]), jnp.array([.9, .8, .7, .1, .2])
    np.testing.assert_allclose(dcg_at_k(rel, score, k=3), 1.6309297535714575, rtol=1e-6)
    np.testing.assert_allclose(dcg_at_k(rel, score, k=3, normalize=True), 0.8154648767857288, rtol=1e-6)
    theta = jnp.array([.5, .2, .1, .9, .3])
    np.testing.assert_allclose(snips_dcg_at_k(rel, score, theta, k=3), 0.6924414613095479, rtol=1e-6)
    sk = sklearn.metrics.dcg_score(np.array([[1, 0, 1, 0, 0]]), np.array([[.9, .8, .7, .1, .2]]), k=3)
    assert abs(sk - 1.5) < 1e-12 and abs(float(dcg_at_k(rel, score, k=3)) - sk) > 0.1


@pytest.mark.parametrize("jit", [False, True])
def test_batched_masked_metrics_match_numpy(jit):
    rng = np.random.default_rng(0)
    users, n, k = 6, 12, 4
    rel = (rng.uniform(size=(users, n)) < 0.3).astype(np.float64)
    rel[0] = 0.0  # a user with no relevant item
    score = rng.normal(size=(users, n))
    score[1, :3] = score[1, 3]  # ties
    mask = rng.uniform(size=(users, n)) < 0.8
    theta = rng.uniform(0.001, 1.0, n)
    fns = {"dcg": dcg_at_k, "recall": recall_at_k, "map": map_at_k}
    if jit:
        fns = {name: jax.jit(f, static_argnames=("k", "normalize") if name == "dcg" else "k")
               for name, f in fns.items()}
        snips = jax.jit(snips_dcg_at_k, static_argnames="k")
    else:
        snips = snips_dcg_at_k
    f = lambda a: jnp.asarray(a, jnp.float32)
    m = jnp.asarray(mask)
    expected = [metrics64(rel[u], score[u], k, mask[u], theta) for u in range(users)]
    for name, fn in fns.items():
        got = fn(f(rel), f(score), k=k, mask=m)
        np.testing.assert_allclose(got, [e[name] for e in expected], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fns["dcg"](f(rel), f(score), k=k, mask=m, normalize=True),
                               [e["ndcg"] for e in expected], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(snips(f(rel), f(score), f(theta), k=k, mask=m),
                               [e["snips"] for e in expected], rtol=1e-5, atol=1e-7)
    assert float(fns["recall"](f(rel), f(score), k=k)[0]) == 0.0  # no relevant item: 0, not NaN
    vm = jax.vmap(lambda r, s: dcg_at_k(r, s, k=k))(f(rel), f(score))
    np.testing.assert_allclose(vm, dcg_at_k(f(rel), f(score), k=k), rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.bool_, (7,)), hnp.arrays(np.float32, (7,), elements=st.floats(-3, 3, width=32)),
       hnp.arrays(np.bool_, (7,)), hnp.arrays(np.float32, (7,), elements=st.floats(0, 1, width=32)),
       st.integers(1, 7))
def test_hypothesis_edge_cases(rel, score, mask, theta, k):
    rel64 = rel.astype(np.float64)
    e = metrics64(rel64, score.astype(np.float64), k, mask, theta.astype(np.float64))
    r, s, m, t = jnp.asarray(rel), jnp.asarray(score), jnp.asarray(mask), jnp.asarray(theta)
    np.testing.assert_allclose(dcg_at_k(r, s, k=k, mask=m, normalize=True), e["ndcg"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(recall_at_k(r, s, k=k, mask=m), e["recall"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(map_at_k(r, s, k=k, mask=m), e["map"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(snips_dcg_at_k(r, s, t, k=k, mask=m), e["snips"], rtol=1e-4, atol=1e-6)


def test_wrong_shapes_raise():
    rel, score = jnp.ones((2, 5)), jnp.zeros((2, 5))
    with pytest.raises(ValueError, match="scores"):
        dcg_at_k(rel, jnp.zeros((2, 4)), k=2)
    with pytest.raises(ValueError, match="k"):
        recall_at_k(rel, score, k=6)
    with pytest.raises(ValueError, match="propensity"):
        snips_dcg_at_k(rel, score, jnp.ones(3), k=2)
    with pytest.raises(ValueError, match="mask"):
        map_at_k(rel, score, k=2, mask=jnp.ones((2, 4), bool))
