"""`make device-check`'s script: its dry run on CPU, the peak table, the FLOP counts, the time budget."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from launch import device_check

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(*args, timeout=300):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "launch.device_check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_dry_run_writes_the_json_and_the_tables(tmp_path):
    result = _run("--dry_run", f"--out={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "device_check.json").read_text())
    assert data["meta"]["dry_run"] and data["meta"]["platform"] == "cpu" and data["meta"]["chip"] == "unknown"
    assert data["meta"]["total_s"] > 0
    tests = data["tests"]
    assert tests["status"] == "passed" and "--collect-only" in tests["command"]
    assert tests["env"]["JAX_PLATFORMS"] == "cpu" and tests["counts"]["tests collected"] > 50
    lla = data["lla"]
    assert [(r["path"], r["n"]) for r in lla] == [(p, n) for n in device_check.DRY_RUN_NS
                                                  for p in ("naive", "chunked", "pallas")]
    assert all(r["status"] == "ok" and r["median_s"] > 0 and r["fraction_of_peak"] is None for r in lla)
    for r in lla:
        assert r["flops"] == device_check.lla_flops(1, 2, r["n"], 8, 8, cg_iters=4)[
            "closed_form" if r["path"] == "naive" else "cg"]
        if r["path"] != "naive":  # CG (4 iterations, ridge 1) against the exact solve, bf16 inputs
            assert r["max_abs_diff_vs_naive"] < 0.1
    adv = data["advantages"]
    assert {(r["layout"], r["implementation"]) for r in adv} == {
        (layout, impl) for layout in ("dense [P, 8]", "ragged ids") for impl in ("xla", "pallas")}
    assert all(r["status"] == "ok" for r in adv)
    assert all(r["max_abs_diff_vs_xla"] < 1e-5 for r in adv if r["implementation"] == "pallas")
    md = (tmp_path / (device_check.STEM + ".md")).read_text()
    assert "## Kernel tests" in md and "| pallas | 32 | 8 | 2 | ok |" in md
    assert "| ragged ids | 64 | pallas | ok |" in md


def test_without_an_accelerator_it_stops_in_one_line(tmp_path):
    result = _run(f"--out={tmp_path}", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("device_check: no GPU or TPU (default backend 'cpu'")


@pytest.mark.parametrize("kind,chip,tflops", [
    ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM", 989.0), ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe", 756.0),
    ("NVIDIA H200", "NVIDIA H200", 989.0), ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB", 312.0),
    ("TPU v4", "TPU v4", 275.0), ("TPU v5 lite", "TPU v5e", 197.0), ("TPU v5p", "TPU v5p", 459.0),
    ("TPU v6 lite", "TPU v6e", 918.0), ("cpu", "unknown", None), ("NVIDIA GeForce RTX 4090", "unknown", None),
])
def test_peak_table(kind, chip, tflops):
    peak = device_check.peak_for(kind)
    assert peak["chip"] == chip and peak["peak_tflops"] == tflops


def test_flop_counts_match_an_explicit_count():
    b, h, n, d, e, t = 2, 3, 7, 4, 5, 6
    closed = cg = 0
    for _ in range(b * h):
        for i in range(n):
            for _j in range(i + 1):  # causal pairs
                closed += 2 * d + 2 * d + 2 * d * d + 2 * d + 2 * e  # score, mu, Sigma, rho.(k - q), S v
                cg += (8 + 6 * t) * d + 2 * e
            closed += 2 * d ** 3 // 3 + 2 * d * d  # LU of the D x D system and the two triangular solves
    assert device_check.lla_flops(b, h, n, d, e, cg_iters=t) == {"closed_form": closed, "cg": cg}


class _NoTimeLeft(device_check.Budget):
    def left(self):
        return 0.0


def test_late_rows_are_skipped_and_failures_recorded(tmp_path):
    recorder = device_check.Recorder(tmp_path, {"platform": "cpu", "device_kind": "cpu", "chip": "unknown",
                                                "peak_tflops": None, "peak_tb_per_s": None, "jax": "",
                                                "dry_run": True, "started": "", "time_budget_s": 0.0})
    # No time left: the first size of each path has no estimate and runs; the next is skipped, and so is
    # every larger one.
    device_check.bench_lla(recorder, _NoTimeLeft(0.0, time.perf_counter()), ns=[8, 16, 24], ds=[4],
                           paths=["naive", "chunked"], batch=1, heads=1, ridge=1.0, cg_iters=2, repeats=1,
                           peak_tflops=None)
    rows = recorder.data["lla"]
    assert [(r["path"], r["n"], r["status"]) for r in rows] == [
        ("naive", 8, "ok"), ("chunked", 8, "ok"), ("naive", 16, "skipped"), ("chunked", 16, "skipped"),
        ("naive", 24, "skipped"), ("chunked", 24, "skipped")]
    assert rows[2]["reason"].startswith("time budget: ~") and "a smaller N" in rows[4]["reason"]
    # A row that cannot compile is recorded with the error's first line; the run goes on.
    recorder.data["lla"] = []
    device_check.bench_lla(recorder, device_check.Budget(1e9, time.perf_counter()), ns=[8, 16], ds=[4],
                           paths=["naive"], batch=1, heads=1, ridge=-1.0, cg_iters=2, repeats=1, peak_tflops=None)
    failed, after = recorder.data["lla"]
    assert failed["status"] == "failed" and "ridge" in failed["reason"] and "\n" not in failed["reason"]
    assert after["status"] == "skipped" and after["reason"] == "failed at N = 8"
    assert json.loads((tmp_path / "device_check.json").read_text())["lla"][0]["status"] == "failed"
