"""The decomposition benchmark runs end to end at a tiny size and prints both decompositions (no timing asserts)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_decomp_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_decomp", "--num_rounds=3", "--epochs=2", "--repeats=1",
                          "--num_train=50", "--num_test=20", "--batch=25", "--hidden=4"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if line.strip().startswith(("regression", "classification"))]
    assert len(rows) == 2, out.stdout
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        assert len(cells) == 7, row
        for decomp in cells[5:]:
            loss, bias, var = (float(v) for v in decomp.split(" / "))
            assert loss >= 0 and bias >= 0 and var >= 0, row
