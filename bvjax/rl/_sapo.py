"""SAPO's soft-gated policy loss and the per-token entropy of a policy's logits."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.rl._gae import compute_dtype

_SG = jax.lax.stop_gradient


def sapo_loss(logps: jax.Array, old_logps: jax.Array, advantages: jax.Array, *, tau_pos: float = 1.0,
              tau_neg: float = 1.05, log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token SAPO loss: a temperature-controlled sigmoid gate in place of PPO's clip.

    With the token ratio :math:`r_t = \pi_\theta(y_t)/\pi_{old}(y_t)` and
    :math:`\tau = \tau_{pos}` where :math:`\hat A > 0`, else :math:`\tau_{neg}`,

    .. math::  f_\tau(r) = \frac{4}{\tau}\,\sigma\big(\tau (r - 1)\big),\qquad
               \ell_t = -f_\tau(r_t)\,\hat A_t,

    so :math:`\nabla\ell_t = -\hat A_t\,4\sigma(1-\sigma)\,r_t\,\nabla\log\pi_\theta`: the
    plain policy gradient at :math:`r = 1` (the factor 4/τ makes the gate's slope 1
    there), smoothly attenuated as :math:`r` leaves 1 instead of cut off. A larger
    :math:`\tau_{neg}` damps negative-advantage tokens faster. SAPO reduces per sequence:
    ``aggregate_loss(loss, mask, mode="seq-mean-token-mean")``.

    Followed: the gate as verl (``compute_policy_loss_sapo``) and TRL
    (``loss_type="sapo"``) implement it, which agree with each other and with the
    paper's description (a token-level sigmoid gate on the ratio, asymmetric
    temperatures, sequence-mean reduction); the defaults :math:`\tau_{pos} = 1.0`,
    :math:`\tau_{neg} = 1.05` are the ones both peers give as the paper's. The paper's
    full text (beyond its abstract) was not checked. The log-ratio clamp is verl's (TRL
    has none: ``log_ratio_clip=None``).

    Args:
        logps: [B, T] float, token log-probs under the current policy (differentiated).
        old_logps: [B, T] float, under the rollout policy (data).
        advantages: [B] or [B, T] float (data; ``A <= 0`` uses :math:`\tau_{neg}`).
        tau_pos: :math:`\tau_{pos} > 0`.
        tau_neg: :math:`\tau_{neg} > 0`.
        log_ratio_clip: clamp :math:`\log r` to :math:`\pm c` (verl: 20); None disables.

    Returns:
        [B, T] float per-token loss. Beyond the clamp the gradient is 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import sapo_loss
        >>> lp = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> sapo_loss(lp, lp, jnp.array([1.0]))  # r = 1: -(4/1) * sigmoid(0) * 1
        Array([[-2., -2.]], dtype=float32)

    References:
        Gao et al, Soft Adaptive Policy Optimization, 2025 (arXiv 2511.20347).
    """
    _checks.dims(kind="float", logps=(logps, "[B, T]"), old_logps=(old_logps, "[B, T]"),
                 advantages=(advantages, ("[B, T]", "[B]")))
    _checks.in_range("tau_pos", tau_pos, low=0.0, low_inclusive=False)
    _checks.in_range("tau_neg", tau_neg, low=0.0, low_inclusive=False)
    if log_ratio_clip is not None:
        _checks.in_range("log_ratio_clip", log_ratio_clip, low=0.0, low_inclusive=False)
    dtype = compute_dtype(logps)
    a = _SG(advantages).astype(dtype)
    a = a[:, None] if a.ndim == 1 else a
    log_ratio = logps.astype(dtype) - _SG(old_logps).astype(dtype)
    if log_ratio_clip is not None:
        log_ratio = jnp.clip(log_ratio, -log_ratio_clip, log_ratio_clip)
    ratio = jnp.exp(log_ratio)
    tau = jnp.where(a > 0, jnp.asarray(tau_pos, dtype), jnp.asarray(tau_neg, dtype))
    gate = jax.nn.sigmoid(tau * (ratio - 1.0)) * (4.0 / tau)
    return -gate * a


def token_entropy(logits: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    r"""Shannon entropy of each token's predictive distribution, from logits.

    .. math::  H_t = -\sum_v p_{tv}\log p_{tv},\qquad p_t = \mathrm{softmax}(z_t),

    computed from ``log_softmax`` with :math:`0\log 0 = 0`, so logits of ``-inf``
    (masked vocabulary entries) are fine and their gradient is 0. Reduce with
    `bvjax.rl.aggregate_loss` for verl's ``entropy_loss`` metric or an entropy bonus.

    Args:
        logits: [..., V] float, unnormalised logits (e.g. [B, T, V]).
        mask: optional bool of the shape of ``logits[..., 0]``; masked positions give 0.

    Returns:
        ``logits.shape[:-1]`` float, in nats, in [0, log V].

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import token_entropy
        >>> token_entropy(jnp.array([[0.0, 0.0], [0.0, -jnp.inf]]))  # log 2, 0
        Array([0.6931472, 0.       ], dtype=float32)

    References:
        Shannon, A Mathematical Theory of Communication, 1948; verl's
        ``entropy_from_logits``; Williams and Peng, Function Optimization Using
        Connectionist Reinforcement Learning Algorithms, 1991 (entropy regularisation).
    """
    _checks.dims(logits=(logits, "[..., V]", "float"))
    if mask is not None:
        _checks.bool_dtype(mask=mask)
        if tuple(mask.shape) != tuple(logits.shape[:-1]):
            raise ValueError(f"mask: expected shape {tuple(logits.shape[:-1])} (logits without V), "
                             f"got shape {tuple(mask.shape)} {mask.dtype}")
    z = logits.astype(compute_dtype(logits))
    logp = jax.nn.log_softmax(z, axis=-1)
    p = jnp.exp(logp)
    safe = jnp.where(p > 0, logp, 0.0)
    h = jnp.sum(p * (0.0 - safe), axis=-1)  # 0 - 0 is +0
    return h if mask is None else jnp.where(mask, h, 0.0)
