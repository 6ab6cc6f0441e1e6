"""MQSA-TED's transition counts and TED loss vs float64 NumPy loops, empty rows, gradients."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import enable_x64
from jax.test_util import check_grads

from bvjax.distill import ted_loss, transition_counts


def counts64(seqs, num_items):
    c = np.zeros((num_items, num_items))
    for row in seqs:
        for a, b in itertools.pairwise(row):
            if 0 <= a < num_items and 0 <= b < num_items:
                c[a, b] += 1
    return c


def ted64(e, items, rows, tau, scale, empty):
    out = []
    for i, row in zip(items, rows):
        top = row.max()
        t = np.exp(row / (top if top > 0 else 1.0) / tau)
        t /= t.sum()
        logits = scale * e @ e[i] / tau
        logs = logits - logits.max() - np.log(np.sum(np.exp(logits - logits.max())))
        loss = -np.sum(t * logs)
        out.append(0.0 if (empty == "zero" and top == 0) else loss)
    return np.array(out)


@pytest.mark.parametrize("jit", [False, True])
def test_counts_and_loss_match_numpy(jit):
    rng = np.random.default_rng(0)
    num_items, d = 7, 4
    seqs = rng.integers(0, num_items + 1, size=(5, 9))  # id 7 = padding
    counts = jax.jit(transition_counts, static_argnames="num_items") if jit else transition_counts
    c = counts(jnp.asarray(seqs, jnp.int32), num_items=num_items)
    np.testing.assert_allclose(c, counts64(seqs, num_items))
    e = rng.normal(size=(num_items, d)) * 0.5
    items = np.array([0, 3, 3, 6])
    rows = counts64(seqs, num_items)[items]
    rows[1] = 0.0  # an item with no outgoing transition
    loss = jax.jit(ted_loss, static_argnames="empty_rows") if jit else ted_loss
    for empty in ("uniform", "zero"):
        got = loss(jnp.asarray(e, jnp.float32), jnp.asarray(items), jnp.asarray(rows, jnp.float32),
                   empty_rows=empty)
        np.testing.assert_allclose(got, ted64(e, items, rows, 0.1, math.sqrt(d), empty), rtol=1e-4, atol=1e-4)
    # A mask drops positions; explicit query embeddings replace E[items].
    mask = np.ones(seqs.shape, bool)
    mask[:, -1] = False
    np.testing.assert_allclose(transition_counts(jnp.asarray(seqs), jnp.asarray(mask), num_items=num_items),
                               counts64(seqs[:, :-1], num_items))
    q = jnp.asarray(e[items] * 2, jnp.float32)
    np.testing.assert_allclose(ted_loss(jnp.asarray(e, jnp.float32), jnp.asarray(items), jnp.asarray(rows, jnp.float32),
                                        query_embeddings=q, scale=1.0),
                               ted64(e, items, rows, 0.1, 2.0, "uniform"), rtol=1e-4, atol=1e-4)


def test_ted_pulls_successors_together():
    """Minimising TED makes items that follow each other more similar than the other pairs."""
    num_items = 6
    seqs = jnp.array([[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]])
    c = transition_counts(seqs, num_items=num_items)
    items = jnp.arange(num_items)
    e0 = jax.random.normal(jax.random.key(0), (num_items, 8)) * 0.1
    opt = optax.adam(0.05)

    def step(carry, _):
        e, state = carry
        u, state = opt.update(jax.grad(lambda e: ted_loss(e, items, c[items]).mean())(e), state)
        return (optax.apply_updates(e, u), state), None

    (e, _), _ = jax.jit(lambda e: jax.lax.scan(step, (e, opt.init(e)), None, length=200))(e0)
    neighbour = np.asarray((c + c.T) > 0)
    other = ~neighbour & ~np.eye(num_items, dtype=bool)
    gap = lambda e: np.asarray(e @ e.T)[neighbour].mean() - np.asarray(e @ e.T)[other].mean()
    # The student softmax includes the item itself (as the official code does), so its own
    # similarity competes with its successor's and the loss cannot reach 0; the gap still grows.
    assert gap(e) > 3 * abs(gap(e0))
    assert ted_loss(e, items, c[items]).mean() < 0.6 * ted_loss(e0, items, c[items]).mean()


def test_shapes_and_gradients():
    with pytest.raises(ValueError, match="transition_rows"):
        ted_loss(jnp.ones((5, 3)), jnp.array([0, 1]), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="transition_rows: expected \\[M, I\\] with M=3"):
        ted_loss(jnp.ones((5, 3)), jnp.array([0, 1, 2]), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="empty_rows"):
        ted_loss(jnp.ones((5, 3)), jnp.array([0, 1]), jnp.ones((2, 5)), empty_rows="mask")
    with enable_x64(True):
        rng = np.random.default_rng(1)
        e = jnp.asarray(rng.normal(size=(5, 3)))
        rows = jnp.asarray(rng.integers(0, 3, size=(2, 5)).astype(float))
        check_grads(jax.jit(lambda e: ted_loss(e, jnp.array([1, 4]), rows, temperature=0.5).sum()), (e,), order=1,
                    modes=("rev",))
