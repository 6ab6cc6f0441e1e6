"""The training loop every bvjax experiment runs in: mesh, checkpoints, metrics, report.

`train_and_evaluate(config, workdir)` is importable (tests call it directly) and does
the work behind `python -m launch.main`. An experiment (launch/experiments/) supplies
pure functions; this module owns everything with side effects. (A measurement, an
experiment with ``measure(config, key)`` instead of a training step, runs through the
thin runner in launch/measure.py; what follows is the training loop.)

- before any device work: the config is validated (launch/configs/common.py), process 0
  takes the workdir's lock and compares the config with the one recorded in
  ``<workdir>/config.json`` (launch/workdir.py), then records it; a refused run
  raises `launch.workdir.LaunchError` with one line per problem and changes nothing;
- a `jax.sharding.Mesh` with axes ``data`` and ``param`` (``config.param_shards``
  devices on ``param``, default 1); each batch is made by a jitted function whose
  output is sharded along its leading axis over every device; parameters and
  optimizer state are laid out by `state_sharding` (each array split over ``param``
  along its largest divisible dimension, FSDP-style; replicated when
  ``param_shards = 1``), and the train step runs under `jax.jit`;
- all randomness from ``config.seed``: step ``s`` draws its batch from
  ``fold_in(key, s)``, so a resumed run replays exactly the batches it missed;
- an orbax `CheckpointManager` in ``<workdir>/checkpoints`` saving every
  ``config.checkpoint_every`` steps and at the end; a new run resumes from the latest
  step. If the latest step cannot be restored (a file truncated or removed after
  orbax committed it), it logs one warning naming the step and why, moves that step
  to ``<workdir>/checkpoints.corrupted/`` (kept, not deleted) and falls back to the
  previous one; the run saves that step again when it passes it. If none can be
  restored it raises `RuntimeError` naming every step it tried. (Partly written saves
  never count: orbax commits a step atomically.)
- metrics appended whole and fsynced to ``<workdir>/metrics.jsonl``; on resume a torn
  last line is cut off and rows past the restored step are dropped, so the file reads
  as if the run had never stopped; a console progress line (step, steps/s, ETA), and
  at the end the experiment's PNG plots and ``<workdir>/report.md``.
- on a multi-host job every process computes and checkpoints; only process 0 writes
  the config record, the lock, metrics, plots and the report.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import sys
import time
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from launch import experiments
from launch import workdir as workdir_lib
from launch.configs import common

DATA_AXIS = "data"
PARAM_AXIS = "param"

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

    On TPU pods, SLURM and Open MPI jax finds the coordinator, process count and id
    itself. Elsewhere (GPU hosts, or processes on one machine) set
    ``JAX_COORDINATOR_ADDRESS=host:port`` with ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``, which are passed on. Must run before the first JAX computation
    (launch/main.py calls it first thing).
    """
    if not is_multihost_job(environ):
        return False
    kwargs = {}
    if environ.get("JAX_NUM_PROCESSES") and environ.get("JAX_PROCESS_ID"):
        kwargs = {"coordinator_address": environ.get("JAX_COORDINATOR_ADDRESS"),
                  "num_processes": int(environ["JAX_NUM_PROCESSES"]),
                  "process_id": int(environ["JAX_PROCESS_ID"])}
    jax.distributed.initialize(**kwargs)
    return True


def is_writer() -> bool:
    """True on the one process that writes anything but checkpoints (process 0)."""
    return jax.process_index() == 0


def _agree(ok: bool, error: BaseException | None) -> None:
    """Every process learns whether process 0 could go on; the others stop when it cannot."""
    if jax.process_count() > 1:
        go = bool(multihost_utils.broadcast_one_to_all(np.int32(ok)))
        if not go and error is None:
            raise workdir_lib.LaunchError("process 0 refused to start the run; its log says why")
    if error is not None:
        raise error


class CheckpointError(workdir_lib.LaunchError, RuntimeError):
    """No checkpoint step in the workdir can be restored."""


def make_mesh(num_devices: int = 0, param_shards: int = 1) -> Mesh:
    """A mesh ``(data, param)`` over the first `num_devices` devices (0: all).

    ``param`` has `param_shards` devices (parameter sharding); ``data`` the rest.
    """
    devices = jax.devices()
    if num_devices < 0 or num_devices > len(devices):
        raise common.ConfigError(f"config.num_devices={num_devices}: expected 0 (all) or 1..{len(devices)}")
    chosen = devices[: num_devices or len(devices)]
    if param_shards < 1 or len(chosen) % param_shards:
        raise common.ConfigError(f"config.param_shards={param_shards}: expected a divisor of the "
                                 f"{len(chosen)} devices on the mesh")
    return Mesh(np.asarray(chosen).reshape(len(chosen) // param_shards, param_shards), (DATA_AXIS, PARAM_AXIS))


def leaf_spec(shape: tuple[int, ...], param_shards: int) -> PartitionSpec:
    """The layout rule: split the largest dimension divisible by `param_shards` over ``param``.

    Scalars, arrays with no such dimension, and every array when `param_shards` is 1
    are replicated. Ties go to the leading dimension.
    """
    if param_shards <= 1:
        return PartitionSpec()
    candidates = [(size, -axis) for axis, size in enumerate(shape) if size % param_shards == 0 and size > 0]
    if not candidates:
        return PartitionSpec()
    _, neg_axis = max(candidates)
    spec = [None] * len(shape)
    spec[-neg_axis] = PARAM_AXIS
    return PartitionSpec(*spec)


def state_sharding(mesh: Mesh, abstract_state: Any) -> Any:
    """A `NamedSharding` per leaf of `abstract_state`, by `leaf_spec` over its shape."""
    shards = mesh.shape[PARAM_AXIS]
    return jax.tree.map(lambda s: NamedSharding(mesh, leaf_spec(tuple(s.shape), shards)), abstract_state)


def _step_dir(manager: ocp.CheckpointManager, step: int) -> pathlib.Path:
    return pathlib.Path(str(manager.directory)) / str(step)


def _move_corrupted(manager: ocp.CheckpointManager, step: int) -> None:
    """Moves a step that cannot be restored to ``checkpoints.corrupted`` beside the checkpoints."""
    source = _step_dir(manager, step)
    if not source.exists():
        return
    aside = source.parent.with_name(source.parent.name + ".corrupted")
    aside.mkdir(exist_ok=True)
    target = aside / f"{step}.{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    suffix = 1
    while target.exists():
        target = aside / f"{step}.{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{suffix}"
        suffix += 1
    os.rename(source, target)
    logging.warning("Moved the corrupted checkpoint step %d to %s", step, target)


def _first_line(err: BaseException, limit: int = 240) -> str:
    """``Type: first line of the message``, cut before tensorstore's spec dump and at `limit`."""
    lines = str(err).strip().splitlines()
    text = (lines[0] if lines else "").split(" [tensorstore_spec", 1)[0]
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(err).__name__}: {text}"


def _is_closed_loop_noise(exc: BaseException | None) -> bool:
    return isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)


@contextlib.contextmanager
def _quiet_closed_event_loop():
    """Silences the ``RuntimeError: Event loop is closed`` tracebacks of a failed orbax restore.

    When tensorstore fails to read a step, its late callbacks reach an asyncio loop that
    orbax already closed; Python prints those through `sys.excepthook` (or the
    unraisable hook) although nothing is wrong. Every other error still prints.
    """
    old_hook, old_unraisable = sys.excepthook, sys.unraisablehook

    def hook(kind, value, tb):
        if not _is_closed_loop_noise(value):
            old_hook(kind, value, tb)

    def unraisable(info):
        if not _is_closed_loop_noise(info.exc_value):
            old_unraisable(info)

    sys.excepthook, sys.unraisablehook = hook, unraisable
    try:
        yield
    finally:
        sys.excepthook, sys.unraisablehook = old_hook, old_unraisable


def _restore_latest(manager: ocp.CheckpointManager, abstract_state: Any) -> tuple[int, Any] | None:
    """Restores the newest restorable step, moving corrupted ones aside and falling back."""
    steps = sorted(manager.all_steps(), reverse=True)
    failures = []
    moved = False
    for step in steps:
        try:
            state = manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
        except Exception as err:  # noqa: BLE001 - any failure to read a step means "corrupted"
            failures.append(f"step {step}: {_first_line(err)}")
            logging.warning("Checkpoint step %d in %s cannot be restored (%s); falling back to the "
                            "previous step.", step, manager.directory, _first_line(err))
            if is_writer():
                _move_corrupted(manager, step)
            moved = True
            continue
        break
    else:
        state = None
    if moved:
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("bvjax_moved_corrupted_checkpoints")
        manager.reload()
    if state is not None:
        return step, state
    if failures:
        raise CheckpointError(f"No checkpoint in {manager.directory} can be restored (moved aside to "
                           f"{pathlib.Path(str(manager.directory)).name}.corrupted); tried " + "; ".join(failures))
    return None


def to_python(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in jax.device_get(dict(metrics)).items()}


def _format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _to_host(state: Any) -> Any:
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(state, tiled=True)
    return jax.device_get(state)


def prepare_workdir(config: ml_collections.ConfigDict, workdir: pathlib.Path, experiment: experiments.Experiment,
                     fresh: bool, extra_safe: tuple[str, ...] = ()) -> workdir_lib.WorkdirLock | None:
    """Process 0: moves an old workdir aside (`fresh`), locks, checks and records the config.

    `extra_safe` names more fields that may differ from the recorded config.
    """
    lock = None
    error = None
    if is_writer():
        try:
            if fresh:
                workdir_lib.move_aside(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            lock = workdir_lib.WorkdirLock(workdir)
            lock.acquire()
            try:
                workdir_lib.check_config(workdir, config,
                                         safe=workdir_lib.SAFE_TO_CHANGE + tuple(experiment.safe_to_change)
                                         + tuple(extra_safe))
                workdir_lib.write_config(workdir, config)
            except BaseException:
                lock.release()
                raise
        except workdir_lib.LaunchError as err:
            error = err
    _agree(error is None, error)
    return lock


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       fresh: bool = False) -> dict[str, Any]:
    """Trains and evaluates the experiment ``config.experiment``, resuming from `workdir`.

    A measurement experiment (one with ``measure`` and no ``train_step``) goes to
    `launch.measure.measure_and_report` instead: no mesh, no checkpoints, one metrics
    row; its result has no ``"state"``.

    Args:
        config: the experiment's config (see launch/configs/); needs ``experiment``,
            ``seed``, ``num_steps``, ``batch_size``, ``eval_every``, ``log_every``,
            ``checkpoint_every``, ``max_checkpoints`` and ``num_devices``; may set
            ``param_shards`` (default 1).
        workdir: where checkpoints, ``metrics.jsonl``, plots, ``report.md``, the config
            record and the lock go.
        fresh: start over: a non-empty `workdir` is first renamed to
            ``<workdir>.<UTC date-time>`` (nothing is deleted).

    Returns:
        The final state (host numpy arrays), the metrics history and the report path.

    Raises:
        launch.workdir.LaunchError: the config is invalid or differs from the recorded
            one, or another run holds the workdir, or the metrics file is damaged; the
            message is ready to print and the workdir is unchanged.
    """
    experiment = experiments.get(config.experiment)
    if experiment.measure is not None:
        from launch import measure

        return measure.measure_and_report(config, workdir, fresh=fresh)
    common.validate(config, experiment.config_fields, trains=experiment.trains,
                    num_devices_available=jax.device_count())
    param_shards = int(config.get("param_shards", 1))
    mesh = make_mesh(config.num_devices, param_shards)
    num_shards = mesh.devices.size
    if config.batch_size % num_shards:
        raise common.ConfigError(f"config.batch_size={config.batch_size}: expected a multiple of the "
                                 f"{num_shards} devices on the mesh")
    workdir = pathlib.Path(workdir)
    lock = prepare_workdir(config, workdir, experiment, fresh)
    try:
        return _run(config, workdir, experiment, mesh)
    finally:
        if lock is not None:
            lock.release()


def _run(config, workdir, experiment, mesh) -> dict[str, Any]:
    writer = is_writer()
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = NamedSharding(mesh, PartitionSpec((DATA_AXIS, PARAM_AXIS)))

    root = jax.random.key(config.seed)
    init_key, data_key, eval_key = jax.random.split(root, 3)

    abstract_state = jax.eval_shape(functools.partial(experiment.init, config), init_key)
    layout = state_sharding(mesh, abstract_state)
    init_fn = jax.jit(functools.partial(experiment.init, config), out_shardings=layout)
    batch_fn = jax.jit(functools.partial(experiment.make_batch, config), out_shardings=sharded)
    step_fn = jax.jit(functools.partial(experiment.train_step, config),
                      in_shardings=(layout, sharded), out_shardings=(layout, replicated),
                      donate_argnums=0)
    eval_fn = functools.partial(experiment.evaluate, config)
    if experiment.jit_evaluate:
        eval_fn = jax.jit(eval_fn, out_shardings=replicated)

    abstract_state = jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
                                  abstract_state, layout)
    options = ocp.CheckpointManagerOptions(max_to_keep=config.max_checkpoints, create=True,
                                           cleanup_tmp_directories=True)
    metrics_path = workdir / workdir_lib.METRICS_FILE
    with _quiet_closed_event_loop(), ocp.CheckpointManager((workdir / "checkpoints").absolute(), options=options) as manager:
        restored = _restore_latest(manager, abstract_state)
        if restored is None:
            start, state = 0, init_fn(init_key)
            history: list[dict[str, Any]] = []
            logging.info("Starting %s from scratch in %s", config.experiment, workdir)
        else:
            start, state = restored
            history = workdir_lib.read_metrics(metrics_path, start)
            logging.info("Resumed %s from step %d in %s", config.experiment, start, workdir)
        if writer:
            workdir_lib.write_metrics(metrics_path, history)

        if start == 0:
            record = {"step": 0, **to_python(eval_fn(state, jax.random.fold_in(eval_key, 0)))}
            history.append(record)
            if writer:
                workdir_lib.write_metrics(metrics_path, history)

        tick, tick_step = time.perf_counter(), start
        with contextlib.ExitStack() as files:
            metrics_file = files.enter_context(metrics_path.open("a")) if writer else None
            for step in range(start + 1, config.num_steps + 1):
                batch = batch_fn(jax.random.fold_in(data_key, step))
                state, train_metrics = step_fn(state, batch)
                if step % config.eval_every == 0 or step == config.num_steps:
                    metrics = eval_fn(state, jax.random.fold_in(eval_key, step))
                    record = {"step": step, **to_python(train_metrics), **to_python(metrics)}
                    history.append(record)
                    if metrics_file is not None:
                        workdir_lib.append_row(metrics_file, record)
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

    final_state = _to_host(state)
    report_path = workdir / "report.md"
    if writer:
        report_body = experiment.report(config, workdir, history)
        workdir_lib.write_atomic(report_path, report_body)
        logging.info("Wrote %s", report_path)
    return {"state": final_state, "history": history, "report": report_path}
