"""Semi-synthetic missing-not-at-random implicit feedback, after Saito et al. 2020 (section 5.1)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class MNARFeedback(NamedTuple):
    """One draw of MNAR implicit feedback; every field is [U, I].

    Attributes:
        relevance_prob: γ, the probability that the user finds the item relevant.
        propensity: θ, the probability that the user is exposed to the item.
        exposure: O ~ Bern(θ), float {0, 1}.
        relevance: R ~ Bern(γ), float {0, 1}.
        clicks: Y = O · R, float {0, 1}.
    """

    relevance_prob: jax.Array
    propensity: jax.Array
    exposure: jax.Array
    relevance: jax.Array
    clicks: jax.Array


def _check_key(key):
    _checks.rank(key=key, expected=("[]", "[2]"))


def sample_mnar_feedback(key: jax.Array, rating_pred: jax.Array, exposure_logits: jax.Array, *,
                         eps: float = 5.0, power: float = 1.0) -> MNARFeedback:
    r"""Saito et al.'s semi-synthetic MNAR click generator.

    From predicted ratings :math:`\hat r_{u,i}` (1 to 5 stars) and exposure logits
    :math:`\ell_{u,i}`,

    .. math::  \gamma_{u,i} = \sigma\big(\mathrm{clip}(\hat r_{u,i}, 1, 5) - \epsilon\big),\quad
               \theta_{u,i} = \sigma(\ell_{u,i})^{p},\quad
               O \sim \mathrm{Bern}(\theta),\ R \sim \mathrm{Bern}(\gamma),\ Y = O R .

    A larger power :math:`p` skews exposure further towards the items that were already
    likely to be seen (the paper uses p in {0.5, 1, 2, 3, 4}). With :math:`\epsilon = 5`,
    :math:`\gamma \in [\sigma(-4), 1/2]`.

    Args:
        key: a PRNG key.
        rating_pred: [U, I] float, predicted ratings (the paper fits MF to ML-100K; see
            `synthetic_mnar_factors` for a download-free stand-in).
        exposure_logits: [U, I] float, logits of being rated (the paper fits a logistic
            MF to the rated-or-not indicator).
        eps: the offset :math:`\epsilon` (5 in the paper).
        power: the skew :math:`p > 0`.

    Returns:
        A `MNARFeedback` of [U, I] arrays.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import sample_mnar_feedback
        >>> d = sample_mnar_feedback(jax.random.key(0), jnp.full((2, 3), 5.0), jnp.zeros((2, 3)), power=2.0)
        >>> float(d.relevance_prob[0, 0]), float(d.propensity[0, 0])  # sigmoid(0) and sigmoid(0)^2
        (0.5, 0.25)

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.1.
    """
    _check_key(key)
    _checks.dims(kind="float", rating_pred=(rating_pred, "[U, I]"), exposure_logits=(exposure_logits, "[U, I]"))
    _checks.in_range("power", power, low=0.0, low_inclusive=False)
    gamma = jax.nn.sigmoid(jnp.clip(rating_pred, 1.0, 5.0) - eps)
    theta = jnp.exp(power * jax.nn.log_sigmoid(exposure_logits))
    k_o, k_r = jax.random.split(key)
    exposure = jax.random.bernoulli(k_o, theta).astype(theta.dtype)
    relevance = jax.random.bernoulli(k_r, gamma).astype(gamma.dtype)
    return MNARFeedback(gamma, theta, exposure, relevance, exposure * relevance)


def synthetic_mnar_factors(key: jax.Array, *, num_users: int, num_items: int, rank: int = 8,
                           popularity_skew: float = 1.0, base_rate: float = 0.06
                           ) -> tuple[jax.Array, jax.Array]:
    r"""Low-rank stand-ins for the two matrix factorisations that Saito et al. fit to ML-100K.

    Ratings and exposure logits come from Gaussian factors, with item popularity following
    a power law in the item index (item 0 the most popular):

    .. math::  \hat r_{u,i} = 3 + b_i + \tfrac{1}{\sqrt{d}} a_u^\top c_i,\qquad
               \ell_{u,i} = \beta_0 - s \log(1 + i) + 0.5\,\nu_u
                            + \tfrac{0.5}{\sqrt{d}}\, e_u^\top f_i

    with :math:`a, c, e, f \sim \mathcal N(0, I_d)`, :math:`b_i \sim \mathcal N(0, 0.5^2)`,
    :math:`\nu_u \sim \mathcal N(0, 1)` (user activity), :math:`s` = ``popularity_skew``,
    and :math:`\beta_0` set so that the mean of :math:`\sigma(\ell)` is about
    ``base_rate`` (ML-100K's rating density is 6.3%).

    Args:
        key: a PRNG key.
        num_users: static U >= 1.
        num_items: static I >= 1.
        rank: static d >= 1, the factor dimension.
        popularity_skew: s >= 0, the power-law slope of item popularity.
        base_rate: target mean exposure probability at power 1, in (0, 1).

    Returns:
        ``(rating_pred, exposure_logits)``, two [U, I] float32 arrays for `sample_mnar_feedback`.

    Examples:
        >>> import jax
        >>> from bvjax.data import synthetic_mnar_factors
        >>> r, logits = synthetic_mnar_factors(jax.random.key(0), num_users=4, num_items=5)
        >>> r.shape, logits.shape
        ((4, 5), (4, 5))

    References:
        Saito et al, Unbiased Recommender Learning from Missing-Not-At-Random Implicit
        Feedback, 2020 (arXiv 1909.03601), section 5.1.

    Departure: the paper fits these matrices to MovieLens 100K; bvjax never downloads
    data, so they are drawn from a low-rank model with a power-law item popularity
    instead (the shape of ML-100K's, not its values).
    """
    _check_key(key)
    _checks.positive_int(num_users=num_users, num_items=num_items, rank=rank)
    _checks.in_range("popularity_skew", popularity_skew, low=0.0)
    _checks.in_range("base_rate", base_rate, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    ka, kc, kb, ke, kf, kn = jax.random.split(key, 6)
    scale = 1.0 / jnp.sqrt(float(rank))
    a = jax.random.normal(ka, (num_users, rank))
    c = jax.random.normal(kc, (num_items, rank))
    b = 0.5 * jax.random.normal(kb, (num_items,))
    rating = 3.0 + b[None, :] + scale * a @ c.T
    e = jax.random.normal(ke, (num_users, rank))
    f = jax.random.normal(kf, (num_items, rank))
    nu = jax.random.normal(kn, (num_users,))
    raw = (-popularity_skew * jnp.log1p(jnp.arange(num_items, dtype=jnp.float32))[None, :]
           + 0.5 * nu[:, None] + 0.5 * scale * e @ f.T)

    # Bisection on the intercept so that mean(sigmoid(raw + beta0)) = base_rate (monotone in beta0).
    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        high = jnp.mean(jax.nn.sigmoid(raw + mid)) > base_rate
        return jnp.where(high, lo, mid), jnp.where(high, mid, hi)

    lo, hi = jax.lax.fori_loop(0, 60, body, (jnp.float32(-50.0), jnp.float32(50.0)))
    return rating, raw + 0.5 * (lo + hi)
