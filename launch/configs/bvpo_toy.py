r"""BVPO on the exact-marginal latent-trace toy: the meter over alpha, and training with each alpha.

Command:

    python -m launch.main --config=launch/configs/bvpo_toy.py --workdir=workdir/bvpo_toy

Runtime: TBD on 2 CPU cores.

Expected (measured at seed 0, README results table): TBD
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "bvpo_toy"
    config.seed = 0
    config.model_seed = 0            # the reference model and the rewards
    config.num_prompts = 4           # X
    config.num_traces = 4            # R thinking traces (plus the empty trace)
    config.num_answers = 6           # Y
    config.trace_scale = 2.0         # std of the per-trace answer-logit shifts v_{x,r}
    config.beta = 1.0
    config.alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    config.alpha_decay = 0.95        # EMA decay of bvpo_mix("optimal")'s moments
    config.probe_run = "hat"         # whose parameters the meter measures at (seed 0)
    config.num_steps = 300
    config.num_seeds = 8
    config.batch_size = 8            # pairs per minibatch from each dataset (per seed)
    config.learning_rate = 1.0
    config.eval_every = 25
    config.meter_draws = 2048
    config.log_every = 50
    config.checkpoint_every = 100
    config.max_checkpoints = 2
    config.num_devices = 0           # 0: every device
    return config
