"""Numerical building blocks shared by the library and the Pallas kernels.

This module is the bottom layer of bvjax: it imports only jax and numpy, so both
``bvjax`` subpackages and ``pallas_kernels`` import it without an import cycle. It holds
the pieces that are not kernels but that kernels also need: the finite mask constant,
non-finite confinement for attention layers, integer mixing for hashing and counters,
and the dtype policy every public function follows.

Dtype policy (one rule for the whole library)
---------------------------------------------
1. **Result dtype** (`float_dtype`): the promotion (`jnp.result_type`) of the floating
   inputs. Integer and boolean inputs (counts, ids, masks) do not promote it; when no
   input is floating the result is JAX's default float (float64 under
   ``jax_enable_x64``, float32 otherwise), as ``jnp.mean`` of an integer array is.
   Float64 in, float64 out, and the computation runs in float64 too.
2. **Compute dtype** (`compute_dtype`): the result dtype, raised to float32 when it is
   float16 or bfloat16. Reductions, moments, solves and statistics accumulate in at
   least float32 (half precision overflows a sum of squares at 256 and keeps 3 digits).
3. A function returns its float outputs in the compute dtype unless its docstring says
   otherwise (layers that return activations, e.g. attention, cast back to the input
   dtype so a bf16 model stays bf16).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []  # private module.

# A finite "minus infinity" for masked scores: exp(NEG - max) underflows to exactly 0 in
# float32 and wider, yet NEG - NEG = 0 and NEG * 0 = 0 (no NaN where -inf would give one).
NEG = -0.7 * float(np.finfo(np.float32).max)

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def float_dtype(*arrays) -> jnp.dtype:
    """The dtype a result is returned in under the policy above (rule 1)."""
    floats = []
    for a in arrays:
        if a is None:
            continue
        dt = jnp.asarray(a).dtype if not hasattr(a, "dtype") else jnp.dtype(a.dtype)
        if jnp.issubdtype(dt, jnp.floating):
            floats.append(dt)
    return jnp.dtype(jnp.result_type(*floats)) if floats else jnp.dtype(jnp.result_type(float))


def compute_dtype(*arrays) -> jnp.dtype:
    """The dtype a computation runs in under the policy above (rule 2): at least float32."""
    dt = float_dtype(*arrays)
    return jnp.dtype(jnp.float32) if dt in _HALF else dt


def round_up(x: int, m: int) -> int:
    """The smallest multiple of ``m`` that is >= ``x``."""
    return -(-x // m) * m


def next_pow2(x: int) -> int:
    """The smallest power of two >= ``x`` (1 for x <= 1)."""
    return 1 << max(0, int(x) - 1).bit_length()


_INT_OF_SIZE = {2: jnp.int16, 4: jnp.int32, 8: jnp.int64}


def _float_layout(dtype):
    """(int dtype of the same width, explicit mantissa bits, exponent bias) of a float dtype."""
    info = jnp.finfo(dtype)
    return _INT_OF_SIZE[jnp.dtype(dtype).itemsize], int(info.nmant), int(info.maxexp) - 1


def frexp_exponent(x: jax.Array) -> jax.Array:
    """``jnp.frexp(x)[1]`` for finite ``x >= 0`` from the exponent bits (int32).

    ``x`` in ``[2^(e-1), 2^e)`` for a normal ``x``; 0 for ``+0``; ``finfo.minexp`` for
    a subnormal (``frexp`` gives less: callers clip to the normal range anyway).
    Three integer operations, where ``jnp.frexp`` lowers to about thirty; a program
    that rescales by powers of two compiles faster for it.
    """
    ity, nmant, bias = _float_layout(x.dtype)
    bits = jax.lax.bitcast_convert_type(x, ity)  # tested on bits: XLA:CPU flushes subnormals to 0
    e = ((bits >> nmant) & (2 * bias + 1)).astype(jnp.int32) - (bias - 1)
    return jnp.where(bits == 0, 0, jnp.maximum(e, jnp.finfo(x.dtype).minexp))


def exp2_int(e: jax.Array, dtype) -> jax.Array:
    """``2.0**e`` in ``dtype`` for int ``e`` with ``2^e`` a normal number
    (``finfo.minexp <= e <= finfo.maxexp - 1``), exact, built from the exponent bits.

    ``jnp.ldexp(1, e)`` gives the same number with about fifty operations.
    """
    ity, nmant, bias = _float_layout(dtype)
    return jax.lax.bitcast_convert_type((e.astype(ity) + bias) << nmant, dtype)


def fmix32(h: jax.Array) -> jax.Array:
    """murmur3's 32-bit finaliser on uint32: a bijection with full avalanche (hashing, counter bits)."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def finite_or_zero(x: jax.Array) -> jax.Array:
    """``x`` with its non-finite entries replaced by 0 (a select, so no NaN reaches a product)."""
    return jnp.where(jnp.isfinite(x), x, jnp.zeros((), x.dtype))


def attention_nonfinite(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool) -> jax.Array:
    """Which outputs of an attention layer a non-finite input reaches, ``[..., N, ..., E]`` bool.

    ``q, k`` are ``[X, N, ..., D]`` and ``v`` ``[X, N, ..., E]`` with the sequence on axis 1
    (both the ``[B, N, H, D]`` and the heads-folded ``[BH, N, D]`` layouts). Output
    ``(i, e)`` is reached when ``q_i`` or a key ``k_j`` that query ``i`` sees has a
    non-finite entry (every channel of the row), or when channel ``e`` of a value ``v_j``
    it sees is non-finite. Keys and values it does not see (the future, when causal) do
    not reach it. The attention layers compute on `finite_or_zero` inputs and set the
    reached outputs to NaN, so masked positions never enter a product as ``0 * NaN``.
    """
    def seen(bad):  # bad [X, N, ...]: does query i see a bad position?
        if causal:
            return jnp.cumsum(bad.astype(jnp.int32), axis=1) > 0
        return jnp.broadcast_to(jnp.any(bad, axis=1, keepdims=True), bad.shape)

    row = ~jnp.all(jnp.isfinite(q), axis=-1) | seen(~jnp.all(jnp.isfinite(k), axis=-1))
    return row[..., None] | seen(~jnp.isfinite(v))
