"""A critic's estimators: GAE, the clipped value loss and masked whitening."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks

_SG = jax.lax.stop_gradient


def compute_dtype(x):
    """The dtype a bvjax.rl function computes in: float64 stays float64, else float32 at least."""
    return jnp.promote_types(jnp.asarray(x).dtype, jnp.float32)


def _scale_exponent(x, valid):
    """Exponent e with max |x| over valid entries in [2^(e-1), 2^e), clipped to the dtype's range."""
    info = jnp.finfo(x.dtype)
    top = jnp.max(jnp.where(valid, jnp.abs(x), 0.0), initial=0.0)
    _, e = jnp.frexp(top)
    return jnp.clip(e, info.minexp, info.maxexp - 1).astype(jnp.int32)


def masked_whiten(x: jax.Array, mask: jax.Array, *, shift_mean: bool = True,
                  eps: float = 1e-8) -> jax.Array:
    r"""Whitens the valid entries of ``x`` with their mean and unbiased variance.

    With :math:`n` valid entries (``mask`` True) of mean :math:`\mu` and unbiased variance
    :math:`s^2 = \frac{1}{n-1}\sum_{valid}(x-\mu)^2`,

    .. math::  y = \frac{x - \mu}{\sqrt{s^2 + \varepsilon}}\quad(\texttt{shift\_mean}),
               \qquad y = \frac{x - \mu}{\sqrt{s^2 + \varepsilon}} + \mu\quad(\text{otherwise}).

    The statistics run over every valid entry of the array (the whole batch, every
    token counting once), as verl's ``masked_whiten`` does for PPO and REINFORCE++
    advantages.

    Edge cases: masked entries are excluded from the statistics and returned as 0 (they
    may hold ``inf``/``NaN`` without effect); no valid entry gives all zeros; a single
    valid entry has :math:`s^2 := 0`, so it returns 0 (or :math:`\mu` = the entry itself
    with ``shift_mean=False``). The mean and variance are computed in two passes on the
    values rescaled by an exact power of two, so magnitudes near the dtype's limit do not
    overflow in the squares, and shifted by the largest valid entry, so entries that are
    all equal whiten to exactly 0 (also with ``eps=0``).

    Args:
        x: float array of any shape (e.g. [B, T] advantages).
        mask: bool array of the shape of ``x``; True marks the entries that count.
        shift_mean: False adds :math:`\mu` back (verl's ``shift_mean=False``).
        eps: :math:`\varepsilon \ge 0`, added to the variance (verl: 1e-8).

    Returns:
        The shape of ``x``, in float32 (float64 for float64 input).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import masked_whiten
        >>> x = jnp.array([[1.0, 2.0, 3.0, 100.0]])
        >>> masked_whiten(x, jnp.array([[True, True, True, False]]), eps=0.0)
        Array([[-1.,  0.,  1.,  0.]], dtype=float32)

    References:
        Schulman et al, Proximal Policy Optimization Algorithms, 2017 (arXiv 1707.06347)
        (advantage normalisation); Sheng et al, HybridFlow: A Flexible and Efficient RLHF
        Framework (verl), 2024 (arXiv 2409.19256).

    Departures from verl: verl raises when fewer than two entries are valid and returns
    whitened values at masked positions (callers multiply by the mask); bvjax defines
    both cases as above.
    """
    _checks.float_dtype(x=x)
    _checks.bool_dtype(mask=mask)
    _checks.same_shape(x=x, mask=mask)
    _checks.in_range("eps", eps, low=0.0)
    dtype = compute_dtype(x)
    x = x.astype(dtype)
    e = _scale_exponent(x, mask)
    xs = jnp.where(mask, jnp.ldexp(x, -e), 0.0)
    n = jnp.sum(mask).astype(dtype)
    # shifted by a valid entry (the largest): entries that are all equal centre to exactly
    # 0, where a rounded mean left them at ~1e-17 and the division by their std made that 1
    shift = jnp.max(jnp.where(mask, xs, -jnp.inf), initial=-jnp.inf)
    shift = jnp.where(n > 0, shift, 0.0)
    d = jnp.where(mask, xs - shift, 0.0)
    offset = jnp.sum(d) / jnp.maximum(n, 1.0)
    mean = shift + offset
    centred = jnp.where(mask, d - offset, 0.0)
    var = jnp.sum(centred * centred) / jnp.maximum(n - 1.0, 1.0)
    std = jnp.where(var > 0, jnp.sqrt(jnp.where(var > 0, var, 1.0)), 0.0)
    # sqrt(s^2 + eps) in the scaled domain: hypot(s', sqrt(eps) 2^-e), no overflow; the
    # selects keep the gradient finite when s = eps = 0.
    root_eps = jnp.ldexp(jnp.sqrt(jnp.asarray(eps, dtype)), -e)
    ok = (std > 0) | (root_eps > 0)
    denom = jnp.where(ok, jnp.hypot(jnp.where(ok, std, 1.0), jnp.where(ok, root_eps, 1.0)), 1.0)
    y = centred / denom
    if not shift_mean:
        y = y + jnp.ldexp(mean, e)
    return jnp.where(mask, y, 0.0)


def gae_advantages(rewards: jax.Array, values: jax.Array, mask: jax.Array, *, gamma: float = 1.0,
                   lam: float = 1.0) -> tuple[jax.Array, jax.Array]:
    r"""Generalized advantage estimates and λ-returns over the valid tokens of each row.

    Let :math:`t` run over the valid tokens of a row (``mask`` True) and :math:`t^+` be the
    next valid token of the same row. Then

    .. math::  \delta_t = r_t + \gamma V_{t^+} - V_t,\qquad
               \hat A_t = \delta_t + \gamma\lambda\,\hat A_{t^+},\qquad
               R_t = \hat A_t + V_t,

    with :math:`V_{t^+} = \hat A_{t^+} = 0` after the last valid token (the episode ends
    there; no bootstrap). Masked positions (padding, or the observation tokens of a
    multi-turn rollout) are skipped: their rewards and values are ignored, the chain of a
    valid token links straight to the next valid token, and no discount is spent on them.
    This is verl's ``compute_gae_advantage_return``. ``lam=1`` gives the Monte-Carlo return
    minus the value; ``lam=0`` the one-step TD error.

    Args:
        rewards: [B, T] float, per-token rewards (e.g. the score on the last token minus a
            per-token KL penalty).
        values: [B, T] float, the critic's :math:`V_t`.
        mask: [B, T] bool, the tokens the policy produced.
        gamma: discount :math:`\gamma \in [0, 1]`.
        lam: GAE's :math:`\lambda \in [0, 1]`.

    Returns:
        ``(advantages, returns)``, each [B, T] float32 (float64 for float64 input), 0 at
        masked positions (which may hold ``inf``/``NaN`` in ``rewards`` or ``values``
        without effect). Both are wrapped in ``stop_gradient``: they are targets, not
        functions of the parameters.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import gae_advantages
        >>> r = jnp.array([[0.0, 5.0, 1.0]])
        >>> v = jnp.array([[0.5, 9.0, 0.25]])
        >>> adv, ret = gae_advantages(r, v, jnp.array([[True, False, True]]))
        >>> adv  # the masked token is skipped: A_0 = 0 + V_2 - V_0 + A_2
        Array([[0.5 , 0.  , 0.75]], dtype=float32)
        >>> ret
        Array([[1., 0., 1.]], dtype=float32)

    References:
        Schulman et al, High-Dimensional Continuous Control Using Generalized Advantage
        Estimation, 2016 (arXiv 1506.02438); Sheng et al, HybridFlow: A Flexible and
        Efficient RLHF Framework (verl), 2024 (arXiv 2409.19256).

    Departures from verl: verl whitens the advantages inside the same function; bvjax
    returns them raw, so apply `masked_whiten` (``masked_whiten(adv, mask)``) for verl's
    values. verl's outputs at masked positions carry the next valid token's advantage;
    bvjax returns 0 there.
    """
    _checks.dims(kind="float", rewards=(rewards, "[B, T]"), values=(values, "[B, T]"))
    _checks.dims(rewards=(rewards, "[B, T]"), mask=(mask, "[B, T]", "bool"))
    _checks.in_range("gamma", gamma, low=0.0, high=1.0)
    _checks.in_range("lam", lam, low=0.0, high=1.0)
    dtype = jnp.promote_types(compute_dtype(rewards), compute_dtype(values))
    r, v = rewards.astype(dtype), values.astype(dtype)

    def step(carry, xs):
        next_value, next_adv = carry
        r_t, v_t, m_t = xs
        adv = r_t + gamma * next_value - v_t + gamma * lam * next_adv
        carry = (jnp.where(m_t, v_t, next_value), jnp.where(m_t, adv, next_adv))
        return carry, jnp.where(m_t, adv, 0.0)

    zero = jnp.zeros(r.shape[:1], dtype)
    _, adv = jax.lax.scan(step, (zero, zero), (r.T, v.T, mask.T), reverse=True)
    adv = adv.T
    returns = jnp.where(mask, adv + jnp.where(mask, v, 0.0), 0.0)
    return _SG(adv), _SG(returns)


def value_loss(values: jax.Array, old_values: jax.Array, returns: jax.Array, *,
               clip: float | None = None) -> jax.Array:
    r"""Per-token critic loss, with PPO's optional value clipping.

    .. math::  \ell_t = \tfrac12\max\Big((V_t - R_t)^2,\
               \big(\mathrm{clip}(V_t, V^{old}_t - c, V^{old}_t + c) - R_t\big)^2\Big),

    and :math:`\ell_t = \tfrac12 (V_t - R_t)^2` with ``clip=None``. ``old_values`` (the
    critic at rollout time) and ``returns`` (e.g. from `gae_advantages`) are data. The
    caller masks and reduces with `bvjax.rl.aggregate_loss`.

    Args:
        values: [B, T] or [B] float, the critic's current predictions (differentiated).
        old_values: the same shape, the predictions at rollout time (data).
        returns: the same shape, the regression targets (data).
        clip: :math:`c > 0`, or None for the unclipped squared error. verl's
            ``cliprange_value`` default is 0.5.

    Returns:
        The shape of ``values``: one loss per token. When the clipped branch wins, the
        gradient is 0 (the clip is active).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import value_loss
        >>> v, old, ret = jnp.array([[2.0]]), jnp.array([[0.0]]), jnp.array([[1.5]])
        >>> value_loss(v, old, ret)  # 0.5 * 0.5^2
        Array([[0.125]], dtype=float32)
        >>> value_loss(v, old, ret, clip=0.5)  # clip(2, -0.5, 0.5) = 0.5: 0.5 * 1^2
        Array([[0.5]], dtype=float32)

    References:
        Schulman et al, Proximal Policy Optimization Algorithms, 2017 (arXiv 1707.06347);
        Engstrom et al, Implementation Matters in Deep Policy Gradients, 2020 (arXiv
        2005.12729) (value clipping); verl's ``compute_value_loss``.

    Departures: none from verl's per-token formula (verl applies the 0.5 after reducing,
    which is the same number).
    """
    _checks.dims(kind="float", values=(values, ("[B, T]", "[B]")))
    _checks.same_shape(values=values, old_values=old_values, returns=returns)
    _checks.float_dtype(old_values=old_values, returns=returns)
    if clip is not None:
        _checks.in_range("clip", clip, low=0.0, low_inclusive=False)
    dtype = compute_dtype(values)
    v = values.astype(dtype)
    target = _SG(returns).astype(dtype)
    loss = jnp.square(v - target)
    if clip is not None:
        old = _SG(old_values).astype(dtype)
        clipped = jnp.clip(v, old - clip, old + clip)
        loss = jnp.maximum(loss, jnp.square(clipped - target))
    return 0.5 * loss
