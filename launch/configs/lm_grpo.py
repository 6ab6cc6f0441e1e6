r"""RL post-training of a small LM on 2-digit addition: SFT, then GRPO, Dr.GRPO, RLOO, V0.5, DCPO and PPO.

Command:

    python -m launch.main --config=launch/configs/lm_grpo.py --workdir=workdir/lm_grpo

See launch/experiments/lm_grpo.py. Runtime: not measured yet on 2 CPU cores.

Expected: not measured yet.
"""

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The CPU default; ``variant="pod"`` (``--config=...py:pod``) scales width, groups and batch."""
    if variant not in ("", "pod"):
        raise ValueError(f"lm_grpo config: unknown variant {variant!r}; valid: '', 'pod'")
    config = ml_collections.ConfigDict()
    config.experiment = "lm_grpo"
    config.seed = 0
    config.num_digits = 2
    config.held_out_every = 16
    config.num_layers = 2
    config.num_heads = 2
    config.head_dim = 32
    config.mlp_dim = 128
    config.sft_steps = 550
    config.sft_learning_rate = 3e-3
    config.rl_learning_rate = 5e-4
    config.critic_learning_rate = 1e-3
    config.group_size = 8
    config.ppo_epochs = 2
    config.clip = 0.2
    config.dual_clip = 3.0
    config.kl_coef = 0.04
    config.gamma = 1.0
    config.gae_lambda = 1.0
    config.value_clip = 0.5
    config.entropy_base = 0.5
    config.methods = ("grpo", "dr_grpo", "rloo", "v05", "dcpo", "ppo")
    config.prior_prompts = 512
    config.eval_problems = 512
    config.eval_samples = 4
    config.greedy_temperature = 1e-4
    config.bootstrap_resamples = 2000
    config.meter_draws = 64
    config.meter_prompts = 16
    config.meter_ref_prompts = 256
    config.meter_ref_group = 32
    config.meter_chunk = 16
    config.num_steps = 700           # sft_steps SFT steps, then num_steps - sft_steps RL steps
    config.batch_size = 16           # prompts per step (SFT: batch_size * group_size problems)
    config.eval_every = 50
    config.log_every = 25
    config.checkpoint_every = 100
    config.max_checkpoints = 1
    config.num_devices = 1
    config.param_shards = 1          # devices each parameter is split over (1: replicated)
    if variant == "pod":
        config.update({"num_digits": 3, "num_layers": 4, "num_heads": 8, "head_dim": 32, "mlp_dim": 1024,
                       "group_size": 16, "batch_size": 256, "sft_steps": 2000, "num_steps": 4000,
                       "eval_problems": 4096, "meter_prompts": 64, "meter_ref_prompts": 4096,
                       "meter_draws": 256, "meter_chunk": 32, "num_devices": 0, "param_shards": 4,
                       "eval_every": 250, "log_every": 50, "checkpoint_every": 250})
    return config
