"""Helpers shared by the Pallas kernels: interpret mode, lowering platform, compiler parameters.

Numerical pieces that are not kernels (masks, hashing, the dtype policy) live in
`bvjax._numerics`; the ``implementation=`` argument is resolved by `bvjax._dispatch`.
Nothing here reads the process environment.
"""

from __future__ import annotations

import jax

__all__: list[str] = []  # private module.


def platform_name(platform: str | None = None) -> str:
    """The lowering platform a kernel should target: ``"tpu"``, ``"gpu"`` or ``"cpu"``."""
    platform = jax.default_backend() if platform is None else platform
    return "gpu" if platform in ("gpu", "cuda", "rocm") else platform


def resolve_interpret(interpret: bool | None, platform: str | None) -> tuple[bool, str]:
    """``(interpret, platform)`` for a kernel call: the platform normalised by
    `platform_name`; ``interpret=None`` means interpret mode exactly when lowering for
    the CPU, where Pallas cannot compile (a TPU or GPU lowering, including an export
    from a CPU host, compiles the kernel)."""
    platform = platform_name(platform)
    if interpret is None:
        interpret = platform == "cpu"
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
