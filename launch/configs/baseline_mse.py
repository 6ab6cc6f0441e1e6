r"""Baselines for sparse rollouts (GRPO mean, RLOO, V0.5, OBLR-PO) by group size and prior error.

Command:

    python -m launch.main --config=launch/configs/baseline_mse.py --workdir=workdir/baseline_mse

A measurement with the bias–variance meter, no training (``num_steps = 0``; see
launch/experiments/baseline_mse.py). Runtime: about 2 minutes on 2 CPU cores, nearly all
of it compiling the 80 metered estimators. On an accelerator: not measured yet.

Expected (measured at seed 0, README results table): with a good prior (s = 0) V0.5's
baseline MSE is far below the group mean's at every G, and its gradient MSE is the lowest
at G = 2 and 4; with a wrong prior (s = 0.5) V0.5 falls back towards the group mean
instead of following the prior; OBLR's weighted leave-one-out baseline does not beat RLOO
at these group sizes. See the report for the full tables.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "baseline_mse"
    config.seed = 0
    config.num_steps = 0             # a measurement: the step-0 evaluation does the work
    config.batch_size = 8            # unused by the measurement; kept for the launch contract
    config.num_prompts = 256
    config.p_low = 0.05
    config.p_high = 0.95
    config.group_sizes = (2, 4, 8, 16)
    config.prior_errors = (0.0, 0.1, 0.5)
    config.meter_draws = 1024
    config.eval_every = 1
    config.log_every = 1
    config.checkpoint_every = 1
    config.max_checkpoints = 1
    config.num_devices = 0
    return config
