"""Pointwise losses for implicit feedback that is missing not at random (Saito et al. 2020).

The click model: a click :math:`Y = O \\cdot R` happens when the user is exposed to the
item (:math:`O \\sim \\mathrm{Bern}(\\theta)`, :math:`\\theta` the propensity) and finds it
relevant (:math:`R \\sim \\mathrm{Bern}(\\gamma)`). Every loss here is per user–item pair:
the caller reduces (Saito et al. average over all pairs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

LOCAL_LOSSES = ("log", "squared")


def _local_losses(pred: jax.Array, local: str, eps: float) -> tuple[jax.Array, jax.Array]:
    """(delta1, delta0): the local losses for a positive and a negative label.

    The log loss clamps the probability each log is taken of at ``eps``:
    delta1 = -log max(pred, eps) and delta0 = -log max(1 - pred, eps). ``1 - pred`` is
    formed in pred's dtype, where it is exact for pred >= 1/2 (Sterbenz), so the clamp
    sits at eps itself in every dtype; clipping pred to ``1 - eps`` instead would round
    that bound (in float32 to 1 - 1.19e-7, a loss of 15.94 instead of -log 1e-7 = 16.12).
    Below the clamp delta0 is ``-log1p(-pred)``, accurate for small pred. A clamped side
    has zero gradient, and the unused branch is fed a safe value so that no inf * 0 = NaN
    reaches the gradient.
    """
    _checks.one_of("local", local, LOCAL_LOSSES)
    if local == "log":
        eps = jnp.asarray(eps, pred.dtype)
        low_pos = pred < eps
        d1 = jnp.where(low_pos, -jnp.log(eps), -jnp.log(jnp.where(low_pos, 1.0, pred)))
        low_neg = (1.0 - pred) < eps
        d0 = jnp.where(low_neg, -jnp.log(eps), -jnp.log1p(-jnp.where(low_neg, 0.0, pred)))
        return d1, d0
    return (1.0 - pred) ** 2, pred**2


def _check_pred(pred, eps):
    _checks.float_dtype(pred=pred)
    _checks.in_range("eps", eps, low=0.0, high=0.5, low_inclusive=False, high_inclusive=False)


def _check_like_pred(name: str, pred: jax.Array, x: jax.Array) -> None:
    """`x` must broadcast to pred's shape (e.g. an [I] item propensity against [U, I] pairs)."""
    if x is None:
        return
    shape = _checks.broadcastable(pred=pred, **{name: x})
    if shape != tuple(pred.shape):
        raise ValueError(f"{name}: expected a shape that broadcasts to pred's {tuple(pred.shape)}, "
                         f"got shape {tuple(jnp.shape(x))} {jnp.asarray(x).dtype}")


def ideal_pointwise_loss(pred: jax.Array, relevance_prob: jax.Array, *, local: str = "log",
                         eps: float = 1e-7) -> jax.Array:
    r"""Saito et al.'s ideal pointwise loss: the local loss weighted by the true relevance probability.

    .. math::  \ell_{\mathrm{ideal}}(u, i) = \gamma_{u,i}\,\delta^{(1)}(\hat R_{u,i})
               + (1 - \gamma_{u,i})\,\delta^{(0)}(\hat R_{u,i})

    with the local losses :math:`\delta^{(1)}(\hat R) = -\log \hat R`,
    :math:`\delta^{(0)}(\hat R) = -\log(1 - \hat R)` (``local="log"``) or
    :math:`(1 - \hat R)^2` and :math:`\hat R^2` (``local="squared"``). Its mean over all
    pairs is the loss that IPS estimates without bias; it needs :math:`\gamma`, so it
    is available only on (semi-)synthetic data (the paper's oracle).

    Args:
        pred: [...] float, predicted relevance probabilities :math:`\hat R \in [0, 1]`.
        relevance_prob: float broadcastable to ``pred``'s shape, :math:`\gamma \in [0, 1]`
            (a soft label).
        local: ``"log"`` or ``"squared"``.
        eps: the log loss clamps the probability each log is taken of at ``eps``:
            :math:`\delta^{(1)} = -\log\max(\hat R, \epsilon)` and
            :math:`\delta^{(0)} = -\log\max(1 - \hat R, \epsilon)`, so a prediction of
            exactly 0 or 1 gives :math:`-\log\epsilon` (16.118 for the default) in every
            float dtype, never ``inf`` or NaN. ``1 - pred`` is exact in pred's dtype for
            pred >= 1/2, so the bound is ``eps`` itself, not a rounded ``1 - eps``.

    Returns:
        [...] float, the per-pair loss (shape of ``pred``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import ideal_pointwise_loss
        >>> ideal_pointwise_loss(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.25]), local="squared")
        Array([0.25, 0.25], dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), eq. (2).
    """
    _check_pred(pred, eps)
    _check_like_pred("relevance_prob", pred, relevance_prob)
    dt = compute_dtype(pred, relevance_prob)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    relevance_prob = relevance_prob.astype(dt)
    d1, d0 = _local_losses(pred, local, eps)
    gamma = jnp.asarray(relevance_prob, pred.dtype)
    return gamma * d1 + (1.0 - gamma) * d0


def naive_pointwise_loss(pred: jax.Array, clicks: jax.Array, *, local: str = "log",
                         eps: float = 1e-7) -> jax.Array:
    r"""The naive (WMF-style, unweighted) pointwise loss: every unclicked pair is a negative.

    .. math::  \ell_{\mathrm{naive}}(u, i) = Y_{u,i}\,\delta^{(1)}(\hat R_{u,i})
               + (1 - Y_{u,i})\,\delta^{(0)}(\hat R_{u,i})

    Its expectation over exposure and relevance replaces :math:`\gamma` in the ideal
    loss by :math:`\theta\gamma`, so it is biased towards popular (often exposed) items.

    Args:
        pred: [...] float, predicted relevance probabilities.
        clicks: [...] (shape of ``pred``) bool, int or float in {0, 1}, the clicks Y.
        local: ``"log"`` or ``"squared"``.
        eps: clip for the log loss, as in `ideal_pointwise_loss`.

    Returns:
        [...] float, the per-pair loss.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import naive_pointwise_loss
        >>> naive_pointwise_loss(jnp.array([0.5, 0.5]), jnp.array([1, 0]), local="squared")
        Array([0.25, 0.25], dtype=float32)

    References:
        Hu et al, Collaborative Filtering for Implicit Feedback Datasets, 2008.
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), eq. (3) with unit weights.
    """
    _check_pred(pred, eps)
    _checks.same_shape(pred=pred, clicks=clicks)
    dt = compute_dtype(pred)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    d1, d0 = _local_losses(pred, local, eps)
    y = jnp.asarray(clicks).astype(pred.dtype)
    return y * d1 + (1.0 - y) * d0


def ips_pointwise_loss(pred: jax.Array, clicks: jax.Array, propensity: jax.Array, *,
                       clip: float = 0.0, local: str = "log", eps: float = 1e-7) -> jax.Array:
    r"""Saito et al.'s unbiased (IPS) pointwise loss and its clipped variant.

    .. math::  \ell_{\mathrm{IPS}}(u, i) = \frac{Y_{u,i}}{\tilde\theta_{u,i}}\,\delta^{(1)}(\hat R_{u,i})
               + \Big(1 - \frac{Y_{u,i}}{\tilde\theta_{u,i}}\Big)\,\delta^{(0)}(\hat R_{u,i}),
               \qquad \tilde\theta = \max(\theta, M)

    With ``clip`` :math:`M = 0` and the true propensities, :math:`E_{O,R}[Y/\theta] = \gamma`,
    so the loss is unbiased for `ideal_pointwise_loss`. A threshold :math:`M > 0` bounds
    the weights by :math:`1/M` and so the variance, at the cost of a bias on pairs with
    :math:`\theta < M` (the clipped estimator of the paper's section 4.3); :math:`M = 1`
    gives the naive loss. The per-pair loss can be negative (the weight on
    :math:`\delta^{(0)}` is :math:`1 - Y/\tilde\theta < 0` for a click); this is the
    estimator as written, not a bug.

    Zero propensity: a pair with :math:`\tilde\theta = 0` (``theta = 0`` and ``clip = 0``)
    can never be exposed; its weight :math:`Y/\tilde\theta` is defined as 0 (the pair
    counts as a negative), so the loss and its gradient stay finite. A click there
    contradicts the model and is ignored the same way. A NaN propensity is not a zero one:
    its pairs' losses are NaN.

    Args:
        pred: [...] float, predicted relevance probabilities.
        clicks: [...] (shape of ``pred``) bool, int or float in {0, 1}, the clicks Y.
        propensity: float broadcastable to ``pred``'s shape (e.g. [I] per item),
            the exposure probabilities :math:`\theta \in [0, 1]` (true or estimated,
            see `item_propensity`).
        clip: the threshold :math:`M \in [0, 1]`; 0 is the unbiased estimator.
        local: ``"log"`` (the semi-synthetic code) or ``"squared"`` (the real-data code).
        eps: clip for the log loss, as in `ideal_pointwise_loss`.

    Returns:
        [...] float, the per-pair loss.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import ips_pointwise_loss
        >>> pred, y, theta = jnp.array([0.5, 0.5]), jnp.array([1, 0]), jnp.array([0.25, 0.25])
        >>> ips_pointwise_loss(pred, y, theta, local="squared")  # 4 * .25 - 3 * .25, then .25
        Array([0.25, 0.25], dtype=float32)
        >>> ips_pointwise_loss(pred, y, theta, clip=0.5, local="squared")  # weight 2 instead of 4
        Array([0.25, 0.25], dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), eqs. (4) and (6).

    Departure: the official real-data code normalises the squared loss by
    :math:`\sum(Y + w(1 - Y))` and weights negatives by ``w``; here the caller reduces
    (the semi-synthetic code's plain mean is ``jnp.mean``).
    """
    _check_pred(pred, eps)
    _checks.same_shape(pred=pred, clicks=clicks)
    _check_like_pred("propensity", pred, propensity)
    _checks.float_dtype(propensity=propensity)
    _checks.in_range("clip", clip, low=0.0, high=1.0)
    dt = compute_dtype(pred, propensity)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    propensity = propensity.astype(dt)
    d1, d0 = _local_losses(pred, local, eps)
    y = jnp.asarray(clicks).astype(pred.dtype)
    theta = jnp.maximum(jnp.asarray(propensity, pred.dtype), clip)
    positive = theta > 0  # a zero propensity weighs 0; a NaN one stays NaN (it is not zero)
    weight = jnp.where(positive | jnp.isnan(theta), y / jnp.where(positive, theta, jnp.nan), 0.0)
    return weight * d1 + (1.0 - weight) * d0


def item_propensity(pos_counts: jax.Array, *, power: float = 0.5) -> jax.Array:
    r"""Saito et al.'s item-popularity propensity estimate for real data.

    .. math::  \hat\theta_{*,i} = \Big(\frac{n_i}{\max_j n_j}\Big)^{\eta}

    with :math:`n_i` the number of training clicks (positives) of item i and
    :math:`\eta` = ``power`` (0.5 in the paper).

    Items with no positive get :math:`\hat\theta = 0` (pass ``clip > 0`` to
    `ips_pointwise_loss`, as the paper does with its tuned threshold); if no item has a
    positive, every propensity is 0, never NaN; a NaN or infinite count makes every
    propensity NaN (it sets the normaliser).

    Args:
        pos_counts: [I] int or float >= 0, positives per item (e.g. ``clicks.sum(0)``).
        power: the exponent :math:`\eta > 0`.

    Returns:
        [I] float (JAX's default float for integer counts: float32, or float64 under
        ``jax_enable_x64``), propensities in [0, 1].

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import item_propensity
        >>> item_propensity(jnp.array([4, 1, 0]))
        Array([1. , 0.5, 0. ], dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.2 (real-world experiment).

    Departure: the official code takes ``np.unique`` counts over items with at least one
    positive and indexes them by raw item id, which misaligns when an item has no
    positive; this function keeps one entry per item id.
    """
    _checks.rank(pos_counts=pos_counts, expected="[I]", kind="number")
    _checks.in_range("power", power, low=0.0, low_inclusive=False)
    n = jnp.asarray(pos_counts).astype(compute_dtype(pos_counts))  # the dtype policy
    top = jnp.max(n)
    ratio = jnp.where(top > 0, n / jnp.where(top > 0, top, 1.0), 0.0)
    out = jnp.where(ratio > 0, jnp.where(ratio > 0, ratio, 1.0) ** power, 0.0)
    # a non-finite count (NaN or inf) sets the normaliser max_j n_j: every propensity is NaN
    return jnp.where(jnp.all(jnp.isfinite(n)), out, jnp.nan)
