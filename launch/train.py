"""The training loop every bvjax experiment runs in: mesh, checkpoints, metrics, report.

`train_and_evaluate(config, workdir)` is importable (tests call it directly) and does
the work behind `python -m launch.main`. An experiment (launch/experiments/) supplies
pure functions; this module owns everything with side effects:

- a `jax.sharding.Mesh` with one ``data`` axis over the devices; each batch is made
  by a jitted function whose output is sharded along its leading axis, and the train
  step runs under `jax.jit` with replicated state;
- all randomness from ``config.seed``: step ``s`` draws its batch from
  ``fold_in(key, s)``, so a resumed run replays exactly the batches it missed;
- an orbax `CheckpointManager` in ``<workdir>/checkpoints`` saving every
  ``config.checkpoint_every`` steps and at the end; a new run resumes from the latest
  step. If the latest step cannot be restored (a file truncated or removed after
  orbax committed it), it logs a warning naming the step and falls back to the
  previous one; if none can be restored it raises `RuntimeError` naming every step
  it tried. (Partly written saves never count: orbax commits a step atomically.)
- metrics appended to ``<workdir>/metrics.jsonl`` (records past the restored step
  are dropped on resume, so the file reads as if the run had never stopped), a
  console progress line (step, steps/s, ETA), and at the end the experiment's PNG
  plots and ``<workdir>/report.md``.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import time
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from launch import experiments

DATA_AXIS = "data"

# Environment variables that name a multi-host job, for `jax.distributed.initialize`.
_MULTIHOST_MARKERS = {
    "JAX_COORDINATOR_ADDRESS": lambda v: bool(v),
    "MEGASCALE_COORDINATOR_ADDRESS": lambda v: bool(v),
    "TPU_WORKER_HOSTNAMES": lambda v: "," in v,
    "SLURM_NTASKS": lambda v: v.isdigit() and int(v) > 1,
    "OMPI_COMM_WORLD_SIZE": lambda v: v.isdigit() and int(v) > 1,
}


def is_multihost_job(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment names a multi-host job (TPU pod, SLURM, Open MPI, ...)."""
    return any(test(environ[name]) for name, test in _MULTIHOST_MARKERS.items() if name in environ)


def maybe_initialize_distributed(environ: Mapping[str, str] = os.environ) -> bool:
    """Calls `jax.distributed.initialize()` for a multi-host job; returns whether it did.

    Must run before the first JAX computation (launch/main.py calls it first thing).
    """
    if not is_multihost_job(environ):
        return False
    jax.distributed.initialize()
    return True


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D mesh with axis ``data`` over the first `num_devices` devices (0: all)."""
    devices = jax.devices()
    if num_devices < 0 or num_devices > len(devices):
        raise ValueError(f"config.num_devices: expected 0 (all) or 1..{len(devices)}, got {num_devices}")
    chosen = devices[: num_devices or len(devices)]
    return Mesh(np.asarray(chosen), (DATA_AXIS,))


def _restore_latest(manager: ocp.CheckpointManager, abstract_state: Any) -> tuple[int, Any] | None:
    """Restores the newest restorable step, falling back past corrupted ones."""
    steps = sorted(manager.all_steps(), reverse=True)
    failures = []
    for step in steps:
        try:
            state = manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
        except Exception as err:  # noqa: BLE001 - any failure to read a step means "corrupted"
            failures.append(f"step {step}: {type(err).__name__}: {err}")
            logging.warning("Checkpoint step %d in %s cannot be restored (%s: %s); "
                            "falling back to the previous step.", step, manager.directory,
                            type(err).__name__, err)
            continue
        return step, state
    if failures:
        raise RuntimeError(f"No checkpoint in {manager.directory} can be restored; tried "
                           + "; ".join(failures))
    return None


def _read_history(path: pathlib.Path, up_to_step: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["step"] <= up_to_step]


def _write_history(path: pathlib.Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    os.replace(tmp, path)


def _to_python(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in jax.device_get(dict(metrics)).items()}


def _format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, Any]:
    """Trains and evaluates the experiment ``config.experiment``, resuming from `workdir`.

    Args:
        config: the experiment's config (see launch/configs/); needs ``experiment``,
            ``seed``, ``num_steps``, ``batch_size``, ``eval_every``, ``log_every``,
            ``checkpoint_every``, ``max_checkpoints`` and ``num_devices``.
        workdir: where checkpoints, ``metrics.jsonl``, plots and ``report.md`` go.

    Returns:
        The final state (host numpy arrays), the metrics history and the report path.
    """
    experiment = experiments.get(config.experiment)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    mesh = make_mesh(config.num_devices)
    num_shards = mesh.devices.size
    if config.batch_size % num_shards:
        raise ValueError(f"config.batch_size: expected a multiple of the {num_shards} devices "
                         f"on the data axis, got {config.batch_size}")
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = NamedSharding(mesh, PartitionSpec(DATA_AXIS))

    root = jax.random.key(config.seed)
    init_key, data_key, eval_key = jax.random.split(root, 3)

    init_fn = jax.jit(functools.partial(experiment.init, config), out_shardings=replicated)
    batch_fn = jax.jit(functools.partial(experiment.make_batch, config), out_shardings=sharded)
    step_fn = jax.jit(functools.partial(experiment.train_step, config),
                      in_shardings=(replicated, sharded), out_shardings=(replicated, replicated),
                      donate_argnums=0)
    eval_fn = functools.partial(experiment.evaluate, config)
    if experiment.jit_evaluate:
        eval_fn = jax.jit(eval_fn, out_shardings=replicated)

    abstract_state = jax.eval_shape(init_fn, init_key)
    abstract_state = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=replicated), abstract_state)
    options = ocp.CheckpointManagerOptions(max_to_keep=config.max_checkpoints, create=True,
                                           cleanup_tmp_directories=True)
    metrics_path = workdir / "metrics.jsonl"
    with ocp.CheckpointManager((workdir / "checkpoints").absolute(), options=options) as manager:
        restored = _restore_latest(manager, abstract_state)
        if restored is None:
            start, state = 0, init_fn(init_key)
            history: list[dict[str, Any]] = []
            logging.info("Starting %s from scratch in %s", config.experiment, workdir)
        else:
            start, state = restored
            history = _read_history(metrics_path, start)
            logging.info("Resumed %s from step %d in %s", config.experiment, start, workdir)
        _write_history(metrics_path, history)

        if start == 0:
            record = {"step": 0, **_to_python(eval_fn(state, jax.random.fold_in(eval_key, 0)))}
            history.append(record)
            _write_history(metrics_path, history)

        tick, tick_step = time.perf_counter(), start
        with metrics_path.open("a") as metrics_file:
            for step in range(start + 1, config.num_steps + 1):
                batch = batch_fn(jax.random.fold_in(data_key, step))
                state, train_metrics = step_fn(state, batch)
                if step % config.eval_every == 0 or step == config.num_steps:
                    metrics = eval_fn(state, jax.random.fold_in(eval_key, step))
                    record = {"step": step, **_to_python(train_metrics), **_to_python(metrics)}
                    history.append(record)
                    metrics_file.write(json.dumps(record) + "\n")
                    metrics_file.flush()
                if step % config.checkpoint_every == 0 or step == config.num_steps:
                    manager.save(step, args=ocp.args.StandardSave(state))
                if step % config.log_every == 0 or step == config.num_steps:
                    jax.block_until_ready(state)
                    now = time.perf_counter()
                    rate = (step - tick_step) / max(now - tick, 1e-9)
                    eta = (config.num_steps - step) / max(rate, 1e-9)
                    shown = experiment.progress(history[-1]) if history else ""
                    logging.info("step %d/%d | %.1f steps/s | ETA %s | %s", step, config.num_steps,
                                 rate, _format_eta(eta), shown)
                    tick, tick_step = now, step
        manager.wait_until_finished()

    final_state = jax.device_get(state)
    report_body = experiment.report(config, workdir, history)
    report_path = workdir / "report.md"
    report_path.write_text(report_body)
    logging.info("Wrote %s", report_path)
    return {"state": final_state, "history": history, "report": report_path}
