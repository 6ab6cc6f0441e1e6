"""ORPO: odds-ratio preference optimisation without a reference model."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

# Mean log-probs are clamped to <= this before log(1 - e^a): at a = 0 (probability 1) the
# odds are infinite. -1e-6 keeps log-odds <= ~13.8 and its derivative <= ~1e6 in float32.
_MAX_MEAN_LOGP = -1e-6


def _log1mexp(a: jax.Array) -> jax.Array:
    """log(1 - exp(a)) for a < 0, accurate on both sides of -log 2 (Maechler 2012)."""
    return jnp.where(a > -jnp.log(2.0), jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(a)))


def orpo_loss(chosen_logps: jax.Array, rejected_logps: jax.Array, chosen_nll: jax.Array, *,
              lam: float = 0.1) -> jax.Array:
    r"""Per-pair ORPO loss: chosen-response NLL plus a log-odds-ratio penalty.

    With :math:`a = \frac1{|y|}\sum_t \log\pi_\theta(y_t\mid x, y_{<t})` the length-normalised
    log-likelihood and :math:`\log\mathrm{odds}(y) = a - \log(1 - e^{a})`,

    .. math::  \ell = \mathcal L_{NLL}(y_w) + \lambda\,\big[-\log\sigma\big(
               \log\mathrm{odds}(y_w) - \log\mathrm{odds}(y_l)\big)\big].

    :math:`\log(1-e^a)` is computed with ``expm1``/``log1p`` (whichever is accurate), and
    :math:`a` is clamped to :math:`\le -10^{-6}` first, since at :math:`a = 0` the odds are
    infinite; a response with probability 1 therefore has log-odds about 13.8, not inf.

    Args:
        chosen_logps: [B] float, mean per-token log-probs of the chosen responses
            (``sequence_logps(..., normalize=True)``), <= 0.
        rejected_logps: [B] float, likewise for the rejected responses.
        chosen_nll: [B] float, the SFT loss of the chosen responses (``sft_loss``; usually
            ``-chosen_logps``).
        lam: :math:`\lambda \ge 0`, the weight of the odds-ratio term.

    Returns:
        [B] float, one loss per pair.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import orpo_loss
        >>> a = jnp.log(jnp.array([0.5]))  # odds 1 for both responses
        >>> orpo_loss(a, a, -a, lam=1.0)  # log 2 + log 2
        Array([1.3862944], dtype=float32)

    References:
        Hong et al, ORPO: Monolithic Preference Optimization without Reference Model, 2024
        (arXiv 2403.07691).

    Departures: the paper (and its code) averages the NLL over all tokens of a batch; here
    the NLL is per pair as the caller computes it, and the caller reduces. The clamp above
    is ours; the official code and TRL leave :math:`\log(1-e^a)` unguarded.
    """
    _checks.dims(kind="float", chosen_logps=(chosen_logps, "[B]"),
                 rejected_logps=(rejected_logps, "[B]"), chosen_nll=(chosen_nll, "[B]"))
    _checks.in_range("lam", lam, low=0.0)
    dt = compute_dtype(chosen_logps, rejected_logps, chosen_nll)  # the dtype policy
    chosen_logps, rejected_logps, chosen_nll = (x.astype(dt) for x in (chosen_logps, rejected_logps, chosen_nll))
    a_w = jnp.minimum(chosen_logps, _MAX_MEAN_LOGP)
    a_l = jnp.minimum(rejected_logps, _MAX_MEAN_LOGP)
    log_odds_ratio = (a_w - _log1mexp(a_w)) - (a_l - _log1mexp(a_l))
    return chosen_nll - lam * jax.nn.log_sigmoid(log_odds_ratio)
