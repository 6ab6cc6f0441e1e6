r"""Double descent, measured: random-features regression as the width p passes n.

Command:

    python -m launch.main --config=launch/configs/double_descent.py --workdir=workdir/double_descent

A measurement (``num_steps = 0``): for each width, the test MSE of a random-ReLU-features
min-norm least-squares fit on n = 100 points, and its bias² and variance from
`bvjax.diagnostics.bias_variance_decomp` (JAX form, bootstrap rounds and feature draws
in one program), mean ± SE over seeds. Runtime: see the README results row (2 CPU cores);
on an accelerator: not measured.

Expected: test MSE rises to a sharp peak at p = n (interpolation threshold) and falls
again for p >> n; the bootstrap decomposition's variance peaks near p ≈ 0.632 n (the
distinct points in a resample) and bias² falls with width. Measured figures: README.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "double_descent"
    config.seed = 0
    config.truth_seed = 0            # the target function's directions
    config.num_steps = 0             # a measurement: the step-0 evaluation does the work
    config.batch_size = 8            # unused by the measurement; kept for the launch contract
    config.num_train = 100           # n
    config.num_test = 500
    config.dim = 20                  # d
    config.noise = 0.5               # sigma of the training labels
    config.widths = (10, 20, 40, 60, 80, 90, 100, 110, 125, 150, 200, 400, 1000)
    config.num_seeds = 8
    config.num_rounds = 50           # bootstrap rounds per decomposition
    config.eval_every = 1
    config.log_every = 1
    config.checkpoint_every = 1
    config.max_checkpoints = 1
    config.num_devices = 0
    return config
