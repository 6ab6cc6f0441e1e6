r"""Baselines for sparse rollouts (GRPO mean, RLOO, V0.5, OBLR-PO) by group size and prior error.

Command:

    python -m launch.main --config=launch/configs/baseline_mse.py --workdir=workdir/baseline_mse

A measurement with the bias–variance meter, no training (``measure``, run once by launch/measure.py; see
launch/experiments/baseline_mse.py). Runtime: about 2 minutes on 2 CPU cores, nearly all
of it compiling the 80 metered estimators. On an accelerator: not measured yet.

Expected (measured at seed 0, README results table): with an exact prior (s = 0) V0.5's
baseline MSE is 3.5x (G = 2) to 3.1x (G = 16) below the group mean's, and its gradient
MSE is the lowest for G <= 8 (3.12 vs 5.52 for the mean at G = 2); with a badly wrong
prior (s = 0.5) V0.5 falls back to the mean's level (baseline MSE 17.5 vs 22.0 at G = 2,
2.82 vs 2.75 at G = 16) instead of the prior's 30.0. OBLR's gradient-weighted
leave-one-out baseline is worse than RLOO at G = 4 (4.49 vs 3.88) and far better at
G = 16 (0.266 vs 0.684): its weighted ratio is noisy in small groups.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("baseline_mse")
    config.num_prompts = 256
    config.p_low = 0.05
    config.p_high = 0.95
    config.group_sizes = (2, 4, 8, 16)
    config.prior_errors = (0.0, 0.1, 0.5)
    config.meter_draws = 1024
    return config
