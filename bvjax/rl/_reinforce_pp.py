"""REINFORCE++ and REINFORCE++-baseline advantages (batch-whitened, critic-free)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.rl._advantages import group_advantages
from bvjax.rl._gae import compute_dtype, gae_advantages, masked_whiten

_SG = jax.lax.stop_gradient


def reinforce_pp_advantages(rewards: jax.Array, mask: jax.Array, *, gamma: float = 1.0,
                            eps: float = 1e-8) -> jax.Array:
    r"""REINFORCE++ advantages: discounted token returns, whitened over the batch.

    Over the valid tokens of each row (``mask`` True; each valid token links to the next
    valid token, as in `gae_advantages`),

    .. math::  G_t = r_t + \gamma\,G_{t^+},\qquad
               A_t = \frac{G_t - \mu_G}{\sqrt{s_G^2 + \varepsilon}},

    where :math:`\mu_G, s_G^2` are the mean and unbiased variance of :math:`G` over every
    valid token of the batch (`masked_whiten`). REINFORCE++ puts the KL penalty into the
    token rewards, :math:`r_t = \mathbb 1[t = \text{last}]\,r(x, y) - \beta\,\mathrm{KL}_t`:
    build ``rewards`` that way (e.g. with `bvjax.rl.kl_penalty`) before calling.

    Args:
        rewards: [B, T] float, per-token rewards.
        mask: [B, T] bool, the tokens the policy produced.
        gamma: discount :math:`\gamma \in [0, 1]` (the paper and verl: 1).
        eps: :math:`\varepsilon \ge 0` added to the variance (verl: 1e-8).

    Returns:
        [B, T] float32 (float64 for float64 input), 0 at masked positions; wrapped in
        ``stop_gradient``. Fewer than two valid tokens in the batch give 0 (see
        `masked_whiten`). The unwhitened returns :math:`G_t` are
        ``gae_advantages(rewards, zeros, mask, gamma=gamma, lam=1)[1]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import reinforce_pp_advantages
        >>> r = jnp.array([[0.0, 1.0], [0.0, 0.0]])
        >>> reinforce_pp_advantages(r, jnp.ones((2, 2), bool), eps=0.0)  # returns 1, 1, 0, 0
        Array([[ 0.86602545,  0.86602545],
               [-0.86602545, -0.86602545]], dtype=float32)

    References:
        Hu et al, REINFORCE++: Stabilizing Critic-Free Policy Optimization with Global
        Advantage Normalization, 2025 (arXiv 2501.03262); verl's
        ``compute_reinforce_plus_plus_outcome_advantage``.

    Departure from verl: verl restarts the running return at every masked position, so a
    masked span inside a row (a multi-turn observation) cuts the return there; bvjax skips
    masked positions as `gae_advantages` does. The two agree when the mask is only
    trailing padding.
    """
    _checks.dims(rewards=(rewards, "[B, T]", "float"), mask=(mask, "[B, T]", "bool"))
    _checks.in_range("eps", eps, low=0.0)
    _, returns = gae_advantages(rewards, jnp.zeros_like(rewards), mask, gamma=gamma, lam=1.0)
    return _SG(masked_whiten(returns, mask, eps=eps))


def reinforce_pp_baseline_advantages(rewards: jax.Array, group_ids: jax.Array, mask: jax.Array, *,
                                     eps: float = 1e-8) -> jax.Array:
    r"""REINFORCE++-baseline advantages: group mean subtracted, then whitened over the batch.

    With one scalar reward :math:`r_i` per response and groups :math:`g` of responses to
    one prompt,

    .. math::  a_i = r_i - \frac{1}{n_g}\sum_{j\in g} r_j,\qquad
               A_{it} = \frac{a_i - \mu_a}{\sqrt{s_a^2 + \varepsilon}}\ \ (m_{it}),

    where :math:`a_i` is broadcast to the valid tokens of row :math:`i` and
    :math:`\mu_a, s_a^2` are the mean and unbiased variance over every valid token of the
    batch (token-weighted, as verl's ``masked_whiten``). A singleton group keeps its raw
    reward (verl's mean 0), as `group_advantages` with ``singleton="raw"``.

    Args:
        rewards: [B] float, one score per response (e.g. the sum of its token rewards).
        group_ids: [B] int; rows with equal ids answer the same prompt (any values, any
            order). For a dense [P, G] layout pass ``rewards.reshape(-1)`` and
            ``jnp.repeat(jnp.arange(P), G)``.
        mask: [B, T] bool, the response tokens.
        eps: :math:`\varepsilon \ge 0` added to the variance (verl: 1e-8).

    Returns:
        [B, T] float32 (float64 for float64 input), 0 at masked positions; wrapped in
        ``stop_gradient``. A row with no valid token still counts in its group's mean.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import reinforce_pp_baseline_advantages
        >>> r, ids = jnp.array([1.0, 0.0, 1.0, 1.0]), jnp.array([0, 0, 1, 1])
        >>> reinforce_pp_baseline_advantages(r, ids, jnp.ones((4, 1), bool), eps=0.0)
        Array([[ 1.2247448],
               [-1.2247448],
               [ 0.       ],
               [ 0.       ]], dtype=float32)

    References:
        Hu et al, REINFORCE++: Stabilizing Critic-Free Policy Optimization with Global
        Advantage Normalization, 2025 (arXiv 2501.03262); verl's
        ``compute_reinforce_plus_plus_baseline_outcome_advantage``.

    Follows verl, including the singleton rule and the token-weighted whitening.
    """
    _checks.dims(rewards=(rewards, "[B]", "float"), group_ids=(group_ids, "[B]", "int"),
                 mask=(mask, "[B, T]", "bool"))
    _checks.in_range("eps", eps, low=0.0)
    dtype = compute_dtype(rewards)
    centred = _group_centre(rewards.astype(dtype), group_ids)
    tokens = jnp.broadcast_to(centred[:, None], mask.shape)
    return _SG(masked_whiten(tokens, mask, eps=eps))


def _group_centre(rewards, group_ids):
    """r_i minus its group's mean (singleton: r_i), in the rewards' dtype (float64 computed in float64)."""
    if rewards.shape[0] == 0:
        return rewards
    return group_advantages(rewards, group_ids, normalize=False, singleton="raw").astype(rewards.dtype)
