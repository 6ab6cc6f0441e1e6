"""bvjax.transforms: optax gradient transformations."""

from bvjax.transforms._bvpo import BVPOMixState, bvpo_mix

__all__ = ["BVPOMixState", "bvpo_mix"]
