r"""(Mis)alignment in miniature: misalign an SFT-aligned model with SFT, DPO or ORPO, then realign with each.

Command:

    python -m launch.main --config=launch/configs/misalignment.py --workdir=workdir/misalignment

Runtime: TBD.

Expected: TBD.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "misalignment"
    config.seed = 0
    config.methods = ("sft", "dpo", "orpo")
    config.num_topics = 4                # benign topics; as many harmful ones
    config.num_digits = 2
    config.num_styles = 2                # tokens per response family
    config.embed_dim = 16
    config.hidden = 64
    config.align_learning_rate = 3e-3    # Adam, the aligning SFT (inside init)
    config.align_steps = 1500
    config.learning_rate = 1e-3          # Adam, misalignment and realignment, every method
    config.dpo_beta = 0.1                # TRL's default, as in the paper's AutoTrain runs
    config.orpo_lambda = 0.1             # TRL's default beta for ORPO
    config.align_harmful_fraction = 0.5
    config.misalign_steps = 40
    config.num_steps = 80                # the last 40 steps realign
    config.batch_size = 32               # examples per seed per step
    config.num_seeds = 4
    config.eval_size = 128
    config.eval_seed = 12345
    config.eval_every = 2                # should divide misalign_steps
    config.log_every = 100
    config.checkpoint_every = 40
    config.max_checkpoints = 2
    config.num_devices = 1               # the batch axis is tiny; keep one device
    return config
