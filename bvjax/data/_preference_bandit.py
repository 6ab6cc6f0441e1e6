"""Tajwar et al's didactic preference bandit: 100 bins, a skewed reference, a reward bump."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class PreferenceBandit(NamedTuple):
    """What `tajwar_bandit` returns.

    Attributes:
        reference_logps: [K] float, :math:`\\log\\pi_{ref}(a)` of each bin (sums to 1 in
            probability).
        rewards: [K] float in (0, 1], the reward bump of each bin.
    """

    reference_logps: jax.Array
    rewards: jax.Array


def tajwar_bandit(*, num_bins: int = 100, peak: float | jax.Array = 70.0, width: float | jax.Array = 10.0,
                  loc: float | jax.Array = -0.7, scale: float | jax.Array = 0.4) -> PreferenceBandit:
    r"""The didactic bandit of Tajwar et al: reference histogram and reward bump over bins.

    Actions are ``K = num_bins`` bins of :math:`[-1, 1]`. The reference policy is the law of
    :math:`\tanh(c)`, :math:`c \sim \mathrm{Cauchy}(\text{loc}, \text{scale})`, binned: with bin
    edges :math:`e_k = -1 + 2k/K` and the Cauchy CDF :math:`F`,

    .. math::  \pi_{ref}(a) = F(\operatorname{artanh} e_{a+1}) - F(\operatorname{artanh} e_a),
               \qquad r(a) = \exp\big(-((a - \text{peak}) / \text{width})^2\big),

    with :math:`a` the bin index. With the defaults the bulk's mode is bin 16 with a heavy
    right tail, and the two edge bins hold the Cauchy's tails (bin 0 about 7.8%, bin 99
    about 4.2%, as in the authors' histogram over [-1, 1]), so ``peak=70`` puts the
    reward's optimum where the reference has little mass ("not aligned") and ``peak=20``
    puts it near the bulk's mode ("aligned"; π_ref already earns 0.38 there).

    Args:
        num_bins: static int K >= 2.
        peak: [] float, the reward's centre, in bins (70: off the reference mode, 20: on it).
        width: [] float > 0, the bump's width in bins (the paper's code uses 10, 20, 30).
        loc: [] float, the Cauchy location before the tanh.
        scale: [] float > 0, the Cauchy scale.

    Returns:
        A `PreferenceBandit` ``(reference_logps [K], rewards [K])``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import tajwar_bandit
        >>> bandit = tajwar_bandit()
        >>> int(jnp.argmax(bandit.reference_logps[1:-1])) + 1, int(jnp.argmax(bandit.rewards))
        (16, 70)
        >>> float(jnp.exp(bandit.reference_logps) @ bandit.rewards) < 0.05  # little mass near 70
        True

    References:
        Tajwar et al, Preference Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy
        Data, 2024 (arXiv 2404.14367).

    Departures: the authors' code histograms 10,000 samples of :math:`\tanh(c)`; this is that
    histogram's expectation, computed exactly from the CDF (no empty bins, no sampling noise).
    """
    _checks.positive_int(num_bins=num_bins)
    if num_bins < 2:
        raise ValueError(f"num_bins: expected a static Python int >= 2, got {num_bins!r}")
    _checks.dims(peak=(peak, "[]"), width=(width, "[]"), loc=(loc, "[]"), scale=(scale, "[]"))
    _checks.in_range("width", width, low=0.0, low_inclusive=False)
    _checks.in_range("scale", scale, low=0.0, low_inclusive=False)
    edges = jnp.linspace(-1.0, 1.0, num_bins + 1)
    # arctan((artanh(e) - loc) / scale), with artanh(+-1) = +-inf giving +-pi/2.
    angle = jnp.arctan((jnp.arctanh(edges) - loc) / scale)
    probs = (angle[1:] - angle[:-1]) / jnp.pi
    bins = jnp.arange(num_bins, dtype=probs.dtype)
    rewards = jnp.exp(-(((bins - peak) / width) ** 2))
    return PreferenceBandit(jnp.log(probs), rewards)
