"""Data and experiment selection: CHIPS scores, Kriging (GP) active learning, VIF and multinomial lasso.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.selection._kriging import (
    ActiveLearningTrace,
    GPPosterior,
    expected_improvement,
    forrester_curve,
    gp_kernel,
    gp_log_marginal_likelihood,
    gp_posterior,
    hartmann3,
    knowledge_gradient,
    kriging_active_learning,
    max_variance_utility,
    upper_confidence_bound,
)

__all__: list[str] = []

__all__ += [  # Kriging active learning (Tian et al. 2021)
    "ActiveLearningTrace",
    "GPPosterior",
    "expected_improvement",
    "forrester_curve",
    "gp_kernel",
    "gp_log_marginal_likelihood",
    "gp_posterior",
    "hartmann3",
    "knowledge_gradient",
    "kriging_active_learning",
    "max_variance_utility",
    "upper_confidence_bound",
]
