"""Per-token policy-gradient losses: the unified estimator (UPGE) and its instances.

Every loss here is a per-token surrogate whose gradient is the estimator; none reduces.
The caller masks and reduces with `bvjax.rl.aggregate_loss`. Advantages, reference
log-probs and stabilisation masks are treated as data (``stop_gradient``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax.rl._kl import kl_penalty

STABLE_METHODS = ("none", "ppo", "cispo")
_SG = jax.lax.stop_gradient


def _check_tokens(logps, advantages, **others):
    _checks.dims(kind="float", logps=(logps, "[B, T]"), advantages=(advantages, ("[B, T]", "[B]")),
                 **{k: (v, "[B, T]") for k, v in others.items()})


def _adv(advantages, logps):
    a = _SG(advantages)
    return a[:, None] if a.ndim == 1 else a


def _ratio(log_ratio, log_ratio_clip):
    if log_ratio_clip is None:
        return jnp.exp(log_ratio)
    return jnp.exp(jnp.clip(log_ratio, -log_ratio_clip, log_ratio_clip))


def _check_clip(clip_low, clip_high, dual_clip, log_ratio_clip):
    _checks.in_range("clip_low", clip_low, low=0.0, high=1.0)
    if clip_high is not None:
        _checks.in_range("clip_high", clip_high, low=0.0)
    if dual_clip is not None:
        _checks.in_range("dual_clip", dual_clip, low=1.0, low_inclusive=False)
    if log_ratio_clip is not None:
        _checks.in_range("log_ratio_clip", log_ratio_clip, low=0.0, low_inclusive=False)


def upge_loss(logps: jax.Array, reference_logps: jax.Array, advantages: jax.Array, *,
              stable_mask: jax.Array | None = None, shaping_gamma: float | None = None,
              log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token surrogate of the Unified Policy Gradient Estimator (UPGE).

    .. math::  \mathrm{grad}_{uni} = \mathbb 1_{stable}\,\frac{1}{\pi_{ref}}\,\hat A\,
               \nabla_\theta \pi_\theta
               \quad\Longleftarrow\quad
               \ell_t = -\,\mathrm{sg}(\mathbb 1_{stable}\hat A)\,
               f\!\Big(\frac{\pi_\theta(y_t)}{\mathrm{sg}(\pi_{ref}(y_t))}\Big),

    so :math:`\nabla\ell_t = -\mathbb 1_{stable}\hat A\,f'(w)\,w\,\nabla\log\pi_\theta`
    with :math:`w = \pi_\theta/\pi_{ref}`; :math:`f` is the identity, or LUFFY's shaping
    :math:`f(w) = w/(w+\gamma)` when ``shaping_gamma`` is set. The four parts are the
    arguments: ``stable_mask`` (see `upge_stable_mask`), ``reference_logps`` (the
    denominator), ``advantages`` and the policy's ``logps``. The instances:

    ============  ==========================================  ======================  ===========
    method        ``reference_logps``                         ``advantages``          mask
    ============  ==========================================  ======================  ===========
    SFT           ``logps`` (:math:`\pi_{ref}=\pi_\theta`)    1                       none
    REINFORCE     ``logps``                                   :math:`\pm 1` / reward  none
    PPO, GRPO     ``old_logps``                               GAE / group-normalised  ``"ppo"``
    CISPO         ``old_logps``                               GRPO                    ``"cispo"``
    GSPO          ``logps - s`` (sequence log-ratio s)        GRPO                    ``"ppo"`` on s
    SRFT          zeros (:math:`\pi_{ref}=1`)                 over on- and off-pol.   none
    LUFFY         zeros, ``shaping_gamma=0.1``                as SRFT                 none
    ============  ==========================================  ======================  ===========

    where for GSPO :math:`s_i = \frac{1}{|y_i|}\sum_t(\log\pi_\theta-\log\pi_{old})` is
    broadcast to the tokens. Each instance's gradient equals that of the standalone loss
    (`reinforce_loss`, `ppo_clip_loss`, `cispo_loss`, `gspo_loss`, `off_policy_loss`,
    `bvjax.preference.sft_loss`); values agree on unclipped tokens.

    Args:
        logps: [B, T] float, token log-probs of the policy (differentiated).
        reference_logps: [B, T] float, log of the reference-policy denominator (data).
        advantages: [B] or [B, T] float (data).
        stable_mask: optional [B, T] float or bool stabilisation factor (data); None is 1.
        shaping_gamma: LUFFY's :math:`\gamma > 0` in :math:`f(w)=w/(w+\gamma)`; None: no shaping.
        log_ratio_clip: clamp :math:`\log w` to :math:`\pm c` (verl's 20); None disables.

    Returns:
        [B, T] float per-token loss. Log-ratios of :math:`\pm 10^4` are clamped (finite
        value, zero gradient); zero advantages give exactly 0.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.rl import upge_loss
        >>> logps = jnp.log(jnp.array([[0.5, 0.25]]))
        >>> sft = lambda lp: upge_loss(lp, lp, jnp.ones(1)).sum()  # SFT instance
        >>> jax.grad(sft)(logps)  # = grad of -sum(logps)
        Array([[-1., -1.]], dtype=float32)

    References:
        Lv et al, Towards a Unified View of Large Language Model Post-Training, 2025
        (arXiv 2509.04419), Eq. for grad_uni and its instantiation table; Yan et al, LUFFY:
        Learning to Reason under Off-Policy Guidance, 2025 (arXiv 2504.14945).

    Departures: the paper writes the estimator with a per-trajectory :math:`\pi_{ref}`;
    this is its token-level form (as in the paper's code, one ratio per token). The CISPO
    "mask" is a soft factor :math:`\mathrm{clip}(w)/w` (see `upge_stable_mask`).
    """
    _check_tokens(logps, advantages, reference_logps=reference_logps)
    _checks.dims(stable_mask=(stable_mask, "[B, T]"))
    _checks.same_shape(logps=logps, stable_mask=stable_mask)
    if shaping_gamma is not None:
        _checks.in_range("shaping_gamma", shaping_gamma, low=0.0, low_inclusive=False)
    if log_ratio_clip is not None:
        _checks.in_range("log_ratio_clip", log_ratio_clip, low=0.0, low_inclusive=False)
    w = _ratio(logps - _SG(reference_logps), log_ratio_clip)
    if shaping_gamma is not None:
        w = w / (w + shaping_gamma)
    coef = _adv(advantages, logps)
    if stable_mask is not None:
        coef = coef * _SG(stable_mask.astype(logps.dtype))
    return -coef * w


def upge_stable_mask(log_ratio: jax.Array, advantages: jax.Array, *, method: str = "ppo",
                     clip_low: float = 0.2, clip_high: float | None = None,
                     dual_clip: float | None = None) -> jax.Array:
    r"""UPGE's stabilisation factor :math:`\mathbb 1_{stable}` per token.

    With :math:`w = e^{\text{log\_ratio}}` and :math:`\epsilon_l, \epsilon_h` the clip range,

    - ``"ppo"``: :math:`\mathbb 1[\hat A>0,\ w\le 1+\epsilon_h] + \mathbb 1[\hat A<0,\
      w\ge 1-\epsilon_l] + \mathbb 1[\hat A = 0]`, times :math:`\mathbb 1[w \le c]` for
      :math:`\hat A<0` with dual clip :math:`c`: exactly the tokens where the PPO-clip
      loss has a non-zero gradient;
    - ``"cispo"``: :math:`\mathrm{clip}(w, 1-\epsilon_l, 1+\epsilon_h)/w`, which turns
      :math:`w\,\nabla\log\pi` into CISPO's clipped-weight gradient (``clip_low=None`` is
      not accepted here: pass 1.0 for no lower bound);
    - ``"none"``: ones.

    Args:
        log_ratio: [B, T] float, :math:`\log\pi_\theta - \log\pi_{old}` (per token, or a
            sequence log-ratio broadcast to tokens for GSPO).
        advantages: [B] or [B, T] float.
        method: ``"ppo"``, ``"cispo"`` or ``"none"``.
        clip_low: :math:`\epsilon_l` in [0, 1].
        clip_high: :math:`\epsilon_h \ge 0`; None uses ``clip_low``.
        dual_clip: :math:`c > 1` for the dual clip, or None.

    Returns:
        [B, T] float in [0, 1] for ``"ppo"``/``"none"``, positive for ``"cispo"``; carries
        no gradient.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import upge_stable_mask
        >>> lr = jnp.log(jnp.array([[0.5, 1.0, 1.5]]))
        >>> upge_stable_mask(lr, jnp.array([1.0]))  # w = 1.5 > 1.2 is clipped
        Array([[1., 1., 0.]], dtype=float32)

    References:
        Lv et al, Towards a Unified View of Large Language Model Post-Training, 2025 (arXiv
        2509.04419); Schulman et al, Proximal Policy Optimization Algorithms, 2017 (arXiv
        1707.06347); Ye et al, Mastering Complex Control in MOBA Games with Deep RL, 2020
        (arXiv 1912.09729) (dual clip); MiniMax, MiniMax-M1, 2025 (arXiv 2506.13585) (CISPO).

    Departures: at the exact clip boundary the mask is 1 (the loss's subgradient there is
    ambiguous).
    """
    _check_tokens(log_ratio, advantages)
    _checks.one_of("method", method, STABLE_METHODS)
    _check_clip(clip_low, clip_high, dual_clip, None)
    hi = clip_low if clip_high is None else clip_high
    log_ratio = _SG(log_ratio)
    a = jnp.broadcast_to(_adv(advantages, log_ratio), log_ratio.shape)
    if method == "none":
        return jnp.ones_like(log_ratio)
    if method == "cispo":
        lr = jnp.clip(log_ratio, jnp.log1p(-clip_low) if clip_low < 1 else -jnp.inf, jnp.log1p(hi))
        return jnp.exp(lr - log_ratio)
    pos = (a > 0) & (log_ratio <= jnp.log1p(hi))
    neg = (a < 0) & (log_ratio >= (jnp.log1p(-clip_low) if clip_low < 1 else -jnp.inf))
    if dual_clip is not None:
        neg = neg & (log_ratio <= jnp.log(dual_clip))
    return (pos | neg | (a == 0)).astype(log_ratio.dtype)


def reinforce_loss(logps: jax.Array, advantages: jax.Array) -> jax.Array:
    r"""Per-token REINFORCE loss :math:`\ell_t = -\mathrm{sg}(\hat A)\,\log\pi_\theta(y_t)`.

    Its gradient :math:`-\hat A\,\nabla\log\pi_\theta` is UPGE with
    :math:`\pi_{ref}=\pi_\theta`; :math:`\hat A = 1` is SFT's token NLL.

    Args:
        logps: [B, T] float, token log-probs (differentiated).
        advantages: [B] or [B, T] float (data; e.g. :math:`\pm 1` rewards, or
            `bvjax.rl.rloo_advantages` for REINFORCE with a leave-one-out baseline).

    Returns:
        [B, T] float per-token loss. A ``-inf`` log-prob gives ``inf`` only where
        :math:`\hat A \ne 0`; mask such tokens before `aggregate_loss`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import reinforce_loss
        >>> reinforce_loss(jnp.log(jnp.array([[0.5]])), jnp.array([2.0]))
        Array([[1.3862944]], dtype=float32)

    References:
        Williams, Simple Statistical Gradient-Following Algorithms for Connectionist RL,
        1992; Ahmadian et al, Back to Basics: Revisiting REINFORCE Style Optimization for
        Learning from Human Feedback in LLMs, 2024 (arXiv 2402.14740).
    """
    _check_tokens(logps, advantages)
    return -_adv(advantages, logps) * logps


def ppo_clip_loss(logps: jax.Array, old_logps: jax.Array, advantages: jax.Array, *,
                  clip_low: float = 0.2, clip_high: float | None = None,
                  dual_clip: float | None = None, log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token PPO clipped surrogate, with decoupled clip range and optional dual clip.

    With :math:`w = \pi_\theta/\pi_{old}`,

    .. math::  \ell = \max\big(-\hat A w,\ -\hat A\,\mathrm{clip}(w, 1-\epsilon_l, 1+\epsilon_h)\big),
               \qquad \ell \leftarrow \min(\ell, -c\hat A) \ \text{if}\ \hat A<0
               \text{ and dual clip } c.

    Args:
        logps: [B, T] float, token log-probs under the current policy.
        old_logps: [B, T] float, under the rollout policy (data).
        advantages: [B] or [B, T] float (data).
        clip_low: :math:`\epsilon_l` (PPO 0.2).
        clip_high: :math:`\epsilon_h`; None uses ``clip_low`` (DAPO's clip-higher: 0.28).
        dual_clip: :math:`c > 1`, or None (the PPO paper). verl always applies c = 3.
        log_ratio_clip: clamp :math:`\log w` to :math:`\pm c` (verl: 20); None disables.

    Returns:
        [B, T] float per-token loss. Log-ratios of :math:`\pm 10^4` give finite values and
        zero gradient.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import ppo_clip_loss
        >>> lp, old = jnp.log(jnp.array([[0.6, 0.3]])), jnp.log(jnp.array([[0.4, 0.3]]))
        >>> ppo_clip_loss(lp, old, jnp.array([1.0]))  # w = 1.5 clipped to 1.2; w = 1
        Array([[-1.2, -1. ]], dtype=float32)

    References:
        Schulman et al, Proximal Policy Optimization Algorithms, 2017 (arXiv 1707.06347);
        Ye et al, Mastering Complex Control in MOBA Games with Deep Reinforcement Learning,
        2020 (arXiv 1912.09729); Yu et al, DAPO, 2025 (arXiv 2503.14476).

    Departures: ``dual_clip=None`` matches the PPO paper; verl's
    ``compute_policy_loss_vanilla`` matches ``dual_clip=3.0``. The log-ratio clamp is verl's.
    """
    _check_tokens(logps, advantages, old_logps=old_logps)
    _check_clip(clip_low, clip_high, dual_clip, log_ratio_clip)
    hi = clip_low if clip_high is None else clip_high
    a = _adv(advantages, logps)
    w = _ratio(logps - _SG(old_logps), log_ratio_clip)
    loss = jnp.maximum(-a * w, -a * jnp.clip(w, 1.0 - clip_low, 1.0 + hi))
    if dual_clip is not None:
        loss = jnp.where(a < 0, jnp.minimum(loss, -a * dual_clip), loss)
    return loss


def grpo_loss(logps: jax.Array, old_logps: jax.Array, advantages: jax.Array,
              reference_logps: jax.Array | None = None, *, clip_low: float = 0.2,
              clip_high: float | None = None, dual_clip: float | None = None,
              kl_coef: float = 0.04, kl_estimator: str = "k3",
              log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token GRPO loss: PPO clip on group-normalised advantages plus a k3 KL penalty.

    .. math::  \ell_t = \ell^{clip}_t(\hat A_i) + \beta\, k_3(\pi_\theta, \pi_{ref})_t

    The advantages come from `bvjax.rl.group_advantages` (one per sequence). The
    original GRPO reduces with ``aggregate_loss(..., mode="seq-mean-token-mean")``.

    Args:
        logps: [B, T] float, token log-probs under the current policy.
        old_logps: [B, T] float, under the rollout policy (data).
        advantages: [B] or [B, T] float (data).
        reference_logps: optional [B, T] float, the reference policy for the KL; None (or
            ``kl_coef=0``) drops the KL term, as DAPO and verl's default do.
        clip_low, clip_high, dual_clip, log_ratio_clip: as in `ppo_clip_loss`.
        kl_coef: :math:`\beta \ge 0` (the paper's 0.04; verl's ``kl_loss_coef`` 0.001).
        kl_estimator: as in `kl_penalty` (``"k3"``).

    Returns:
        [B, T] float per-token loss.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import grpo_loss
        >>> lp = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> grpo_loss(lp, lp, jnp.array([1.0]), lp)  # w = 1, KL = 0
        Array([[-1., -1.]], dtype=float32)

    References:
        Shao et al, DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
        Language Models, 2024 (arXiv 2402.03300), Eq. 3-4.
    """
    _checks.dims(logps=(logps, "[B, T]"), reference_logps=(reference_logps, "[B, T]", "float"))
    _checks.in_range("kl_coef", kl_coef, low=0.0)
    loss = ppo_clip_loss(logps, old_logps, advantages, clip_low=clip_low, clip_high=clip_high,
                         dual_clip=dual_clip, log_ratio_clip=log_ratio_clip)
    if reference_logps is None or kl_coef == 0:
        return loss
    return loss + kl_coef * kl_penalty(logps, reference_logps, estimator=kl_estimator)


def cispo_loss(logps: jax.Array, old_logps: jax.Array, advantages: jax.Array, *,
               clip_low: float | None = None, clip_high: float = 0.2,
               log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token CISPO loss: REINFORCE weighted by a clipped, stop-gradient IS ratio.

    .. math::  \ell_t = -\,\mathrm{sg}\big(\mathrm{clip}(w_t, 1-\epsilon_l, 1+\epsilon_h)\big)
               \,\hat A\,\log\pi_\theta(y_t)

    Unlike PPO, no token's gradient is dropped; only its weight is capped.

    Args:
        logps: [B, T] float, token log-probs under the current policy.
        old_logps: [B, T] float, under the rollout policy (data).
        advantages: [B] or [B, T] float (data).
        clip_low: :math:`\epsilon_l` in [0, 1], or None for no lower bound (MiniMax-M1).
        clip_high: :math:`\epsilon_h \ge 0`.
        log_ratio_clip: clamp :math:`\log w` (verl: 20); None disables.

    Returns:
        [B, T] float per-token loss.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import cispo_loss
        >>> lp, old = jnp.log(jnp.array([[0.6]])), jnp.log(jnp.array([[0.4]]))
        >>> cispo_loss(lp, old, jnp.array([1.0]))  # -1.2 * log 0.6
        Array([[0.61299074]], dtype=float32)

    References:
        MiniMax, MiniMax-M1: Scaling Test-Time Compute Efficiently with Lightning
        Attention, 2025 (arXiv 2506.13585), Eq. 4-5.

    Departures: the paper sets no lower bound and tunes the upper one without stating it
    here; the default ``clip_high=0.2`` matches verl's ``clip_ratio_high`` default, not a
    published value.

    Peers (read in verl at b178a3c and TRL's ``GRPOTrainer``): verl's
    ``compute_policy_loss_cispo`` clips the weight on both sides with
    ``clip_ratio_low = clip_ratio_high = 0.2`` by default, i.e. ``clip_low=0.2,
    clip_high=0.2`` here (bvjax's ``clip_low=None`` default has no lower bound, as the
    paper). TRL's ``loss_type="cispo"`` caps the weight at ``epsilon_high`` itself, an
    absolute cap with no lower bound (TRL recommends 5.0): pass ``clip_low=None,
    clip_high=epsilon_high - 1`` and ``log_ratio_clip=None`` (TRL does not clamp the
    log-ratio).
    """
    _check_tokens(logps, advantages, old_logps=old_logps)
    _check_clip(0.0 if clip_low is None else clip_low, clip_high, None, log_ratio_clip)
    w = _SG(_ratio(logps - old_logps, log_ratio_clip))
    w = jnp.minimum(w, 1.0 + clip_high)
    if clip_low is not None:
        w = jnp.maximum(w, 1.0 - clip_low)
    return -w * _adv(advantages, logps) * logps


def gspo_loss(logps: jax.Array, old_logps: jax.Array, advantages: jax.Array, mask: jax.Array, *,
              clip_low: float = 3e-4, clip_high: float = 4e-4,
              log_ratio_clip: float | None = 20.0) -> jax.Array:
    r"""Per-token GSPO loss with the sequence-level, length-normalised ratio (GSPO-token form).

    .. math::  s_i = \exp\Big(\frac{1}{|y_i|}\sum_t m_{it}(\log\pi_\theta - \log\pi_{old})\Big),
               \quad s_{it} = \mathrm{sg}(s_i)\,\frac{\pi_\theta(y_{it})}{\mathrm{sg}(\pi_\theta(y_{it}))},

    .. math::  \ell_{it} = \max\big(-\hat A_{i} s_{it},\
               -\hat A_{i}\,\mathrm{clip}(s_{it}, 1-\epsilon_l, 1+\epsilon_h)\big).

    With one advantage per sequence and ``aggregate_loss(..., mode="seq-mean-token-mean")``
    its gradient is GSPO's :math:`-\frac1B\sum_i s_i \hat A_i \frac{1}{|y_i|}\sum_t
    \nabla\log\pi_\theta` on unclipped sequences.

    Args:
        logps: [B, T] float, token log-probs under the current policy.
        old_logps: [B, T] float, under the rollout policy (data).
        advantages: [B] or [B, T] float (data; GSPO uses one per sequence).
        mask: [B, T] bool, the response tokens (defines :math:`|y_i|`).
        clip_low, clip_high: the sequence-level clip range (the paper's 3e-4 and 4e-4).
        log_ratio_clip: clamp the (stop-gradient) sequence log-ratio to :math:`\pm c`
            (default 20); None disables. The clamped factor is a constant, so the
            gradient is kept.

    Returns:
        [B, T] float per-token loss. A sequence with no token has :math:`s_i = 1`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import gspo_loss
        >>> lp = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> gspo_loss(lp, lp, jnp.array([1.0]), jnp.ones((1, 2), bool))
        Array([[-1., -1.]], dtype=float32)

    References:
        Zheng et al, Group Sequence Policy Optimization, 2025 (arXiv 2507.18071), Eq. 5-7
        and the GSPO-token variant.

    verl's ``compute_policy_loss_gspo`` (read at b178a3c) clamps differently: it clamps
    the combined log-ratio :math:`\mathrm{sg}(\log s_i) + \log\pi_\theta -
    \mathrm{sg}(\log\pi_\theta)` at +10, from above only and without the ±20 clamp of its
    other losses. A sequence whose log-ratio exceeds 10 then gets the constant
    :math:`e^{10}` with zero gradient, where bvjax keeps :math:`e^{s}` and its gradient (the
    two differ only for negative advantages there: the clip already removes the positive
    ones). Below +10, verl's values equal ``log_ratio_clip=None`` here.
    """
    _check_tokens(logps, advantages, old_logps=old_logps)
    _checks.dims(mask=(mask, "[B, T]", "bool"))
    _checks.same_shape(logps=logps, mask=mask)
    _check_clip(clip_low, clip_high, None, log_ratio_clip)
    diff = jnp.where(mask, logps - old_logps, 0.0)
    n = jnp.maximum(jnp.sum(mask, axis=-1, keepdims=True), 1).astype(logps.dtype)
    seq_lr = _SG(jnp.sum(diff, axis=-1, keepdims=True) / n)
    if log_ratio_clip is not None:
        seq_lr = jnp.clip(seq_lr, -log_ratio_clip, log_ratio_clip)
    s = jnp.exp(seq_lr + logps - _SG(logps))
    a = _adv(advantages, logps)
    return jnp.maximum(-a * s, -a * jnp.clip(s, 1.0 - clip_low, 1.0 + clip_high))


def off_policy_loss(logps: jax.Array, advantages: jax.Array, *, shaping_gamma: float | None = 0.1,
                    ) -> jax.Array:
    r"""Per-token loss on off-policy (demonstration) tokens, as in SRFT and LUFFY.

    The behaviour policy's probabilities are unknown, so the denominator is 1:

    .. math::  \ell_t = -\,\mathrm{sg}(\hat A)\, f(\pi_\theta(y_t)), \qquad
               f(p) = \frac{p}{p+\gamma}\ (\text{LUFFY}),\quad f(p) = p\ (\gamma = \text{None, SRFT}).

    LUFFY's shaping gives :math:`\nabla\ell = -\hat A\,\frac{\gamma}{(p+\gamma)^2}\nabla p`,
    which up-weights low-probability demonstration tokens.

    Args:
        logps: [B, T] float, token log-probs of the demonstration under the policy.
        advantages: [B] or [B, T] float (data), normalised over on- and off-policy samples.
        shaping_gamma: :math:`\gamma > 0` (LUFFY and HPT's ``p_div_p_0.1``: 0.1), or None.

    Returns:
        [B, T] float per-token loss; bounded for every log-prob (:math:`p \in [0, 1]`).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import off_policy_loss
        >>> off_policy_loss(jnp.log(jnp.array([[0.4]])), jnp.array([1.0]))  # -0.4 / 0.5
        Array([[-0.8]], dtype=float32)

    References:
        Yan et al, Learning to Reason under Off-Policy Guidance (LUFFY), 2025 (arXiv
        2504.14945); Fu et al, SRFT: A Single-Stage Method with Supervised and Reinforcement
        Fine-Tuning for Reasoning, 2025 (arXiv 2506.19767); Lv et al, 2025 (arXiv 2509.04419).

    Departures: SRFT as instantiated in the UPGE table (denominator 1, no mask); SRFT's own
    paper also adds an entropy-aware weighting, not included.
    """
    _check_tokens(logps, advantages)
    if shaping_gamma is not None:
        _checks.in_range("shaping_gamma", shaping_gamma, low=0.0, low_inclusive=False)
    return upge_loss(logps, jnp.zeros_like(logps), advantages, shaping_gamma=shaping_gamma,
                     log_ratio_clip=None)
