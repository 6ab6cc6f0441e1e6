r"""Madaan et al. 2024: seed variance vs bootstrap CI, monotonicity, and item selection by discrimination.

Command:

    python -m launch.main --config=launch/configs/benchmark_variance.py --workdir=workdir/benchmark_variance

A measurement (``measure``, run once by launch/measure.py): every replication generates a 2PL benchmark, two
training configurations with K seeds x T checkpoints and a reference population for
item analysis, once with no and once with 30% broken items. Runtime: about 75 seconds
on 2 CPU cores (load average ~9). On an accelerator: not measured.

Expected (measured at seed 0, 50 replications, README results table). Clean benchmark:
seed std of the final accuracy 0.0213 vs a 95% bootstrap CI width of 0.0873 (normal
0.0876): seed std / CI half-width 0.49; seed std / gap (A vs B) 0.886 (ratio of means);
monotonicity 0.86 discrete vs 0.98 continuous, and the continuous score's seed std / gap
0.45 vs 1.17 discrete (means of ratios). Keeping the top 50% / 25% / 10% of items by
point-biserial discrimination raises seed std / gap to 0.952 / 1.140 / 1.294 (by the
2PL a: 1.006 / 1.150 / 1.423; random: 1.587 / 2.239 / 2.903). With 30% broken items:
1.173 on all items, 1.079 / 1.296 / 1.582 for the top 50% / 25% / 10% by point-biserial
discrimination (2PL a 1.110 / 1.392 / 1.555); 2PL fit: corr(log a_hat, log a) 0.94.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("benchmark_variance")
    config.num_items = 500           # N
    config.log_a_std = 0.5           # a ~ LogNormal(0, 0.5^2)
    config.noisy_fractions = (0.0, 0.3)  # share of broken items (a = noisy_a); one measurement each
    config.noisy_a = 0.05
    config.b_std = 1.5               # b ~ N(0, 1.5^2)
    config.num_seeds = 10            # K
    config.num_checkpoints = 21      # T
    config.start_ability = -2.0      # every seed's ability at the first checkpoint (before offsets)
    config.final_ability = 0.0       # configuration A at the last checkpoint; B adds `gap`
    config.gap = 0.15
    config.seed_std = 0.05           # seed offset of the ability
    config.ckpt_std = 0.03           # checkpoint jitter of the ability
    config.item_std = 0.5            # per-seed item knowledge (logit noise fixed per seed)
    config.num_ref_models = 200      # population for item analysis
    config.irt_steps = 300
    config.irt_lr = 0.05
    config.num_resamples = 1000      # bootstrap resamples
    config.keep_fractions = (1.0, 0.5, 0.25, 0.1)
    config.num_replications = 50
    return config
