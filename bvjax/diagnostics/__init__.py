"""bvjax.diagnostics: measure the bias, variance and MSE of any estimator, and decompose a
learner's expected loss over bootstrap training sets."""

from bvjax.diagnostics._bias_variance import BiasVarianceResult, BiasVarianceStats, bias_variance
from bvjax.diagnostics._decomp import BiasVarianceDecomp, DomingosDecomp, bias_variance_decomp

__all__ = [
    "BiasVarianceDecomp",
    "BiasVarianceResult",
    "BiasVarianceStats",
    "DomingosDecomp",
    "bias_variance",
    "bias_variance_decomp",
]
