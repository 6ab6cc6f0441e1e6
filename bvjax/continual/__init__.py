"""Continual learning: IBCL's convex hull of Gaussian posteriors and highest-density regions.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
