"""What experiment reports share: markdown tables, mean ± SE cells, figures, metric series.

An experiment's ``report(config, workdir, history)`` returns markdown and writes its plots
into the workdir; the pieces every report repeats live here:

- `plt`: matplotlib's pyplot on the non-interactive Agg backend (set here, once, when the
  first experiment that plots is imported; ``import launch.main`` imports no plotting);
- `save_figure`: lay out, write a PNG into the workdir, close, and return its markdown link;
- `label_axes`: axis labels, title, log scales and legend in one call;
- `errorbars`: a curve with ±k standard-error bars (k = 2 by default);
- `table`, `row`, `pm`: a markdown table, one row, and a ``mean ± se`` cell;
- `series`, `mean_se`, `seed_mean_se`: reading the metrics history (steps and values of one
  metric; the mean over seeds and its standard error ``std(ddof=1) / sqrt(n)``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["errorbars", "label_axes", "mean_se", "plt", "pm", "row", "save_figure", "seed_mean_se", "series", "table"]


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100, alt: str = "figure") -> str:
    """``tight_layout``, saves `fig` to `path` (a PNG in the workdir), closes it; returns ``![alt](name)``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return f"![{alt}]({os.path.basename(os.fspath(path))})"


def label_axes(ax, *, xlabel: str | None = None, ylabel: str | None = None, title: str | None = None,
          xscale: str | None = None, yscale: str | None = None, xbase: float | None = None,
          legend: float | None = 8) -> None:
    """Sets what is given: axis labels, title, scales (``xbase``: the x log base), legend font size.

    ``legend=None`` draws no legend.
    """
    if xscale is not None:
        ax.set_xscale(xscale, **({"base": xbase} if xbase is not None else {}))
    if yscale is not None:
        ax.set_yscale(yscale)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend is not None:
        ax.legend(fontsize=legend)


def errorbars(ax, x, mean, se, *, label: str | None = None, k: float = 2.0, **kwargs) -> None:
    """``ax.errorbar`` of `mean` with bars of ±`k`·`se`, round markers and capped bars."""
    ax.errorbar(x, mean, yerr=k * np.asarray(se), marker=kwargs.pop("marker", "o"),
                capsize=kwargs.pop("capsize", 3), label=label, **kwargs)


def row(cells: Iterable[Any]) -> str:
    """One markdown table row: ``| a | b | c |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: Sequence[Any], rows: Iterable[Iterable[Any]]) -> list[str]:
    """A markdown table's lines: the header, the ``|---|`` rule, then one line per row.

    Examples:
        >>> print("\\n".join(table(["k", "risk"], [[1, "0.5"], [2, "0.25"]])))
        | k | risk |
        |---|---|
        | 1 | 0.5 |
        | 2 | 0.25 |
    """
    return [row(header), "|" + "---|" * len(header), *(row(r) for r in rows)]


def pm(mean: float, se: float, fmt: str = ".3f", se_fmt: str | None = None) -> str:
    """A ``mean ± se`` cell, `se` in `se_fmt` (default: `fmt`).

    Examples:
        >>> pm(0.12345, 0.0061)
        '0.123 ± 0.006'
        >>> pm(2.5, 0.04, ".3g", ".1g")
        '2.5 ± 0.04'
    """
    return f"{mean:{fmt}} ± {se:{se_fmt or fmt}}"


def seed0_summary(record: dict[str, Any], prefix: str) -> str:
    """``name=value`` (3 decimals) for each ``<prefix>/<name>/s0`` entry of `record`: a short progress line.

    Examples:
        >>> seed0_summary({"acc/plain/s0": 0.5, "acc/plain/s1": 0.7, "acc/arl/s0": 0.25}, "acc")
        'plain=0.500 arl=0.250'
    """
    return " ".join(f"{k.split('/')[1]}={v:.3f}" for k, v in record.items()
                    if k.startswith(f"{prefix}/") and k.endswith("/s0"))


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
