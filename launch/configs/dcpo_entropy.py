r"""DCPO vs GRPO on a prompts x answers softmax bandit: entropy and reward curves.

Command:

    python -m launch.main --config=launch/configs/dcpo_entropy.py --workdir=workdir/dcpo_entropy

Runtime: about 45 s on 2 CPU cores shared with other jobs (9 s of CPU time, mostly compilation).

Expected (measured at seed 0, README results table; mean ± std over 8 seeds, exact figures of
the policy): both methods reach expected reward 0.998 by step 1000 and follow the same entropy
curve down to H₀ = 0.5 (DCPO a little faster early on, since H > H₀ makes it sharpen with
T = 0.8); after that GRPO keeps collapsing (entropy 0.327 at step 500, 0.181 ± 0.069 at step
1000; correct answers with π ≥ 0.05: 1.20 ± 0.13 of 4) while DCPO levels off and climbs back
(0.329, then 0.351 ± 0.028; coverage 1.57 ± 0.10), batch α ≈ 0.09. With
``--config.entropy_base=1.0`` DCPO ends at 0.503 ± 0.057 (coverage 1.83 ± 0.16).

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
