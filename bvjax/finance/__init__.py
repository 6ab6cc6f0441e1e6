"""Portfolio estimators: mean-variance weights with sample, Ledoit-Wolf and factor covariances, Lam (2024) ensembles, performance ratios.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
