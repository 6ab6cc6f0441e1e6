"""Pure-JAX environments for the RL experiments (reset/step functions that jit and vmap).

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
