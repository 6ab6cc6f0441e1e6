"""The bottom-layer helpers in `bvjax._numerics`, against NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _numerics


@pytest.mark.parametrize("dtypes, expected", [
    (("float32",), "float32"), (("float16",), "float16"), (("bfloat16", "float32"), "float32"),
    (("int32", "float16"), "float16"), (("bool", "float32"), "float32"),
])
def test_float_dtype_promotes_the_floating_inputs_only(dtypes, expected):
    arrays = [jnp.zeros(2, d) for d in dtypes]
    assert _numerics.float_dtype(*arrays) == jnp.dtype(expected)


def test_float64_in_is_float64_and_ints_alone_follow_the_default_float():
    with jax.enable_x64(True):
        assert _numerics.float_dtype(jnp.zeros(2, jnp.float64), jnp.zeros(2, jnp.float32)) == jnp.float64
        assert _numerics.compute_dtype(jnp.zeros(2, jnp.float64)) == jnp.float64
        assert _numerics.float_dtype(jnp.zeros(2, jnp.int32)) == jnp.float64
        assert _numerics.float_dtype(jnp.zeros(2, jnp.float32), None) == jnp.float32
    assert _numerics.float_dtype(jnp.zeros(2, jnp.int32)) == jnp.float32


@pytest.mark.parametrize("half", [jnp.float16, jnp.bfloat16])
def test_compute_dtype_raises_half_precision_to_float32(half):
    assert _numerics.float_dtype(jnp.zeros(2, half)) == jnp.dtype(half)
    assert _numerics.compute_dtype(jnp.zeros(2, half)) == jnp.float32


def test_round_up_and_next_pow2():
    for x in range(70):
        assert _numerics.round_up(x, 8) == int(np.ceil(x / 8) * 8)
        assert _numerics.next_pow2(x) == (1 if x <= 1 else 1 << int(np.ceil(np.log2(x))))


_FLOATS = [(np.float32, np.uint32), (np.float64, np.uint64), (np.float16, np.uint16), (jnp.bfloat16, np.uint16)]


def _finite_nonnegative(float_type, uint_type, rng):
    """Random bit patterns of every exponent, as finite non-negative floats, plus the edges."""
    info = jnp.finfo(float_type)
    bits = rng.integers(0, np.iinfo(uint_type).max, 4000, dtype=np.uint64).astype(uint_type)
    x = np.abs(bits.view(float_type))
    edges = np.array([0.0, info.smallest_subnormal, info.tiny / 2, info.tiny, 0.5, 1.0, 3.0, info.max],
                     np.float64).astype(float_type)
    return np.concatenate([x[np.isfinite(x)], edges])


@pytest.mark.parametrize("float_type, uint_type", _FLOATS)
@pytest.mark.parametrize("jit", [False, True])
def test_frexp_exponent_is_numpy_frexp_with_subnormals_at_minexp(float_type, uint_type, jit):
    with jax.enable_x64(float_type == np.float64):
        x = _finite_nonnegative(float_type, uint_type, np.random.default_rng(0))
        fn = jax.jit(_numerics.frexp_exponent) if jit else _numerics.frexp_exponent
        got = np.asarray(fn(jnp.asarray(x)))
        _, e = np.frexp(x.astype(np.float64))
        want = np.where(x == 0, 0, np.maximum(e, jnp.finfo(float_type).minexp))
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("float_type, uint_type", _FLOATS)
def test_exp2_int_is_every_normal_power_of_two_exactly(float_type, uint_type):
    del uint_type
    info = jnp.finfo(float_type)
    with jax.enable_x64(float_type == np.float64):
        e = np.arange(info.minexp, info.maxexp, dtype=np.int32)
        got = np.asarray(jax.jit(_numerics.exp2_int, static_argnums=1)(jnp.asarray(e), float_type))
        assert got.dtype == float_type
        want = np.ldexp(np.ones(len(e)), e).astype(float_type)  # every normal power of two is exact in float_type
        np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))


def _fmix32_reference(h):
    h = np.uint64(h)
    mask = np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & mask
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & mask
    h ^= h >> np.uint64(16)
    return int(h)


def test_fmix32_is_murmur3_finaliser():
    xs = np.array([0, 1, 2, 12345, 0xDEADBEEF, 0xFFFFFFFF], np.uint32)
    got = np.asarray(jax.jit(_numerics.fmix32)(jnp.asarray(xs)))
    np.testing.assert_array_equal(got, [_fmix32_reference(x) for x in xs])
    assert len(set(np.asarray(_numerics.fmix32(jnp.arange(4096, dtype=jnp.uint32))).tolist())) == 4096  # bijective


def test_finite_or_zero_and_nonfinite_reach():
    x = jnp.array([1.0, jnp.nan, jnp.inf, -2.0])
    np.testing.assert_array_equal(_numerics.finite_or_zero(x), [1.0, 0.0, 0.0, -2.0])
    q = k = jnp.ones((1, 4, 2))
    v = jnp.ones((1, 4, 3)).at[0, 2, 1].set(jnp.nan)
    reached = np.asarray(_numerics.attention_nonfinite(q, k, v, causal=True))[0]
    expected = np.zeros((4, 3), bool)
    expected[2:, 1] = True  # value 2's channel 1 reaches queries 2 and 3 only
    np.testing.assert_array_equal(reached, expected)
    assert np.exp(np.float32(_numerics.NEG) - np.float32(0.0)) == 0.0
