"""bvjax.data: synthetic tasks generated on the fly (no downloads)."""

from bvjax.data._bandit import (
    bandit_expected_return,
    bandit_policy_gradient,
    bandit_reinforce_gradient,
    sample_bandit,
)

__all__ = [
    "bandit_expected_return",
    "bandit_policy_gradient",
    "bandit_reinforce_gradient",
    "sample_bandit",
]
