"""The ``implementation=`` argument of functions that have a Pallas kernel.

``implementation`` is one of:

- ``"xla"``: the plain jnp path (any backend).
- ``"pallas"``: the Pallas kernel, compiled for the backend (Mosaic on TPU, Triton on
  GPU); on a CPU backend, where Pallas cannot compile, the kernel runs in interpret mode.
- ``"pallas_interpret"``: the Pallas kernel in interpret mode on any backend (debugging a
  kernel on an accelerator, or checking it against the reference).
- None: ``"pallas"`` where the backend compiles it (TPU, GPU), ``"xla"`` elsewhere.

Nothing here reads the process environment: the choice is the caller's argument and the
backend, fixed at trace time, so two traces of one call never disagree.
"""

from __future__ import annotations

import jax

__all__: list[str] = []  # private module.

IMPLEMENTATIONS = ("pallas", "pallas_interpret", "xla", None)
_NATIVE = ("tpu", "gpu", "cuda", "rocm")


def resolve_implementation(implementation: str | None, *, backend: str | None = None) -> str:
    """``"pallas"``, ``"pallas_interpret"`` or ``"xla"`` for an ``implementation=`` value.

    Raises:
        ValueError: an unknown value, listing the valid ones.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation: expected one of {IMPLEMENTATIONS!r}, got {implementation!r}")
    if implementation is not None:
        return implementation
    backend = jax.default_backend() if backend is None else backend
    return "pallas" if backend in _NATIVE else "xla"


def uses_kernel(impl: str) -> bool:
    """Whether a resolved implementation runs the Pallas kernel."""
    return impl in ("pallas", "pallas_interpret")


def kernel_interpret(impl: str) -> bool | None:
    """The kernel's ``interpret`` argument for a resolved implementation: True to force
    interpret mode, None to let the kernel decide from its lowering platform."""
    return True if impl == "pallas_interpret" else None
