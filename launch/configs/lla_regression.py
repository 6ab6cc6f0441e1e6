r"""Test-time regression (issue 5): softmax attention, global ridge and LLA on a piecewise-linear stream.

Command:

    python -m launch.main --config=launch/configs/lla_regression.py --workdir=workdir/lla_regression

A measurement, no training (``num_steps = 0``; see launch/experiments/lla_regression.py).
Runtime: MEASURED_RUNTIME on 2 CPU cores, mostly compiling the 45 exact attention calls. On an
accelerator: not measured.

What the paper claims (Zuo et al 2025, arXiv 2510.01450, abstract; the experiment
section was not reachable, details from spec/lla.md section 4, tagged there as second
hand): on a synthetic non-stationary piecewise-linear test-time regression stream, LLA
"effectively adapts to non-stationarity", beating softmax attention and the global
linear (MesaNet) fit; reviewers report that MesaNet is better in the first segment and
degrades later. No numbers were available to compare with.

Expected (measured at seed 0, README results table): MEASURED_FIGURES
"""

import math

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "lla_regression"
    config.seed = 0
    config.num_steps = 0             # a measurement: the step-0 evaluation does the work
    config.batch_size = 32           # independent streams
    config.seq_len = 512
    config.dim = 3                   # key (and value) dimension
    config.noise_std = 0.05
    config.drift = math.pi / 2       # boundary rotation over the stream in the drifting settings
    config.time_feature = 0.5        # tau of the time feature in the "drift+time" setting
    config.scales = (4.0, 16.0, 64.0)
    config.ridges = (0.01, 0.1, 1.0)
    config.bucket_edges = (1, 16, 64, 256)
    config.eval_every = 1
    config.log_every = 1
    config.checkpoint_every = 1
    config.max_checkpoints = 1
    config.num_devices = 0
    return config
