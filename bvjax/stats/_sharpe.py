"""SharpeRatio@k and the other top-k deployment metrics of off-policy selection (scope-rl)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


class TopkMetrics(NamedTuple):
    """Top-k deployment metrics; each field is [max_k] (row k-1 is "@k"), as scope-rl's dict.

    Attributes:
        k_th: the true value of the k-th policy in the estimator's ranking.
        best: the best true value among the top k ("return").
        worst: the worst true value among the top k.
        mean: the mean true value of the top k.
        std: their standard deviation (``ddof`` as requested).
        safety_violation_rate: the fraction of the top k below ``safety_threshold``.
        sharpe_ratio: SharpeRatio@k.
    """

    k_th: jax.Array
    best: jax.Array
    worst: jax.Array
    mean: jax.Array
    std: jax.Array
    safety_violation_rate: jax.Array
    sharpe_ratio: jax.Array


def sharpe_ratio_at_k(true_values: jax.Array, estimated_values: jax.Array, baseline: jax.Array, *,
                      max_k: int | None = None, ddof: int = 1, clip_return: bool = True,
                      clip_sharpe_ratio: bool = False, safety_threshold: float = 0.0,
                      undefined_value: float = math.nan) -> TopkMetrics:
    r"""SharpeRatio@k of an off-policy estimator's policy ranking, computed as scope-rl does.

    Rank the P candidate policies by the estimator's values :math:`\hat J` (descending),
    and let :math:`\Pi_k` be the top k with true values :math:`J(\pi)`. With
    :math:`J(\pi_b)` the behaviour policy's value (``baseline``),

    .. math::
        \mathrm{best@}k = \max_{\pi\in\Pi_k} J(\pi),\qquad
        \mathrm{std@}k = \sqrt{\tfrac{1}{k - \mathrm{ddof}}\textstyle\sum_{\pi\in\Pi_k}(J(\pi) - \bar J_k)^2},

    .. math::  \mathrm{SharpeRatio@}k = \frac{\max(\mathrm{best@}k - J(\pi_b),\ 0)}{\mathrm{std@}k}.

    The defaults reproduce scope-rl's code (``OffPolicySelection``'s top-k metrics);
    its documentation differs in three ways, each a keyword here:

    - ``ddof=1`` (code: sample std) vs ``ddof=0`` (docs: 1/k);
    - ``clip_return=True`` (code: numerator clipped at 0) vs ``False`` (docs);
    - ``clip_sharpe_ratio=False`` (code default; scope-rl's plots use True): when True,
      rows k >= 2 map NaN to 0 and +inf to 100, then clip to [0, 100].

    Ranking ties are broken as ``np.argsort(est)[::-1]`` does for small inputs: among
    equal estimates the later policy ranks first (NumPy's sort is only stable for
    arrays of up to 16 items, so larger tied inputs may differ from scope-rl).

    Args:
        true_values: [P] float, each candidate policy's true (on-policy) value.
        estimated_values: [P] float, the estimator's values for the same policies.
        baseline: float scalar :math:`J(\pi_b)`, e.g. from `behavior_policy_baseline`.
        max_k: static int in [1, P]; defaults to P.
        ddof: static int >= 0, the std's delta degrees of freedom.
        clip_return: static bool, clip the numerator at 0.
        clip_sharpe_ratio: static bool, scope-rl's optional clipping to [0, 100].
        safety_threshold: float, the value below which a deployed policy is unsafe.
        undefined_value: the std (and SharpeRatio) where k <= ddof, and the SharpeRatio
            where numerator and std are both 0 (0/0). Default NaN, which is what
            scope-rl's NumPy gives; never produced anywhere else.

    Returns:
        `TopkMetrics` of [max_k] floats. A zero std with a positive numerator gives
        SharpeRatio = inf (100 under ``clip_sharpe_ratio`` for k >= 2).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import sharpe_ratio_at_k
        >>> m = sharpe_ratio_at_k(jnp.array([1., 2., 3., 4., 5.]), jnp.array([1.5, 1., 3.5, 2., 4.8]),
        ...                       2.5)
        >>> [round(float(v), 4) for v in m.sharpe_ratio[1:]]  # 1.767767, 2.5, 1.46385, 1.581139 from the definition
        [1.7678, 2.5, 1.4639, 1.5811]

    References:
        Kiyohara et al, Towards Assessing and Benchmarking Risk-Return Tradeoff of Off-Policy
        Evaluation, 2024 (arXiv 2311.18207).
    """
    shape = _checks.dims(true_values=(true_values, "[P]", "number"),
                         estimated_values=(estimated_values, "[P]", "number"),
                         baseline=(baseline, "[]", "number"))
    p = shape["P"]
    k_max = p if max_k is None else max_k
    _checks.positive_int(max_k=k_max)
    if k_max > p:
        raise ValueError(f"max_k: expected a static int in [1, P={p}], got {k_max!r}")
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
        raise ValueError(f"ddof: expected a static int >= 0, got {ddof!r}")
    dtype = compute_dtype(true_values, estimated_values, baseline)
    true_values = jnp.asarray(true_values, dtype)
    order = jnp.argsort(jnp.asarray(estimated_values, dtype), stable=True)[::-1]
    ranked = true_values[order]  # [P], true values in the estimator's order
    k = jnp.arange(1, k_max + 1, dtype=dtype)
    in_top = jnp.arange(p)[None, :] < jnp.arange(1, k_max + 1)[:, None]  # [K, P]
    values = jnp.broadcast_to(ranked, in_top.shape)
    best = jnp.max(jnp.where(in_top, values, -jnp.inf), axis=1)
    worst = jnp.min(jnp.where(in_top, values, jnp.inf), axis=1)
    # shifted by the top-1 value, a member of every top-k set (when finite): equal values
    # have std exactly 0, where a rounded mean gave 0.1 x 7 a std of ~1e-8 and a ratio of ~1e7
    shift = jnp.where(jnp.isfinite(ranked[0]), ranked[0], 0.0)
    offset = jnp.sum(jnp.where(in_top, values - shift, 0.0), axis=1) / k
    mean = shift + offset
    squares = jnp.sum(jnp.where(in_top, (values - shift - offset[:, None]) ** 2, 0.0), axis=1)
    defined = k > ddof
    std = jnp.where(defined, jnp.sqrt(squares / jnp.where(defined, k - ddof, 1.0)), undefined_value)
    violation = jnp.sum(in_top & (values < safety_threshold), axis=1) / k
    gain = best - jnp.asarray(baseline, dtype)
    if clip_return:
        gain = jnp.maximum(gain, 0.0)
    positive = std > 0
    ratio = jnp.where(positive, gain / jnp.where(positive, std, 1.0),
                      jnp.where(gain == 0, undefined_value, jnp.sign(gain) * jnp.inf))
    ratio = jnp.where(defined, ratio, undefined_value)
    if clip_sharpe_ratio:
        tail = jnp.clip(jnp.nan_to_num(ratio, nan=0.0, posinf=100.0, neginf=0.0), 0.0, 100.0)
        ratio = jnp.where(jnp.arange(k_max) >= 1, tail, ratio)
    return TopkMetrics(ranked[:k_max], best, worst, mean, std.astype(dtype), violation.astype(dtype),
                       ratio.astype(dtype))


BASELINE_KINDS = ("mean", "cvar", "lower_quartile")


def behavior_policy_baseline(rewards: jax.Array, *, gamma: float = 1.0, kind: str = "mean",
                             alpha: float | None = None, epsilon: float = 1e-10) -> jax.Array:
    r"""The behaviour policy's value J(pi_b) that SharpeRatio@k subtracts, as scope-rl computes it.

    With logged trajectories :math:`n = 1..N` of T rewards and returns
    :math:`G_n = \sum_t \gamma^t r_{n,t} + \epsilon`:

    - ``"mean"``: :math:`\frac1N \sum_n G_n` (scope-rl adds :math:`\epsilon = 10^{-10}`
      "to avoid zero division");
    - ``"cvar"``: the mean of the :math:`\lfloor \alpha N \rfloor` lowest returns
      (the baseline of the CVaR variant);
    - ``"lower_quartile"``: the :math:`\alpha`-quantile of the returns, linearly
      interpolated as ``numpy.quantile``.

    Args:
        rewards: [N, T] float, per-step rewards of N logged trajectories.
        gamma: float discount :math:`\gamma`.
        kind: static ``"mean"``, ``"cvar"`` or ``"lower_quartile"``.
        alpha: static float in (0, 1] for ``"cvar"`` and ``"lower_quartile"``.
        epsilon: the constant scope-rl adds to each return; pass 0 to drop it.

    Returns:
        Float scalar baseline.

    Raises:
        ValueError: ``"cvar"`` with :math:`\lfloor \alpha N \rfloor = 0` (scope-rl
            returns the NaN mean of an empty slice).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import behavior_policy_baseline
        >>> rewards = jnp.array([[1.0, 1.0], [0.0, 2.0]])
        >>> round(float(behavior_policy_baseline(rewards, gamma=0.5)), 6)  # mean of 1.5 and 1.0
        1.25

    References:
        Kiyohara et al, Towards Assessing and Benchmarking Risk-Return Tradeoff of Off-Policy
        Evaluation, 2024 (arXiv 2311.18207).
    """
    shape = _checks.dims(rewards=(rewards, "[N, T]", "number"))
    _checks.one_of("kind", kind, BASELINE_KINDS)
    dtype = compute_dtype(rewards)
    rewards = jnp.asarray(rewards, dtype)
    discount = jnp.asarray(gamma, dtype) ** jnp.arange(shape["T"], dtype=dtype)
    returns = rewards @ discount + epsilon
    if kind == "mean":
        return jnp.mean(returns)
    if alpha is None:
        raise ValueError(f"alpha: expected a static float in (0, 1] for kind={kind!r}, got None")
    _checks.in_range("alpha", alpha, low=0.0, high=1.0, low_inclusive=False)
    if kind == "lower_quartile":
        return jnp.quantile(returns, jnp.asarray(alpha, dtype))
    count = int(shape["N"] * alpha)
    if count < 1:
        raise ValueError(f"alpha: expected floor(alpha * N) >= 1 for kind='cvar' with N={shape['N']}, got {alpha!r}")
    return jnp.mean(jnp.sort(returns)[:count])
