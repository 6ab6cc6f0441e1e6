"""DPO (with conservative label smoothing) and IPO on summed sequence log-probs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _margin(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
            reference_rejected_logps):
    """Checks four [B] log-prob arrays and returns h = (pc - rc) - (pr - rr)."""
    _checks.dims(kind="float", policy_chosen_logps=(policy_chosen_logps, "[B]"),
                 policy_rejected_logps=(policy_rejected_logps, "[B]"),
                 reference_chosen_logps=(reference_chosen_logps, "[B]"),
                 reference_rejected_logps=(reference_rejected_logps, "[B]"))
    # The dtype policy: float64 in, float64 computed; half precision computed in float32.
    dt = compute_dtype(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps)
    return ((policy_chosen_logps.astype(dt) - reference_chosen_logps.astype(dt))
            - (policy_rejected_logps.astype(dt) - reference_rejected_logps.astype(dt)))


def dpo_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
             reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
             beta: float = 0.1, label_smoothing: float | jax.Array = 0.0) -> jax.Array:
    r"""Per-pair DPO loss, with conservative DPO's label smoothing.

    With the implicit-reward margin
    :math:`h = [\log\pi_\theta(y_w) - \log\pi_{ref}(y_w)] - [\log\pi_\theta(y_l) - \log\pi_{ref}(y_l)]`
    and label-flip probability :math:`\varepsilon` (``label_smoothing``),

    .. math::  \ell = -(1-\varepsilon)\,\log\sigma(\beta h) - \varepsilon\,\log\sigma(-\beta h).

    :math:`\varepsilon = 0` is DPO; :math:`\varepsilon > 0` is conservative DPO (cDPO), the
    expected DPO loss when each preference label is flipped with probability
    :math:`\varepsilon`. ``log_sigmoid`` is used throughout, so margins of 1e4 give finite
    losses and gradients.

    Args:
        policy_chosen_logps: [B] float, summed log-probs of the chosen responses under
            the policy (see `sequence_logps`).
        policy_rejected_logps: [B] float, likewise for the rejected responses.
        reference_chosen_logps: [B] float, chosen responses under the frozen reference.
        reference_rejected_logps: [B] float, rejected responses under the reference.
        beta: :math:`\beta > 0`, the inverse temperature of the implicit reward.
        label_smoothing: :math:`\varepsilon \in [0, 0.5]`, a scalar or a [B] array (MCTS-DPO
            sets it per pair from visit counts). Every entry of a concrete array is
            checked (ValueError); under jit a traced array cannot be, and an entry outside
            [0, 0.5] then gives that pair a loss that rewards the rejected answer.

    Returns:
        [B] float, one loss per pair (reduce with a mean).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import dpo_loss
        >>> zero = jnp.zeros(2)
        >>> dpo_loss(zero, zero, zero, zero)  # h = 0: log 2
        Array([0.6931472, 0.6931472], dtype=float32)
        >>> dpo_loss(jnp.array([1.0]), jnp.array([-1.0]), jnp.zeros(1), jnp.zeros(1),
        ...          beta=1.0, label_smoothing=0.1).round(4)
        Array([0.3269], dtype=float32)

    References:
        Rafailov et al, Direct Preference Optimization: Your Language Model is Secretly a
        Reward Model, 2023 (arXiv 2305.18290).
        Mitchell, A Note on DPO with Noisy Preferences and Relationship to IPO, 2023 (cDPO).

    Departures: none from the papers. Label smoothing is restricted to [0, 0.5] (at 0.5 the
    loss no longer depends on which response is chosen), as in MCTS-DPO's conservative mode.
    """
    h = _margin(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps)
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    _checks.in_range("label_smoothing", label_smoothing, low=0.0, high=0.5)
    if jnp.ndim(label_smoothing) > 0:
        _checks.dims(kind="float", policy_chosen_logps=(policy_chosen_logps, "[B]"),
                     label_smoothing=(label_smoothing, ("[B]", "[]")))
    z = beta * h
    eps = jnp.asarray(label_smoothing, h.dtype)
    return -(1.0 - eps) * jax.nn.log_sigmoid(z) - eps * jax.nn.log_sigmoid(-z)


def ipo_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
             reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
             tau: float = 0.1) -> jax.Array:
    r"""Per-pair IPO loss: squared distance of the log-ratio margin from :math:`1/(2\tau)`.

    .. math::  \ell = \Big(h - \frac{1}{2\tau}\Big)^2, \qquad
               h = \log\frac{\pi_\theta(y_w)\,\pi_{ref}(y_l)}{\pi_\theta(y_l)\,\pi_{ref}(y_w)}

    IPO regresses the margin to a finite target instead of pushing it to infinity, so it
    does not overfit deterministic preferences. Tajwar et al's bandit code writes the
    target directly (``(h - 10)**2``), i.e. ``tau=0.05``.

    Args:
        policy_chosen_logps: [B] float, log-probs of the chosen responses under the policy.
        policy_rejected_logps: [B] float.
        reference_chosen_logps: [B] float.
        reference_rejected_logps: [B] float.
        tau: :math:`\tau > 0`, the regularisation strength (target margin ``1 / (2 tau)``).

    Returns:
        [B] float, one loss per pair.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import ipo_loss
        >>> zero = jnp.zeros(1)
        >>> ipo_loss(zero, zero, zero, zero, tau=0.5)  # (0 - 1)^2
        Array([1.], dtype=float32)

    References:
        Azar et al, A General Theoretical Paradigm to Understand Learning from Human
        Preferences, 2023 (arXiv 2310.12036).

    Departures: the paper's log-probs are summed over the response; TRL's IPO divides them
    by the response length first. Pass ``sequence_logps(..., normalize=True)`` to get TRL's.
    """
    h = _margin(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps)
    _checks.in_range("tau", tau, low=0.0, low_inclusive=False)
    return (h - 1.0 / (2.0 * tau)) ** 2
