"""bvjax.preference: DPO family, ORPO, SFT, BVPO and group alignment losses."""

from bvjax.preference._bvpo import (
    BVPOAlphaEstimate,
    bvpo_alpha_estimate,
    bvpo_empty_trace_loss,
    bvpo_loss,
    bvpo_optimal_alpha,
    bvpo_trace_loss,
)
from bvjax.preference._dpo import dpo_loss, ipo_loss
from bvjax.preference._dpo_variants import f_dpo_loss, hinge_dpo_loss, robust_dpo_loss
from bvjax.preference._group_alignment import group_alignment_loss
from bvjax.preference._logprobs import sequence_logps, token_logps
from bvjax.preference._mcts_pairs import StepPairs, mcts_step_pairs
from bvjax.preference._orpo import orpo_loss
from bvjax.preference._pairs import RewardPairs, reward_pairs
from bvjax.preference._sft import sft_loss

__all__ = [
    "BVPOAlphaEstimate",
    "RewardPairs",
    "StepPairs",
    "bvpo_alpha_estimate",
    "bvpo_empty_trace_loss",
    "bvpo_loss",
    "bvpo_optimal_alpha",
    "bvpo_trace_loss",
    "dpo_loss",
    "f_dpo_loss",
    "group_alignment_loss",
    "hinge_dpo_loss",
    "ipo_loss",
    "mcts_step_pairs",
    "orpo_loss",
    "reward_pairs",
    "robust_dpo_loss",
    "sequence_logps",
    "sft_loss",
    "token_logps",
]
