"""bvjax.diagnostics: measure the bias, variance and MSE of any estimator."""

from bvjax.diagnostics._bias_variance import BiasVarianceResult, BiasVarianceStats, bias_variance

__all__ = ["BiasVarianceResult", "BiasVarianceStats", "bias_variance"]
