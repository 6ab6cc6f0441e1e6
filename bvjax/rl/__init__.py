"""bvjax.rl: group-relative advantages, baselines and filters for RL post-training."""

from bvjax.rl._advantages import group_advantages, rloo_advantages
from bvjax.rl._aggregate import aggregate_loss
from bvjax.rl._baselines import (
    V05Baseline,
    logit_score_sqnorm,
    optimal_baseline_advantages,
    osla_continue,
    v05_advantages,
    v05_baseline,
)
from bvjax.rl._bucket import bucket_pad
from bvjax.rl._filters import dapo_group_filter, overlong_filter, overlong_penalty
from bvjax.rl._gae import gae_advantages, masked_whiten, value_loss
from bvjax.rl._hierarchical import gigpo_advantages, hgpo_advantages
from bvjax.rl._kl import kl_penalty
from bvjax.rl._policy_loss import (
    cispo_loss,
    grpo_loss,
    gspo_loss,
    off_policy_loss,
    ppo_clip_loss,
    reinforce_loss,
    upge_loss,
    upge_stable_mask,
)
from bvjax.rl._reinforce_pp import reinforce_pp_advantages, reinforce_pp_baseline_advantages
from bvjax.rl._rollout_correction import RolloutCorrection, rollout_correction_weights
from bvjax.rl._routing import (
    DCPOAdvantages,
    DYPORoute,
    HPTGate,
    dcpo_advantages,
    dcpo_temperature,
    dypo_loss,
    dypo_route,
    hpt_gate,
)
from bvjax.rl._sapo import sapo_loss, token_entropy

__all__ = [
    "DCPOAdvantages",
    "DYPORoute",
    "HPTGate",
    "RolloutCorrection",
    "V05Baseline",
    "aggregate_loss",
    "bucket_pad",
    "cispo_loss",
    "dapo_group_filter",
    "dcpo_advantages",
    "dcpo_temperature",
    "dypo_loss",
    "dypo_route",
    "gae_advantages",
    "gigpo_advantages",
    "group_advantages",
    "grpo_loss",
    "gspo_loss",
    "hgpo_advantages",
    "hpt_gate",
    "kl_penalty",
    "logit_score_sqnorm",
    "masked_whiten",
    "off_policy_loss",
    "optimal_baseline_advantages",
    "osla_continue",
    "overlong_filter",
    "overlong_penalty",
    "ppo_clip_loss",
    "reinforce_loss",
    "reinforce_pp_advantages",
    "reinforce_pp_baseline_advantages",
    "rloo_advantages",
    "rollout_correction_weights",
    "sapo_loss",
    "token_entropy",
    "upge_loss",
    "upge_stable_mask",
    "v05_advantages",
    "v05_baseline",
    "value_loss",
]
