"""bvjax.transforms: optax gradient transformations."""

from bvjax.transforms._bvpo import BVPOMixState, bvpo_mix
from bvjax.transforms._snr import SNRState, scale_by_snr

__all__ = ["BVPOMixState", "SNRState", "bvpo_mix", "scale_by_snr"]
