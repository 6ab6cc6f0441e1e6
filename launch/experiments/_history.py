"""Helpers experiments share to read the metrics history the training loop returns."""

from __future__ import annotations

from typing import Any

import numpy as np


def series(history: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one metric over the records that hold it."""
    rows = [r for r in history if key in r]
    return np.array([r["step"] for r in rows]), np.array([r[key] for r in rows])


def mean_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``axis`` (seeds) and its standard error ``std(ddof=1) / sqrt(n)``, 0 when n < 2."""
    v = np.asarray(values, np.float64)
    n = v.shape[axis]
    mean = v.mean(axis)
    se = v.std(axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    return mean, se


def seed_mean_se(record: dict[str, Any], name: str, method: str, num_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """`mean_se` of the per-seed metrics ``record[f"{name}/{method}/s{seed}"]``."""
    return mean_se([record[f"{name}/{method}/s{s}"] for s in range(num_seeds)])
