r"""Tajwar et al's didactic bandit: SFT on best-of-N, DPO, IPO, REINFORCE and PPO at equal sample budget.

Command:

    python -m launch.main --config=launch/configs/tajwar_bandit.py --workdir=workdir/tajwar_bandit

Runtime: TBD on 2 CPU cores.

Expected (measured at seed 0, README results table): TBD
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "tajwar_bandit"
    config.seed = 0
    config.num_bins = 100
    config.peaks = (70.0, 20.0)      # off the reference mode, on it
    config.width = 10.0
    config.runs = ("offline/sft", "offline/dpo", "offline/ipo",
                   "on_policy/sft", "on_policy/dpo", "on_policy/ipo", "on_policy/reinforce", "on_policy/ppo")
    config.num_steps = 50            # rounds
    config.batch_size = 10           # groups per round (the authors' 10 on-policy contexts)
    config.group_size = 10           # N samples per group
    config.inner_steps = 15          # Adam steps on each round's samples
    config.learning_rate = 0.01
    config.dpo_beta = 0.05
    config.ipo_tau = 0.05            # target margin 1 / (2 tau) = 10, as in the authors' code
    config.pair_threshold = 0.2
    config.ppo_clip = 0.2
    config.num_seeds = 5
    config.eval_every = 2
    config.log_every = 10
    config.checkpoint_every = 25
    config.max_checkpoints = 2
    config.num_devices = 0           # 0: every device
    return config
