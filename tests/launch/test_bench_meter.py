"""The meter benchmark runs end to end and its three methods agree (no timing asserts)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_meter_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_meter", "--num_draws=64,96", "--repeats=1",
                          "--hidden=8", "--chunk_size=32"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if line.strip().startswith(("64 ", "96 "))]
    assert len(rows) == 2, out.stdout
    assert all(row.rstrip().endswith("True") for row in rows), out.stdout
