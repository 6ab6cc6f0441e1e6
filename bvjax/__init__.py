"""bvjax: estimators, losses and statistics for the bias–variance trade-off, in JAX.

Subpackages are imported on demand (``import bvjax.diagnostics``); each re-exports its
public functions and lists them in ``__all__``.
"""

__version__ = "0.1.0"

from bvjax import attention, counterfactual, data, diagnostics, preference, rl, stats, transforms

__all__ = ["attention", "counterfactual", "data", "diagnostics", "preference", "rl", "stats", "transforms"]
