r"""Distiller's MI-alpha family: the interpolated mutual-information bound between NWJ and InfoNCE.

All three bounds read a critic score matrix ``scores[i, j]`` for the pair (row item i,
column item j) of a minibatch of K positive pairs: the diagonal holds the positives
(drawn from the joint), the off-diagonal entries pair items from different examples
(draws from the product of marginals). The InfoNCE partition of a row averages
:math:`e^{S_{ik}}` over its columns, as in Poole et al.'s reference implementation. For
a student representation ``s`` and a teacher representation ``t``, `bilinear_critic`
builds ``scores[i, j] = s_i^T W t_j``; any other critic (an MLP or Transformer over the
pair, as Distiller uses) only has to produce the [K, K] matrix.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _check_scores(scores: jax.Array, min_k: int) -> int:
    sizes = _checks.dims(kind="float", scores=(scores, "[K, K]"))
    k = sizes["K"]
    if k < min_k:
        raise ValueError(f"scores: expected [K, K] float with K >= {min_k}, got shape {tuple(scores.shape)}")
    return k


def bilinear_critic(student: jax.Array, teacher: jax.Array, weight: jax.Array) -> jax.Array:
    r"""The bilinear (separable) critic :math:`f(s, t) = s^\top W t` on every pair of a batch.

    .. math::  S_{ij} = s_i^\top W\, t_j

    Args:
        student: [K, Ds] float, student representations (pooled hidden states).
        teacher: [K, Dt] float, teacher representations of the same K examples.
        weight: [Ds, Dt] float, the critic's parameters W.

    Returns:
        [K, K] float scores, positives (``student[i]`` with ``teacher[i]``) on the diagonal.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import bilinear_critic
        >>> bilinear_critic(jnp.eye(2), 2 * jnp.eye(2), jnp.eye(2))
        Array([[2., 0.],
               [0., 2.]], dtype=float32)

    References:
        He et al, Distiller: A Systematic Study of Model Distillation Methods in Natural
        Language Processing, SustaiNLP 2021 (arXiv 2109.11105). Distiller's critic is a
        Transformer encoder over the pair; this is the cheaper separable critic of Poole
        et al, On Variational Bounds of Mutual Information, 2019 (arXiv 1905.06922).
    """
    _checks.dims(kind="float", student=(student, "[K, Ds]"), teacher=(teacher, "[K, Dt]"),
                 weight=(weight, "[Ds, Dt]"))
    dt = compute_dtype(student, teacher, weight)  # the dtype policy: half precision computed in float32
    student = student.astype(dt)
    teacher = teacher.astype(dt)
    weight = weight.astype(dt)
    return student @ weight @ teacher.T


def infonce_bound(scores: jax.Array) -> jax.Array:
    r"""The InfoNCE lower bound on mutual information from a [K, K] critic matrix.

    .. math::  I_{\mathrm{NCE}} = \frac1K \sum_i \Big(S_{ii} - \log \frac1K \sum_k e^{S_{ik}}\Big)
               \le \log K

    Low variance, but biased below the true MI and capped at :math:`\log K`.

    Args:
        scores: [K, K] float critic scores, positives on the diagonal, K >= 1.

    Returns:
        Scalar float, the bound (maximise it; ``-infonce_bound`` is the loss).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import infonce_bound
        >>> infonce_bound(jnp.zeros((4, 4)))  # an uninformative critic gives 0
        Array(0., dtype=float32)

    References:
        van den Oord et al, Representation Learning with Contrastive Predictive Coding,
        2018 (arXiv 1807.03748); Poole et al, On Variational Bounds of Mutual Information,
        2019 (arXiv 1905.06922), eq. (12).
    """
    k = _check_scores(scores, 1)
    dt = compute_dtype(scores)  # the dtype policy: half precision computed in float32
    scores = scores.astype(dt)
    return jnp.mean(jnp.diagonal(scores) - jax.nn.logsumexp(scores, axis=1)) + math.log(k)


def nwj_bound(scores: jax.Array) -> jax.Array:
    r"""The NWJ (f-GAN KL, MINE-f) lower bound on mutual information from a [K, K] critic matrix.

    .. math::  I_{\mathrm{NWJ}} = \frac1K \sum_i S_{ii}
               - \frac{1}{K(K-1)} \sum_{i \ne j} e^{S_{ij} - 1}

    Unbiased for its population value (tight at :math:`f^* = 1 + \log p(t|s)/p(t)`),
    with a variance that grows exponentially with the MI.

    Args:
        scores: [K, K] float critic scores, positives on the diagonal, K >= 2.

    Returns:
        Scalar float, the bound. An overflowing exponential gives ``-inf``, never NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import nwj_bound
        >>> nwj_bound(jnp.ones((3, 3)))  # f = 1 on every pair: 1 - e^0
        Array(0., dtype=float32)

    References:
        Nguyen, Wainwright and Jordan, Estimating Divergence Functionals and the
        Likelihood Ratio by Convex Risk Minimization, 2010 (arXiv 0809.0853); Poole et al,
        On Variational Bounds of Mutual Information, 2019 (arXiv 1905.06922), eq. (6).
    """
    k = _check_scores(scores, 2)
    dt = compute_dtype(scores)  # the dtype policy: half precision computed in float32
    scores = scores.astype(dt)
    off = ~jnp.eye(k, dtype=bool)
    log_marg = jax.nn.logsumexp(jnp.where(off, scores - 1.0, -jnp.inf)) - math.log(k * (k - 1))
    return jnp.mean(jnp.diagonal(scores)) - jnp.exp(log_marg)


def _log_loo_mean_exp(scores: jax.Array) -> jax.Array:
    """L[i, j] = log mean_{k != j} exp(scores[i, k]), stable and O(K^2).

    The sum over k != j is the row total minus one term; that subtraction is exact
    enough except where j is the row's argmax, which is recomputed with the argmax
    masked out (no cancellation, no overflow, finite gradients).
    """
    k = scores.shape[1]
    top = jnp.max(scores, axis=1, keepdims=True)
    arg = jnp.argmax(scores, axis=1)
    is_top = jnp.arange(k)[None, :] == arg[:, None]
    e = jnp.exp(scores - top)
    rest = jnp.sum(e, axis=1, keepdims=True) - e  # >= 1 wherever j is not the argmax
    log_rest = top + jnp.log(jnp.where(is_top, 1.0, rest))
    masked = jnp.where(is_top, -jnp.inf, scores)
    log_without_top = jax.nn.logsumexp(masked, axis=1, keepdims=True)
    return jnp.where(is_top, log_without_top, log_rest) - math.log(k - 1)


def mi_alpha_bound(scores: jax.Array, log_baseline: jax.Array | None = None, *,
                   alpha: float | jax.Array) -> jax.Array:
    r"""Distiller's MI-alpha objective: the bound interpolating between NWJ/TUBA (α=0) and InfoNCE (α=1).

    The population bound (Poole et al.'s interpolated bound, which Distiller adopts) is

    .. math::
        I_\alpha = 1 + \mathbb E_{p(s_{1:K})p(t|s_1)}\Big[\log
            \frac{e^{f(s_1,t)}}{\alpha\, m(t; s_{1:K}) + (1-\alpha)\, q(t)}\Big]
          - \mathbb E_{p(s_{1:K})p(t)}\Big[
            \frac{e^{f(s_1,t)}}{\alpha\, m(t; s_{1:K}) + (1-\alpha)\, q(t)}\Big],

    with :math:`m(t; s_{1:K}) = \frac1K\sum_k e^{f(s_k,t)}`. On a minibatch it is estimated
    without bias by the leave-one-out estimator (the partition of the marginal term must not
    contain the example the negative came from, so it averages K − 1 terms):

    .. math::
        L_{ij} = \log \tfrac{1}{K-1}\textstyle\sum_{k\ne j} e^{S_{ik}},\quad
        b_{ij} = \log\big(\alpha e^{L_{ij}} + (1-\alpha) q_i\big),\\
        \hat I_\alpha = 1 + \operatorname{mean}_{i\ne j}(S_{ii} - b_{ij})
                          - \operatorname{mean}_{i\ne j} e^{S_{ij} - b_{ii}} .

    Limits (exact identities, tested): at α = 1 the marginal term is exactly 1 and
    :math:`\hat I_1` equals `infonce_bound` on the K − 1 pairs left after holding one pair
    out, averaged over the held-out pair (so it is capped at :math:`\log(K-1)`); at α = 0
    it is the TUBA bound with baseline q, and with :math:`\log q \equiv 1` it equals
    `nwj_bound`. Intermediate α trades the InfoNCE's bias for the NWJ's variance (larger
    α, lower variance, larger bias): Poole et al. bound the population value by
    :math:`\log(K/\alpha)`, and every batch estimate satisfies
    :math:`\hat I_\alpha \le 1 + \log((K-1)/\alpha)` (each joint term is at most
    :math:`\log((K-1)/\alpha)`, the marginal term is non-negative).

    Args:
        scores: [K, K] float critic scores ``f(row item i, column item j)``, positives on
            the diagonal, K >= 2.
        log_baseline: [K] float, :math:`\log q` of each row's item (a learned baseline
            critic), or None for :math:`q \equiv 1`. It must be finite.
        alpha: α in [0, 1], a Python float or a traced scalar (so it can be swept under
            one jit).

    Returns:
        Scalar float, the estimate :math:`\hat I_\alpha` (Distiller's loss is its negative,
        maximised jointly over the student and the critics). An exponent that overflows
        gives ``-inf``, never NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import mi_alpha_bound, nwj_bound
        >>> s = jnp.array([[2.0, 0.0, -1.0], [0.5, 1.0, 0.0], [0.0, -0.5, 1.5]])
        >>> bool(jnp.isclose(mi_alpha_bound(s, jnp.ones(3), alpha=0.0), nwj_bound(s)))
        True

    References:
        He et al, Distiller: A Systematic Study of Model Distillation Methods in Natural
        Language Processing, SustaiNLP 2021 (arXiv 2109.11105), the MI-α objective.
        Poole et al, On Variational Bounds of Mutual Information, 2019 (arXiv 1905.06922),
        eq. (14) and their leave-one-out estimator.

    Departure/reconstruction: Distiller's code was not available; the I_α form is the paper's
    (quoted in public notes) and the batch estimator is Poole et al.'s, written from its
    equations. The critics (f and log q) are the caller's.
    """
    k = _check_scores(scores, 2)
    _checks.dims(kind="float", scores=(scores, "[K, K]"), log_baseline=(log_baseline, "[K]"))
    _checks.in_range("alpha", alpha, low=0.0, high=1.0)
    dtype = scores.dtype
    log_q = jnp.zeros((k,), dtype) if log_baseline is None else log_baseline.astype(dtype)
    alpha = jnp.asarray(alpha, dtype)
    # log(alpha), log(1 - alpha) are -inf at the ends; logaddexp then returns the other term.
    log_a = jnp.where(alpha > 0, jnp.log(jnp.where(alpha > 0, alpha, 1.0)), -jnp.inf)
    log_1ma = jnp.where(alpha < 1, jnp.log(jnp.where(alpha < 1, 1.0 - alpha, 1.0)), -jnp.inf)
    loo = _log_loo_mean_exp(scores)
    b = jnp.logaddexp(log_a + loo, log_1ma + log_q[:, None])
    off = ~jnp.eye(k, dtype=bool)
    diag = jnp.diagonal(scores)
    joint = jnp.sum(jnp.where(off, diag[:, None] - b, 0.0)) / (k * (k - 1))
    log_marg = jax.nn.logsumexp(jnp.where(off, scores - jnp.diagonal(b)[:, None], -jnp.inf))
    marg = jnp.exp(log_marg - math.log(k * (k - 1)))
    return 1.0 + joint - marg
