"""Fairness estimators: partial information decomposition of disparity (Hamman & Dutta), AGLFOP frontier, VRS impression variance.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
