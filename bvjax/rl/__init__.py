"""bvjax.rl: group-relative advantages, baselines and filters for RL post-training."""

from bvjax.rl._advantages import group_advantages, rloo_advantages
from bvjax.rl._filters import dapo_group_filter, overlong_penalty
from bvjax.rl._hierarchical import gigpo_advantages, hgpo_advantages

__all__ = [
    "dapo_group_filter",
    "gigpo_advantages",
    "group_advantages",
    "hgpo_advantages",
    "overlong_penalty",
    "rloo_advantages",
]
