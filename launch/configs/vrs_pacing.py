r"""VRS (Timmaraju et al. 2023) in miniature: pacing multipliers lower the impression variance of simulated ads.

Command:

    python -m launch.main --config=launch/configs/vrs_pacing.py --workdir=workdir/vrs_pacing

A simulation of our own (the paper's simulator, state, action and reward were not
available): see launch/experiments/vrs_pacing.py. Runtime: about 15 seconds on 2 CPU
cores (40 rounds of 8,192 users, 11 evaluations on 65,536 fresh users). On an
accelerator: not measured.

Expected (measured at seed 0, README results table): mean impression variance (TV
distance, 20 ads) 0.333 at round 0 → 0.109 (round 8) → 0.065 (round 40) while the
no-controller baseline stays at 0.331–0.334; share of ads within 10%: 0.15 → 0.85; the
worst ad falls only from 0.586 to 0.267 (its multipliers reach the e^±2 cap). The
price: the ads keep 0.792 of the baseline's total value (fairness is bought with value,
as the Imana et al. critique of VRS notes for cost per reach).
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.loop_config(
        "vrs_pacing", num_steps=40, batch_size=8192, eval_every=4, log_every=10, checkpoint_every=40)
    config.num_ads = 20
    config.num_segments = 8
    config.class_skew = 0.6          # sd over ads of the class effect on log eAR
    config.segment_purity = 0.8      # segments' class-1 share spans 0.5 ± purity / 2
    config.value_noise = 0.5         # sd of log eAR noise and of the outside bid
    config.outside_mean = 0.5        # mean log outside bid
    config.step_size = 0.5           # controller step on the log multiplier
    config.max_log = 2.0             # multipliers within [e^-2, e^2]
    config.threshold = 0.1           # compliance threshold on the variance
    config.eval_users = 65536
    return config
