"""Data and experiment selection: CHIPS scores, Kriging (GP) active learning, VIF and multinomial lasso.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.selection._chips import (
    ChipsScores,
    chips_scores,
    infonce_curvature,
    jl_projection,
    learnability_weight,
    newton_alignment,
    relevance_weight,
)
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
from bvjax.selection._regression import (
    LassoCV,
    LassoFit,
    VifScreen,
    lasso_lambda_path,
    multinomial_lasso_cv,
    multinomial_lasso_fit,
    variance_inflation_factor,
    vif_screen,
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

__all__ += [  # VIF screen and multinomial lasso (Liao et al. 2025)
    "LassoCV",
    "LassoFit",
    "VifScreen",
    "lasso_lambda_path",
    "multinomial_lasso_cv",
    "multinomial_lasso_fit",
    "variance_inflation_factor",
    "vif_screen",
]

__all__ += [  # CHIPS (Zhuang et al. 2026)
    "ChipsScores",
    "chips_scores",
    "infonce_curvature",
    "jl_projection",
    "learnability_weight",
    "newton_alignment",
    "relevance_weight",
]
