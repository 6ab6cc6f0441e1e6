r"""One-call accelerator check: the kernel tests run natively, then the kernel benchmarks.

    python -m launch.device_check                                # on a GPU or TPU host (`make device-check`)
    python -m launch.device_check --out=/tmp/dc --dry_run       # on CPU: tiny sizes, seconds

Writes ``<out>/device_check.json`` (every row, what ran and what did not, and why) and,
beside it under the same name with the ``.md`` suffix, the same as markdown tables, both
rewritten after every row, so a
run that is killed still leaves what it measured. Steps, in order:

1. **Platform.** A child process reports the default backend and device kind (this
   process touches no accelerator before the tests, which need it to themselves on TPU).
   Without a GPU or TPU the script stops with exit status 1 unless ``--dry_run``.
2. **Kernel tests, natively.** ``pytest`` in a child process on tests/pallas_kernels and
   the tests that exercise the kernels through the library (tests/attention/test_lla.py,
   tests/attention/test_numerics.py, tests/rl/test_advantages.py, test_hierarchical.py,
   test_nonfinite_groups.py), with ``JAX_PLATFORMS=<platform>`` in its environment (the
   root conftest.py defaults it to the CPU); ``implementation="pallas"`` then compiles the
   kernels for the backend (they are interpreted only when lowered for the CPU). Bounded by ``--tests_budget_s``; the pass/fail counts and the tail
   of the output are recorded. With ``--dry_run`` pytest only collects them.
3. **FlashLLA vs chunked XLA vs naive**, causal, bf16 q, k, v of shape [B, N, H, D]
   (standard normal), ridge ``--ridge``, at N in ``--ns`` and D in ``--ds``:
   ``naive`` = `bvjax.attention.local_linear_attention` (``implementation="xla"``, the
   exact closed form with a per-query solve), ``chunked`` =
   `bvjax.attention.local_linear_attention_chunked` (query blocks, matrix-free CG),
   ``pallas`` = `local_linear_attention` (``implementation="pallas"``, the FlashLLA
   kernels). Per row: compile seconds, median seconds over ``--timing_repeats`` calls
   (compilation excluded), achieved TFLOP/s and the fraction of the chip's peak, the
   compiled program's temporary memory (``compiled.memory_analysis()``), the device's
   peak bytes in use so far (``device.memory_stats()``, where the backend has it; a
   running maximum over the process), and the max |difference| from the naive output
   where both ran (float32).
4. **Grouped advantages, Pallas vs XLA**: `bvjax.rl.group_advantages` on float32 rewards
   in dense groups ``[P, 8]`` (``--adv_sizes`` entries) and on ragged ``group_ids`` with
   ``num_groups`` (``--adv_ragged_sizes``): median seconds and achieved GB/s (rewards
   read once, advantages written once) against the chip's memory bandwidth.

FLOP counts (2 flops per multiply-add; ``P = N(N+1)/2`` causal (query, key) pairs per
(batch, head), ``E = D`` value channels, ``T = --cg_iters``). From the closed form of
`local_linear_attention`: scores :math:`q_i\cdot k_j` (2D per pair), the moments
:math:`\mu_i = \sum_j w_{ij}(k_j - q_i)` (2D per pair) and
:math:`\Sigma_i = \sum_j w_{ij}(k_j-q_i)(k_j-q_i)^\top` (2D² per pair), the solve
:math:`\rho_i = (\Sigma_i + \lambda_i\omega_i I)^{-1}\mu_i` (LU, (2/3)D³ + 2D² per query),
the weights' :math:`\rho_i\cdot(k_j-q_i)` (2D per pair) and the output
:math:`\sum_j S_{ij} v_j` (2E per pair):

.. math::
    F_\text{closed} = BH\,[P\,(6D + 2D^2 + 2E) + N(\tfrac23 D^3 + 2D^2)] .

The CG paths (chunked, pallas) never form :math:`\Sigma_i`; they run T matrix-free
products instead. Their executed count is FlashLLA's forward
(`pallas_kernels.flash_lla.flash_lla_cost`): pass 1 (:math:`QK^\top`, :math:`WK`), T CG
passes (:math:`QK^\top`, :math:`PK^\top`, :math:`(W\circ PK^\top)K`) and the output pass:

.. math::
    F_\text{CG} = BH\,[(8 + 6T)\,P D + 2 P E] .

A row reports TFLOP/s of its own executed count (``F_closed`` for naive, ``F_CG`` for the
CG paths) and, to compare paths on equal work, of ``F_closed`` (``closed_form_tflops``).
Peaks are dense bf16 tensor-core / MXU figures by ``device_kind`` (`PEAKS`); an unknown
kind reports "unknown" and no fraction.

Time budget: the whole run stays under ``--time_budget_s`` (default 450 s, under 8
minutes with start-up). Rows run smallest first; before each, its time is estimated from
the previous size of the same path (LLA work grows as N², advantages as N; the first
size of a path counts its compile time) and a row that would not fit is skipped with
that reason, as is every larger row of that path. An out-of-memory or compile failure is
recorded on its row (status ``oom`` / ``failed`` with the error's first line) and the
run goes on. Exit status 0 unless the platform check fails (a failed test or row is
recorded, not fatal: read the tables).
"""

from __future__ import annotations

import datetime
import gc
import json
import math
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time
from typing import Any

from absl import app, flags

STEM = "device_check"  # the output files: STEM + ".json" and STEM + ".md"
_OUT = flags.DEFINE_string("out", "workdir/device_check", "Folder for device_check.json and its markdown tables.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "CPU check of this script: tiny sizes, Pallas in interpret mode, "
                             "pytest only collects the kernel tests.")
_BUDGET = flags.DEFINE_float("time_budget_s", 450.0, "Whole run (tests + benchmarks) in seconds; rows that "
                             "would not fit are skipped and recorded as such.")
_TESTS_BUDGET = flags.DEFINE_float("tests_budget_s", 240.0, "Timeout of the kernel-test step.")
_SKIP_TESTS = flags.DEFINE_bool("skip_tests", False, "Skip the kernel tests.")
_NS = flags.DEFINE_list("ns", ["1024", "2048", "4096", "8192", "16384"], "LLA sequence lengths N.")
_DS = flags.DEFINE_list("ds", ["64", "128"], "LLA head dims D (= value dims E).")
_PATHS = flags.DEFINE_list("paths", ["naive", "chunked", "pallas"], "LLA paths, in the order run per size.")
_BATCH = flags.DEFINE_integer("batch", 1, "LLA batch B.")
_HEADS = flags.DEFINE_integer("heads", 8, "LLA heads H.")
_RIDGE = flags.DEFINE_float("ridge", 1.0, "LLA ridge.")
_CG_ITERS = flags.DEFINE_integer("cg_iters", 32, "CG iterations T of the chunked and Pallas paths (the library "
                                 "default).")
_REPEATS = flags.DEFINE_integer("timing_repeats", 10, "Timed calls per row (median); 3 for calls over 1 s.")
_ADV_SIZES = flags.DEFINE_list("adv_sizes", ["65536", "1048576", "16777216"], "Rewards per dense [P, 8] batch.")
_ADV_RAGGED = flags.DEFINE_list("adv_ragged_sizes", ["4096", "32768"], "Rewards per ragged (group_ids) batch.")

GROUP_SIZE = 8
DRY_RUN_NS = [16, 32]  # two sizes, so the dry run also goes through the budget's estimate

# Dense bf16 peak TFLOP/s and memory bandwidth (TB/s) by device_kind, from the vendors' data
# sheets; the first pattern that matches (case-insensitive) wins.
PEAKS: tuple[tuple[str, str, float, float], ...] = (
    (r"H200", "NVIDIA H200", 989.0, 4.8),
    (r"H100.*PCIe", "NVIDIA H100 PCIe", 756.0, 2.0),
    (r"H100.*NVL", "NVIDIA H100 NVL", 835.0, 3.9),
    (r"H100", "NVIDIA H100 SXM", 989.0, 3.35),
    (r"A100.*80GB", "NVIDIA A100 80GB", 312.0, 2.0),
    (r"A100", "NVIDIA A100", 312.0, 1.555),
    (r"TPU v4", "TPU v4", 275.0, 1.2),
    (r"TPU v5 ?lite|TPU v5e", "TPU v5e", 197.0, 0.819),
    (r"TPU v5p|TPU v5$", "TPU v5p", 459.0, 2.765),
    (r"TPU v6|Trillium", "TPU v6e", 918.0, 1.64),
)

KERNEL_TESTS = ("tests/pallas_kernels", "tests/attention/test_lla.py", "tests/attention/test_numerics.py",
                "tests/rl/test_advantages.py", "tests/rl/test_hierarchical.py", "tests/rl/test_nonfinite_groups.py")

_ROOT = pathlib.Path(__file__).resolve().parents[1]


def peak_for(device_kind: str) -> dict[str, Any]:
    """``{"chip", "peak_tflops", "peak_tb_per_s"}`` for `device_kind`; chip "unknown" and None peaks otherwise."""
    for pattern, chip, tflops, bandwidth in PEAKS:
        if re.search(pattern, device_kind, flags=re.IGNORECASE):
            return {"chip": chip, "peak_tflops": tflops, "peak_tb_per_s": bandwidth}
    return {"chip": "unknown", "peak_tflops": None, "peak_tb_per_s": None}


def lla_flops(batch: int, heads: int, n: int, d: int, e: int, *, cg_iters: int) -> dict[str, int]:
    """``{"closed_form": F_closed, "cg": F_CG}``: the module docstring's counts, causal."""
    pairs = batch * heads * n * (n + 1) // 2
    solve = batch * heads * n * (2 * d ** 3 // 3 + 2 * d * d)
    return {"closed_form": pairs * (6 * d + 2 * d * d + 2 * e) + solve,
            "cg": (8 + 6 * cg_iters) * pairs * d + 2 * pairs * e}


def _first_line(err: BaseException, limit: int = 300) -> str:
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(err).__name__}: {text[:limit]}"


def _is_oom(err: BaseException) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower() or "OOM" in text


class Recorder:
    """Holds the results and rewrites the JSON and markdown after every change."""

    def __init__(self, out: pathlib.Path, meta: dict[str, Any]):
        self.out = out
        self.data: dict[str, Any] = {"meta": meta, "tests": None, "lla": [], "advantages": []}
        out.mkdir(parents=True, exist_ok=True)

    def write(self) -> None:
        for name, text in ((STEM + ".json", json.dumps(self.data, indent=1, default=str)),
                           (STEM + ".md", markdown(self.data))):
            tmp = self.out / (name + ".tmp")
            tmp.write_text(text + "\n")
            os.replace(tmp, self.out / name)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def markdown(data: dict[str, Any]) -> str:
    """The tables of `data` (device_check.json's content)."""
    meta = data["meta"]
    lines = ["# Device check", "",
             f"{meta['platform']} · {meta['device_kind']} ({meta['chip']}; peak "
             f"{_fmt(meta['peak_tflops'], 'g')} bf16 TFLOP/s, {_fmt(meta['peak_tb_per_s'], 'g')} TB/s) · "
             f"jax {meta['jax']} · {'dry run' if meta['dry_run'] else 'full run'} · started {meta['started']} · "
             f"budget {meta['time_budget_s']:g} s" + (f" · took {meta['total_s']:.1f} s" if "total_s" in meta else ""),
             ""]
    tests = data["tests"]
    lines += ["## Kernel tests", ""]
    if tests is None:
        lines += ["not run yet", ""]
    else:
        lines += [(f"`{tests['command']}` with {tests['env']}: **{tests['status']}** — {tests['summary']} "
                   f"({tests['seconds']:.1f} s)"), ""]
    lines += ["## Local linear attention (causal, bf16)", "", *_header(
        "path", "N", "D", "B×H", "status", "compile s", "median ms", "TFLOP/s", "% peak", "closed-form TFLOP/s",
        "temp MiB", "device peak MiB", "max abs diff vs naive", "note")]
    for r in data["lla"]:
        lines.append(
            f"| {r['path']} | {r['n']} | {r['d']} | {r['batch'] * r['heads']} | {r['status']} | "
            f"{_fmt(r.get('compile_s'), '.2f')} | {_fmt(_ms(r.get('median_s')), '.3f')} | "
            f"{_fmt(r.get('tflops'), '.3g')} | {_fmt(_pct(r.get('fraction_of_peak')), '.1f')} | "
            f"{_fmt(r.get('closed_form_tflops'), '.3g')} | {_fmt(_mib(r.get('temp_bytes')), '.1f')} | "
            f"{_fmt(_mib(r.get('device_peak_bytes')), '.1f')} | {_fmt(r.get('max_abs_diff_vs_naive'), '.2e')} | "
            f"{r.get('reason', '')} |")
    lines += ["", "## Grouped advantages (float32, groups of 8)", "", *_header(
        "layout", "entries", "implementation", "status", "compile s", "median ms", "GB/s", "% peak bandwidth",
        "max abs diff vs xla", "note")]
    for r in data["advantages"]:
        lines.append(
            f"| {r['layout']} | {r['n']} | {r['implementation']} | {r['status']} | {_fmt(r.get('compile_s'), '.2f')} | "
            f"{_fmt(_ms(r.get('median_s')), '.3f')} | {_fmt(r.get('gb_per_s'), '.3g')} | "
            f"{_fmt(_pct(r.get('fraction_of_bandwidth')), '.1f')} | {_fmt(r.get('max_abs_diff_vs_xla'), '.2e')} | "
            f"{r.get('reason', '')} |")
    return "\n".join(lines)


def _header(*names: str) -> list[str]:
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _ms(seconds):
    return None if seconds is None else seconds * 1e3


def _pct(fraction):
    return None if fraction is None else fraction * 100


def _mib(nbytes):
    return None if nbytes is None else nbytes / 2 ** 20


# ---------------------------------------------------------------- steps 1 and 2: child processes


def probe_platform(timeout: float = 120.0) -> dict[str, str]:
    """The default backend and device kind, asked of a child process (this one stays off the device)."""
    code = "import jax; d = jax.devices()[0]; print(jax.default_backend()); print(d.device_kind)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            check=False, cwd=_ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"device_check: cannot start jax: {result.stderr.strip().splitlines()[-1:]}")
    platform, kind = result.stdout.strip().splitlines()[-2:]
    return {"platform": platform, "device_kind": kind}


def run_kernel_tests(platform: str, *, timeout: float, collect_only: bool) -> dict[str, Any]:
    """pytest on `KERNEL_TESTS` in a child process on `platform`; counts and output tail."""
    env = dict(os.environ, JAX_PLATFORMS=platform)
    shown_env = {"JAX_PLATFORMS": platform}
    args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "not slow", *KERNEL_TESTS]
    if collect_only:
        args.insert(args.index("-q"), "--collect-only")
    command = "python " + shlex.join(args)
    start = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                                check=False, cwd=_ROOT, env=env)
        output, code, status = result.stdout + result.stderr, result.returncode, None
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        code, status = None, f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    counts = {word: int(num) for num, word in re.findall(
        r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|tests? collected)", output)}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "no summary line"
    if status is None:
        status = "passed" if code == 0 else f"exit status {code}"
    return {"command": command, "env": shown_env, "status": status, "returncode": code, "counts": counts,
            "summary": summary, "seconds": seconds, "output_tail": output[-4000:]}


# ---------------------------------------------------------------- steps 3 and 4: benchmarks in this process


class Budget:
    """Seconds left of the run, and estimates of a row's time from the previous size of its path."""

    def __init__(self, total: float, start: float):
        self.total, self.start = total, start
        self.last: dict[Any, tuple[int, float, float]] = {}  # path key -> (size, compile s, call s)

    def left(self) -> float:
        return self.total - (time.perf_counter() - self.start)

    def estimate(self, key, size: int, power: float, repeats: int) -> float | None:
        if key not in self.last:
            return None
        prev_size, compile_s, call_s = self.last[key]
        call = call_s * (size / prev_size) ** power
        return compile_s + (repeats + 1) * call

    def record(self, key, size: int, compile_s: float, call_s: float) -> None:
        self.last[key] = (size, compile_s, call_s)


def _device_peak_bytes(device) -> int | None:
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - some backends raise instead of returning None
        return None
    return None if not stats else stats.get("peak_bytes_in_use")


def _time_compiled(jax, fn, args, repeats: int) -> dict[str, Any]:
    """Compiles ``jax.jit(fn)`` for `args`, then the median of `repeats` calls (fewer when slow)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    out = jax.block_until_ready(compiled(*args))  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
        if times[0] > 1.0 and len(times) >= 3:
            break
    times.sort()
    return {"compile_s": compile_s, "median_s": times[len(times) // 2], "repeats_run": len(times),
            "temp_bytes": getattr(memory, "temp_size_in_bytes", None) if memory is not None else None,
            "output": out}


def bench_lla(recorder: Recorder, budget: Budget, *, ns, ds, paths, batch, heads, ridge, cg_iters, repeats,
              peak_tflops) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from bvjax.attention import local_linear_attention, local_linear_attention_chunked

    fns = {
        "naive": lambda q, k, v: local_linear_attention(q, k, v, ridge=ridge, implementation="xla"),
        "chunked": lambda q, k, v: local_linear_attention_chunked(q, k, v, ridge=ridge, cg_iters=cg_iters),
        "pallas": lambda q, k, v: local_linear_attention(q, k, v, ridge=ridge, implementation="pallas",
                                                         cg_iters=cg_iters),
    }
    device = jax.devices()[0]
    given_up: dict[tuple[str, int], str] = {}
    for n in ns:
        for d in ds:
            base = {"n": n, "d": d, "batch": batch, "heads": heads, "dtype": "bfloat16", "ridge": ridge,
                    "cg_iters": cg_iters}
            keys = jax.random.split(jax.random.key(n * 1000 + d), 3)
            q, k, v = (jax.random.normal(kk, (batch, n, heads, d), jnp.bfloat16) for kk in keys)
            flops = lla_flops(batch, heads, n, d, d, cg_iters=cg_iters)
            naive_out = None
            for path in paths:
                row = {"path": path, **base, "flops": flops["closed_form" if path == "naive" else "cg"],
                       "closed_form_flops": flops["closed_form"]}
                if (path, d) in given_up:
                    row.update(status="skipped", reason=given_up[(path, d)])
                    recorder.data["lla"].append(row)
                    recorder.write()
                    continue
                estimate = budget.estimate((path, d), n, 2.0, repeats)
                if estimate is not None and estimate > budget.left():
                    reason = f"time budget: ~{estimate:.0f} s needed, {max(budget.left(), 0):.0f} s left"
                    given_up[(path, d)] = f"time budget: a smaller N of this path was skipped ({reason})"
                    row.update(status="skipped", reason=reason)
                    recorder.data["lla"].append(row)
                    recorder.write()
                    continue
                try:
                    result = _time_compiled(jax, fns[path], (q, k, v), repeats)
                except Exception as err:  # noqa: BLE001 - recorded on the row; the run goes on
                    status = "oom" if _is_oom(err) else "failed"
                    row.update(status=status, reason=_first_line(err))
                    given_up[(path, d)] = f"{status} at N = {n}"
                else:
                    out = np.asarray(result.pop("output"), np.float32)
                    seconds = result["median_s"]
                    row.update(status="ok", **result, tflops=row["flops"] / seconds / 1e12,
                               closed_form_tflops=flops["closed_form"] / seconds / 1e12,
                               device_peak_bytes=_device_peak_bytes(device))
                    row["fraction_of_peak"] = row["tflops"] / peak_tflops if peak_tflops else None
                    if path == "naive":
                        naive_out = out
                    elif naive_out is not None:
                        row["max_abs_diff_vs_naive"] = float(np.max(np.abs(out - naive_out)))
                    budget.record((path, d), n, result["compile_s"], seconds)
                    del out
                recorder.data["lla"].append(row)
                recorder.write()
                gc.collect()
            del q, k, v, naive_out
            gc.collect()


def _advantages_fn(group_advantages, impl: str, n: int, ragged: bool):
    if ragged:
        return lambda r, g: group_advantages(r, g, implementation=impl, num_groups=n // GROUP_SIZE)
    return lambda r: group_advantages(r, implementation=impl)


def bench_advantages(recorder: Recorder, budget: Budget, *, dense_sizes, ragged_sizes, repeats,
                     peak_tb_per_s) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from bvjax.rl import group_advantages

    cases = [("dense [P, 8]", n) for n in dense_sizes] + [("ragged ids", n) for n in ragged_sizes]
    given_up: dict[tuple[str, str], str] = {}
    for layout, n in cases:
        key = jax.random.key(n)
        rewards = jax.random.bernoulli(key, 0.4, (n,)).astype(jnp.float32) + 0.1 * jax.random.normal(key, (n,))
        if layout.startswith("dense"):
            args = (rewards.reshape(n // GROUP_SIZE, GROUP_SIZE),)
        else:
            ids = jax.random.permutation(key, jnp.arange(n) // GROUP_SIZE).astype(jnp.int32)
            args = (rewards, ids)
        reference = None
        for impl in ("xla", "pallas"):
            row = {"layout": layout, "n": n, "implementation": impl, "dtype": "float32"}
            power = 2.0 if (layout.startswith("ragged") and impl == "pallas") else 1.0  # pairwise O(N^2) kernel
            estimate = budget.estimate((layout, impl), n, power, repeats)
            if (layout, impl) in given_up:
                row.update(status="skipped", reason=given_up[(layout, impl)])
            elif estimate is not None and estimate > budget.left():
                row.update(status="skipped",
                           reason=f"time budget: ~{estimate:.0f} s needed, {max(budget.left(), 0):.0f} s left")
                given_up[(layout, impl)] = "time budget: a smaller size was skipped"
            else:
                try:
                    result = _time_compiled(jax, _advantages_fn(group_advantages, impl, n, len(args) == 2), args,
                                            repeats)
                except Exception as err:  # noqa: BLE001 - recorded on the row; the run goes on
                    status = "oom" if _is_oom(err) else "failed"
                    row.update(status=status, reason=_first_line(err))
                    given_up[(layout, impl)] = f"{status} at {n} entries"
                else:
                    out = np.asarray(result.pop("output"))
                    seconds = result["median_s"]
                    gb_per_s = 2 * 4 * n / seconds / 1e9
                    row.update(status="ok", **result, gb_per_s=gb_per_s,
                               fraction_of_bandwidth=gb_per_s / (peak_tb_per_s * 1e3) if peak_tb_per_s else None)
                    if reference is None:
                        reference = out
                    else:
                        row["max_abs_diff_vs_xla"] = float(np.max(np.abs(out - reference)))
                    budget.record((layout, impl), n, result["compile_s"], seconds)
            recorder.data["advantages"].append(row)
            recorder.write()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    start = time.perf_counter()
    dry = _DRY_RUN.value
    out = pathlib.Path(_OUT.value)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave GPU memory to the test process
    found = probe_platform()
    if found["platform"] not in ("gpu", "tpu", "cuda", "rocm") and not dry:
        raise SystemExit(f"device_check: no GPU or TPU (default backend {found['platform']!r}, "
                         f"{found['device_kind']}); run with --dry_run to check the script on CPU")
    import jax

    meta = {"platform": found["platform"], "device_kind": found["device_kind"], **peak_for(found["device_kind"]),
            "jax": jax.__version__, "dry_run": dry, "time_budget_s": _BUDGET.value,
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "flop_counts": "closed form: B H [P (6D + 2D^2 + 2E) + N (2/3 D^3 + 2 D^2)]; CG paths: "
                           "B H [(8 + 6T) P D + 2 P E]; P = N(N+1)/2",
            "argv": sys.argv[1:]}
    recorder = Recorder(out, meta)
    recorder.write()
    budget = Budget(_BUDGET.value, start)

    if _SKIP_TESTS.value:
        recorder.data["tests"] = {"command": "", "env": {}, "status": "skipped", "summary": "--skip_tests",
                                  "seconds": 0.0}
    else:
        timeout = max(min(_TESTS_BUDGET.value, budget.left() - 30.0), 10.0)
        recorder.data["tests"] = run_kernel_tests(found["platform"], timeout=timeout, collect_only=dry)
    recorder.write()

    if dry:
        ns, ds, batch, heads, repeats = DRY_RUN_NS, [8], 1, 2, 2
        dense, ragged = [256], [64]
    else:
        ns, ds = [int(x) for x in _NS.value], [int(x) for x in _DS.value]
        batch, heads, repeats = _BATCH.value, _HEADS.value, _REPEATS.value
        dense, ragged = [int(x) for x in _ADV_SIZES.value], [int(x) for x in _ADV_RAGGED.value]
    unknown = sorted(set(_PATHS.value) - {"naive", "chunked", "pallas"})
    if unknown:
        raise app.UsageError(f"--paths: unknown {unknown}; valid: naive, chunked, pallas")
    bench_lla(recorder, budget, ns=ns, ds=ds, paths=_PATHS.value, batch=batch, heads=heads, ridge=_RIDGE.value,
              cg_iters=4 if dry else _CG_ITERS.value, repeats=repeats, peak_tflops=meta["peak_tflops"])
    bench_advantages(recorder, budget, dense_sizes=dense, ragged_sizes=ragged, repeats=repeats,
                     peak_tb_per_s=meta["peak_tb_per_s"])
    meta["total_s"] = time.perf_counter() - start
    recorder.write()
    print(f"device_check: wrote {out / (STEM + '.json')} and {out / (STEM + '.md')} "
          f"in {meta['total_s']:.1f} s")


if __name__ == "__main__":
    app.run(main)
