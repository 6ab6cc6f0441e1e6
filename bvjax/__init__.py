"""bvjax: estimators, losses and statistics for the bias–variance trade-off, in JAX.

Each subpackage (``bvjax.rl``, ``bvjax.diagnostics``, ...) re-exports its public
functions from private modules and lists them in ``__all__``; `tests/test_public_api.py`
holds every one of them to the same contract (docstring sections, jit, argument checks).
"""

__version__ = "0.1.0"

from bvjax import (
    attention,
    continual,
    counterfactual,
    data,
    diagnostics,
    distill,
    envs,
    fairness,
    finance,
    models,
    multimodal,
    preference,
    rl,
    robust,
    selection,
    stats,
    transforms,
)

__all__ = [
    "attention",
    "continual",
    "counterfactual",
    "data",
    "diagnostics",
    "distill",
    "envs",
    "fairness",
    "finance",
    "models",
    "multimodal",
    "preference",
    "rl",
    "robust",
    "selection",
    "stats",
    "transforms",
]
