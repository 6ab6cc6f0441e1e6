"""Helpers experiments share to read the metrics history the training loop returns."""

from __future__ import annotations

from typing import Any

import numpy as np


def series(history: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one metric over the records that hold it."""
    rows = [r for r in history if key in r]
    return np.array([r["step"] for r in rows]), np.array([r[key] for r in rows])
