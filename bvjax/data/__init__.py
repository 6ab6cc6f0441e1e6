"""bvjax.data: synthetic tasks generated on the fly (no downloads)."""

from bvjax.data._aggregate_regression import AggregateRegression, sample_aggregate_regression
from bvjax.data._bandit import (
    bandit_expected_return,
    bandit_policy_gradient,
    bandit_reinforce_gradient,
    sample_bandit,
)
from bvjax.data._latent_trace import (
    LatentTracePairs,
    latent_trace_joint_logps,
    latent_trace_marginal_dpo_loss,
    latent_trace_marginal_logps,
    sample_latent_trace_pairs,
)
from bvjax.data._lla_regression import piecewise_linear_stream
from bvjax.data._mnar import MNARFeedback, sample_mnar_feedback, synthetic_mnar_factors
from bvjax.data._mqar import MQAR, mqar
from bvjax.data._preference_bandit import PreferenceBandit, tajwar_bandit
from bvjax.data._safety_pairs import SafetyPairs, safety_pairs
from bvjax.data._simplicity import (
    SimplicityData,
    linear_coordinate,
    lms_data,
    ms57_data,
    randomize_coordinates,
    slab_coordinate,
)

__all__ = [
    "MQAR",
    "AggregateRegression",
    "LatentTracePairs",
    "MNARFeedback",
    "PreferenceBandit",
    "SafetyPairs",
    "bandit_expected_return",
    "bandit_policy_gradient",
    "bandit_reinforce_gradient",
    "latent_trace_joint_logps",
    "latent_trace_marginal_dpo_loss",
    "latent_trace_marginal_logps",
    "mqar",
    "piecewise_linear_stream",
    "safety_pairs",
    "sample_aggregate_regression",
    "sample_bandit",
    "sample_latent_trace_pairs",
    "sample_mnar_feedback",
    "synthetic_mnar_factors",
    "tajwar_bandit",
]
__all__ += [  # simplicity-bias datasets (Shah et al. 2020)
    "SimplicityData",
    "linear_coordinate",
    "lms_data",
    "ms57_data",
    "randomize_coordinates",
    "slab_coordinate",
]
