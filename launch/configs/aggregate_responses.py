r"""Javanmard et al. 2024: risk of the interpolating estimator vs rho and bag size, with and without label DP.

Command:

    python -m launch.main --config=launch/configs/aggregate_responses.py --workdir=workdir/aggregate_responses

A measurement with the bias–variance meter (``measure``, run once by launch/measure.py; it runs eagerly, one
jitted meter per cell). Runtime: about 40 seconds on 2 CPU cores. On an accelerator: not
measured.

Expected (measured at seed 0, README results table): without privacy, k = 1 gives
0.213 for every ρ; at k = 2 the bag-level loss (ρ = 0) is best (0.524 vs 1.30 at ρ = 1);
at k = 4 and 8 an interior ρ = 0.25 beats both ends (1.46 vs 2.10 / 2.40 at k = 4;
2.52 vs 3.63 / 3.21 at k = 8). With label DP (ε = 1, C = 4) larger bags help: k = 1 gives
26.3, the best cell per k falls to 5.38 (k = 2), 3.64 (k = 4), 3.60 (k = 8), and the
best ρ moves to 1–2 as the bag means get noisier.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("aggregate_responses")
    config.num_samples = 96          # n
    config.dim = 16                  # d (n / d = 6: the proportional regime)
    config.signal = 4.0              # ||theta_0||^2
    config.noise_std = 1.0
    config.ridge = 1e-3
    config.bag_sizes = (1, 2, 4, 8)
    config.rhos = (0.0, 0.25, 0.5, 1.0, 2.0)
    config.dp_clip = 4.0
    config.dp_epsilon = 1.0
    config.meter_draws = 128
    return config
