"""Top-K ranking metrics with the discount of Saito et al. 2020, and the self-normalised IPS DCG.

Every metric scores one ranked list per leading index: ``relevance`` and ``scores`` are
[..., N] (N candidate items per user), items are ranked by decreasing score (ties by
increasing item index, a stable sort), and the metric of the top ``k`` is returned per
user, shape [...]. Ragged candidate lists are padded and masked with ``mask``. Average
over users yourself, skipping users with no relevant item (``relevance.sum(-1) > 0``):
their metric is defined as 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _check(relevance, scores, k, mask, propensity=None):
    _checks.dims(relevance=(relevance, "[..., N]"), scores=(scores, "[..., N]", "number"))
    if not jnp.issubdtype(relevance.dtype, jnp.bool_):
        _checks.dtype_kind("number", relevance=relevance)
    _checks.same_shape(relevance=relevance, scores=scores, mask=mask)
    if propensity is not None:
        shape = _checks.broadcastable(relevance=relevance, propensity=propensity)
        if shape != tuple(relevance.shape):
            raise ValueError(f"propensity: expected a shape that broadcasts to relevance's "
                             f"{tuple(relevance.shape)}, got shape {tuple(jnp.shape(propensity))}")
    if mask is not None:
        _checks.bool_dtype(mask=mask)
    _checks.positive_int(k=k)
    if k > relevance.shape[-1]:
        raise ValueError(f"k: expected an int <= N = {relevance.shape[-1]} (the list length), got {k}")


def _prepare(relevance, scores, mask):
    """Masked relevance (0 off the mask) and scores (-inf off the mask); and per list
    whether a valid item has a NaN score or a non-finite relevance (the ranking or the
    gain is then undefined: the metric is NaN for that list, never a plausible figure)."""
    dt = compute_dtype(relevance, scores)  # the dtype policy (int/bool relevance does not promote)
    rel = jnp.asarray(relevance).astype(dt)
    s = jnp.asarray(scores).astype(dt)
    bad = jnp.isnan(s) | ~jnp.isfinite(rel)
    if mask is not None:
        rel = jnp.where(mask, rel, 0.0)
        s = jnp.where(mask, s, -jnp.inf)
        bad = bad & mask
    return rel, s, jnp.any(bad, axis=-1)


def _top_k_order(scores, k):
    """Indices of the top k by decreasing score, ties by increasing index; [..., k]."""
    return jnp.argsort(-scores, axis=-1, stable=True)[..., :k]


def _saito_discount(k: int, dtype=jnp.float32) -> jax.Array:
    """[k] discounts d_r = 1 for r = 1 and log2(r) for r >= 2 (Jarvelin and Kekalainen)."""
    ranks = jnp.arange(1, k + 1, dtype=dtype)
    return jnp.where(ranks == 1, 1.0, jnp.log2(ranks))


def _safe_div(num, den):
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def dcg_at_k(relevance: jax.Array, scores: jax.Array, *, k: int, mask: jax.Array | None = None,
             normalize: bool = False) -> jax.Array:
    r"""DCG@K with Saito et al.'s discount (ranks 1 and 2 undiscounted), per user.

    .. math::  \mathrm{DCG@K} = \sum_{r=1}^{K} \frac{\mathrm{rel}_{(r)}}{d_r},\qquad
               d_1 = 1,\ d_r = \log_2 r\ (r \ge 2)

    where :math:`\mathrm{rel}_{(r)}` is the relevance of the item ranked r by ``scores``.
    This is Järvelin and Kekäläinen's original discount, **not** scikit-learn's
    ``dcg_score`` (:math:`1/\log_2(r+1)`). ``normalize=True`` divides by the total
    relevance of the user's (unmasked) items, i.e. the number of relevant items for
    binary relevance, as the paper's semi-synthetic code does.

    Args:
        relevance: [..., N] float, int or bool, each candidate's relevance (gain).
        scores: [..., N] float, the ranking scores.
        k: static int, 1 <= k <= N.
        mask: optional [..., N] bool; False entries are not candidates (never ranked
            above a candidate, and contribute no relevance).
        normalize: divide by the total relevance; a user with none gets 0 (not NaN).

    Returns:
        [...] float, one DCG@K per user. A list with a NaN score or a non-finite
        relevance on a valid item gives NaN (so do `recall_at_k`, `map_at_k` and
        `snips_dcg_at_k`); masked items have no effect.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import dcg_at_k
        >>> rel, score = jnp.array([1, 0, 1, 0, 0]), jnp.array([.9, .8, .7, .1, .2])
        >>> dcg_at_k(rel, score, k=3)  # 1/1 + 1/log2(3); sklearn's dcg_score gives 1.5
        Array(1.6309297, dtype=float32)
        >>> dcg_at_k(rel, score, k=3, normalize=True)
        Array(0.81546485, dtype=float32)

    References:
        Järvelin and Kekäläinen, Cumulated Gain-Based Evaluation of IR Techniques, 2002.
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.1 (evaluation metrics).
    """
    _check(relevance, scores, k, mask)
    rel, s, bad = _prepare(relevance, scores, mask)
    top = jnp.take_along_axis(rel, _top_k_order(s, k), axis=-1)
    dcg = jnp.sum(top / _saito_discount(k, rel.dtype), axis=-1)
    return jnp.where(bad, jnp.nan, _safe_div(dcg, jnp.sum(rel, axis=-1)) if normalize else dcg)


def recall_at_k(relevance: jax.Array, scores: jax.Array, *, k: int,
                mask: jax.Array | None = None) -> jax.Array:
    r"""Recall@K per user: the share of the user's relevance that the top K holds.

    .. math::  \mathrm{Recall@K} = \frac{\sum_{r=1}^{K} \mathrm{rel}_{(r)}}{\sum_{i} \mathrm{rel}_i}

    Args:
        relevance: [..., N] float, int or bool (binary in the paper).
        scores: [..., N] float, the ranking scores.
        k: static int, 1 <= k <= N.
        mask: optional [..., N] bool of valid candidates.

    Returns:
        [...] float; a user with no relevant item gets 0 (not NaN).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import recall_at_k
        >>> recall_at_k(jnp.array([1, 0, 1, 0, 0]), jnp.array([.9, .8, .7, .1, .2]), k=2)
        Array(0.5, dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.1.
    """
    _check(relevance, scores, k, mask)
    rel, s, bad = _prepare(relevance, scores, mask)
    top = jnp.take_along_axis(rel, _top_k_order(s, k), axis=-1)
    return jnp.where(bad, jnp.nan, _safe_div(jnp.sum(top, axis=-1), jnp.sum(rel, axis=-1)))


def map_at_k(relevance: jax.Array, scores: jax.Array, *, k: int,
             mask: jax.Array | None = None) -> jax.Array:
    r"""MAP@K per user (average precision of the top K), as in Saito et al.

    .. math::  \mathrm{MAP@K} = \frac{1}{\sum_i \mathrm{rel}_i}\sum_{r=1}^{K}
               \mathrm{rel}_{(r)}\,\mathrm{Precision@}r,\qquad
               \mathrm{Precision@}r = \frac1r\sum_{j=1}^{r} \mathrm{rel}_{(j)}

    The normaliser is the user's number of relevant items (not ``min(K, n_rel)``), as the
    paper's code computes it.

    Args:
        relevance: [..., N] float, int or bool (binary).
        scores: [..., N] float, the ranking scores.
        k: static int, 1 <= k <= N.
        mask: optional [..., N] bool of valid candidates.

    Returns:
        [...] float; a user with no relevant item gets 0 (not NaN).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import map_at_k
        >>> map_at_k(jnp.array([1, 0, 1, 0, 0]), jnp.array([.9, .8, .7, .1, .2]), k=3)  # (1 + 2/3) / 2
        Array(0.8333334, dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.1.
    """
    _check(relevance, scores, k, mask)
    rel, s, bad = _prepare(relevance, scores, mask)
    top = jnp.take_along_axis(rel, _top_k_order(s, k), axis=-1)
    ranks = jnp.arange(1, k + 1, dtype=rel.dtype)
    precision = jnp.cumsum(top, axis=-1) / ranks
    return jnp.where(bad, jnp.nan, _safe_div(jnp.sum(top * precision, axis=-1), jnp.sum(rel, axis=-1)))


def snips_dcg_at_k(relevance: jax.Array, scores: jax.Array, propensity: jax.Array, *, k: int,
                   clip: float = 0.01, mask: jax.Array | None = None) -> jax.Array:
    r"""Self-normalised IPS estimate of DCG@K from MNAR clicks (Saito et al.'s validation metric).

    .. math::  \widehat{\mathrm{DCG@K}}_{\mathrm{SNIPS}} =
               \frac{\sum_{r=1}^{K} \mathrm{rel}_{(r)} / (\tilde\theta_{(r)}\, d_r)}
                    {\sum_{i} \mathrm{rel}_i / \tilde\theta_i},
               \qquad \tilde\theta = \max(\theta, c)

    with Saito's discount :math:`d_r` (see `dcg_at_k`). Relevance here is what was
    observed (clicks), so each gain is re-weighted by its inverse exposure probability;
    the denominator (over all the user's relevant candidates, not only the top K)
    self-normalises, which removes the scale of the propensities. ``clip`` is the floor
    :math:`c` (0.01 in the paper's code).

    Args:
        relevance: [..., N] float, int or bool, observed relevance (clicks).
        scores: [..., N] float, the ranking scores.
        propensity: float broadcastable to [..., N] (e.g. [N] per item), :math:`\theta`.
        k: static int, 1 <= k <= N.
        clip: the floor :math:`c > 0` on the propensities (so no division by 0).
        mask: optional [..., N] bool of valid candidates.

    Returns:
        [...] float in [0, 1]; a user with no relevant item gets 0 (not NaN); a NaN
        propensity of one of the user's valid items gives NaN (masked items have no effect).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import snips_dcg_at_k
        >>> rel, score = jnp.array([1, 0, 1, 0, 0]), jnp.array([.9, .8, .7, .1, .2])
        >>> snips_dcg_at_k(rel, score, jnp.array([.5, .2, .1, .9, .3]), k=3)  # (2 + 10/log2 3) / 12
        Array(0.69244146, dtype=float32)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.2 (validation on MNAR data).
        Swaminathan and Joachims, The Self-Normalized Estimator for Counterfactual
        Learning, 2015.
    """
    _check(relevance, scores, k, mask, propensity)
    _checks.float_dtype(propensity=propensity)
    _checks.in_range("clip", clip, low=0.0, high=1.0, low_inclusive=False)
    rel, s, bad = _prepare(relevance, scores, mask)
    theta = jnp.maximum(jnp.broadcast_to(jnp.asarray(propensity, rel.dtype), rel.shape), clip)
    nan_theta = jnp.isnan(theta) if mask is None else jnp.isnan(theta) & mask
    bad = bad | jnp.any(nan_theta, axis=-1)  # a NaN propensity of a valid item: the weights are undefined
    weight = rel / theta if mask is None else jnp.where(mask, rel / jnp.where(mask, theta, 1.0), 0.0)
    top = jnp.take_along_axis(weight, _top_k_order(s, k), axis=-1)
    value = _safe_div(jnp.sum(top / _saito_discount(k, rel.dtype), axis=-1), jnp.sum(weight, axis=-1))
    return jnp.where(bad, jnp.nan, value)
