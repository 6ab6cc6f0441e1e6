r"""DCPO vs GRPO on a prompts x answers softmax bandit: entropy and reward curves.

Command:

    python -m launch.main --config=launch/configs/dcpo_entropy.py --workdir=workdir/dcpo_entropy

Runtime: TBD on 2 CPU cores.

Expected: TBD.

For an accelerator (more prompts and seeds, longer):
``--config.num_prompts=256 --config.num_arms=128 --config.batch_size=128 --config.num_seeds=32
--config.num_steps=3000``.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "dcpo_entropy"
    config.seed = 0
    config.num_steps = 1000
    config.num_seeds = 8
    config.batch_size = 8            # prompts per step, sharded over the data axis
    config.group_size = 8            # samples per prompt (G)
    config.methods = ("grpo", "dcpo")
    config.num_prompts = 16
    config.num_arms = 32             # answers per prompt
    config.num_correct = 4           # correct answers per prompt
    config.init_scale = 1.0          # initial logits ~ N(0, init_scale^2)
    config.learning_rate = 0.05
    config.clip = 0.2
    config.dual_clip = 3.0
    config.entropy_base = 0.5        # DCPO's H_0 (the official script's value)
    config.coverage_threshold = 0.05
    config.eval_every = 25
    config.log_every = 250
    config.checkpoint_every = 500
    config.max_checkpoints = 2
    config.num_devices = 0           # 0: every device
    return config
