r"""CHIPS: selecting a pool subset that matches full-pool target fine-tuning of a tiny CLIP-style model.

Command:

    python -m launch.main --config=launch/configs/chips_selection.py --workdir=workdir/chips_selection

A measurement (``measure``, run once by launch/measure.py; it runs eagerly, 8 seeds). Runtime: about 45–90
seconds on 2 shared CPU cores (75 s with the α sweep). On an accelerator: not measured.

Expected (measured at seed 0, 8 pools, mean ± SE; README results table). Target
image→text recall@1 among 256 test pairs: pre-trained heads 0.157; random 20 % 0.285;
full pool 0.344; CHIPS (sketch k = 128) 0.337, i.e. −0.007 ± 0.012 from the full pool and
+0.052 ± 0.015 over random (paired); CHIPS exact 0.349. The simpler scores do better here:
TracIn gᵀu 0.364 (+0.079 ± 0.014 over random) and the Newton alignment without the
learnability/relevance weights 0.382 (+0.097 ± 0.010; +0.038 ± 0.013 over the full pool).
The weights raise the noisy share of the subset (0.222 → 0.259; pool 0.20) because
learnability favours pairs the model does not match, which noisy pairs are. Every
score-based subset is ~70 % target pairs and forgets the general domain (general R@1
0.40–0.46 vs 0.65 random, 0.71 full). Sketched vs exact alignment: Spearman 0.73. The
curvature mix barely matters: CHIPS exact at α = 0 / 0.3 / 0.7 / 1 gives 0.350 / 0.357 /
0.349 / 0.333 (± 0.02), an interior peak well inside one standard error.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("chips_selection")
    config.latent_dim = 8
    config.feature_dim = 24          # frozen "encoder" output width
    config.embed_dim = 8             # projection-head width: P = 2 * 24 * 8 + 1 = 385 endpoint parameters
    config.minor_scale = 0.3         # latent scale of the directions a domain barely varies in
    config.target_shift = 1.0
    config.feature_noise = 0.3
    config.pretrain_size = 2048
    config.pretrain_steps = 300
    config.pool_size = 2048
    config.pool_general = 0.5
    config.pool_target = 0.3         # the remaining 20 % are noisy (mismatched) target pairs
    config.dev_size = 256
    config.test_size = 256
    config.fraction = 0.2
    config.finetune_steps = 200
    config.train_batch = 64
    config.learning_rate = 3e-3
    config.score_batch = 64
    config.curvature_batch = 64
    config.alpha = 0.7
    config.alpha_sweep = (0.0, 0.3, 0.7, 1.0)
    config.beta = 0.5
    config.damping = 1e-2
    config.sketch_dim = 128
    config.num_seeds = 8
    return config
