"""Routing and mixing of SFT and RL signals: HPT's gate, DYPO's route, DCPO's advantages."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class HPTGate(NamedTuple):
    """Result of `hpt_gate`: per-prompt coefficients of HPT's mixed loss.

    Attributes:
        rl_weight: [P] float, :math:`\\alpha` on the on-policy RL loss (1 or 0).
        sft_weight: [P] float, :math:`\\beta` on the SFT loss of the demonstration (1 or 0).
        off_policy: [P] bool, prompts whose demonstration enters as an off-policy RL sample
            (rollouts dropped; use `bvjax.rl.off_policy_loss`).
    """

    rl_weight: jax.Array
    sft_weight: jax.Array
    off_policy: jax.Array


def hpt_gate(num_correct: jax.Array, *, sft_gate: int = 0, off_policy_gate: int | None = None,
             strategy: str = "switch") -> HPTGate:
    r"""HPT's switch: per prompt, SFT on the demonstration, off-policy RL, or on-policy RL.

    With :math:`k` = ``num_correct`` of a prompt's rollouts, gates :math:`\gamma \le \gamma_{off}`:

    .. math::  (\alpha, \beta) = \begin{cases} (0, 1) & k \le \gamma \ \text{(SFT, rollouts dropped)}\\
               (0, 0),\ \text{off-policy} & \gamma < k \le \gamma_{off}\\
               (1, 0) & k > \gamma_{off}\ \text{(RL)}\end{cases}

    and the loss is :math:`L = \alpha L_{RL} + \beta L_{SFT}` (+ the off-policy term).
    This is the paper's HPT and the code's ``unify_strategy="switch"``.

    ``strategy="soft"`` is the code's other branch: every prompt keeps its rollouts and
    also gets its demonstration as an SFT sample, :math:`(\alpha, \beta) = (1, 1)`
    whatever the count (the gates are ignored), i.e. a fixed SFT + RL mixture.

    Args:
        num_correct: [P] int, correct rollouts per prompt (e.g. ``(rewards > 0).sum(-1)``).
        sft_gate: :math:`\gamma \ge 0` (the training script's 0: SFT only when no rollout
            is correct).
        off_policy_gate: :math:`\gamma_{off} \ge \gamma`; None uses ``sft_gate`` (an empty
            off-policy band, as the training script; the code's yaml default is 2).
        strategy: ``"switch"`` (default, the paper) or ``"soft"`` (static).

    Returns:
        `HPTGate` of [P] arrays.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import hpt_gate
        >>> gate = hpt_gate(jnp.array([0, 1, 3]), off_policy_gate=1)
        >>> gate.sft_weight, gate.off_policy, gate.rl_weight
        (Array([1., 0., 0.], dtype=float32), Array([False,  True, False], dtype=bool), Array([0., 0., 1.], dtype=float32))

    References:
        Lv et al, Towards a Unified View of Large Language Model Post-Training, 2025 (arXiv
        2509.04419), Algorithm 1 (HPT) and the official code's ``select_on_off_ada_balance``
        ("switch" strategy).

    Summaries of the paper mention per-count coefficient tables for the
    "soft" strategy; the official code (``hpt/verl/verl/mix_src/mix_trainer.py``) has
    none: its soft branch returns "remove 0, add 0 rollouts, add 1 demonstration" for
    every count, which is what ``"soft"`` implements.
    """
    _checks.dims(num_correct=(num_correct, "[P]", "int"))
    _checks.in_range("sft_gate", sft_gate, low=0)
    off_gate = sft_gate if off_policy_gate is None else off_policy_gate
    _checks.in_range("off_policy_gate", off_gate, low=sft_gate)
    _checks.one_of("strategy", strategy, ("switch", "soft"))
    if strategy == "soft":
        ones = jnp.ones(num_correct.shape, jnp.float32)
        return HPTGate(ones, ones, jnp.zeros(num_correct.shape, bool))
    sft = num_correct <= sft_gate
    off = (num_correct > sft_gate) & (num_correct <= off_gate)
    rl = num_correct > off_gate
    return HPTGate(rl.astype(jnp.float32), sft.astype(jnp.float32), off)


class DYPORoute(NamedTuple):
    """Result of `dypo_route`: one-hot routing of each prompt.

    Attributes:
        hard: [P] bool, no rollout succeeded (multi-teacher SFT).
        mid: [P] bool, some but not all succeeded (GRPO + group alignment loss).
        easy: [P] bool, all succeeded (dropped).
    """

    hard: jax.Array
    mid: jax.Array
    easy: jax.Array


def dypo_route(rewards: jax.Array, *, mask: jax.Array | None = None,
               success_threshold: float = 0.5) -> DYPORoute:
    r"""DYPO's difficulty route from the number of successful rollouts :math:`\phi` of :math:`k`.

    .. math::  \phi = 0 \to \text{Hard (SFT)}, \quad 0 < \phi < k \to \text{Mid (RL)},
               \quad \phi = k \to \text{Easy (dropped)},

    with success :math:`r > \text{success\_threshold}` and :math:`k` the number of valid
    rollouts. A prompt with no valid rollout is routed nowhere (all False).

    Args:
        rewards: [P, G] float rollout rewards (binary in DYPO).
        mask: optional [P, G] bool, valid rollouts.
        success_threshold: a reward above it counts as a success.

    Returns:
        `DYPORoute` of [P] bool arrays, at most one True per prompt.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import dypo_route
        >>> r = dypo_route(jnp.array([[0., 0.], [1., 0.], [1., 1.]]))
        >>> r.hard, r.mid, r.easy
        (Array([ True, False, False], dtype=bool), Array([False,  True, False], dtype=bool), Array([False, False,  True], dtype=bool))

    References:
        Zhu et al, Bridging SFT and RL: Dynamic Policy Optimization for Robust Reasoning,
        2026 (arXiv 2604.08926), Sec. 3 (gating).
    """
    _checks.dims(rewards=(rewards, "[P, G]", "float"), mask=(mask, "[P, G]", "bool"))
    valid = jnp.ones(rewards.shape, bool) if mask is None else mask
    n = jnp.sum(valid, axis=-1)
    phi = jnp.sum(valid & (rewards > success_threshold), axis=-1)
    return DYPORoute((phi == 0) & (n > 0), (phi > 0) & (phi < n), (phi == n) & (n > 0))


def dypo_loss(grpo_losses: jax.Array, alignment_losses: jax.Array, sft_losses: jax.Array,
              route: DYPORoute, *, alpha: float = 0.5, sft_coef: float = 1.0,
              teacher_mask: jax.Array | None = None) -> jax.Array:
    r"""DYPO's per-prompt mixed loss over the routed prompts.

    .. math::  L_p = \mathbb 1_H\,\gamma\,\bar L^{SFT}_p
               + \mathbb 1_M\big(\alpha L^{GRPO}_p + (1-\alpha) L^{GAL}_p\big),
               \qquad \bar L^{SFT}_p = \frac{1}{m_p}\sum_{j} L^{SFT}_{p,j},

    Easy prompts give 0. The multi-teacher SFT term is the expectation of the paper's
    uniform draw of one of the :math:`m_p` teacher traces (same mean, no sampling noise);
    to draw instead, pass a one-hot ``teacher_mask``.

    Args:
        grpo_losses: [P] float, each prompt's GRPO loss (e.g. `grpo_loss` reduced per prompt).
        alignment_losses: [P] float, `bvjax.preference.group_alignment_loss`.
        sft_losses: [P] or [P, M] float, SFT loss on each teacher's trace
            (`bvjax.preference.sft_loss`).
        route: a `DYPORoute` from `dypo_route`.
        alpha: :math:`\alpha \in [0, 1]` (the paper's 0.5).
        sft_coef: :math:`\gamma \ge 0` (README ``sft_loss_coef`` 1.0).
        teacher_mask: optional [P, M] bool, the available teacher traces.

    Returns:
        [P] float. Non-selected branches are masked with ``where`` (a NaN/inf there does
        not leak); a Hard prompt with no teacher trace gives 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import dypo_loss, dypo_route
        >>> route = dypo_route(jnp.array([[0., 0.], [1., 0.], [1., 1.]]))
        >>> dypo_loss(jnp.full(3, 2.0), jnp.full(3, 4.0), jnp.array([[1., 3.]] * 3), route)
        Array([2., 3., 0.], dtype=float32)

    References:
        Zhu et al, Bridging SFT and RL: Dynamic Policy Optimization for Robust Reasoning,
        2026 (arXiv 2604.08926), Eq. 4 / A.1.

    Departures: the expectation over teachers replaces the paper's single uniform draw by
    default (the paper's bias analysis, :math:`\|b_{sys}\|^2 + \bar\sigma^2/m`, assumes the draw).
    """
    _checks.dims(kind="float", grpo_losses=(grpo_losses, "[P]"), alignment_losses=(alignment_losses, "[P]"),
                 sft_losses=(sft_losses, ("[P]", "[P, M]")))
    _checks.dims(hard=(route.hard, "[P]", "bool"), mid=(route.mid, "[P]", "bool"),
                 grpo_losses=(grpo_losses, "[P]"))
    _checks.in_range("alpha", alpha, low=0.0, high=1.0)
    _checks.in_range("sft_coef", sft_coef, low=0.0)
    sft = sft_losses if sft_losses.ndim == 2 else sft_losses[:, None]
    _checks.dims(sft_losses=(sft, "[P, M]"), teacher_mask=(teacher_mask, "[P, M]", "bool"))
    tm = jnp.ones(sft.shape, bool) if teacher_mask is None else teacher_mask
    count = jnp.sum(tm, axis=-1)
    sft_mean = jnp.sum(jnp.where(tm, sft, 0.0), axis=-1) / jnp.maximum(count, 1).astype(sft.dtype)
    mid = alpha * grpo_losses + (1.0 - alpha) * alignment_losses
    out = jnp.where(route.hard, sft_coef * sft_mean, 0.0)
    return jnp.where(route.mid, mid, out)


def dcpo_temperature(entropy: jax.Array, *, entropy_base: float = 0.5, hot: float = 1.2,
                     cold: float = 0.8) -> jax.Array:
    r"""DCPO's virtual-target temperature from the previous update's mean token entropy.

    .. math::  T = \begin{cases}T_{hot} & H \le H_0\\ T_{cold} & H > H_0\end{cases}

    The old log-probs are then recomputed at temperature :math:`T` (logits / T) to form
    the ratio :math:`\rho = \pi^T_{old}/\pi_{old}` that `dcpo_advantages` takes.

    Args:
        entropy: [] float, :math:`H` (the previous step's mean token entropy; 0 at step 1).
        entropy_base: :math:`H_0` (the script's 0.5; the README's best 0.25 for
            Qwen2.5-Math-7B).
        hot: :math:`T` when entropy is low (1.2), to raise it.
        cold: :math:`T` when entropy is high (0.8).

    Returns:
        [] float temperature.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import dcpo_temperature
        >>> dcpo_temperature(jnp.array(0.3)), dcpo_temperature(jnp.array(0.9))
        (Array(1.2, dtype=float32, weak_type=True), Array(0.8, dtype=float32, weak_type=True))

    References:
        DCPO: Distribution-Centric Policy Optimization, official code
        github.com/597358816/DCPO (``ray_trainer.fit``, ``alg == "DCPO"``), no arXiv id found.
    """
    _checks.dims(entropy=(entropy, "[]", "float"))
    _checks.in_range("hot", hot, low=0.0, low_inclusive=False)
    _checks.in_range("cold", cold, low=0.0, low_inclusive=False)
    return jnp.where(entropy <= entropy_base, hot, cold)


class DCPOAdvantages(NamedTuple):
    """Result of `dcpo_advantages`.

    Attributes:
        advantages: [B, T] float, the reshaped token advantages :math:`\\hat A'`.
        alpha: [] float, the mixing weight :math:`\\alpha` used.
    """

    advantages: jax.Array
    alpha: jax.Array


def dcpo_advantages(advantages: jax.Array, scores: jax.Array, temperature_log_ratio: jax.Array,
                    mask: jax.Array, entropy: jax.Array, *, entropy_base: float = 0.5,
                    correct_threshold: float = 0.05, max_gap: float = 0.1,
                    alpha_if_no_correct: float = 0.0, log_ratio_clip: float | None = 20.0,
                    ) -> DCPOAdvantages:
    r"""DCPO's advantage reshaping towards the virtual target distribution :math:`\pi^T`.

    With :math:`c_i = \mathbb 1[\text{score}_i > 0.05]`, :math:`p_+` the fraction of correct
    valid samples in the batch, :math:`\rho_{it} = \pi^T_{old}/\pi_{old}` and
    :math:`g = \min(|H_0 - H|, 0.1)`,

    .. math::  a = g / p_+,\qquad \alpha = \frac{a}{1+a} = \frac{g}{g + p_+},\qquad
               \hat A'_{it} = (1-\alpha)\hat A_i + \alpha\, c_i\, \rho_{it}.

    The reshaped advantage then goes into the PPO-clip loss (`ppo_clip_loss`, clip 0.2,
    dual clip 3, token-mean), so the regulariser is
    :math:`\alpha\,\mathbb E_{\pi_{old}}[c\,\rho\,w] \approx \alpha\,\mathbb E_{\pi^T}[c\,\nabla\log\pi]`.

    Args:
        advantages: [B] or [B, T] float, GRPO advantages (`bvjax.rl.group_advantages`).
        scores: [B] float, sequence scores.
        temperature_log_ratio: [B, T] float, :math:`\log\pi^T_{old} - \log\pi_{old}` per token
            (old log-probs recomputed at `dcpo_temperature`'s T, minus the plain ones).
        mask: [B, T] bool, response tokens (a row with none is not counted in :math:`p_+`).
        entropy: [] float, the previous update's mean token entropy :math:`H`.
        entropy_base: :math:`H_0`.
        correct_threshold: a score above it is correct (0.05).
        max_gap: cap on :math:`|H_0 - H|` (0.1).
        alpha_if_no_correct: :math:`\alpha` when :math:`p_+ = 0` (default 0: plain GRPO).
        log_ratio_clip: clamp the log-ratio before exp (20); None disables.

    Returns:
        `DCPOAdvantages` (advantages [B, T], zero on masked tokens; alpha []).
        :math:`H = H_0` gives :math:`\alpha = 0`, plain GRPO.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import dcpo_advantages
        >>> out = dcpo_advantages(jnp.array([1.0, -1.0]), jnp.array([1.0, 0.0]), jnp.zeros((2, 1)),
        ...                       jnp.ones((2, 1), bool), jnp.array(0.4))  # g = 0.1, p+ = 0.5
        >>> out.alpha
        Array(0.16666666, dtype=float32)
        >>> out.advantages  # (1 - a) A + a c rho
        Array([[ 1.       ],
               [-0.8333334]], dtype=float32)

    References:
        DCPO: Distribution-Centric Policy Optimization, official code
        github.com/597358816/DCPO (``ray_trainer.fit``, ``alg == "DCPO"``), no arXiv id found.

    Departures: with no correct sample the code computes :math:`a = g/0` and
    :math:`\alpha` = NaN (or 1 in the limit, which would erase the GRPO advantage while the
    regulariser :math:`c\rho` is 0); here :math:`\alpha` = ``alpha_if_no_correct`` (0). The
    form :math:`g/(g+p_+)` avoids the infinity; :math:`g = 0` with :math:`p_+ = 0` is covered
    by the same rule.
    """
    _checks.dims(kind="float", advantages=(advantages, ("[B, T]", "[B]")), scores=(scores, "[B]"),
                 temperature_log_ratio=(temperature_log_ratio, "[B, T]"))
    _checks.dims(mask=(mask, "[B, T]", "bool"), temperature_log_ratio=(temperature_log_ratio, "[B, T]"))
    _checks.dims(entropy=(entropy, "[]", "float"))
    _checks.in_range("max_gap", max_gap, low=0.0)
    _checks.in_range("alpha_if_no_correct", alpha_if_no_correct, low=0.0, high=1.0)
    valid_row = jnp.any(mask, axis=-1)
    correct = (scores > correct_threshold) & valid_row
    n_valid = jnp.sum(valid_row)
    p_plus = jnp.sum(correct) / jnp.maximum(n_valid, 1)
    gap = jnp.minimum(jnp.abs(entropy_base - entropy), max_gap)
    alpha = jnp.where(p_plus > 0, gap / jnp.where(p_plus > 0, gap + p_plus, 1.0), alpha_if_no_correct)
    alpha = jax.lax.stop_gradient(alpha.astype(temperature_log_ratio.dtype))
    lr = temperature_log_ratio
    if log_ratio_clip is not None:
        lr = jnp.clip(lr, -log_ratio_clip, log_ratio_clip)
    rho = jnp.exp(jnp.where(mask, lr, 0.0))
    a = advantages[:, None] if advantages.ndim == 1 else advantages
    out = (1.0 - alpha) * a + alpha * correct[:, None].astype(rho.dtype) * rho
    return DCPOAdvantages(jnp.where(mask, out, 0.0), alpha)
