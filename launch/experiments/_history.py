"""Helpers experiments share to read the metrics history (now in launch/report.py; kept for imports)."""

from launch.report import mean_se, seed_mean_se, series

__all__ = ["mean_se", "seed_mean_se", "series"]
