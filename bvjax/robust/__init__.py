"""Robustness: PGD attacks for l_inf, l_2 and l_1 balls, RAMP's logit pairing and update merge.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
