r"""Double descent, measured: random-features regression as the width p passes n.

Command:

    python -m launch.main --config=launch/configs/double_descent.py --workdir=workdir/double_descent

A measurement (``measure``, run once by launch/measure.py): for each width, the test MSE of a random-ReLU-features
min-norm least-squares fit on n = 100 points, and its bias² and variance from
`bvjax.diagnostics.bias_variance_decomp` (JAX form, bootstrap rounds and feature draws
in one program), mean ± SE over seeds. Runtime: about 2 minutes on 2 CPU cores shared
with other jobs (most of it compiling one program per width); on an accelerator: not
measured.

Expected (measured at seed 0, 6 seeds, 40 rounds; README results table): test MSE of the
fit on all n = 100 points 0.92 ± 0.05 at p = 10, 0.70 at p = 30, a peak of 211 ± 97 at
p = n = 100 (the interpolation threshold), then 2.30 (p = 125), 0.96 (200), 0.51 (400),
0.39 ± 0.02 (p = 1000, below every under-parametrised width). The bootstrap
decomposition's variance peaks at p = 60 (36.7 ± 6.7), near the 0.632 n distinct points of
a resample, and falls to 0.15 at p = 1000; bias² goes from 0.65 (p = 10) to 0.19.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("double_descent")
    config.truth_seed = 0            # the target function's directions
    config.num_train = 100           # n
    config.num_test = 500
    config.dim = 20                  # d
    config.noise = 0.5               # sigma of the training labels
    config.widths = (10, 30, 60, 80, 100, 125, 200, 400, 1000)
    config.ridge = 1e-6              # relative ridge of the min-norm solve (float32 stability)
    config.num_seeds = 6
    config.num_rounds = 40           # bootstrap rounds per decomposition
    return config
