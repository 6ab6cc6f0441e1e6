"""Fairness estimators: partial information decomposition of disparity (Hamman & Dutta), AGLFOP frontier, VRS impression variance.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.fairness._aglfop import AGLFOPResult, aglfop
from bvjax.fairness._impression import (
    ImpressionVarianceSummary,
    impression_variance,
    impression_variance_summary,
    pacing_multiplier_update,
)
from bvjax.fairness._pid import (
    DisparityPID,
    conditional_mutual_information,
    mutual_information,
    pid_disparity,
)

__all__ = [
    "AGLFOPResult",
    "DisparityPID",
    "ImpressionVarianceSummary",
    "aglfop",
    "conditional_mutual_information",
    "impression_variance",
    "impression_variance_summary",
    "mutual_information",
    "pacing_multiplier_update",
    "pid_disparity",
]
