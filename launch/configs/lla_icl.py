r"""In-context regression with a tiny trained model (issue 5): softmax vs global ridge vs LLA.

Command:

    python -m launch.main --config=launch/configs/lla_icl.py --workdir=workdir/lla_icl

and the control task (a linear target, where a global fit is the right model):

    python -m launch.main --config=launch/configs/lla_icl.py:linear --workdir=workdir/lla_icl_linear

See launch/experiments/lla_icl.py. One model (MLP embedding of x, one attention layer of 2
heads, MLP read-out) trained four times per seed, with softmax attention, the global ridge
fit (`linear_regression_attention`, learned ridge), LLA with ridge 1 and LLA with a learned
ridge; 800 AdamW steps of 16 sequences, 4 seeds vmapped, held-out MSE on 512 sequences.

Runtime: about 5.5 min on 2 CPU cores (measured 5 min 33 s wall, with other jobs sharing
the cores; about 0.3 s per step for all 16 models). LLA runs through
`local_linear_attention_chunked` (12 CG iterations, head dim 8) because a train step holding
the exact path's batched ``jnp.linalg.solve`` beside the global fit's hung on XLA:CPU
(``lla_impl="xla"`` selects the exact path; one mechanism at a time it runs). Larger config
for an accelerator (5,000 steps of 64 sequences of 80 points in R^4, 8 seeds, the exact LLA
path; not measured, run on 2 CPU cores only):
``--config=launch/configs/lla_icl.py:accelerator``.

What the paper claims (Zuo et al 2025, arXiv 2510.01450; abstract and reviews, the
experiment section was not reachable): LLA outperforms strong
baselines in test-time training and in-context learning; theory orders the integrated MSE
as global linear >> softmax (local constant) >> local linear. No numbers were available.

Expected (measured at seed 0; held-out MSE against the noiseless target, mean ± SE over 4
seeds, buckets of 1-3 / 4-7 / 8-15 / 16-31 / 32-39 in-context examples, all positions):

- piecewise (2 random hinges): softmax 1.823 / 0.821 / 0.355 / 0.174 / 0.105, all 0.390 ±
  0.003; global 1.664 / 0.615 / 0.221 / 0.121 / 0.089, all 0.304 ± 0.013; LLA ridge 1
  1.796 / 0.753 / 0.301 / 0.141 / 0.084, all 0.352 ± 0.002; LLA learned ridge (0.53)
  1.785 / 0.727 / 0.277 / 0.126 / 0.073, all 0.335 ± 0.001. LLA beats softmax in every
  bucket (12-23 SE after 4 examples); the global fit beats LLA up to 15 examples (3.6-8.9
  SE) and overall (2.4 SE); LLA is lowest at 32-39 examples but within noise (1.4 SE).
- linear (control; 3 min 48 s): softmax 0.784 / 0.283 / 0.116 / 0.044 / 0.027, all 0.136 ±
  0.015; global 0.497 / 0.022 / 0.0049 / 0.0021 / 0.0013, all 0.0426 ± 0.0002 (as good as
  in-context ridge OLS on the raw x, 0.0456); LLA ridge 1 0.757 / 0.207 / 0.070 / 0.024 /
  0.014, all 0.107 ± 0.011; LLA learned ridge (0.39) 0.713 / 0.130 / 0.032 / 0.011 / 0.006,
  all 0.081 ± 0.006. The global fit wins in every bucket (4.8-9.8 SE); LLA sits between it
  and softmax (beats softmax by 2.0-3.9 SE).

Where LLA does not win: against the global fit on learned features it loses on the linear
task everywhere and on the piecewise task up to 15 examples; its one edge over the global
fit (piecewise, 32-39 examples) is not significant. Learning the ridge helps LLA on both
tasks (it moves from 1 to 0.4-0.5). The models are still improving at 800 steps.
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    # The control task: a linear target, where a global fit is the right model.
    "linear": {"task": "linear"},
    "accelerator": {"num_steps": 5000, "batch_size": 64, "num_seeds": 8, "seq_len": 80, "x_dim": 4,
                    "lla_impl": "xla", "eval_every": 500},
}


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The default config; `variant` (``--config=...py:<variant>``) applies one of `VARIANTS`."""
    config = common.loop_config(
        "lla_icl", num_steps=800, batch_size=16, eval_every=100, log_every=50, checkpoint_every=500)
    config.task = "piecewise"        # "piecewise" (random hinges) or "linear" (control)
    config.x_dim = 2
    config.seq_len = 40              # points per sequence; predictions after 1 .. 39 examples
    config.num_hinges = 2
    config.hinge_scale = 1.0
    config.noise_std = 0.1
    config.mechanisms = ("softmax", "global", "lla_fixed", "lla")
    config.lla_impl = "chunked"      # "chunked" (CG, no LAPACK call) or "xla" (exact solve)
    config.cg_iters = 12              # CG iterations per solve (head_dim 8: exact by 8 in exact arithmetic)
    config.fixed_ridge = 1.0         # lla_fixed's ridge, and the learned ridges' start
    config.d_model = 32
    config.num_heads = 2
    config.head_dim = 8
    config.num_seeds = 4
    config.learning_rate = 3e-3
    config.warmup_steps = 50
    config.grad_clip = 1.0
    config.eval_sequences = 512
    config.bucket_edges = (1, 4, 8, 16, 32)
    config.raw_ridge = 0.1           # the untrained in-context ridge OLS reference on the raw x
    return common.apply_variant(config, variant, VARIANTS, name="lla_icl")
