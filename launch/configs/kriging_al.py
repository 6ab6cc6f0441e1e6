r"""Tian et al. 2021: Kriging active learning, error vs number of experiments for MV, EI, KG, UCB and random.

Command:

    python -m launch.main --config=launch/configs/kriging_al.py --workdir=workdir/kriging_al

A measurement (``measure``, run once by launch/measure.py; it runs eagerly, one jitted call per cell).
Runtime: about 4.5 minutes wall-clock on 2 CPU cores shared with other jobs (1.5 CPU-minutes),
mostly compiling the 20 cells. On an accelerator: not measured.

Expected (measured at seed 0, 8 seeds, README results table). Normalised RMSE of the
posterior mean over the pool (± SE), average over the curve / at the final budget:
Forrester (n = 3..20), noiseless: MV 0.227 / 0.0038, EI 0.249 / 0.0105, KG 0.268 / 0.0127,
UCB 0.474 / 0.207, random 0.337 / 0.053; noise 0.1: MV 0.284 / 0.075, KG 0.355 / 0.108,
EI 0.412 / 0.084, random 0.428 / 0.118, UCB 0.622 / 0.328. Hartmann-3 (300-point pool,
n = 5..50), noiseless: MV 0.495 / 0.328, EI 0.501 / 0.224, KG 0.514 / 0.216, random 0.532 /
0.359, UCB 0.579 / 0.367; noise 0.1: MV 0.502 / 0.342, EI 0.528 / 0.255, KG 0.533 / 0.249,
random 0.539 / 0.368, UCB 0.590 / 0.402. So maximum variance has the lowest error averaged
over the budget in all four settings (the paper's headline), while on Hartmann-3 the
trade-off utilities KG and EI overtake it after about 32 (noiseless) to 37 (noisy)
experiments and end about 30% lower, as the paper says they sometimes do. UCB (kappa = 2)
is worst on the curve: it keeps sampling near the maximum.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("kriging_al")
    config.utilities = ("max_variance", "expected_improvement", "knowledge_gradient", "ucb", "random")
    config.noise_fracs = (0.0, 0.1)  # observation-noise sd as a fraction of the function's std
    config.num_seeds = 8
    config.curve_pool = 201          # Forrester curve: grid on [0, 1]
    config.curve_n0 = 3
    config.curve_steps = 17          # 20 experiments in all
    config.hartmann_pool = 300       # Hartmann-3: uniform points in [0, 1]^3
    config.hartmann_n0 = 5
    config.hartmann_steps = 45       # 50 experiments in all
    config.kernel = "rbf"
    config.jitter = 1e-4             # added to the noise variance (float32 Cholesky)
    config.lengthscale_min = 0.03
    config.lengthscale_max = 1.0
    config.lengthscale_grid = 12
    config.xi = 0.0
    config.kappa = 2.0
    config.kg_method = "gauss_hermite"  # 64 nodes; "exact" is O(M^3) per step
    return config
