r"""RL post-training of a small LM on 2-digit addition: SFT, then GRPO, Dr.GRPO, RLOO, V0.5, DCPO and PPO.

Command:

    python -m launch.main --config=launch/configs/lm_grpo.py --workdir=workdir/lm_grpo

See launch/experiments/lm_grpo.py. `bvjax.models.TransformerLM` with 2 layers of 2 heads x
32 (width 64), MLP 128, 69,518 parameters; 2-digit addition (prompt ``"07+45="``, answer
``"52"`` + end token; one problem in 16 held out by hash). SFT 550 AdamW steps of 128
problems (lr 3e-3); then 150 RL steps of 16 prompts x 8 completions for each of the six
methods side by side (2 AdamW steps per batch, lr 5e-4, PPO clip 0.2, dual clip 3, k3 KL
to the SFT model x 0.04). Held-out greedy pass@1 on 512 problems with 95% bootstrap CIs
and exact McNemar tests; the meter at the SFT checkpoint, 64 draws of 16 x 8 rollouts per
method against RLOO on 256 x 32 rollouts.

Runtime: 10 min 27 s wall on 2 CPU cores shared with other jobs (load average 6-11; peak
RSS 2.7 GB): about 3 min of compilation, SFT 4-10 steps/s (with the evaluations every 50
steps), RL 0.5 steps/s for all six methods together, the meter about 35 s.

Expected (measured at seed 0): held-out greedy pass@1 [95% CI]: SFT 0.352 [0.312, 0.391];
GRPO 0.357 [0.316, 0.398] (McNemar vs SFT p = 0.88); Dr.GRPO 0.463 [0.422, 0.506] (p =
3e-5); RLOO 0.443 [0.400, 0.484] (p = 8e-4); V0.5 0.432 [0.391, 0.473] (p = 0.003); DCPO
0.479 [0.436, 0.520] (p = 1e-5); PPO 0.432 [0.389, 0.475] (p = 0.002). Pass rate at
temperature 1: SFT 0.231, GRPO 0.306, the others 0.356-0.387. GRPO is below Dr.GRPO, RLOO,
V0.5, DCPO and PPO (p <= 0.004 each); those five do not differ from each other (p >= 0.05).
The meter (bias² minus the reference's variance 0.456, ± SE; variance): RLOO 0.14 ± 0.21,
7.6; V0.5 0.16 ± 0.20, 6.1; Dr.GRPO 0.21 ± 0.20, 5.8; DCPO 0.30 ± 0.28, 17.8; GRPO 0.66 ±
0.36, 25.5; PPO with its untrained critic 1.40 ± 0.49, 35.3 (||∇J||² = 2.11). At this budget
RL loses to more SFT: the same SFT run continued to step 600 / 700 reaches 0.63 / 0.75
held-out greedy pass@1 (measured separately), above every RL method at step 700. The SFT
pass rate at the switch depends steeply on ``sft_steps`` (0.12 at 500, 0.35 at 550).

``get_config("pod")`` (``--config=launch/configs/lm_grpo.py:pod``; not run): 3-digit
addition, 4 layers of 8 heads x 32 (width 256), MLP 1024, 3.2 M parameters, 256 prompts x
16 completions, 2,000 SFT + 2,000 RL steps, every device, parameters split over 4 devices
(``param_shards``).
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    # Wider, deeper, 3 digits; groups of 16 over 256 prompts; parameters split over 4 devices.
    "pod": {"num_digits": 3, "num_layers": 4, "num_heads": 8, "mlp_dim": 1024,
            "group_size": 16, "batch_size": 256, "sft_steps": 2000, "num_steps": 4000,
            "eval_problems": 4096, "meter_prompts": 64, "meter_ref_prompts": 4096,
            "meter_draws": 256, "meter_chunk": 32, "num_devices": 0, "param_shards": 4,
            "eval_every": 250, "log_every": 50, "checkpoint_every": 250},
}


def task_and_model(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The task, model and SFT fields `lm_grpo` and `lm_preference` share (set on `config`, in place)."""
    config.num_digits = 2
    config.held_out_every = 16
    config.num_layers = 2
    config.num_heads = 2
    config.head_dim = 32
    config.mlp_dim = 128
    config.sft_steps = 550
    config.sft_learning_rate = 3e-3
    return config


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The CPU default; ``variant="pod"`` (``--config=...py:pod``) scales width, groups and batch."""
    # num_steps: sft_steps SFT steps, then num_steps - sft_steps RL steps; batch_size: prompts per
    # step (SFT: batch_size * group_size problems).
    config = common.loop_config("lm_grpo", num_steps=700, batch_size=16, eval_every=50, log_every=25,
                                checkpoint_every=100, max_checkpoints=1, num_devices=1)
    task_and_model(config)
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
    return common.apply_variant(config, variant, VARIANTS, name="lm_grpo")
