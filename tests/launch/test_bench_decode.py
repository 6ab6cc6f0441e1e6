"""The decoding benchmark runs end to end at tiny sizes; cached and recomputed sampling agree."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_decode_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_decode", "--new_tokens=6", "--batch=2", "--prompt_len=3",
                          "--num_layers=1", "--num_heads=2", "--head_dim=4", "--mlp_dim=8", "--vocab_size=11",
                          "--repeats=1"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    rows = [line for line in out.stdout.splitlines() if re.match(r"(softmax|lla|linear_regression)\s+\|", line)]
    assert len(rows) == 3, out.stdout
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        assert cells[1] == "6" and float(cells[2]) > 0 and float(cells[3]) > 0
        assert cells[5] == "True" and float(cells[6]) < 1e-4, row  # same draws, same log-probs
