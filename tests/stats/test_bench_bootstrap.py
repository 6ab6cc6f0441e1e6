"""launch/bench_bootstrap.py runs end to end at a tiny size and agrees with scipy (no timing asserts)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_bootstrap_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_bootstrap", "--num_items=50",
                          "--num_resamples=200", "--repeats=1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if line.strip().startswith("50 ")]
    assert len(rows) == 1, out.stdout
    assert all(row.rstrip().endswith("True") for row in rows), out.stdout
