"""The thin runner for measurement experiments: one call to ``measure``, one metrics row, a report.

A measurement (an experiment module with ``measure(config, key) -> metrics`` and
``report(config, workdir, history) -> markdown``, and no ``train_step``) has nothing to
train, shard or checkpoint, so this runner builds no mesh, no orbax manager and no
checkpoint, and leaves jit to the module (each jits what it wants, cell by cell). It
keeps what makes a workdir trustworthy, from launch/workdir.py:

- the config is validated before any device work (launch/configs/common.py), and
  process 0 takes the workdir's lock, compares the config with the one recorded in
  ``<workdir>/config.json`` and records it; a refused run raises
  `launch.workdir.LaunchError` with one line per problem and changes nothing;
- the key is the one the training loop's step-0 evaluation draws from ``config.seed``
  (`measurement_key`), so a measurement gives the same figures whichever runner ran it;
- the metrics are written whole and fsynced as one row ``{"step": 0, ...}`` of
  ``<workdir>/metrics.jsonl``; a rerun of a finished workdir with the same config finds
  that row and measures nothing again (the report is rewritten from it);
- only process 0 writes the config record, the lock, the metrics, plots and
  ``report.md``; on a multi-host job every process measures (same key, same figures).

`launch.train.train_and_evaluate` hands a measurement experiment to `measure_and_report`,
so ``python -m launch.main`` and the tests run both kinds the same way.
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

import jax
import ml_collections
from absl import logging

from launch import experiments
from launch import workdir as workdir_lib
from launch.configs import common


def measurement_key(seed: int) -> jax.Array:
    """The key a measurement receives: ``fold_in(split(key(seed), 3)[2], 0)``.

    The training loop splits ``key(seed)`` into (init, data, eval) keys and evaluates
    step ``s`` with ``fold_in(eval_key, s)``; a measurement is that loop's step-0
    evaluation, so it gets the same key.
    """
    _, _, eval_key = jax.random.split(jax.random.key(seed), 3)
    return jax.random.fold_in(eval_key, 0)


def measure_and_report(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       fresh: bool = False) -> dict[str, Any]:
    """Runs the measurement ``config.experiment`` into `workdir`: metrics row, plots, ``report.md``.

    Args:
        config: the experiment's config; needs ``experiment`` and ``seed`` (see
            launch/configs/common.py, `common.measure_config`).
        workdir: where ``metrics.jsonl``, plots, ``report.md``, the config record and the
            lock go.
        fresh: start over: a non-empty `workdir` is first renamed to
            ``<workdir>.<UTC date-time>`` (nothing is deleted).

    Returns:
        ``{"history": [row], "report": path, "measured": bool}``: the one metrics row
        (``step`` 0 and the measured figures, as Python floats), the report's path, and
        whether this call measured (False when a finished workdir was reused).

    Raises:
        launch.workdir.LaunchError: the config is invalid or differs from the recorded
            one, another run holds the workdir, or the metrics file is damaged; the
            message is ready to print and the workdir is unchanged.
    """
    from launch import train  # the shared workdir preparation; train imports this module lazily

    experiment = experiments.get(config.experiment)
    if experiment.measure is None:
        raise common.ConfigError(f"config.experiment={config.experiment!r}: a training experiment; "
                                 "run it with launch.train.train_and_evaluate")
    common.validate(config, experiment.config_fields, trains=False)
    workdir = pathlib.Path(workdir)
    # A measurement reads none of the loop's fields: a record that differs only there may resume.
    loop_only = tuple(name for name in common.LOOP_FIELDS if name not in common.MEASURE_FIELDS)
    lock = train.prepare_workdir(config, workdir, experiment, fresh, extra_safe=loop_only)
    try:
        writer = train.is_writer()
        metrics_path = workdir / workdir_lib.METRICS_FILE
        history = workdir_lib.read_metrics(metrics_path, 0)
        measured = not history
        if measured:
            logging.info("Measuring %s in %s", config.experiment, workdir)
            start = time.perf_counter()
            metrics = experiment.measure(config, measurement_key(config.seed))
            history = [{"step": 0, **train.to_python(metrics)}]
            logging.info("Measured %s in %.1f s: %s", config.experiment, time.perf_counter() - start,
                         experiment.progress(history[-1]))
        else:
            logging.info("%s already holds the measurement; rewriting the report only", metrics_path)
        report_path = workdir / "report.md"
        if writer:
            workdir_lib.write_metrics(metrics_path, history)
            workdir_lib.write_atomic(report_path, experiment.report(config, workdir, history))
            logging.info("Wrote %s", report_path)
        return {"history": history, "report": report_path, "measured": measured}
    finally:
        if lock is not None:
            lock.release()
