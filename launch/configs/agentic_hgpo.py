r"""GRPO vs GiGPO vs HGPO on an aliased key-and-door corridor, with the step advantages' bias and variance.

Command:

    python -m launch.main --config=launch/configs/agentic_hgpo.py --workdir=workdir/agentic_hgpo

Runtime: about 4 minutes on 2 CPU cores shared with other jobs (3 min of CPU time; about a
minute is compilation, the meter's three checkpoints take most of the rest).

Expected (measured at seed 0, README results table): every method reaches success 1.000 by
step 120 (first step with mean success >= 0.9: GRPO 110, GiGPO 100, HGPO 100; mean success
over the run 0.537 / 0.556 / 0.542, seed std up to 0.4 in between): no method learns faster
here. The meter (per probe step, 6 policies): bias² / variance at step 50 GRPO 0.0168 / 0.0106,
GiGPO 0.0437 / 0.0229, HGPO 0.0073 / 0.0028, GiGPO's step part alone 0.0081 / 0.0030; at
step 70 HGPO 0.0115 / 0.0024 vs step part 0.0145 / 0.0024; at step 100 0.0105 / 0.0012 vs
0.0136 / 0.0010: the history levels cut the bias of state-only grouping by 10-23%, as HGPO
argues. But 98% or more of every bias² is a history-only offset: the action-centred bias² is
1.8e-4 (GRPO), 5.1e-4 (GiGPO), 2.1e-5 (HGPO) and 1.4e-5 (step part) at step 50.
With the ``mean_std_norm`` variant (``--config=launch/configs/agentic_hgpo.py:mean_std_norm``,
HGPO's recipe default normalisation) HGPO is the worst learner
(success 0.719 ± 0.327 at step 150, GRPO and GiGPO 1.000): the std of small history clusters
blows tiny return differences up to ±1.

For an accelerator, a longer and lower-noise run on a 2-D grid (5 x 3, 16 seeds, 1,500 steps,
the meter at steps 200 / 500 / 1500; `VARIANTS` lists the fields), not measured: it has been
run on 2 CPU cores only:

    python -m launch.main --config=launch/configs/agentic_hgpo.py:accelerator --workdir=workdir/agentic_hgpo_acc
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    # HGPO's recipe default normalisation, for every estimator.
    "mean_std_norm": {"mode": "mean_std_norm"},
    # A longer, lower-noise run on a 2-D grid.
    "accelerator": {"width": 5, "height": 3, "num_seeds": 16, "num_steps": 1500, "batch_size": 32,
                    "meter_steps": (200, 500, 1500), "meter_probes": 128, "meter_rollouts": 2048,
                    "meter_draws": 1024},
}


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The default config; `variant` (``--config=...py:<variant>``) applies one of `VARIANTS`."""
    config = common.loop_config(
        "agentic_hgpo", num_steps=150, eval_every=10, log_every=50, checkpoint_every=50, max_checkpoints=2)
    config.num_seeds = 8             # independent replicas per method (vmapped)
    config.group_size = 8            # rollouts per task (N)
    config.methods = ("grpo", "gigpo", "hgpo")
    config.mode = "mean_norm"        # for every estimator: "mean_norm" (return units) or "mean_std_norm"
    # Environment: a corridor, key in cell 0, door in the last cell.
    config.width = 11
    config.height = 1
    config.max_steps = 30
    config.gamma = 0.95
    # Policy: MLP on the current observation and the last `memory` (observation, action) pairs.
    config.memory = 2
    config.hidden = 64
    config.learning_rate = 3e-3
    config.entropy_coef = 0.0
    # Estimators.
    config.history_length = 2        # HGPO's K (= the memory length)
    config.hgpo_alpha = 1.0
    config.hgpo_level_offset = 1     # the recipe's (k + 2)^alpha weights; 0 for the paper's (k + 1)^alpha
    config.gigpo_step_weight = 1.0
    # Evaluation and the meter.
    config.eval_episodes = 256
    config.meter_steps = (50, 70, 100)
    config.meter_seeds = 2            # the meter runs on the first meter_seeds policies of each method
    config.meter_probes = 32
    config.meter_rollouts = 256
    config.meter_draws = 128
    config.meter_chunk = 64
    return common.apply_variant(config, variant, VARIANTS, name="agentic_hgpo")
