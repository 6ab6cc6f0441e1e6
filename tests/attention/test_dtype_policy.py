"""The dtype policy on every attention path: float64 in, float64 computed (against a float64
NumPy reference at a tight tolerance); half precision computed in float32 and cast back;
mixed inputs promote."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import attention
from tests.attention._np_reference import np_linear_regression, np_lla, np_softmax

B, N, H, D, E = 1, 10, 2, 3, 2
RIDGE = 0.5


def _qkv(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, N, H, D)), rng.standard_normal((B, N, H, D)), rng.standard_normal((B, N, H, E)))


def _decode_all_rows(q, k, v, **kw):
    """Decode every causal row i (query q_i against the cache prefix of length i + 1)."""
    lengths = jnp.arange(1, N + 1)
    rep = lambda x: jnp.repeat(x, N, axis=0)  # one cache per row
    o = attention.local_linear_attention_decode(q[0], rep(k), rep(v), lengths=lengths, num_splits=3, **kw)
    return o[None]


PATHS = {
    "exact": (lambda q, k, v: attention.local_linear_attention(q, k, v, ridge=RIDGE, implementation="xla"), "lla"),
    "chunked": (lambda q, k, v: attention.local_linear_attention_chunked(q, k, v, ridge=RIDGE, block_q=4, block_k=4,
                                                                         cg_iters=3 * D, cg_tol=0.0), "lla"),
    "decode": (lambda q, k, v: _decode_all_rows(q, k, v, ridge=RIDGE), "lla"),
    "softmax": (lambda q, k, v: attention.softmax_attention(q, k, v), "softmax"),
    "linear_regression": (lambda q, k, v: attention.linear_regression_attention(q, k, v, ridge=RIDGE), "lr"),
}


def _reference(kind, q, k, v):
    if kind == "lla":
        return np_lla(q, k, v, RIDGE)
    if kind == "softmax":
        return np_softmax(q, k, v)
    return np_linear_regression(q, k, v, RIDGE)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_float64_in_float64_computed(path):
    fn, kind = PATHS[path]
    q, k, v = _qkv(1)
    want = _reference(kind, q, k, v)
    with jax.enable_x64(True):
        args = tuple(jnp.asarray(x, jnp.float64) for x in (q, k, v))
        for f in (fn, jax.jit(fn)):
            got = f(*args)
            assert got.dtype == jnp.float64, path
            # float32 arithmetic would be off by ~1e-6 here; float64 reaches ~1e-12.
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-9, err_msg=path)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_mixed_float32_and_float64_promote_to_float64(path):
    fn, kind = PATHS[path]
    q, k, v = _qkv(2)
    q32 = q.astype(np.float32)
    want = _reference(kind, q32.astype(np.float64), k, v)
    with jax.enable_x64(True):
        got = jax.jit(fn)(jnp.asarray(q32), jnp.asarray(k, jnp.float64), jnp.asarray(v, jnp.float64))
        assert got.dtype == jnp.float64, path
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-9, err_msg=path)


@pytest.mark.parametrize("half", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_half_precision_is_computed_in_float32_and_cast_back(path, half):
    fn, kind = PATHS[path]
    args = tuple(jnp.asarray(x, half) for x in _qkv(3))
    got = jax.jit(fn)(*args)
    assert got.dtype == half, path
    # Computed in float32: exactly the float32 result on the (exactly representable)
    # upcast inputs, rounded once to the half dtype.
    want = jax.jit(fn)(*(x.astype(jnp.float32) for x in args)).astype(half)
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32), err_msg=path)
    # And close to the float64 reference of those inputs (half-precision rounding of the output).
    ref = _reference(kind, *(np.asarray(x, np.float64) for x in args))
    np.testing.assert_allclose(np.asarray(got, np.float64), ref, rtol=2e-2, atol=2e-2 * max(1.0, np.abs(ref).max()))
