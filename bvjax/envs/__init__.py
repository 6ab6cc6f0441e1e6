"""Pure-JAX environments for the RL experiments (reset/step functions that jit and vmap).

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.envs._key_door import KeyDoorState, key_door_reset, key_door_step

__all__ = [
    "KeyDoorState",
    "key_door_reset",
    "key_door_step",
]
