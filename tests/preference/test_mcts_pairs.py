"""mcts_step_pairs against a float64 NumPy loop written from MCTS-DPO's extraction rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.preference import dpo_loss, mcts_step_pairs


def pairs64(q, n, mask, choose_worst, cap):
    out = []
    for qd, nd, md in zip(q, n, mask):
        idx = [c for c in range(len(qd)) if md[c]]
        # Rank by Q, ties by visits (more first), then by index: sorted descending by (Q, visits, -index).
        ranked = sorted(idx, key=lambda c: (-qd[c], -nd[c], c))
        w = ranked[0] if idx else 0
        if choose_worst:
            lo = min(idx, key=lambda c: (qd[c], nd[c], c)) if idx else 0
        else:
            lo = ranked[1] if len(ranked) > 1 else 0
        c = 1.0 / (1.0 + nd[lo] / max(1.0, nd[w]))
        out.append((w, lo, min(1.0 - c, cap), len(idx) >= 2 and qd[w] > qd[lo]))
    return [np.array(x) for x in zip(*out)]


@pytest.mark.parametrize("choose_worst", [True, False])
@pytest.mark.parametrize("jit", [False, True])
def test_matches_numpy_loop(choose_worst, jit):
    rng = np.random.default_rng(0)
    q = np.round(rng.uniform(-1, 1, (12, 4)), 1)  # rounding makes ties
    n = rng.integers(0, 6, (12, 4))
    mask = rng.random((12, 4)) > 0.25
    mask[0] = [True, False, False, False]  # a lone sibling
    fn = jax.jit(mcts_step_pairs, static_argnames=("choose_worst",)) if jit else mcts_step_pairs
    got = fn(jnp.asarray(q, jnp.float32), jnp.asarray(n), jnp.asarray(mask), choose_worst=choose_worst,
             max_label_smoothing=0.4)
    w, lo, eps, valid = pairs64(q.astype(np.float32), n, mask, choose_worst, 0.4)
    np.testing.assert_array_equal(got.valid, valid)
    np.testing.assert_array_equal(np.where(valid, got.chosen, 0), np.where(valid, w, 0))
    np.testing.assert_array_equal(np.where(valid, got.rejected, 0), np.where(valid, lo, 0))
    np.testing.assert_allclose(np.where(valid, got.label_smoothing, 0), np.where(valid, eps, 0), rtol=1e-6)


def test_label_smoothing_feeds_dpo_and_vmaps():
    q = jnp.array([[[0.9, 0.1, -0.3], [0.2, 0.4, 0.0]]] * 3)
    n = jnp.array([[[9, 3, 1], [2, 2, 2]]] * 3)
    pairs = jax.vmap(mcts_step_pairs)(q, n)
    assert pairs.chosen.shape == (3, 2)
    np.testing.assert_allclose(pairs.label_smoothing[0], [1 - 1 / (1 + 1 / 9), 0.5], rtol=1e-6)  # 1 - 1/(1 + 2/2) = 0.5
    logps = jnp.zeros(2)
    loss = dpo_loss(logps + 1.0, logps, logps, logps, beta=1.0, label_smoothing=pairs.label_smoothing[0])
    assert jnp.all(jnp.isfinite(loss))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="visits"):
        mcts_step_pairs(jnp.zeros((2, 3)), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="mask"):
        mcts_step_pairs(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.ones((2, 4), bool))
    with pytest.raises(ValueError, match="max_label_smoothing"):
        mcts_step_pairs(jnp.zeros((2, 3)), jnp.zeros((2, 3)), max_label_smoothing=0.7)
