r"""DPO and ORPO on a small LM at sequence scale: on-policy pairs vs a fixed offline pair set.

Command:

    python -m launch.main --config=launch/configs/lm_preference.py --workdir=workdir/lm_preference

See launch/experiments/lm_preference.py. The task, model and SFT warm-up of
launch/configs/lm_grpo.py (2-digit addition, 69,518 parameters, SFT 550 steps to held-out
greedy pass@1 0.352); then 150 steps of 32 prompts x 4 completions for each of DPO and ORPO
with on-policy pairs (sampled from the policy being trained, ranked by the verifier) and
with a fixed offline set (the SFT model's completions for 512 prompts, ranked once: 60.2%
of the prompts give a pair), AdamW lr 5e-4, DPO beta 0.1, ORPO lambda 0.1.

Runtime: 2 min 20 s wall on 2 CPU cores shared with other jobs (about 1 min of
compilation; SFT ~10 steps/s; preference 6-8 steps/s for the four runs together).

Expected (measured at seed 0; held-out greedy pass@1 on 512 problems [95% bootstrap CI],
exact McNemar vs SFT): SFT 0.352 [0.312, 0.391]; DPO on-policy 0.414 [0.371, 0.455] (p =
0.02), DPO offline 0.170 [0.137, 0.205] (p = 6e-11, below SFT); ORPO on-policy 0.545
[0.504, 0.586] (p = 2e-12), ORPO offline 0.404 [0.361, 0.445] (p = 0.04). On-policy beats
offline for both losses (McNemar p = 1e-19 for DPO, 1e-7 for ORPO): Tajwar et al's claim
holds on sequences here. Offline DPO falls below the SFT model it starts from (not
diagnosed here; ORPO, whose loss includes the NLL of the chosen completion, does not).
One seed, one budget.
"""

import ml_collections

from launch.configs import common, lm_grpo


def get_config() -> ml_collections.ConfigDict:
    # num_steps: sft_steps SFT steps, then num_steps - sft_steps preference steps; batch_size:
    # prompts per step (SFT: batch_size * group_size problems).
    config = common.loop_config("lm_preference", num_steps=700, batch_size=32, eval_every=50, log_every=25,
                                checkpoint_every=100, max_checkpoints=1, num_devices=1)
    lm_grpo.task_and_model(config)
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
    return config
