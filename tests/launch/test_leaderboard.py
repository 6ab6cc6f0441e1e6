"""The leaderboard runs end to end at tiny sizes, writes its table and plot, and every family builds."""

import pathlib
import subprocess
import sys

import jax
import numpy as np

from launch import leaderboard

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_leaderboard_smoke(tmp_path):
    out = subprocess.run([sys.executable, "-m", "launch.leaderboard", f"--output_dir={tmp_path}", "--small",
                          "--families=mi_bounds,ci_coverage", "--num_draws=16", "--timing_draws=4", "--repeats=1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    assert "InfoNCE" in out.stdout and "bootstrap" in out.stdout, out.stdout
    table = (tmp_path / "leaderboard.md").read_text()
    assert table.count("](https://") == 5, table  # every estimator linked to its paper
    assert (tmp_path / "leaderboard.png").stat().st_size > 0


def test_every_family_builds_and_matches_its_truth_shape():
    for family, build in leaderboard.BUILDERS.items():
        for entry in build(True):
            out = jax.eval_shape(entry.estimate, jax.random.key(0))
            assert out.shape == np.shape(entry.truth), (family, entry.name)
            assert entry.paper in leaderboard.PAPERS


def test_mse_decomposes_in_the_table_rows():
    row = leaderboard.measure(leaderboard.mi_bounds(True)[1], num_draws=32, timing_draws=4, repeats=1,
                              key=jax.random.key(0))
    np.testing.assert_allclose(row["mse"], row["bias_squared"] + row["variance"], rtol=1e-5)
    assert row["us_per_estimate"] > 0
