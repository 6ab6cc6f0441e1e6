"""MQSA: the L-query against a NumPy loop, a block against a NumPy re-implementation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import attention


def np_window_mean(h, mask, window):
    b, n, _ = h.shape
    out = np.zeros_like(h, dtype=np.float64)
    for bb in range(b):
        for t in range(n):
            idx = [s for s in range(max(0, t - window + 1), t + 1) if mask[bb, s]]
            if idx:
                out[bb, t] = h[bb, idx].mean(0)
    return out


@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_window_mean_query_matches_numpy(window):
    rng = np.random.default_rng(window)
    h = rng.normal(size=(2, 6, 3)).astype(np.float32)
    mask = rng.random((2, 6)) < 0.7
    mask[1] = False  # a sequence with no items: zeros, not NaN
    got = attention.window_mean_query(jnp.asarray(h), jnp.asarray(mask), window=window)
    np.testing.assert_allclose(np.asarray(got), np_window_mean(h, mask, window), rtol=1e-6, atol=1e-6)
    if window == 1:
        np.testing.assert_allclose(np.asarray(got), h * mask[..., None], rtol=1e-6)


def test_window_mean_query_masked_nan_and_long_sequences():
    """A NaN in a masked position reaches no mean; on a long sequence of large values the window sums
    stay exact (no running-sum cancellation): float64 NumPy reference."""
    rng = np.random.default_rng(3)
    h = (1e6 + rng.normal(size=(1, 4096, 2))).astype(np.float32)
    mask = rng.random((1, 4096)) < 0.8
    h_nan = h.copy()
    h_nan[~mask] = np.nan
    got = jax.jit(attention.window_mean_query, static_argnames="window")(jnp.asarray(h_nan), jnp.asarray(mask),
                                                                        window=4)
    want = np_window_mean(h.astype(np.float64), mask, 4)
    assert np.all(np.isfinite(np.asarray(got)))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=5e-7)
    # window longer than the sequence, and N = 1
    short = jnp.asarray(h[:, :3])
    np.testing.assert_allclose(attention.window_mean_query(short, window=10),
                               np_window_mean(h[:, :3].astype(np.float64), np.ones((1, 3), bool), 10), rtol=1e-6)


def _np_layer_norm(x, p, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p["scale"] + p["bias"]


def _np_dense(x, p):
    return x @ np.asarray(p["kernel"], np.float64) + np.asarray(p["bias"], np.float64)


def np_block(params, h, mask, window, num_heads):
    """The block's equations in float64 NumPy, with causal softmax attention per head."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    b, n, d = h.shape
    query = _np_layer_norm(np_window_mean(h, mask, window), p["query_norm"])
    q, k, v = _np_dense(query, p["query"]), _np_dense(h, p["key"]), _np_dense(h, p["value"])
    dh = d // num_heads
    a = np.zeros((b, n, d))
    for bb in range(b):
        for hh in range(num_heads):
            sl = slice(hh * dh, (hh + 1) * dh)
            for t in range(n):
                s = k[bb, :t + 1, sl] @ q[bb, t, sl] / np.sqrt(dh)
                w = np.exp(s - s.max())
                a[bb, t, sl] = w @ v[bb, :t + 1, sl] / w.sum()
    z = _np_layer_norm(a + query, p["attention_norm"])
    f = _np_dense(np.maximum(_np_dense(z, p["ffn_1"]), 0.0), p["ffn_2"])
    return (z + f) * mask[..., None]


@pytest.mark.parametrize("window,num_heads", [(1, 1), (3, 2)])
def test_block_matches_numpy(window, num_heads):
    rng = np.random.default_rng(10 + window)
    h = rng.normal(size=(2, 7, 8)).astype(np.float32)
    mask = np.arange(7)[None] < np.array([[7], [4]])  # right-padded
    block = attention.LQuerySelfAttention(num_heads=num_heads, window=window)
    params = jax.jit(block.init)(jax.random.key(0), jnp.asarray(h), jnp.asarray(mask))["params"]
    got = jax.jit(block.apply)({"params": params}, jnp.asarray(h), jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(got), np_block(params, h.astype(np.float64), mask, window, num_heads),
                               rtol=1e-4, atol=1e-4)


def test_mqsa_combination_padding_and_lla():
    rng = np.random.default_rng(3)
    h = jnp.asarray(rng.normal(size=(2, 6, 8)), jnp.float32)
    mask = jnp.arange(6)[None] < jnp.array([[6], [4]])
    model = attention.MQSA(num_heads=2, long_window=3, alpha=0.3, dropout_rate=0.1)
    params = jax.jit(model.init)(jax.random.key(0), h, mask)
    apply = jax.jit(model.apply, static_argnames="deterministic")
    combined, short, long = apply(params, h, mask)
    np.testing.assert_allclose(np.asarray(combined), np.asarray(0.3 * short + 0.7 * long), rtol=1e-6, atol=1e-6)
    # Right padding: valid positions do not depend on what sits in the padding.
    h2 = h.at[1, 4:].set(100.0)
    combined2 = apply(params, h2, mask)[0]
    np.testing.assert_allclose(np.asarray(combined2[1, :4]), np.asarray(combined[1, :4]), rtol=1e-5, atol=1e-5)
    # Dropout is active in training mode; gradients are finite.
    train = apply(params, h, mask, deterministic=False, rngs={"dropout": jax.random.key(1)})[0]
    assert not np.allclose(np.asarray(train), np.asarray(combined))
    grads = jax.jit(jax.grad(lambda p: jnp.sum(apply(p, h, mask)[0] ** 2)))(params)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(grads))
    # The same module on Local Linear Attention.
    lla_model = attention.MQSA(num_heads=2, attention="lla", ridge=5.0)
    out = jax.jit(lambda key: lla_model.apply(lla_model.init(key, h, mask), h, mask)[0])(jax.random.key(2))
    assert out.shape == h.shape and np.all(np.isfinite(np.asarray(out)))


def test_errors():
    h = jnp.zeros((1, 4, 6))
    with pytest.raises(ValueError, match="mask"):
        attention.window_mean_query(h, jnp.ones((1, 5), bool))
    with pytest.raises(ValueError, match="attention"):
        attention.MQSA(attention="linear").init(jax.random.key(0), h)
    with pytest.raises(ValueError, match="num_heads"):
        attention.LQuerySelfAttention(num_heads=4).init(jax.random.key(0), h)
