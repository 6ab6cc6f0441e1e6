"""bvjax.models: a decoder-only transformer LM with softmax, LLA or global-ridge attention, and cached sampling."""

from bvjax.models._sample import sample
from bvjax.models._transformer import TransformerConfig, TransformerLM

__all__ = [
    "TransformerConfig",
    "TransformerLM",
    "sample",
]
