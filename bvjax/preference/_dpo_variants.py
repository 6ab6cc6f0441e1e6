"""DPO variants with TRL's loss_type definitions: hinge, robust DPO and f-divergence DPO."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.preference._dpo import _margin

F_DIVERGENCES = ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence")
_EXP_MAX = 80.0  # exponent cap of the forward-KL and alpha scores (TRL caps alpha at 80)


def _dtype(*xs):
    return compute_dtype(*xs)


def hinge_dpo_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
                   reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
                   beta: float = 0.1) -> jax.Array:
    r"""Per-pair hinge loss on DPO's log-ratio margin (TRL ``loss_type="hinge"``).

    .. math::  \ell = \max(0,\ 1 - \beta h),\qquad
               h = \log\frac{\pi_\theta(y_w)}{\pi_{ref}(y_w)} - \log\frac{\pi_\theta(y_l)}{\pi_{ref}(y_l)}.

    The gradient is :math:`-\beta\nabla h` until the margin reaches :math:`1/\beta`, then
    0: pairs already separated by :math:`1/\beta` stop pulling.

    Args:
        policy_chosen_logps: [B] float, summed log-probs of the chosen responses.
        policy_rejected_logps: [B] float, of the rejected responses.
        reference_chosen_logps: [B] float, chosen responses under the frozen reference.
        reference_rejected_logps: [B] float, rejected responses under the reference.
        beta: :math:`\beta > 0` (the margin is :math:`1/\beta` in log-ratio units).

    Returns:
        [B] float, one loss per pair, :math:`\ge 0`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import hinge_dpo_loss
        >>> zero = jnp.zeros(2)
        >>> hinge_dpo_loss(jnp.array([5.0, 20.0]), zero, zero, zero)  # 1 - 0.5, 1 - 2 -> 0
        Array([0.5, 0. ], dtype=float32)

    References:
        Zhao et al, SLiC-HF: Sequence Likelihood Calibration with Human Feedback, 2023
        (arXiv 2305.10425); Liu et al, Statistical Rejection Sampling Improves Preference
        Optimization (RSO), 2023 (arXiv 2309.06657).

    Departures: SLiC's calibration loss uses the policy's log-likelihoods without a
    reference and a margin :math:`\delta`; this is TRL's form (reference log-ratios,
    margin :math:`1/\beta`), which is RSO's hinge loss.
    """
    h = _margin(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps)
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    h = h.astype(_dtype(h))
    return jax.nn.relu(1.0 - beta * h)


def robust_dpo_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
                    reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
                    beta: float = 0.1, label_smoothing: float = 0.0) -> jax.Array:
    r"""Per-pair robust DPO loss: unbiased under preference labels flipped at rate ε.

    With :math:`\ell(z) = -\log\sigma(z)` and flip rate :math:`\varepsilon < 1/2`,

    .. math::  \hat\ell = \frac{(1-\varepsilon)\,\ell(\beta h) - \varepsilon\,\ell(-\beta h)}
               {1 - 2\varepsilon},

    whose expectation over the label noise is the clean DPO loss (unlike cDPO's
    `dpo_loss` with ``label_smoothing``, which is the expected loss under the noise).
    :math:`\varepsilon = 0` is DPO. The loss can be negative.

    Args:
        policy_chosen_logps: [B] float, summed log-probs of the chosen responses.
        policy_rejected_logps: [B] float.
        reference_chosen_logps: [B] float.
        reference_rejected_logps: [B] float.
        beta: :math:`\beta > 0`.
        label_smoothing: :math:`\varepsilon \in [0, 0.5)`, the assumed flip rate (TRL's
            ``label_smoothing``, default 0).

    Returns:
        [B] float, one loss per pair.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import robust_dpo_loss
        >>> zero = jnp.zeros(1)
        >>> robust_dpo_loss(zero, zero, zero, zero, label_smoothing=0.1)  # h = 0: log 2
        Array([0.6931472], dtype=float32)

    References:
        Chowdhury et al, Provably Robust DPO: Aligning Language Models with Noisy
        Feedback, 2024 (arXiv 2403.00409).

    Matches TRL's ``loss_type="robust"``.
    """
    h = _margin(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps)
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    _checks.in_range("label_smoothing", label_smoothing, low=0.0, high=0.5, high_inclusive=False)
    z = beta * h.astype(_dtype(h))
    eps = label_smoothing
    return (-(1.0 - eps) * jax.nn.log_sigmoid(z) + eps * jax.nn.log_sigmoid(-z)) / (1.0 - 2.0 * eps)


def _f_score(log_ratio, divergence, alpha):
    """f'(pi/pi_ref) up to an additive constant, as a function of the log-ratio."""
    if divergence == "reverse_kl" or (divergence == "alpha_divergence" and abs(alpha - 1.0) < 1e-6):
        return log_ratio
    if divergence == "forward_kl":
        return -jnp.exp(jnp.minimum(-log_ratio, _EXP_MAX))
    if divergence == "js_divergence":
        return jax.nn.log_sigmoid(log_ratio)
    return jnp.exp(jnp.minimum((alpha - 1.0) * log_ratio, _EXP_MAX)) / (alpha - 1.0)


def f_dpo_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
               reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
               beta: float = 0.1, divergence: str = "reverse_kl", alpha: float = 0.5) -> jax.Array:
    r"""Per-pair f-DPO loss: DPO under an f-divergence constraint in place of the reverse KL.

    With :math:`u = \pi_\theta(y)/\pi_{ref}(y)` and the divergence's :math:`f'`, the
    implicit reward is :math:`\beta f'(u)`, and

    .. math::  \ell = -\log\sigma\big(\beta\,[f'(u_w) - f'(u_l)]\big),

    with :math:`f'` up to an additive constant (which cancels):

    ======================  ========================================  ==================================
    ``divergence``          :math:`f'(u)` used                        in the log-ratio :math:`x`
    ======================  ========================================  ==================================
    ``reverse_kl``          :math:`\log u` (DPO)                      :math:`x`
    ``forward_kl``          :math:`-1/u`                              :math:`-e^{-x}`
    ``js_divergence``       :math:`\log\frac{u}{1+u}`                 :math:`\log\sigma(x)`
    ``alpha_divergence``    :math:`\frac{u^{\alpha-1}}{\alpha-1}`     :math:`e^{(\alpha-1)x}/(\alpha-1)`
    ======================  ========================================  ==================================

    These are TRL's ``f_divergence_type`` scores. In this parametrisation of the α
    family, :math:`\alpha \to 1` is the reverse KL (used at :math:`|\alpha - 1| < 10^{-6}`)
    and :math:`\alpha = 0` the forward KL. Exponents are capped at 80 (TRL caps the α
    scores there for float32) so large log-ratios give finite losses, with 0 gradient
    beyond the cap.

    Args:
        policy_chosen_logps: [B] float, summed log-probs of the chosen responses.
        policy_rejected_logps: [B] float.
        reference_chosen_logps: [B] float.
        reference_rejected_logps: [B] float.
        beta: :math:`\beta > 0`.
        divergence: ``"reverse_kl"``, ``"forward_kl"``, ``"js_divergence"`` or
            ``"alpha_divergence"``.
        alpha: static float, :math:`\alpha` of ``"alpha_divergence"`` (TRL's
            ``f_alpha_divergence_coef``, default 0.5); ignored otherwise.

    Returns:
        [B] float, one loss per pair, :math:`\ge 0`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import f_dpo_loss
        >>> lw, zero = jnp.array([jnp.log(2.0)]), jnp.zeros(1)
        >>> f_dpo_loss(lw, zero, zero, zero, beta=1.0, divergence="forward_kl")  # -log sigmoid(-1/2 + 1)
        Array([0.474077], dtype=float32)

    References:
        Wang et al, Beyond Reverse KL: Generalizing Direct Preference Optimization with
        Diverse Divergence Constraints, 2023 (arXiv 2309.16240).

    Matches TRL's ``loss_type="sigmoid"`` with ``f_divergence_type`` (and
    ``f_alpha_divergence_coef``), except for the forward-KL cap (TRL has none there).
    """
    _checks.dims(kind="float", policy_chosen_logps=(policy_chosen_logps, "[B]"),
                 policy_rejected_logps=(policy_rejected_logps, "[B]"),
                 reference_chosen_logps=(reference_chosen_logps, "[B]"),
                 reference_rejected_logps=(reference_rejected_logps, "[B]"))
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    _checks.one_of("divergence", divergence, F_DIVERGENCES)
    dtype = _dtype(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                   reference_rejected_logps)
    chosen = policy_chosen_logps.astype(dtype) - reference_chosen_logps.astype(dtype)
    rejected = policy_rejected_logps.astype(dtype) - reference_rejected_logps.astype(dtype)
    delta = _f_score(chosen, divergence, alpha) - _f_score(rejected, divergence, alpha)
    return -jax.nn.log_sigmoid(beta * delta)
