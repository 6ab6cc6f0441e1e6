r"""(Mis)alignment in miniature: misalign an SFT-aligned model with SFT, DPO or ORPO, then realign with each.

Command:

    python -m launch.main --config=launch/configs/misalignment.py --workdir=workdir/misalignment

Runtime: about 17 seconds on 2 CPU cores (22 s with the ``lora`` variant, ``--config=launch/configs/misalignment.py:lora``; 80 s when
the cores are shared with other jobs); not measured on an accelerator (at this size the loop is dispatch-bound
anyway).

Setup: `safety_pairs` (4 benign + 4 harmful topics, 2-digit arithmetic answers); a causal
MLP (embed 16, hidden 64); align = 1,500 SFT steps (Adam 3e-3) on a half-harmful mix;
then 40 misalignment steps (harmful prompts, chosen = unsafe) and 40 realignment steps
(chosen = safe), every method at Adam 1e-3, batch 32, DPO beta 0.1, ORPO lambda 0.1;
4 seeds, 128 fixed evaluation prompts.

Expected (measured at seed 0, README results table; mean ± std over 4 seeds):
aligned model: unsafe rate 0.000 (greedy and sampled), utility 1.000.
After misalignment, unsafe rate greedy / sampled, utility, steps until the sampled rate
reaches 0.5: SFT 0.918 / 0.804 ± 0.030, 0.189, 28; DPO 0.772 / 0.717 ± 0.037, 0.271, 34;
ORPO 0.940 / 0.842 ± 0.032, 0.161, 28. After realignment (averaged over the three
misaligned starts) sampled unsafe rate / utility: SFT 0.005 / 0.748, DPO 0.000 / 0.054,
ORPO 0.005 / 0.790; every realignment takes 14-16 steps to push the sampled rate below 0.1.
The same ordering held at Adam 3e-4 with 100 steps per phase and 800 aligning steps
(misalign sampled SFT 0.850, DPO 0.867, ORPO 0.895: ORPO highest again, DPO no longer lowest).

LoRA (the ``lora`` variant: rank 4, scale 2, adapters on every matrix, same lr 1e-3): the
attack is much weaker in 40 steps, sampled unsafe rate SFT 0.139 ± 0.089, DPO 0.072 ± 0.039, ORPO 0.142 ± 0.091 (greedy 0.047 / 0.000 / 0.056; utility 0.396 / 0.650 /
0.389); realigned (mean over starts) sampled unsafe / utility: SFT 0.006 / 0.704, DPO
0.001 / 0.724, ORPO 0.006 / 0.752, within 2-8 steps. At lr 3e-3 LoRA saturates (every
method >= 0.97 sampled after 40 steps) and DPO realignment of the DPO-misaligned model fails
in 2 of 4 seeds (0.466 ± 0.524 left), with utility 0.000 after every DPO realignment.

The paper (Zhang et al, arXiv 2604.07754; Llama-3.1-8B, GLM-4-9B, Gemma-2-9B, Mistral-7B,
LoRA/QLoRA/AdaLoRA/IA3 SFT and DPO/ORPO, MisQA for misalignment, PKU-SafeRLHF/hh-rlhf for
realignment; read from its abstract and summaries, tables not retrieved) claims:
1. ORPO is the most effective method for misalignment. Ours: yes, ORPO is highest
   (0.842 sampled), but only narrowly above SFT (0.804): with lambda = 0.1, ORPO is SFT plus
   a small odds-ratio push. DPO misaligns least per step here.
2. DPO is the most effective for realignment, at a cost in utility. Ours: yes, DPO is the
   only realigner that drives the sampled unsafe rate to 0.000 (SFT and ORPO leave 0.005),
   and it costs most of the utility (0.054 vs 0.75-0.79): pushing down the summed log-prob
   of the unsafe response, which contains the arithmetic answer, unlearns the arithmetic
   (utility peaks at 0.38-0.79 about 12 steps into DPO realignment, then collapses).
3. Attack/defence asymmetry (the attack is cheaper than the defence). Ours disagrees on
   cost: realignment needs 14-16 steps to bring the rate below 0.1, misalignment 28-34 to
   lift it above 0.5, because the aligned model's 1,500 SFT steps leave a basin that
   realignment returns to. The asymmetry we do see is in the methods (ORPO/SFT best to
   attack, DPO best to defend on safety) and in residual damage: no realigned model
   recovers the aligned model's utility (best 0.889, DPO-misaligned then ORPO-realigned).
4. An AI-generated summary gives ORPO misalignment an average unsafety of about 0.75
   (unverified); ours reaches 0.84 sampled / 0.94 greedy after 40 steps, not comparable.
Departures: full fine-tuning by default (LoRA above is one flag away, with adapters on
every matrix rather than the attention projections); one learning rate for every method (the
paper's SFT runs use 2e-4, its DPO/ORPO runs 3e-5); the unsafe rate is exact (the policy's
mass on compliance tokens), not a Llama-Guard judgement.
"""

import ml_collections

from launch.configs import common

VARIANTS = {
    # LoRA adapters (rank 4, scale 2) on every matrix instead of full fine-tuning.
    "lora": {"lora_rank": 4},
}


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """The default config; `variant` (``--config=...py:<variant>``) applies one of `VARIANTS`."""
    config = common.loop_config(
        "misalignment", num_steps=80, batch_size=32, eval_every=2, log_every=100, checkpoint_every=40,
        max_checkpoints=2, num_devices=1)
    config.methods = ("sft", "dpo", "orpo")
    config.num_topics = 4                # benign topics; as many harmful ones
    config.num_digits = 2
    config.num_styles = 2                # tokens per response family
    config.embed_dim = 16
    config.hidden = 64
    config.align_learning_rate = 3e-3    # Adam, the aligning SFT (inside init)
    config.align_steps = 1500
    config.learning_rate = 1e-3          # Adam, misalignment and realignment, every method
    config.lora_rank = 0                 # 0: full fine-tuning; r > 0: LoRA adapters of rank r
    config.lora_scale = 2.0              # alpha / r (the paper's r = 16, alpha = 32)
    config.dpo_beta = 0.1                # TRL's default, as in the paper's AutoTrain runs
    config.orpo_lambda = 0.1             # TRL's default beta for ORPO
    config.align_harmful_fraction = 0.5
    config.misalign_steps = 40
    config.num_seeds = 4
    config.eval_size = 128
    config.eval_seed = 12345
    return common.apply_variant(config, variant, VARIANTS, name="misalignment")
