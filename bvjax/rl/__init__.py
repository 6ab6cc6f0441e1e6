"""bvjax.rl: group-relative advantages, baselines and filters for RL post-training."""

from bvjax.rl._advantages import group_advantages, rloo_advantages
from bvjax.rl._filters import dapo_group_filter, overlong_penalty

__all__ = [
    "dapo_group_filter",
    "group_advantages",
    "overlong_penalty",
    "rloo_advantages",
]
