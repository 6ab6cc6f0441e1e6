r"""Saito et al. 2020: MF with naive, IPS and clipped-IPS losses on semi-synthetic MNAR clicks.

Command:

    python -m launch.main --config=launch/configs/saito_mnar.py --workdir=workdir/saito_mnar

Runtime: TBD on 2 CPU cores. On an accelerator: not measured.

Expected (measured at seed 0, README results table): TBD.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "saito_mnar"
    config.seed = 0
    config.num_users = 600
    config.num_items = 400
    config.rank = 8                  # factors of the synthetic ground truth
    config.popularity_skew = 1.0     # power-law slope of item popularity
    config.base_rate = 0.1           # mean sigma(exposure logit), ML-100K's density
    config.power = 1.0               # exposure skew p: theta = sigma(logit)^p
    config.rare_quantile = 0.5       # rare items: training clicks <= this quantile
    config.estimators = ("ideal", "naive", "ips", "clip_0.01", "clip_0.05", "clip_0.2")
    config.dim = 10
    config.learning_rate = 0.01
    config.l2 = 1e-4
    config.num_steps = 600
    config.batch_size = 4096         # pairs per step
    config.ks = (1, 3, 5)
    config.snips_clip = 0.01
    config.meter_users = 60 
    config.meter_clips = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    config.meter_draws = 1024
    config.eval_every = 200
    config.log_every = 100
    config.checkpoint_every = 600
    config.max_checkpoints = 1
    config.num_devices = 0
    return config
