"""Local Linear Attention: exact, chunked and decode paths against a float64 NumPy solve."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from bvjax import attention
from pallas_kernels import flash_lla
from tests.attention._np_reference import np_linear_regression, np_lla, np_softmax

lla = attention.local_linear_attention
chunked = attention.local_linear_attention_chunked
decode = attention.local_linear_attention_decode


def _qkv(seed, b=1, n=12, h=2, d=4, e=None, dtype=np.float32, spread=1.0):
    rng = np.random.default_rng(seed)
    q, k = (spread * rng.normal(size=(b, n, h, d)) for _ in range(2))
    v = rng.normal(size=(b, n, h, e or d))
    return tuple(x.astype(dtype) for x in (q, k, v))


# ------------------------------------------------------------------ exact reference


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("ridge", [1.0, "per_position"])
def test_exact_matches_numpy_float64(causal, ridge):
    q, k, v = _qkv(0, b=2, n=9, h=2, d=3, e=5, dtype=np.float64)
    if ridge == "per_position":
        ridge = np.random.default_rng(1).uniform(0.2, 5.0, size=(2, 9, 2))
    want = np_lla(q, k, v, ridge, causal=causal)
    with jax.enable_x64(True):
        got = lla(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), ridge=jnp.asarray(ridge) if np.ndim(ridge) else ridge,
                  causal=causal, implementation="xla")
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-9)


def test_exact_float32_and_ridge_b_n():
    q, k, v = _qkv(1, b=2, n=10, h=3, d=4)
    ridge = np.random.default_rng(2).uniform(1.0, 10.0, size=(2, 10)).astype(np.float32)
    got = jax.jit(lambda *a: lla(*a, ridge=jnp.asarray(ridge), implementation="xla"))(q, k, v)
    np.testing.assert_allclose(np.asarray(got), np_lla(q, k, v, ridge), rtol=1e-4, atol=1e-4)
    assert got.dtype == jnp.float32


def test_properties():
    q, k, v = _qkv(2, b=1, n=10, h=1, d=4)
    # Rows of S sum to 1: constant values come back unchanged.
    ones = np.ones_like(v)
    np.testing.assert_allclose(np.asarray(lla(q, k, ones, ridge=0.5)), 1.0, rtol=1e-5)
    # The first causal position returns v_0 for any ridge.
    np.testing.assert_allclose(np.asarray(lla(q, k, v, ridge=0.3))[:, 0], v[:, 0], rtol=1e-5, atol=1e-6)
    # ridge -> infinity gives softmax attention.
    np.testing.assert_allclose(np.asarray(lla(q, k, v, ridge=1e7)), np.asarray(attention.softmax_attention(q, k, v)),
                               atol=1e-5)
    # vmap over an extra axis equals the batched call.
    stacked = jax.vmap(lambda a, b_, c: lla(a, b_, c))(q[None], k[None], v[None])[0]
    np.testing.assert_allclose(np.asarray(stacked), np.asarray(lla(q, k, v)), rtol=1e-6, atol=1e-6)


def test_no_nan_on_extreme_inputs():
    q, k, v = _qkv(3, n=8, d=4)
    cases = {
        "huge logits": (1e3 * q, 1e3 * k, v),  # scores ~5e5: every row is one-hot before the fit
        "zeros": (np.zeros_like(q), np.zeros_like(k), v),  # Sigma = 0, mu = 0: plain mean
        "equal keys": (q, np.broadcast_to(k[:, :1], k.shape), v),
    }
    paths = {"exact": lambda *a: lla(*a, ridge=1.0), "chunked": lambda *a: chunked(*a, ridge=1.0, block_k=4)}
    for path, fn in paths.items():
        fwd = jax.jit(fn)
        grad = jax.jit(jax.grad(lambda *a, f=fn: jnp.sum(f(*a)), argnums=(0, 1, 2)))
        for name, (qq, kk, vv) in cases.items():
            assert np.all(np.isfinite(np.asarray(fwd(qq, kk, vv)))), (path, name)
            assert all(np.all(np.isfinite(np.asarray(g))) for g in grad(qq, kk, vv)), (path, name)
    np.testing.assert_allclose(np.asarray(lla(np.zeros_like(q), np.zeros_like(k), v))[0, :, 0],
                               np.cumsum(v[0, :, 0], 0) / np.arange(1, 9)[:, None], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- gradients


def _lla_fixed_ridge(q, k, v, ridge_omega, scale):
    """LLA with a constant slope penalty ridge_omega [B, N, H] (no omega dependence)."""
    n, d = q.shape[1], q.shape[3]
    s = scale * jnp.einsum("bihd,bjhd->bhij", q, k)
    mask = jnp.tril(jnp.ones((n, n), bool))
    w = jnp.where(mask, jnp.exp(s - jax.lax.stop_gradient(jnp.max(jnp.where(mask, s, -1e300), -1, keepdims=True))),
                  0.0)
    c = k[:, None, :, :, :].transpose(0, 3, 1, 2, 4) - q.transpose(0, 2, 1, 3)[:, :, :, None, :]  # [B,H,i,j,D]
    mu = jnp.einsum("bhij,bhijd->bhid", w, c)
    sig = jnp.einsum("bhij,bhijd,bhije->bhide", w, c, c)
    a = sig + ridge_omega.transpose(0, 2, 1)[..., None, None] * jnp.eye(d)
    rho = jnp.linalg.solve(a, mu[..., None])[..., 0]
    delta = jnp.sum(w, -1) - jnp.sum(mu * rho, -1)
    sm = w * (1 - jnp.einsum("bhid,bhijd->bhij", rho, c)) / delta[..., None]
    return jnp.einsum("bhij,bjhe->bihe", sm, v)


def test_full_gradient_is_the_true_gradient_and_stop_matches_fixed_ridge():
    q, k, v = _qkv(4, n=6, h=1, d=3, dtype=np.float64)
    ridge = 0.7
    with jax.enable_x64(True):
        q, k, v = map(jnp.asarray, (q, k, v))
        full = lambda *a: lla(*a, ridge=ridge, implementation="xla", ridge_grad="full")
        check_grads(full, (q, k, v), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)
        # The stop-gradient convention is the exact gradient of LLA whose penalty
        # lambda * omega is frozen at its value at the evaluation point.
        s = q.shape[3] ** -0.5
        scores = s * jnp.einsum("bihd,bjhd->bhij", q, k)
        mask = jnp.tril(jnp.ones((6, 6), bool))
        top = jnp.max(jnp.where(mask, scores, -jnp.inf), -1, keepdims=True)
        omega = jnp.sum(jnp.where(mask, jnp.exp(scores - top), 0.0), -1)  # [B, H, N]
        fixed = jax.jit(lambda *a: _lla_fixed_ridge(*a, ridge * omega.transpose(0, 2, 1), s))
        cot = jnp.asarray(np.random.default_rng(5).normal(size=v.shape))
        g_stop = jax.vjp(lambda *a: lla(*a, ridge=ridge, implementation="xla", ridge_grad="stop"), q, k, v)[1](cot)
        g_fixed = jax.vjp(fixed, q, k, v)[1](cot)
        g_full = jax.vjp(full, q, k, v)[1](cot)
        for a, b_ in zip(g_stop, g_fixed):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b_), rtol=1e-8, atol=1e-10)
        # The two conventions really differ in q and k (not in v).
        assert float(jnp.max(jnp.abs(g_full[0] - g_stop[0]))) > 1e-3
        np.testing.assert_allclose(np.asarray(g_full[2]), np.asarray(g_stop[2]), rtol=1e-10)


def test_ridge_gradient():
    q, k, v = _qkv(6, n=5, h=2, d=3, dtype=np.float64)
    with jax.enable_x64(True):
        ridge = jnp.asarray(np.random.default_rng(7).uniform(0.5, 3.0, size=(1, 5, 2)))
        check_grads(lambda r: lla(*map(jnp.asarray, (q, k, v)), ridge=r, implementation="xla"), (ridge,), order=1,
                    modes=("rev",), atol=1e-6, rtol=1e-6)


# ------------------------------------------------------------------------ chunked


@pytest.mark.parametrize("causal,precondition,block_q,block_k",
                         [(True, False, 128, 4), (False, True, 128, 5), (True, True, 64, 64), (True, False, 3, 4),
                          (True, True, 5, 2), (False, False, 4, 3)])
def test_chunked_matches_exact(causal, precondition, block_q, block_k):
    # 13 is not a multiple of any block: padded query rows and key tiles; blocks of 3-5
    # queries against tiles of 2-4 keys make causal blocks skip different tile counts.
    q, k, v = _qkv(8, b=2, n=13, h=2, d=4, e=3)
    exact = lla(q, k, v, ridge=2.0, causal=causal, implementation="xla")
    got = chunked(q, k, v, ridge=2.0, causal=causal, block_q=block_q, block_k=block_k, precondition=precondition)
    np.testing.assert_allclose(np.asarray(got), np.asarray(exact), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("ridge_grad,block_q,causal", [("full", 128, True), ("stop", 128, True), ("full", 4, True),
                                                       ("stop", 3, True), ("full", 5, False)])
def test_chunked_gradient_matches_exact_float64(ridge_grad, block_q, causal):
    q, k, v = _qkv(9, b=1, n=11, h=2, d=3, e=2, dtype=np.float64)
    rng = np.random.default_rng(10)
    with jax.enable_x64(True):
        args = tuple(map(jnp.asarray, (q, k, v))) + (jnp.asarray(rng.uniform(0.5, 4.0, size=(1, 11, 2))),)
        cot = jnp.asarray(rng.normal(size=(1, 11, 2, 2)))

        def vjp(fn):
            out, pull = jax.vjp(lambda q_, k_, v_, r_: fn(q_, k_, v_, ridge=r_, ridge_grad=ridge_grad,
                                                          causal=causal), *args)
            return out, pull(cot)

        out_c, g_c = vjp(lambda *a, **kw: chunked(*a, block_q=block_q, block_k=4, cg_iters=40, cg_tol=1e-13, **kw))
        out_e, g_e = vjp(lambda *a, **kw: lla(*a, implementation="xla", **kw))
        np.testing.assert_allclose(np.asarray(out_c), np.asarray(out_e), rtol=1e-9, atol=1e-10)
        for name, a, b_ in zip("qkvr", g_c, g_e):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b_), rtol=1e-8, atol=1e-9, err_msg=name)


def test_cg_iterations_needed_grow_as_the_ridge_shrinks():
    """CG error against the float64 solve grows as the ridge shrinks (docs/notes/lla.md)."""
    q, k, v = _qkv(19, n=128, h=1, d=16)
    with jax.enable_x64(True):
        args64 = tuple(jnp.asarray(np.asarray(x, np.float64)) for x in (q, k, v))
        for ridge, iters, tol in ((10.0, 8, 1e-5), (1.0, 16, 1e-4), (0.1, 32, 1e-3), (0.1, 8, None)):
            exact = np.asarray(lla(*args64, ridge=ridge, implementation="xla"))
            got = np.asarray(chunked(q, k, v, ridge=ridge, cg_iters=iters, cg_tol=0.0, block_k=64), np.float64)
            err = np.max(np.abs(got - exact))
            if tol is None:
                assert err > 0.1, err  # too few iterations for a small ridge: visibly wrong
            else:
                assert err < tol, (ridge, iters, err)


def test_chunked_memory_is_linear_in_n():
    """Compiled temp memory grows about linearly with N (the exact path's grows like N^2)."""

    def temp_bytes(n, fn):
        x = jax.ShapeDtypeStruct((1, n, 1, 8), jnp.float32)
        compiled = jax.jit(fn).lower(x, x, x).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    fn = lambda q, k, v: chunked(q, k, v, block_q=64, block_k=64, cg_iters=2)
    small, large = temp_bytes(256, fn), temp_bytes(1024, fn)
    assert large < 6 * small, (small, large)  # 4x the length: about 4x the memory
    exact = lambda q, k, v: lla(q, k, v, implementation="xla")
    assert temp_bytes(1024, exact) > 10 * temp_bytes(256, exact)  # quadratic: about 16x


# ------------------------------------------------------------------------- decode


@pytest.mark.parametrize("num_splits", [1, 3])
def test_decode_matches_exact_at_every_position(num_splits):
    q, k, v = _qkv(12, b=2, n=8, h=2, d=4, e=3)
    exact = np.asarray(lla(q, k, v, ridge=1.5, implementation="xla"))
    for t in range(8):
        lengths = jnp.array([t + 1, t + 1])
        got = decode(q[:, t], k, v, ridge=1.5, lengths=lengths, num_splits=num_splits)
        np.testing.assert_allclose(np.asarray(got), exact[:, t], rtol=5e-5, atol=5e-5)


def test_decode_float64_ragged_lengths_and_empty_cache():
    q, k, v = _qkv(13, b=3, n=6, h=1, d=3, dtype=np.float64)
    lengths = np.array([6, 2, 0])
    with jax.enable_x64(True):
        got = np.asarray(decode(jnp.asarray(q[:, 0]), jnp.asarray(k), jnp.asarray(v), ridge=jnp.array([1.0, 2.0, 3.0]),
                                lengths=jnp.asarray(lengths), num_splits=4))
    for bb, length in enumerate(lengths[:2]):
        # Query q[b, 0] against the first `length` cache entries: the last row of an LLA
        # over a sequence whose final query is q[b, 0].
        qq = np.concatenate([q[bb:bb + 1, :length - 1], q[bb:bb + 1, :1]], axis=1)
        want = np_lla(qq, k[bb:bb + 1, :length], v[bb:bb + 1, :length], [1.0, 2.0][bb])[0, -1]
        np.testing.assert_allclose(got[bb], want, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(got[2], 0.0)


def test_decode_gradients_finite_and_conventions():
    q, k, v = _qkv(14, b=1, n=6, h=1, d=3)
    grad = jax.jit(jax.grad(lambda q_, ridge_grad: jnp.sum(decode(q_, k, v, ridge=1.0, ridge_grad=ridge_grad))),
                   static_argnums=1)
    g_full, g_stop = grad(q[:, -1], "full"), grad(q[:, -1], "stop")
    assert np.all(np.isfinite(np.asarray(g_full))) and np.all(np.isfinite(np.asarray(g_stop)))
    assert not np.allclose(np.asarray(g_full), np.asarray(g_stop))
    exact = jax.jit(jax.grad(
        lambda qq: jnp.sum(lla(jnp.concatenate([q[:, :-1], qq[:, None]], 1), k, v, ridge=1.0)[:, -1])))
    np.testing.assert_allclose(np.asarray(g_full), np.asarray(exact(q[:, -1])), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------- references


@pytest.mark.parametrize("causal", [True, False])
def test_softmax_and_linear_regression_match_numpy(causal):
    q, k, v = _qkv(15, b=2, n=7, h=2, d=3, e=2, dtype=np.float64)
    with jax.enable_x64(True):
        args = tuple(map(jnp.asarray, (q, k, v)))
        np.testing.assert_allclose(np.asarray(attention.softmax_attention(*args, causal=causal)),
                                   np_softmax(q, k, v, causal=causal), rtol=1e-10, atol=1e-12)
        ridge = np.random.default_rng(16).uniform(0.5, 2.0, size=(2, 7, 2))
        np.testing.assert_allclose(
            np.asarray(attention.linear_regression_attention(*args, ridge=jnp.asarray(ridge), causal=causal)),
            np_linear_regression(q, k, v, ridge, causal=causal), rtol=1e-9, atol=1e-10)


def test_softmax_no_nan_on_huge_logits():
    q, k, v = _qkv(17)
    out = attention.softmax_attention(1e15 * q, 1e15 * k, v)  # scores ~1e30: the clip edge
    assert np.all(np.isfinite(np.asarray(out)))


# ----------------------------------------------------------------- contract errors


def test_shape_and_value_errors():
    q, k, v = _qkv(18, n=4)
    with pytest.raises(ValueError, match=r"k: expected \[B, N, H, D\]"):
        lla(q, k[:, :3], v)
    with pytest.raises(ValueError, match="ridge"):
        lla(q, k, v, ridge=0.0)
    with pytest.raises(ValueError, match="ridge"):
        lla(q, k, v, ridge=jnp.ones((1, 5)))
    with pytest.raises(ValueError, match="ridge_grad"):
        chunked(q, k, v, ridge_grad="none")
    with pytest.raises(ValueError, match="implementation"):
        lla(q, k, v, implementation="triton")
    with pytest.raises(ValueError, match="lengths"):
        decode(q[:, 0], k, v, lengths=jnp.array([1, 2]))
    with pytest.raises(ValueError, match="block_sizes"):
        flash_lla.flash_lla(jnp.zeros((1, 8, 4)), jnp.zeros((1, 8, 4)), jnp.zeros((1, 8, 4)), jnp.ones((1, 8)),
                            block_sizes=flash_lla.BlockSizes(block_q=12))
