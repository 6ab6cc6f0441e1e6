"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def median_time(fn: Callable[[], Any], repeats: int, *, warmup: bool = True) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` (results blocked on).

    With ``warmup`` one untimed call runs first, so compilation is excluded.
    """
    if warmup:
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))
