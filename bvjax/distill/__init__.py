"""Distillation losses: Distiller's MI-alpha family, anchored recursive meta-distillation, multi-teacher targets, MQSA-TED.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.distill._kd import (
    hidden_cosine_loss,
    hidden_mse_loss,
    kd_kl_loss,
    layer_map,
    logit_mse_loss,
    pkd_loss,
)
from bvjax.distill._mi_alpha import bilinear_critic, infonce_bound, mi_alpha_bound, nwj_bound
from bvjax.distill._recursive import (
    aggregate_teachers,
    anchored_target,
    categorical_kl,
    sample_teacher_targets,
    soft_target_kl_loss,
    temperature_scale_probs,
)
from bvjax.distill._ted import ted_loss, transition_counts

__all__: list[str] = [
    "aggregate_teachers",
    "anchored_target",
    "bilinear_critic",
    "categorical_kl",
    "hidden_cosine_loss",
    "hidden_mse_loss",
    "infonce_bound",
    "kd_kl_loss",
    "layer_map",
    "logit_mse_loss",
    "mi_alpha_bound",
    "nwj_bound",
    "pkd_loss",
    "sample_teacher_targets",
    "soft_target_kl_loss",
    "ted_loss",
    "temperature_scale_probs",
    "transition_counts",
]
