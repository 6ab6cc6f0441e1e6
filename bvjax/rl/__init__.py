"""bvjax.rl: group-relative advantages, baselines and filters for RL post-training."""

from bvjax.rl._advantages import group_advantages, rloo_advantages
from bvjax.rl._baselines import (
    V05Baseline,
    logit_score_sqnorm,
    optimal_baseline_advantages,
    osla_continue,
    v05_advantages,
    v05_baseline,
)
from bvjax.rl._filters import dapo_group_filter, overlong_penalty
from bvjax.rl._hierarchical import gigpo_advantages, hgpo_advantages

__all__ = [
    "V05Baseline",
    "dapo_group_filter",
    "gigpo_advantages",
    "group_advantages",
    "hgpo_advantages",
    "logit_score_sqnorm",
    "optimal_baseline_advantages",
    "osla_continue",
    "overlong_penalty",
    "rloo_advantages",
    "v05_advantages",
    "v05_baseline",
]
