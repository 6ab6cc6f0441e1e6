"""The LLA benchmark runs end to end at tiny sizes and its paths agree with the float64 reference."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_lla_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_lla", "--ns=64,128", "--ds=8", "--cg_iters=8",
                          "--base_n=128", "--base_d=8", "--base_t=8", "--repeats=1", "--cg_n=48", "--cg_d=4",
                          "--cg_table_iters=4,16", "--cg_ridges=1,10", "--grid_repeats=1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if re.match(r"\s*(64|128) \|\s+8 \|", line)]
    assert len(rows) == 2, out.stdout
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        assert cells[5] == "n/a cpu" or float(cells[5]) > 0  # Pallas is timed only on an accelerator
        assert float(cells[-2]) < 1e-3 and float(cells[-1]) < 1e-3, row  # chunked, naive vs float64
    cg_rows = [line for line in out.stdout.splitlines() if re.match(r"\s*(1|10) \|", line)]
    assert len(cg_rows) == 2, out.stdout
    # The ratio grid: one row per d (here d = 8) with naive, chunked and naive/chunked cells.
    grid = out.stdout.split("Ratio grid")[1].splitlines()
    cells = [c.strip() for c in next(line for line in grid if re.match(r"\s*8 \|", line)).split("|")]
    assert len(cells) == 4
    naive, chunked, ratio = (float(c) for c in cells[1:])
    # The ratio agrees with the printed seconds up to their rounding (4 and 2 decimals).
    half = 5e-5
    assert naive >= 0 and chunked >= 0 and ratio > 0
    assert (naive - half) / (chunked + half) - 0.005 <= ratio <= (naive + half) / max(chunked - half, 1e-12) + 0.005
    assert "smallest speed-up over the grid" in out.stdout
