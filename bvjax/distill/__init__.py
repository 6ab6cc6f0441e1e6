"""Distillation losses: Distiller's MI-alpha family, anchored recursive meta-distillation, multi-teacher targets, MQSA-TED.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

__all__: list[str] = []
