"""Multimodal losses: ARL's inverse-variance modality coefficients, DPC's dual prompts.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
