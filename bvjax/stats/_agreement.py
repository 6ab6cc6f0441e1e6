"""Bounds on the agreement between subjective scores (MOS) and any objective estimator
(Pieper and Voran 2026), and the BinoVotes / BinoMOS vote model.

File i has a true quality q_i; its votes have mean q_i and variance sigma_i^2, and its
MOS is the mean of n_v votes. Whatever an objective estimator does, the vote noise in
the MOS is out of its reach, which bounds the MSE from below and the PCC from above.
The formulas follow the paper and were checked against the authors' reference
code (NTIA ITS-MOS-Agreement, ``mos_agreement.bounds`` and
``mos_agreement.model``); bvjax's names are given next to the reference's.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.stats._distributions import _broadcastable


class AgreementBounds(NamedTuple):
    """What the bound functions return.

    Attributes:
        rmse_min: the smallest root-mean-square error any objective estimator can reach
            against the MOS (the oracle that outputs the true quality reaches it).
        pcc_max: the largest Pearson correlation any objective estimator can reach with
            the MOS.
    """

    rmse_min: jax.Array
    pcc_max: jax.Array


def _scale(low, high, num_levels):
    if num_levels is None:
        span = float(high) - float(low)
        if span <= 0 or span != int(span):
            raise ValueError(f"num_levels: expected an int >= 2 when high - low ({span!r}) is not a positive "
                             "integer, got None")
        num_levels = int(span) + 1
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 2:
        raise ValueError(f"num_levels: expected a static int >= 2, got {num_levels!r}")
    if not float(high) > float(low):
        raise ValueError(f"high: expected a value > low={low!r}, got {high!r}")
    return num_levels


def _pcc(var_q, mse):
    total = var_q + mse
    ok = total > 0
    return jnp.sqrt(jnp.where(ok, jnp.clip(var_q, 0.0, None) / jnp.where(ok, total, 1.0), 0.0))


def mos_bounds(mos_var: jax.Array, avg_vote_var: jax.Array, num_votes: jax.Array) -> AgreementBounds:
    r"""Data-driven bounds on RMSE and PCC between MOS and any objective estimator.

    .. math::  \mathrm{MSE}_{\min} = \frac{\bar\sigma_v^2}{n_v},\qquad
               \mathrm{PCC}_{\max} = \sqrt{1 - \frac{\bar\sigma_v^2}{n_v\, s^2_{\mathrm{MOS}}}}
                                   = \sqrt{\frac{\sigma_Q^2}{\sigma_Q^2 + \bar\sigma_v^2/n_v}},

    with :math:`\sigma_Q^2 = s^2_{\mathrm{MOS}} - \bar\sigma_v^2/n_v` the variance of the
    true quality (reference code: ``mos_data_bounds``). With per-file vote variances
    :math:`s_i^2` the bound is "fully data-driven": :math:`\bar\sigma_v^2 = \mathrm{mean}_i
    s_i^2` and :math:`n_v` the mean votes per file (`mos_bounds_from_votes`).

    Args:
        mos_var: [...] float, variance of the MOS across files :math:`s^2_{\mathrm{MOS}}`
            (ddof is the caller's choice; the reference code takes precomputed values).
        avg_vote_var: [...] float, average per-file vote variance :math:`\bar\sigma_v^2`.
        num_votes: [...] int or float > 0, votes per file :math:`n_v`.

    Returns:
        `AgreementBounds` ``(rmse_min, pcc_max)``, broadcast shape. When the vote noise
        :math:`\bar\sigma_v^2/n_v` is at least the MOS variance (no quality signal left)
        ``pcc_max`` is 0 rather than NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import mos_bounds
        >>> rmse, pcc = mos_bounds(jnp.array(0.8), 0.9, 24)
        >>> round(float(rmse), 6), round(float(pcc), 6)  # 0.193649, 0.976281 by the reference code's formulas
        (0.193649, 0.976281)

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _broadcastable(mos_var=mos_var, avg_vote_var=avg_vote_var, num_votes=num_votes)
    dtype = compute_dtype(mos_var, avg_vote_var, num_votes)
    mos_var = jnp.asarray(mos_var, dtype)
    mse = jnp.asarray(avg_vote_var, dtype) / jnp.asarray(num_votes, dtype)
    return AgreementBounds(jnp.sqrt(mse), _pcc(mos_var - mse, mse))


def mos_bounds_from_votes(votes: jax.Array, *, mask: jax.Array | None = None, vote_ddof: int = 1,
                          mos_ddof: int = 1) -> AgreementBounds:
    r"""Fully data-driven bounds from a files x votes table.

    Per file, :math:`\mathrm{MOS}_i` is the mean of its votes and :math:`s_i^2` their
    variance (``vote_ddof``); then :math:`\bar\sigma_v^2 = \mathrm{mean}_i s_i^2`,
    :math:`n_v = \mathrm{mean}_i n_i` and :math:`s^2_{\mathrm{MOS}}` the variance of the
    MOS over files (``mos_ddof``), fed to `mos_bounds`.

    Args:
        votes: [F, V] float, votes of each file (padding where ``mask`` is False).
        mask: optional [F, V] bool, True for a cast vote; every file needs more than
            ``vote_ddof`` votes.
        vote_ddof: static int, ddof of each file's vote variance (1: unbiased).
        mos_ddof: static int, ddof of the MOS variance over files.

    Returns:
        `AgreementBounds` ``(rmse_min, pcc_max)`` scalars.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import mos_bounds_from_votes
        >>> votes = jnp.array([[1., 2., 1., 2.], [4., 5., 5., 4.], [3., 3., 2., 4.]])
        >>> rmse, pcc = mos_bounds_from_votes(votes)
        >>> round(float(rmse), 4), round(float(pcc), 4)
        (0.3333, 0.975)

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    shape = _checks.dims(votes=(votes, "[F, V]", "number"), mask=(mask, "[F, V]", "bool"))
    if shape["F"] - mos_ddof < 1:
        raise ValueError(f"votes: expected [F, V] with F > mos_ddof={mos_ddof} files, got shape {tuple(votes.shape)}")
    v = jnp.asarray(votes)
    v = v.astype(compute_dtype(v))
    w = jnp.ones_like(v) if mask is None else jnp.asarray(mask, v.dtype)
    n = jnp.sum(w, axis=1)
    mos = jnp.sum(w * v, axis=1) / jnp.maximum(n, 1.0)
    file_var = jnp.sum(w * (v - mos[:, None]) ** 2, axis=1) / jnp.maximum(n - vote_ddof, 1.0)
    return mos_bounds(jnp.var(mos, ddof=mos_ddof), jnp.mean(file_var), jnp.mean(n))


def binovotes_variance(quality: jax.Array, *, low: float = 1.0, high: float = 5.0,
                       num_levels: int | None = None) -> jax.Array:
    r"""Vote variance of the BinoVotes model at true quality q.

    BinoVotes: :math:`v = s_L + \Delta\cdot\mathrm{Bin}(n_s - 1, p)` with
    :math:`p = (q - s_L)/(s_H - s_L)` and step :math:`\Delta = (s_H - s_L)/(n_s - 1)`, so
    :math:`E[v] = q` and

    .. math::  \mathrm{Var}(v \mid q) = \frac{(q - s_L)(s_H - q)}{n_s - 1}

    (on a 1-5 integer scale :math:`(q-1)(5-q)/4`; reference code: ``binovotes_variance``).

    Args:
        quality: [...] float in [low, high].
        low: static float, lowest scale value :math:`s_L`.
        high: static float, highest scale value :math:`s_H`.
        num_levels: static int :math:`n_s \ge 2`; default ``high - low + 1`` (an integer
            scale).

    Returns:
        [...] float, 0 at the scale ends.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import binovotes_variance
        >>> binovotes_variance(jnp.array([1.0, 3.0, 4.0])).tolist()
        [0.0, 1.0, 0.75]

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _checks.dims(quality=(quality, "[...]", "number"))
    ns = _scale(low, high, num_levels)
    q = jnp.asarray(quality, compute_dtype(quality))
    return (q - low) * (high - q) / (ns - 1)


def binovotes_avg_vote_var(mos_mean: jax.Array, mos_var: jax.Array, num_votes: jax.Array, *, low: float = 1.0,
                           high: float = 5.0, num_levels: int | None = None) -> jax.Array:
    r"""Average vote variance implied by BinoVotes from MOS-only data (no vote variances).

    With :math:`n_m = n_v(n_s - 1)` and :math:`\bar m`, :math:`s^2_{\mathrm{MOS}}` the
    mean and variance of the MOS over files,

    .. math::  \bar\sigma_v^2 = \frac{n_v}{n_m - 1}\Big[(\bar m - s_L)(s_H - \bar m) - s^2_{\mathrm{MOS}}\Big],

    the solution of the two moment equations
    :math:`s^2_{\mathrm{MOS}} = \sigma_Q^2 + \bar\sigma_v^2/n_v` and
    :math:`(n_s - 1)\bar\sigma_v^2 = (\mu_Q - s_L)(s_H - \mu_Q) - \sigma_Q^2` under
    BinoVotes (reference code: ``mos_data_binovotes_average_vote_var``). Feed it to
    `mos_bounds` (``mos_data_binovotes_bounds``).

    Args:
        mos_mean: [...] float, mean MOS over files.
        mos_var: [...] float, variance of the MOS over files.
        num_votes: [...] int or float, votes per file :math:`n_v` (with :math:`n_m > 1`).
        low: static float, lowest scale value.
        high: static float, highest scale value.
        num_levels: static int, as in `binovotes_variance`.

    Returns:
        [...] float; clipped at 0 when the MOS spread exceeds what BinoVotes allows.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import binovotes_avg_vote_var
        >>> round(float(binovotes_avg_vote_var(jnp.array(3.2), 0.8, 24)), 6)  # 0.798316 by the reference code's formulas
        0.798316

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _broadcastable(mos_mean=mos_mean, mos_var=mos_var, num_votes=num_votes)
    ns = _scale(low, high, num_levels)
    dtype = compute_dtype(mos_mean, mos_var, num_votes)
    m = jnp.asarray(mos_mean, dtype)
    nv = jnp.asarray(num_votes, dtype)
    nm = nv * (ns - 1)
    value = nv / jnp.where(nm > 1, nm - 1.0, 1.0) * ((m - low) * (high - m) - jnp.asarray(mos_var, dtype))
    return jnp.clip(value, 0.0, None)


def binovotes_quality_bounds(mean_quality: jax.Array, var_quality: jax.Array, num_votes: jax.Array, *,
                             low: float = 1.0, high: float = 5.0, num_levels: int | None = None
                             ) -> AgreementBounds:
    r"""Bounds when the quality distribution (mean, variance) is known and votes follow BinoVotes.

    .. math::  \mathrm{MSE}_{\min} = \frac{(\mu_Q - s_L)(s_H - \mu_Q) - \sigma_Q^2}{n_v (n_s - 1)},\qquad
               \mathrm{PCC}_{\max} = \sqrt{\frac{\sigma_Q^2}{\sigma_Q^2 + \mathrm{MSE}_{\min}}}

    (the expected BinoVotes variance :math:`E[(q - s_L)(s_H - q)]/(n_s - 1)` over the
    quality distribution, divided by :math:`n_v`; reference code:
    ``quality_distribution_binovotes_bounds``). Useful in simulation.

    Args:
        mean_quality: [...] float :math:`\mu_Q`.
        var_quality: [...] float :math:`\sigma_Q^2 \ge 0`.
        num_votes: [...] int or float :math:`n_v`.
        low: static float, lowest scale value.
        high: static float, highest scale value.
        num_levels: static int, as in `binovotes_variance`.

    Returns:
        `AgreementBounds` ``(rmse_min, pcc_max)``; a negative MSE (impossible moments) is
        clipped to 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import binovotes_quality_bounds
        >>> rmse, pcc = binovotes_quality_bounds(jnp.array(3.0), 0.5, 16)
        >>> round(float(rmse), 4), round(float(pcc), 4)  # MSE = (4 - 0.5) / 64
        (0.2339, 0.9494)

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _broadcastable(mean_quality=mean_quality, var_quality=var_quality, num_votes=num_votes)
    ns = _scale(low, high, num_levels)
    dtype = compute_dtype(mean_quality, var_quality, num_votes)
    mu = jnp.asarray(mean_quality, dtype)
    var_q = jnp.asarray(var_quality, dtype)
    mse = jnp.clip(((mu - low) * (high - mu) - var_q) / (jnp.asarray(num_votes, dtype) * (ns - 1)), 0.0, None)
    return AgreementBounds(jnp.sqrt(mse), _pcc(var_q, mse))


def binovotes_sample(key: jax.Array, quality: jax.Array, *, num_votes: int, low: float = 1.0,
                     high: float = 5.0, num_levels: int | None = None) -> jax.Array:
    r"""Draws BinoVotes: ``num_votes`` votes per file, :math:`s_L + \Delta\cdot\mathrm{Bin}(n_s - 1, p)`.

    Args:
        key: a PRNG key.
        quality: [F] float in [low, high], true quality per file.
        num_votes: static int >= 1, votes per file.
        low: static float, lowest scale value.
        high: static float, highest scale value.
        num_levels: static int, as in `binovotes_variance`.

    Returns:
        [F, num_votes] float votes on the scale's levels; mean q and variance
        `binovotes_variance` (q) per file.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.stats import binovotes_sample
        >>> v = binovotes_sample(jax.random.key(0), jnp.array([1.0, 5.0]), num_votes=3)
        >>> v.tolist()
        [[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]]

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _checks.dims(quality=(quality, "[F]", "number"))
    _checks.positive_int(num_votes=num_votes)
    ns = _scale(low, high, num_levels)
    q = jnp.asarray(quality, compute_dtype(quality))
    p = jnp.clip((q - low) / (high - low), 0.0, 1.0)
    counts = jax.random.binomial(key, float(ns - 1), jnp.broadcast_to(p[:, None], (q.shape[0], num_votes)),
                                 dtype=q.dtype)
    return low + (high - low) / (ns - 1) * counts


def binomos_sample(key: jax.Array, quality: jax.Array, *, num_votes: int, low: float = 1.0, high: float = 5.0,
                   num_levels: int | None = None) -> jax.Array:
    r"""Draws BinoMOS: the mean of ``num_votes`` BinoVotes, in one binomial draw per file.

    .. math::  \mathrm{MOS} = s_L + \frac{\Delta}{n_v}\,\mathrm{Bin}\big(n_v(n_s - 1),\ p\big)

    It takes only the values :math:`s_L + \Delta j/n_v`, :math:`j = 0..n_v(n_s-1)`, and has
    variance :math:`\mathrm{Var}(v \mid q)/n_v` (reference code: ``binomos``).

    Args:
        key: a PRNG key.
        quality: [F] float in [low, high].
        num_votes: static int >= 1, votes per file :math:`n_v`.
        low: static float, lowest scale value.
        high: static float, highest scale value.
        num_levels: static int, as in `binovotes_variance`.

    Returns:
        [F] float MOS.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.stats import binomos_sample
        >>> m = binomos_sample(jax.random.key(0), jnp.full((4,), 3.0), num_votes=8)
        >>> bool(jnp.all(jnp.round(m * 8) == m * 8))  # multiples of 1/8
        True

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _checks.dims(quality=(quality, "[F]", "number"))
    _checks.positive_int(num_votes=num_votes)
    ns = _scale(low, high, num_levels)
    q = jnp.asarray(quality, compute_dtype(quality))
    p = jnp.clip((q - low) / (high - low), 0.0, 1.0)
    counts = jax.random.binomial(key, float(num_votes * (ns - 1)), p, dtype=q.dtype)
    return low + (high - low) / (ns - 1) * counts / num_votes


def effective_votes(num_bino: jax.Array, num_mos: jax.Array, *, num_levels: int = 5) -> jax.Array:
    r"""Effective votes per file when a BinoMOS from ``num_bino`` votes is compared with a MOS from ``num_mos``.

    .. math::  n_{\mathrm{eff}} = \Big(\frac{1}{n_b} + \frac{1}{n_m} - \frac{1}{n_b n_m (n_s - 1)}\Big)^{-1}

    (reference code: ``effective_votes``).

    Args:
        num_bino: [...] int or float >= 1, votes behind the BinoMOS.
        num_mos: [...] int or float >= 1, votes behind the MOS.
        num_levels: static int :math:`n_s \ge 2`, levels of the scale.

    Returns:
        [...] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import effective_votes
        >>> round(float(effective_votes(jnp.array(24), 24)), 4)  # 1 / (2/24 - 1/2304)
        12.0628

    References:
        Pieper and Voran, Bounds on Agreement between Subjective and Objective
        Measurements, 2026 (arXiv 2603.13204).
    """
    _broadcastable(num_bino=num_bino, num_mos=num_mos)
    ns = _scale(0.0, 1.0, num_levels)
    dtype = compute_dtype(num_bino, num_mos)
    nb = jnp.asarray(num_bino, dtype)
    nm = jnp.asarray(num_mos, dtype)
    return 1.0 / (1.0 / nb + 1.0 / nm - 1.0 / (nb * nm * (ns - 1)))
