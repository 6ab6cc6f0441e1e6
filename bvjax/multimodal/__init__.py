"""Multimodal losses: ARL's inverse-variance modality coefficients, DPC's dual prompts.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.multimodal._arl import (
    UnimodalLogits,
    arl_coefficients,
    arl_gradient_scale,
    arl_loss,
    prediction_entropy,
    shared_head_logits,
)
from bvjax.multimodal._dpc import (
    HardNegatives,
    dual_prompt_contrastive_loss,
    hard_negative_classes,
    mix_prompts,
)

__all__ = [
    "HardNegatives",
    "UnimodalLogits",
    "arl_coefficients",
    "arl_gradient_scale",
    "arl_loss",
    "dual_prompt_contrastive_loss",
    "hard_negative_classes",
    "mix_prompts",
    "prediction_entropy",
    "shared_head_logits",
]
