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


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, inner: int = 1, *,
                settle: int = 0) -> dict[str, float]:
    """Median seconds per call of each fn, timing every fn once per repeat, in turn.

    Each fn runs once untimed first (compilation excluded). Interleaving puts every path
    under the same machine state in each repeat, so a change in load between paths does
    not enter their ratios; each repeat times ``inner`` calls, after ``settle`` untimed
    ones of the same fn (so that memory one path allocated and freed, e.g. scipy's
    ``[B, n]`` resamples, is not paid for by the next path's first call).
    """
    for fn in fns.values():
        jax.block_until_ready(fn())
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            for _ in range(settle):
                jax.block_until_ready(fn())
            start = time.perf_counter()
            for _ in range(inner):
                out = fn()
            jax.block_until_ready(out)
            times[k].append((time.perf_counter() - start) / inner)
    return {k: float(np.median(v)) for k, v in times.items()}
