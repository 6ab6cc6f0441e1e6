"""bvjax.transforms: optax gradient transformations."""

from bvjax.transforms._bvpo import BVPOMixState, bvpo_mix
from bvjax.transforms._lora import lora_init, lora_merge
from bvjax.transforms._snr import SNRState, scale_by_snr

__all__ = ["BVPOMixState", "SNRState", "bvpo_mix", "lora_init", "lora_merge", "scale_by_snr"]
