r"""Tajwar et al's didactic bandit: SFT on best-of-N, DPO, IPO, REINFORCE and PPO at equal sample budget.

Command:

    python -m launch.main --config=launch/configs/tajwar_bandit.py --workdir=workdir/tajwar_bandit

Runtime: about 20 seconds on 2 CPU cores (mostly compilation; 80 s with the cores shared);
the same on an accelerator, where compilation dominates.

Expected (measured at seed 0, README results table): expected reward E_pi r (5 seeds, ± SE)
after 1,000 and 5,000 samples. Peak 70 (off the reference mode, pi_ref 0.039): offline SFT
0.092 / 0.288, offline RWR 0.085 / 0.286, offline DPO 0.128 / 0.594, offline IPO 0.126 /
0.589, on-policy SFT 0.114 / 0.953, on-policy RWR 0.110 / 0.956, on-policy DPO 0.158 / 0.979,
on-policy IPO 0.154 / 0.957, REINFORCE 0.171 / 0.996, PPO 0.155 / 0.995. Peak 20 (on the
mode, pi_ref 0.377): every run between 0.680 and 0.755 after 1,000 samples (spread 0.075);
at 5,000 offline 0.870-0.919, on-policy 0.947-0.998 (spread 0.128, vs 0.711 for peak 70).
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.loop_config(
        "tajwar_bandit", num_steps=50, batch_size=10, eval_every=2, log_every=10, checkpoint_every=25,
        max_checkpoints=2)
    config.num_bins = 100
    config.peaks = (70.0, 20.0)      # off the reference mode, on it
    config.width = 10.0
    config.runs = ("offline/sft", "offline/rwr", "offline/dpo", "offline/ipo",
                   "on_policy/sft", "on_policy/rwr", "on_policy/dpo", "on_policy/ipo", "on_policy/reinforce",
                   "on_policy/ppo")
    config.group_size = 10           # N samples per group
    config.inner_steps = 15          # Adam steps on each round's samples
    config.learning_rate = 0.01
    config.rwr_beta = 0.05           # temperature of the reward weights
    config.dpo_beta = 0.05
    config.ipo_tau = 0.05            # target margin 1 / (2 tau) = 10, as in the authors' code
    config.pair_threshold = 0.2
    config.ppo_clip = 0.2
    config.num_seeds = 5
    return config
