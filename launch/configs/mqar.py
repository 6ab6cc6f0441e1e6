r"""Multi-query associative recall (MQAR): softmax vs LLA vs global ridge attention at equal parameter count.

Command:

    python -m launch.main --config=launch/configs/mqar.py --workdir=workdir/mqar

See launch/experiments/mqar.py. Zoology's MQAR (`bvjax.data.mqar`), vocabulary 32, length 32,
trained on a mix of 2 / 4 / 6 / 8 pairs; `bvjax.models.TransformerLM` with 2 layers of 2
heads x 16 (width 32, MLP 64; 20,256 parameters for each of the three attention kinds, the
same initial weights and batches per seed); 600 AdamW steps of 32 sequences; 3 seeds per
kind vmapped; held-out accuracy per pair count on 256 sequences each.

Runtime: 16 min 7 s wall on 2 CPU cores shared with other jobs (load average 13-20; 0.3-1.0
steps/s for all 9 models, LLA through 12 CG iterations of the chunked path).

Expected (measured at seed 0; held-out accuracy, mean ± SE over 3 seeds, 2 / 4 / 6 / 8 pairs):
softmax 0.607 ± 0.085 / 0.383 ± 0.101 / 0.293 ± 0.074 / 0.241 ± 0.058; LLA 0.584 ± 0.059 /
0.344 ± 0.063 / 0.259 ± 0.045 / 0.209 ± 0.032; global ridge (linear_regression) 0.500 ±
0.003 / 0.265 ± 0.003 / 0.193 ± 0.006 / 0.156 ± 0.007. The global ridge fit sits at 1/n, a
uniform guess among the n values in the context; softmax and LLA are above it, but each has
one seed that has started to recall (softmax seed 2: 0.775 / 0.586 / 0.441 / 0.357; LLA seed 0:
0.701 / 0.466 / 0.348 / 0.272) and two that have not, so the softmax-LLA difference is well
within one SE: no model has learned the task at this budget and the comparison is not
conclusive. Larger config for an accelerator (not run; length and vocabulary 256, 4 / 16 / 32 / 64
pairs, head dim 32, 20,000 steps, the Pallas LLA kernel):
``--config=launch/configs/mqar.py:accelerator``.

What the paper claims (Zuo et al 2025, arXiv 2510.01450, Fig. 4b as described in its
reviews; the experiment section was not reachable): LLA gains on MQAR across sequence
lengths against attention, Gated DeltaNet and Mamba; no numbers were available.
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    "accelerator": {"seq_len": 256, "vocab_size": 256, "train_pairs": (4, 16, 32, 64), "eval_pairs": (4, 16, 32, 64),
                    "head_dim": 32, "num_steps": 20000, "lla_impl": "pallas", "eval_every": 2000},
}


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The default config; `variant` (``--config=...py:<variant>``) applies one of `VARIANTS`."""
    config = common.loop_config(
        "mqar", num_steps=600, batch_size=32, eval_every=200, log_every=50, checkpoint_every=600,
        num_devices=1)
    config.vocab_size = 32
    config.seq_len = 32
    config.power_a = 0.01
    config.random_non_queries = False
    config.train_pairs = (2, 4, 6, 8)
    config.eval_pairs = (2, 4, 6, 8)
    config.attentions = ("softmax", "lla", "linear_regression")
    config.num_layers = 2
    config.num_heads = 2
    config.head_dim = 16
    config.mlp_dim = 64
    config.ridge = 1.0
    config.lla_impl = "chunked"    # CG (no LAPACK call in the train step); "xla" is the exact solve
    config.cg_iters = 12
    config.num_seeds = 3
    config.learning_rate = 3e-3
    config.warmup_steps = 50
    config.weight_decay = 0.1
    config.grad_clip = 1.0
    config.eval_sequences = 256
    return common.apply_variant(config, variant, VARIANTS, name="mqar")
