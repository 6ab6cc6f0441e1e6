"""Registry of experiments that `launch.train` can run, keyed by ``config.experiment``.

An experiment is a module of pure functions (see `Experiment`); the training loop in
launch/train.py supplies the mesh, jit, checkpoints and logging. ``config.experiment``
is either a built-in short name (a module of this package, imported only when chosen,
so ``import launch.main`` loads no experiment and no plotting library) or the import
path of a user's own module (``my_package.my_experiment``, importable from the
current directory or ``PYTHONPATH``), which needs no change to this package.

Besides the functions, a module may declare ``CONFIG_FIELDS`` (name ->
`launch.configs.common.Field`: type, range, meaning of its own config fields, checked
before any compile) and ``SAFE_TO_CHANGE`` (fields that may differ when a run resumes,
on top of the evaluation, logging and checkpoint cadence).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from launch.workdir import LaunchError


class Experiment(NamedTuple):
    """The functions an experiment provides; ``config`` is bound first by the loop.

    Two protocols, by what the module defines:

    - training (launch/train.py's loop): init(config, key) -> state pytree;
      make_batch(config, key) -> batch whose leaves have leading dimension
      ``config.batch_size`` (sharded over the data axis); train_step(config, state,
      batch) -> (state, metrics); evaluate(config, state, key) -> metrics;
      progress(record) -> short console text; report(config, workdir, history) ->
      markdown (and writes its plots into workdir). ``jit_evaluate = False`` in a
      module runs its evaluate eagerly.
    - measurement (launch/measure.py's thin runner, no mesh and no checkpoints):
      measure(config, key) -> metrics (the module jits what it wants, cell by cell:
      one XLA:CPU program holding dozens of linear solves has hung at execution),
      report(config, workdir, history) as above with a one-row history, and optionally
      progress(record). A module with ``train_step`` is a training module, even if it
      has a function named ``measure``.
    """

    init: Callable[..., Any]
    make_batch: Callable[..., Any]
    train_step: Callable[..., Any]
    evaluate: Callable[..., Any]
    progress: Callable[..., str]
    report: Callable[..., str]
    jit_evaluate: bool = True
    config_fields: Any = None       # the module's CONFIG_FIELDS, if any
    safe_to_change: tuple = ()      # the module's SAFE_TO_CHANGE, if any
    trains: bool = True             # False for a measurement module (no train_step)
    measure: Callable[..., Any] | None = None  # a measurement module's measure(config, key)


def _count_figures(record) -> str:
    return f"{sum(k != 'step' for k in record)} figures measured"


def _is_measurement(module) -> bool:
    """A module with ``measure`` and no ``train_step`` (a training module may have a helper named measure)."""
    return hasattr(module, "measure") and not hasattr(module, "train_step")


def _from_module(module) -> Experiment:
    measure = module.measure if _is_measurement(module) else None
    functions = {field: getattr(module, field, None) for field in Experiment._fields[:6]}
    if measure is not None and functions["progress"] is None:
        functions["progress"] = _count_figures
    return Experiment(**functions, jit_evaluate=getattr(module, "jit_evaluate", True),
                      config_fields=getattr(module, "CONFIG_FIELDS", None),
                      safe_to_change=tuple(getattr(module, "SAFE_TO_CHANGE", ())),
                      trains=hasattr(module, "train_step"), measure=measure)


# Built-in experiments, by the module name under launch/experiments/.
EXPERIMENTS: tuple[str, ...] = (
    "agentic_hgpo", "aggregate_responses", "arl_modalities", "baseline_mse", "benchmark_variance",
    "bvpo_toy", "chips_selection", "dcpo_entropy", "double_descent", "ibcl_toy", "kriging_al", "lla_icl",
    "lla_regression", "lm_grpo", "lm_preference", "mcts_dpo", "mqar", "mi_alpha", "misalignment", "portfolio_ensemble", "ramp_union",
    "reinforce_baselines", "saito_mnar", "simplicity_bias", "tajwar_bandit", "vrs_pacing",
)


class UnknownExperimentError(LaunchError, KeyError):
    """``config.experiment`` names neither a built-in experiment nor an importable module."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def module_for(name: str):
    """Imports the module behind `name` (a built-in short name or an import path)."""
    if name in EXPERIMENTS:
        return importlib.import_module(f"launch.experiments.{name}")
    if "." in name:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):  # the module itself is missing, not one it imports
                raise UnknownExperimentError(
                    f"config.experiment: cannot import {name!r} ({err}); is its folder on PYTHONPATH?") from err
            raise
    close = difflib.get_close_matches(name, EXPERIMENTS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownExperimentError(f"config.experiment: unknown {name!r}; {hint}valid: {', '.join(EXPERIMENTS)}, "
                                 "or an import path such as my_package.my_experiment")


def get(name: str) -> Experiment:
    """Looks an experiment up (lazily); an unknown name raises a KeyError listing the valid ones."""
    module = module_for(name)
    needed = ("measure", "report") if _is_measurement(module) else (
        "init", "make_batch", "train_step", "evaluate", "progress", "report")
    missing = [f for f in needed if not hasattr(module, f)]
    if missing:
        raise UnknownExperimentError(f"config.experiment: module {module.__name__} lacks {', '.join(missing)} "
                                     "(a training module needs init, make_batch, train_step, evaluate, progress "
                                     "and report; a measurement, measure and report)")
    return _from_module(module)
