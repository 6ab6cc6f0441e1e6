r"""DCPO vs GRPO on a prompts x answers softmax bandit: entropy and reward curves.

Command:

    python -m launch.main --config=launch/configs/dcpo_entropy.py --workdir=workdir/dcpo_entropy

Runtime: about 45 s on 2 CPU cores shared with other jobs (9 s of CPU time, mostly compilation).

Expected (measured at seed 0, README results table; mean ± std over 8 seeds, exact figures of
the policy): both methods reach expected reward 0.998 by step 1000 and follow the same entropy
curve down to H₀ = 0.5 (DCPO a little faster early on, since H > H₀ makes it sharpen with
T = 0.8); after that GRPO keeps collapsing (entropy 0.327 at step 500, 0.181 ± 0.069 at step
1000; correct answers with π ≥ 0.05: 1.20 ± 0.13 of 4) while DCPO levels off and climbs back
(0.329, then 0.351 ± 0.028; coverage 1.57 ± 0.10), batch α ≈ 0.09. With the
``entropy_base_1`` variant (``--config=launch/configs/dcpo_entropy.py:entropy_base_1``) DCPO ends at 0.503 ± 0.057 (coverage 1.83 ± 0.16).

For an accelerator (256 prompts of 128 answers, batch 128, 32 seeds, 3,000 steps; not measured):

    python -m launch.main --config=launch/configs/dcpo_entropy.py:accelerator --workdir=workdir/dcpo_entropy_acc
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    "entropy_base_1": {"entropy_base": 1.0},
    # More prompts and seeds, longer.
    "accelerator": {"num_prompts": 256, "num_arms": 128, "batch_size": 128, "num_seeds": 32, "num_steps": 3000},
}


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The default config; `variant` (``--config=...py:<variant>``) applies one of `VARIANTS`."""
    config = common.loop_config(
        "dcpo_entropy", num_steps=1000, eval_every=25, log_every=250, checkpoint_every=500,
        max_checkpoints=2)
    config.num_seeds = 8
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
    return common.apply_variant(config, variant, VARIANTS, name="dcpo_entropy")
