r"""ARL (Wei, Luo and Luo, ICCV 2025): two synthetic modalities with unequal noise, ARL vs equal weighting.

Command:

    python -m launch.main --config=launch/configs/arl_modalities.py --workdir=workdir/arl_modalities

A measurement (``measure``, run once by launch/measure.py; it trains every method, one jitted run each).
Runtime: about 1 minute on 2 shared CPU cores (mostly compiling one run per method).
On an accelerator: not measured.

Expected (measured at seed 0, 5 seeds, mean ± SE; README results table), σ_a = 0.5,
σ_v = 2: fused test accuracy plain 0.931, aux 0.929, OGM-style 0.932, ARL 0.927, ARL
without the 0.3 clamp 0.927, released-code mode 0.927; paired differences from plain
within ±0.004 (SE ~0.003): no method changes accuracy measurably, so the paper's gain
is NOT reproduced here. ARL's coefficients boost the *noisy* encoder (k_a 0.398,
k_v 0.602): the code's clamp caps the entropy-based target ratio w_a/w_v at 0.7/0.3,
below the learned dependence ratio D_a/D_v (6.3), so ARL pulls the dependence towards
balance, not towards σ_v²/σ_a² = 16; without the clamp k_a 0.550 > k_v 0.450. Swapping
the noise levels swaps the larger coefficient (k_a 0.622 with the noisy audio).
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("arl_modalities")
    config.methods = ("plain", "aux", "ogm", "arl", "arl_clamp0", "arl_released")
    config.num_seeds = 5
    config.num_classes = 10
    config.dim = 16
    config.hidden = 32
    config.num_train = 2000
    config.num_test = 4000
    config.signal = 0.5
    config.sigma_a = 0.5             # the reliable ("audio") modality
    config.sigma_v = 2.0             # the noisy ("visual") modality
    config.train_batch = 64
    config.learning_rate = 0.02
    config.momentum = 0.9
    config.gamma = 4.0               # ARL's gamma
    config.temperature = 4.0         # ARL's T
    config.ogm_alpha = 0.5           # OGM-GE's alpha
    config.epochs = 30
    config.warmup_epochs = 5
    return config
