r"""Test-time regression (issue 5): softmax attention, global ridge and LLA on a piecewise-linear stream.

Command:

    python -m launch.main --config=launch/configs/lla_regression.py --workdir=workdir/lla_regression

A measurement, no training (``measure``, run once by launch/measure.py; see launch/experiments/lla_regression.py).
Runtime: about 20 s on 2 CPU cores (45 exact attention calls of 32 x 511 queries). On an
accelerator: not measured.

What the paper claims (Zuo et al 2025, arXiv 2510.01450, abstract; the experiment
section was not reachable; details are second hand, from reviews): on a synthetic non-stationary piecewise-linear test-time regression stream, LLA
"effectively adapts to non-stationarity", beating softmax attention and the global
linear (MesaNet) fit; reviewers report that MesaNet is better in the first segment and
degrades later. No numbers were available to compare with.

Expected (measured at seed 0, README results table; MSE against the noiseless target,
best setting of each family per bucket of predicted positions 1-15 / 16-63 / 64-255 /
256-511):

- static: global 0.636 / 0.569 / 0.525 / 0.515, softmax 0.652 / 0.270 / 0.115 / 0.068,
  LLA 0.646 / 0.237 / 0.100 / 0.062 (LLA 9-13% below softmax after 16 positions);
- drift (boundaries rotate a quarter turn): global 0.637 / 0.549 / 0.504 / 0.546,
  softmax 0.649 / 0.255 / 0.176 / 0.294, LLA 0.644 / 0.231 / 0.167 / 0.292: every
  mechanism degrades late and LLA's lead shrinks to a tie (0.7%) in the last bucket,
  since the keys carry no time;
- drift+time (time feature, tau = 0.5): global 0.620 / 0.505 / 0.423 / 0.442, softmax
  0.649 / 0.255 / 0.152 / 0.137, LLA 0.644 / 0.230 / 0.127 / 0.110 (LLA 16-20% below
  softmax late).

Where LLA does not win: the global ridge fit is best on the first 15 positions in all
three settings (0.636 vs 0.646 static, 0.620 vs 0.644 with the time feature), as the
reviewers report for MesaNet's first segment; LLA needs its ridge tuned (ridge 0.01,
best late, is worse than softmax early at scale 4: 0.789 vs 0.652).
"""

import math

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("lla_regression")
    config.batch_size = 32           # independent streams
    config.seq_len = 512
    config.dim = 3                   # key (and value) dimension
    config.noise_std = 0.05
    config.drift = math.pi / 2       # boundary rotation over the stream in the drifting settings
    config.time_feature = 0.5        # tau of the time feature in the "drift+time" setting
    config.scales = (4.0, 16.0, 64.0)
    config.ridges = (0.01, 0.1, 1.0)
    config.bucket_edges = (1, 16, 64, 256)
    return config
