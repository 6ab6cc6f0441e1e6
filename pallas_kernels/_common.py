"""Helpers shared by the Pallas kernels: interpret-mode switch and `implementation=` dispatch."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

__all__: list[str] = []  # private module.

IMPLEMENTATIONS = ("pallas", "xla", None)
_ENV = "BVJAX_PALLAS_INTERPRET"
_NATIVE = ("tpu", "gpu", "cuda", "rocm")


def interpret_mode() -> bool:
    """Whether Pallas kernels run in interpret mode.

    ``BVJAX_PALLAS_INTERPRET=1`` forces interpret mode, ``0`` disables it; otherwise
    kernels are interpreted exactly when the default backend is the CPU (where Pallas
    cannot compile), so CPU CI runs every kernel.
    """
    value = os.environ.get(_ENV, "").strip()
    if value == "1":
        return True
    if value == "0":
        return False
    if value:
        raise ValueError(f"{_ENV}: expected '0' or '1', got {value!r}")
    return jax.default_backend() == "cpu"


def resolve_implementation(implementation: str | None, *, backend: str | None = None) -> str:
    """Resolves ``implementation="pallas" | "xla" | None`` to ``"pallas"`` or ``"xla"``.

    None picks the Pallas kernel where the backend compiles it (TPU, GPU) and the XLA
    reference path elsewhere. ``"pallas"`` on a CPU host runs the kernel in interpret
    mode (see `interpret_mode`).

    Raises:
        ValueError: an unknown value, listing the valid ones.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation: expected one of {IMPLEMENTATIONS!r}, got {implementation!r}")
    if implementation is not None:
        return implementation
    backend = jax.default_backend() if backend is None else backend
    return "pallas" if backend in _NATIVE else "xla"


def platform_name(platform: str | None = None) -> str:
    """The lowering platform a kernel should target: ``"tpu"``, ``"gpu"`` or ``"cpu"``."""
    platform = jax.default_backend() if platform is None else platform
    return "gpu" if platform in ("gpu", "cuda", "rocm") else platform


def resolve_interpret(interpret: bool | None, platform: str | None) -> tuple[bool, str]:
    """``(interpret, platform)`` for a kernel call: the platform normalised by
    `platform_name`; ``interpret=None`` means `interpret_mode()` when lowering for the
    current backend and False when exporting for another platform."""
    platform = platform_name(platform)
    if interpret is None:
        interpret = interpret_mode() if platform == platform_name() else False
    return bool(interpret), platform


def compiler_params(platform: str, semantics: tuple[str, ...]):
    """Per-platform Pallas compiler parameters: Mosaic TPU grid semantics, or Triton warps
    and stages on GPU; None elsewhere (interpret mode)."""
    if platform == "tpu":
        from jax.experimental.pallas import tpu as pltpu

        return pltpu.CompilerParams(dimension_semantics=semantics)
    if platform == "gpu":
        from jax.experimental.pallas import triton as pltriton

        return pltriton.CompilerParams(num_warps=4, num_stages=1)
    return None


def round_up(x: int, m: int) -> int:
    """The smallest multiple of ``m`` that is >= ``x``."""
    return -(-x // m) * m


def next_pow2(x: int) -> int:
    """The smallest power of two >= ``x`` (1 for x <= 1)."""
    return 1 << max(0, int(x - 1).bit_length())


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
