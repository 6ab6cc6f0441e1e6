r"""RAMP (Jiang and Singh, NeurIPS 2024): union accuracy of a small MLP on scikit-learn's digits.

Command:

    python -m launch.main --config=launch/configs/ramp_union.py --workdir=workdir/ramp_union

A measurement (``measure``, run once by launch/measure.py; it trains every method eagerly, one jitted epoch
at a time). Runtime: about 4 minutes on 2 shared CPU cores (3 seeds x 6 methods x 20
epochs). On an accelerator: not measured.

Expected (measured at seed 0, 3 seeds, mean ± SE; README results table). Test accuracy
under PGD (30 steps x 2 restarts), clean / ℓ∞ / ℓ2 / ℓ1 / union:
natural 0.972 / 0.004 / 0.013 / 0.000 / 0.000; ℓ∞-AT 0.935 / 0.394 / 0.104 / 0.000 /
0.000; ℓ1-AT 0.868 / 0.071 / 0.268 / 0.236 / 0.060; MAX (ℓ∞/ℓ1) 0.875 / 0.317 / 0.344 /
0.178 / 0.171 ± 0.003; RAMP (MAX + pairing, λ = 1.5) 0.856 / 0.336 / 0.368 / 0.233 /
**0.221 ± 0.009**; RAMP + GP 0.869 / 0.330 / 0.373 / 0.199 / 0.188 ± 0.009. As in the
paper: single-norm training leaves the other norms (ℓ∞-AT has no ℓ1 robustness) and the
union near 0, and logit pairing raises union accuracy over MAX (+0.05). GP raises clean
accuracy (+0.013) but here at a lower union accuracy (−0.033), not "at a similar union".
PGD is weaker than the paper's AutoAttack: robust figures are upper bounds.
"""

import ml_collections

from launch.configs import common


def get_config() -> ml_collections.ConfigDict:
    config = common.measure_config("ramp_union")
    config.methods = ("natural", "linf_at", "l1_at", "max", "ramp", "ramp_gp")
    config.num_seeds = 3
    config.hidden = 128
    config.epochs = 20
    config.train_batch = 64
    config.learning_rate = 1e-3
    config.eps_linf = 0.2            # pixels in [0, 1], 64 of them
    config.eps_l2 = 1.0
    config.eps_l1 = 4.0
    config.l1_sparsity = 0.05        # coordinates moved per l1 step: ceil(0.05 * 64) = 4
    config.train_steps = 10
    config.eval_steps = 30
    config.eval_restarts = 2
    config.lam = 1.5                 # RAMP's lambda (robust fine-tuning default)
    config.gp_beta = 0.5
    config.gp_start = 0              # first epoch with the GP merge
    return config
