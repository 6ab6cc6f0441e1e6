"""Portfolio estimators: mean-variance weights with sample, Ledoit-Wolf and factor covariances, Lam (2024) ensembles, performance ratios.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.finance._covariance import (
    LedoitWolf,
    factor_model_covariance,
    ledoit_wolf_covariance,
    pca_factor_covariance,
    sample_covariance,
)
from bvjax.finance._ensemble import EnsembleResult, combine_strategies
from bvjax.finance._performance import (
    cumulative_wealth,
    information_ratio,
    max_drawdown,
    portfolio_returns,
    sharpe_ratio,
)
from bvjax.finance._portfolio import mean_variance_weights, min_variance_weights, tangency_weights

__all__ = [
    "EnsembleResult",
    "LedoitWolf",
    "combine_strategies",
    "cumulative_wealth",
    "factor_model_covariance",
    "information_ratio",
    "ledoit_wolf_covariance",
    "max_drawdown",
    "mean_variance_weights",
    "min_variance_weights",
    "pca_factor_covariance",
    "portfolio_returns",
    "sample_covariance",
    "sharpe_ratio",
    "tangency_weights",
]
