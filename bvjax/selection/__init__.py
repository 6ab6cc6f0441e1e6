"""Data and experiment selection: CHIPS scores, Kriging (GP) active learning, VIF and multinomial lasso.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
