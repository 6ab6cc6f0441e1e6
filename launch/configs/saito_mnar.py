r"""Saito et al. 2020: MF with naive, IPS and clipped-IPS losses on semi-synthetic MNAR clicks.

Command:

    python -m launch.main --config=launch/configs/saito_mnar.py --workdir=workdir/saito_mnar

Runtime: about 50 seconds on 2 CPU cores (shared, load average ~8), most of it compiling
the step-0 evaluation and the final meter. On an accelerator: not measured (no device used).

Expected (measured at seed 0, README results table). The meter on the mean IPS log loss
(60 users x 400 items, 1,024 draws of O and R) against the ideal loss: bias² within one
SE of 0 for M <= 0.01 (M = 0: -4.6e-6 ± 6.8e-6) while the variance falls from 0.00478
(M = 0) to 0.00374 (M = 0.01), 0.00263 (M = 0.03), 5.8e-4 (M = 0.1) and 8.4e-6 (M = 1,
the naive loss) as bias² rises to 0.0028, 0.054 and 0.218: the MSE is lowest at
M = 0.01 (0.00374 vs 0.00477 unclipped). Ranking on unclicked items (normalised DCG@5,
Saito discount): ideal 0.0305 (ranking by the true γ: 0.0289), IPS 0.0133, clip 0.01
0.0133, clip 0.05 0.0125, clip 0.2 0.0108, naive 0.0076, below random (0.0090): IPS
beats naive overall, as in the paper. On rare items the claim is NOT reproduced: naive
0.0222, IPS 0.0186, clip 0.2 0.0208 (random 0.0178, ideal 0.0610). In this generator
popularity is independent of relevance, so the naive model's popularity ranking costs it
nothing among rare items; the paper's ML-100K ratings are not independent of exposure.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.loop_config(
        "saito_mnar", num_steps=600, batch_size=4096, eval_every=200, log_every=100, checkpoint_every=600)
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
    config.ks = (1, 3, 5)
    config.snips_clip = 0.01
    config.meter_users = 60 
    config.meter_clips = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    config.meter_draws = 1024
    return config
