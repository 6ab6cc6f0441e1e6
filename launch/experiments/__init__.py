"""Registry of experiments that `launch.train` can run, keyed by ``config.experiment``.

An experiment is a module-like record of pure functions (see `Experiment`); the
training loop in launch/train.py supplies the mesh, jit, checkpoints and logging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from launch.experiments import (
    agentic_hgpo,
    aggregate_responses,
    arl_modalities,
    baseline_mse,
    benchmark_variance,
    bvpo_toy,
    chips_selection,
    dcpo_entropy,
    ibcl_toy,
    kriging_al,
    lla_icl,
    lla_regression,
    mcts_dpo,
    mi_alpha,
    misalignment,
    mqar,
    portfolio_ensemble,
    ramp_union,
    reinforce_baselines,
    saito_mnar,
    simplicity_bias,
    tajwar_bandit,
    vrs_pacing,
)


class Experiment(NamedTuple):
    """The functions an experiment provides; ``config`` is bound first by the loop.

    init(config, key) -> state pytree; make_batch(config, key) -> batch whose leaves
    have leading dimension ``config.batch_size`` (sharded over the data axis);
    train_step(config, state, batch) -> (state, metrics); evaluate(config, state, key)
    -> metrics; progress(record) -> short console text; report(config, workdir,
    history) -> markdown (and writes its plots into workdir). A measurement module
    (num_steps = 0) may omit init, make_batch and train_step. ``jit_evaluate = False``
    in a module runs its evaluate eagerly, for sweeps that jit each cell on its own
    (one XLA:CPU program holding dozens of linear solves has hung at execution).
    """

    init: Callable[..., Any]
    make_batch: Callable[..., Any]
    train_step: Callable[..., Any]
    evaluate: Callable[..., Any]
    progress: Callable[..., str]
    report: Callable[..., str]
    jit_evaluate: bool = True


def _no_state(config, key):
    del config, key
    return {}


def _key_batch(config, key):
    return {"key": jax.random.split(key, config.batch_size)}


def _no_update(config, state, batch):
    del config, batch
    return state, {}


# A measurement (config.num_steps = 0: the loop's step-0 evaluation does the work) needs
# no training; these stand in for init, make_batch and train_step, and keep working if a
# user overrides num_steps.
_DEFAULTS = {"init": _no_state, "make_batch": _key_batch, "train_step": _no_update, "jit_evaluate": True}


def _from_module(module) -> Experiment:
    return Experiment(*(getattr(module, field) if hasattr(module, field) else _DEFAULTS[field]
                        for field in Experiment._fields))


EXPERIMENTS: dict[str, Experiment] = {
    "reinforce_baselines": _from_module(reinforce_baselines),
    "baseline_mse": _from_module(baseline_mse),
    "bvpo_toy": _from_module(bvpo_toy),
    "tajwar_bandit": _from_module(tajwar_bandit),
    "mcts_dpo": _from_module(mcts_dpo),
    "saito_mnar": _from_module(saito_mnar),
    "misalignment": _from_module(misalignment),
    "lla_regression": _from_module(lla_regression),
    "lla_icl": _from_module(lla_icl),
    "aggregate_responses": _from_module(aggregate_responses),
    "benchmark_variance": _from_module(benchmark_variance),
    "vrs_pacing": _from_module(vrs_pacing),
    "mi_alpha": _from_module(mi_alpha),
    "agentic_hgpo": _from_module(agentic_hgpo),
    "dcpo_entropy": _from_module(dcpo_entropy),
    "kriging_al": _from_module(kriging_al),
    "chips_selection": _from_module(chips_selection),
    "ramp_union": _from_module(ramp_union),
    "portfolio_ensemble": _from_module(portfolio_ensemble),
    "arl_modalities": _from_module(arl_modalities),
    "ibcl_toy": _from_module(ibcl_toy),
    "simplicity_bias": _from_module(simplicity_bias),
    "mqar": _from_module(mqar),
}


def get(name: str) -> Experiment:
    """Looks an experiment up; an unknown name raises KeyError listing the valid ones."""
    if name not in EXPERIMENTS:
        raise KeyError(f"config.experiment: unknown {name!r}; valid: {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]
