"""The advantages benchmark runs end to end and bvjax agrees with both loops (no timing asserts)."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_advantages_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_advantages", "--sizes=256", "--hgpo_shapes=2x4x6",
                          "--repeats=1", "--loop_repeats=1", "--compile_repeats=1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if re.match(r"\s*(256|2x4x6) \|", line)]
    assert len(rows) == 2, out.stdout
    for row in rows:
        assert float(row.rsplit("|", 1)[1]) < 1e-4, row  # max |xla - loop|
