r"""DPO and ORPO on a small LM at sequence scale: on-policy pairs vs a fixed offline pair set.

Command:

    python -m launch.main --config=launch/configs/lm_preference.py --workdir=workdir/lm_preference

See launch/experiments/lm_preference.py. Runtime on 2 CPU cores: not measured yet.

Expected: not measured yet.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "lm_preference"
    config.seed = 0
    config.num_digits = 2
    config.held_out_every = 16
    config.num_layers = 2
    config.num_heads = 2
    config.head_dim = 32
    config.mlp_dim = 128
    config.sft_steps = 550
    config.sft_learning_rate = 3e-3
    config.pref_learning_rate = 5e-4
    config.beta = 0.1
    config.orpo_lam = 0.1
    config.group_size = 4
    config.offline_prompts = 512
    config.methods = ("dpo_online", "dpo_offline", "orpo_online", "orpo_offline")
    config.eval_problems = 512
    config.eval_samples = 4
    config.greedy_temperature = 1e-4
    config.bootstrap_resamples = 2000
    config.num_steps = 700           # sft_steps SFT steps, then num_steps - sft_steps preference steps
    config.batch_size = 32           # prompts per step (SFT: batch_size * group_size problems)
    config.eval_every = 50
    config.log_every = 25
    config.checkpoint_every = 100
    config.max_checkpoints = 1
    config.num_devices = 1
    config.param_shards = 1
    return config
