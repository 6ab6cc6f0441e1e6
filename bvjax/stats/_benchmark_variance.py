"""Variance of evaluation benchmarks (Madaan et al. 2024): seed statistics, bootstrap and
normal confidence intervals of a benchmark score, monotonicity during training (Kendall
tau), classical item analysis and a two-parameter IRT fit.

Notation: K seeds, T checkpoints, M models, N items; ``S[K]`` or ``S[K, T]`` are
benchmark scores (mean over items), ``x[..., N]`` per-item scores (0/1 accuracy or a
continuous score such as the gold answer's probability), ``R[M, N]`` a models x items
response matrix. Randomness stays outside: bootstrap resamples come in as indices.

What follows the paper and what is reconstructed: only the paper's abstract and its
reviews could be read. Seed mean,
seed standard deviation, 95% CIs and monotonicity as the Kendall rank correlation between
checkpoint order and score, averaged over seeds, are as the abstract and the reviews
describe them; the ddof, the SNR baseline, the discrimination formula (uncorrected
item-total point-biserial correlation by default) and the IRT identifiability
constraints are bvjax's choices, exposed as keywords.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import ndtri

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.stats._bootstrap import BootstrapCI, bootstrap_ci


def _as_float(x: jax.Array) -> jax.Array:
    x = jnp.asarray(x)
    return x.astype(compute_dtype(x))


class SeedStats(NamedTuple):
    """What `seed_stats` returns.

    Attributes:
        mean: the seed mean of the scores.
        std: the seed standard deviation (with the requested ddof).
    """

    mean: jax.Array
    std: jax.Array


def seed_stats(scores: jax.Array, *, ddof: int = 1) -> SeedStats:
    r"""Seed mean and seed standard deviation of a benchmark score across training seeds.

    .. math::  \mu = \frac1K\sum_{s=1}^K S_s,\qquad
               \sigma = \sqrt{\tfrac{1}{K - \mathrm{ddof}}\textstyle\sum_s (S_s - \mu)^2}

    Madaan et al. report :math:`\sigma` (which they call seed variance) of the final
    checkpoint's score over 10 seeds; the ddof is not stated in what could be read, so it
    is a keyword (default 1, the sample standard deviation) [recon].

    Args:
        scores: [K], [K, A] or [K, A, B] float, one row per seed (e.g. [K] at one checkpoint,
            [K, T] over checkpoints or [K, B] over benchmarks); reduced over axis 0.
        ddof: static int >= 0 with K - ddof >= 1.

    Returns:
        `SeedStats` ``(mean, std)``, each [...] (the trailing shape of ``scores``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import seed_stats
        >>> m, s = seed_stats(jnp.array([0.50, 0.52, 0.54]))
        >>> round(float(m), 4), round(float(s), 4)
        (0.52, 0.02)

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    shape = _checks.dims(scores=(scores, ("[K]", "[K, A]", "[K, A, B]"), "number"))
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
        raise ValueError(f"ddof: expected a static int >= 0, got {ddof!r}")
    if shape["K"] - ddof < 1:
        raise ValueError(f"scores: expected [K, ...] with K > ddof={ddof}, got shape {tuple(jnp.shape(scores))}")
    s = _as_float(scores)
    # shifted by the first seed: equal scores have std exactly 0 (a rounded mean gave seven
    # seeds of 0.1 a std of ~1e-8 and a signal-to-noise ratio of ~1.2e7 instead of inf)
    shift = jnp.where(jnp.isfinite(s[0]), s[0], 0.0)
    return SeedStats(shift + jnp.mean(s - shift, axis=0), jnp.std(s - shift, axis=0, ddof=ddof))


def signal_to_noise(scores: jax.Array, *, baseline: float = 0.0, ddof: int = 1) -> jax.Array:
    r"""Signal-to-noise ratio of a benchmark: seed mean over seed standard deviation.

    .. math::  \mathrm{SNR} = (\mu - b)/\sigma

    with :math:`\mu, \sigma` from `seed_stats` and :math:`b` a baseline (0 by default;
    the chance accuracy gives a chance-corrected SNR). The paper's tables compare a
    discrete and a continuous SNR; its exact definition could not be confirmed, this is
    bvjax's reading (reconstructed).

    Args:
        scores: [K, ...] float, one row per seed.
        baseline: float or [...] float, subtracted from the seed mean.
        ddof: static int, as in `seed_stats`.

    Returns:
        [...] float. A zero seed standard deviation gives +-inf (0 if the numerator is 0
        too), never NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import signal_to_noise
        >>> round(float(signal_to_noise(jnp.array([0.50, 0.52, 0.54]), baseline=0.25)), 4)
        13.5

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    mean, std = seed_stats(scores, ddof=ddof)
    _checks.broadcastable(mean=mean, baseline=baseline)
    num = mean - jnp.asarray(baseline, mean.dtype)
    safe = jnp.where(std > 0, std, 1.0)
    return jnp.where(std > 0, num / safe, jnp.where(num == 0, 0.0, jnp.sign(num) * jnp.inf))


def bootstrap_score_ci(item_scores: jax.Array, indices: jax.Array, *, confidence: float = 0.95,
                       quantile_rule: str = "linear", ddof: int = 1) -> BootstrapCI:
    r"""Percentile bootstrap CI of a benchmark score (the item mean), over items.

    For each model (leading index) and each resample :math:`I_r` of the N items,
    :math:`S^*_r = \mathrm{mean}_i\, x[I_{r,i}]`; the interval is the
    :math:`(\alpha/2, 1 - \alpha/2)` quantiles of :math:`S^*` and the standard error their
    standard deviation (`bvjax.stats.bootstrap_ci`, vmapped over models and resamples).
    The same resamples serve every model, so differences between models can be read off
    paired resamples.

    Args:
        item_scores: [..., N] float, per-item scores of one or more models.
        indices: [B, N] int resamples of the items (`bootstrap_indices`, or any stream such
            as ``np.random.default_rng(s).integers(0, N, (B, N))`` to replay a peer).
        confidence: static float in (0, 1).
        quantile_rule: static ``"linear"`` (``numpy.percentile`` and
            ``scipy.stats.bootstrap(method="percentile")``) or ``"mlxtend"``.
        ddof: static int, the standard error's ddof.

    Returns:
        `BootstrapCI` ``(original, standard_error, (lower, upper))``, each [...].

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.stats import bootstrap_indices, bootstrap_score_ci
        >>> x = (jnp.arange(200) % 4 == 0).astype(jnp.float32)  # accuracy 0.25
        >>> idx = bootstrap_indices(jax.random.key(0), num_items=200, num_resamples=2000)
        >>> score, se, (lo, hi) = bootstrap_score_ci(x, idx)
        >>> float(score), bool(lo < 0.25 < hi), round(float(se), 2)
        (0.25, True, 0.03)

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
        Efron and Tibshirani, An Introduction to the Bootstrap, 1993.
    """
    _checks.dims(item_scores=(item_scores, "[..., N]", "number"), indices=(indices, "[B, N]", "int"))
    x = _as_float(item_scores)
    lead = x.shape[:-1]
    flat = x.reshape((-1, x.shape[-1]))

    def one(row):
        return bootstrap_ci(row, indices, confidence=confidence, quantile_rule=quantile_rule, ddof=ddof)

    out = jax.vmap(one)(flat)
    return jax.tree.map(lambda a: a.reshape(lead), out)


def normal_score_ci(item_scores: jax.Array, *, confidence: float = 0.95, ddof: int = 0
                    ) -> tuple[jax.Array, jax.Array]:
    r"""Normal-approximation CI of a benchmark score: mean +- z * sd(items) / sqrt(N).

    .. math::  \bar x \pm z_{1-\alpha/2}\, \frac{s_x}{\sqrt N},\qquad
               s_x^2 = \tfrac{1}{N - \mathrm{ddof}}\textstyle\sum_i (x_i - \bar x)^2

    For 0/1 items with ``ddof=0`` this is :math:`\bar x \pm z\sqrt{\bar x(1-\bar x)/N}`,
    the analytic 95% CI, the usual companion of the bootstrap one.

    Args:
        item_scores: [..., N] float, per-item scores (N >= 1, N > ddof).
        confidence: static float in (0, 1).
        ddof: static int >= 0.

    Returns:
        ``(lower, upper)``, each [...]; constant items give a zero-width interval.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import normal_score_ci
        >>> lo, hi = normal_score_ci((jnp.arange(100) < 90).astype(jnp.float32))
        >>> round(float(lo), 4), round(float(hi), 4)  # 0.9 -/+ 1.959964 * 0.03
        (0.8412, 0.9588)

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    shape = _checks.dims(item_scores=(item_scores, "[..., N]", "number"))
    _checks.in_range("confidence", confidence, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if isinstance(ddof, bool) or not isinstance(ddof, int) or not 0 <= ddof < shape["N"]:
        raise ValueError(f"ddof: expected a static int in [0, N={shape['N']}), got {ddof!r}")
    x = _as_float(item_scores)
    n = x.shape[-1]
    z = ndtri(jnp.asarray(1.0 - (1.0 - confidence) / 2.0, x.dtype))
    mean = jnp.mean(x, axis=-1)
    half = z * jnp.std(x, axis=-1, ddof=ddof) / jnp.sqrt(jnp.asarray(n, x.dtype))
    return mean - half, mean + half


class KendallTau(NamedTuple):
    """What `kendall_tau` returns; unpacks like ``scipy.stats.kendalltau``.

    Attributes:
        statistic: Kendall's tau (variant b or c).
        pvalue: the two-sided asymptotic p-value of no association.
    """

    statistic: jax.Array
    pvalue: jax.Array


@functools.partial(jax.jit, static_argnames="variant")
def _kendall(x: jax.Array, y: jax.Array, *, variant: str) -> KendallTau:
    """`kendall_tau` after its checks, jitted so that eager calls compile once per shape."""
    n = x.shape[0]
    dtype = compute_dtype(x, y)
    sx = jnp.sign(x[:, None] - x[None, :]).astype(dtype)
    sy = jnp.sign(y[:, None] - y[None, :]).astype(dtype)
    s = 0.5 * jnp.sum(sx * sy)
    n0 = n * (n - 1) / 2.0
    tx = jnp.sum(sx == 0, axis=1).astype(dtype)  # size of each element's tie group in x
    ty = jnp.sum(sy == 0, axis=1).astype(dtype)
    n1 = 0.5 * jnp.sum(tx - 1.0)
    n2 = 0.5 * jnp.sum(ty - 1.0)
    if variant == "b":
        denom = jnp.sqrt((n0 - n1) * (n0 - n2))
        tau = jnp.where(denom > 0, s / jnp.where(denom > 0, denom, 1.0), 0.0)
    else:
        def distinct(v):
            v = jnp.sort(v)
            return 1.0 + jnp.sum(v[1:] != v[:-1]).astype(dtype)

        m = jnp.minimum(distinct(x), distinct(y))
        denom = n * n * (m - 1.0) / m
        tau = jnp.where(m > 1, 2.0 * s / jnp.where(m > 1, denom, 1.0), 0.0)
    mm = n * (n - 1.0)
    x0, y0 = jnp.sum((tx - 1.0) * (tx - 2.0)), jnp.sum((ty - 1.0) * (ty - 2.0))
    x1, y1 = jnp.sum((tx - 1.0) * (2.0 * tx + 5.0)), jnp.sum((ty - 1.0) * (2.0 * ty + 5.0))
    var = (mm * (2.0 * n + 5.0) - x1 - y1) / 18.0 + 2.0 * n1 * n2 / mm
    if n > 2:
        var = var + x0 * y0 / (9.0 * mm * (n - 2.0))
    z = jnp.abs(s) / jnp.sqrt(jnp.where(var > 0, var, 1.0))
    p = jnp.where(var > 0, jax.scipy.special.erfc(z / jnp.sqrt(2.0)), 1.0)
    return KendallTau(tau.astype(dtype), jnp.clip(p, 0.0, 1.0).astype(dtype))


def kendall_tau(x: jax.Array, y: jax.Array, *, variant: str = "b") -> KendallTau:
    r"""Kendall's rank correlation tau-b (ties corrected) or tau-c, with its asymptotic p-value.

    With :math:`S = \sum_{i<j}\mathrm{sign}(x_i - x_j)\,\mathrm{sign}(y_i - y_j)`
    (concordant minus discordant pairs), :math:`n_0 = n(n-1)/2` and :math:`n_1, n_2` the
    pairs tied in x and in y,

    .. math::  \tau_b = \frac{S}{\sqrt{(n_0 - n_1)(n_0 - n_2)}},\qquad
               \tau_c = \frac{2S}{n^2 (m - 1)/m},

    m the smaller number of distinct values. The p-value is
    :math:`2\,\bar\Phi(|S|/\sqrt{v})` with the tie-corrected variance
    :math:`v = [n(n-1)(2n+5) - \sum t(t-1)(2t+5) - \sum u(u-1)(2u+5)]/18 +
    \frac{[\sum t(t-1)][\sum u(u-1)]}{2n(n-1)} + \frac{[\sum t(t-1)(t-2)][\sum u(u-1)(u-2)]}{9n(n-1)(n-2)}`
    over the tie groups t of x and u of y: ``scipy.stats.kendalltau(x, y,
    method="asymptotic")`` for both variants (scipy's default ``method="auto"`` switches
    to an exact p-value for small tie-free samples; the statistic is the same).
    O(n^2) memory and time: meant for checkpoint sequences and model rankings.

    Args:
        x: [n] numbers, n >= 2.
        y: [n] numbers.
        variant: static ``"b"`` (scipy's default) or ``"c"``.

    Returns:
        `KendallTau` ``(statistic, pvalue)``. A constant x or y (no untied pair) gives
        statistic 0 and p-value 1, where scipy returns NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import kendall_tau
        >>> tau, p = kendall_tau(jnp.arange(5), jnp.array([1, 3, 2, 4, 4]))
        >>> round(float(tau), 6), round(float(p), 6)  # scipy: 0.737865, 0.076974
        (0.737865, 0.076974)

    References:
        Kendall, The Treatment of Ties in Ranking Problems, Biometrika 1945.
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    shape = _checks.dims(x=(x, "[n]", "number"), y=(y, "[n]", "number"))
    _checks.one_of("variant", variant, ("b", "c"))
    n = shape["n"]
    if n < 2:
        raise ValueError(f"x: expected [n] with n >= 2, got shape {tuple(jnp.shape(x))}")
    return _kendall(jnp.asarray(x), jnp.asarray(y), variant=variant)


def monotonicity(scores: jax.Array, *, variant: str = "b") -> jax.Array:
    r"""Monotonicity of a benchmark during training: Kendall tau of score vs checkpoint, averaged over seeds.

    .. math::  \mathrm{mono} = \frac1K\sum_{s=1}^K \tau\big((1, \dots, T),\ (S_{s,1}, \dots, S_{s,T})\big)

    1 when every seed's score rises at every checkpoint, -1 when it always falls, near
    0 for noise. Madaan et al. use the Kendall rank correlation between checkpoint
    order and score per seed and average over seeds [from the abstract and reviews; tau-b
    assumed, which only matters with tied scores].

    Args:
        scores: [K, T] or [T] float, score per seed and checkpoint (checkpoints in training
            order), T >= 2.
        variant: static ``"b"`` or ``"c"``, as in `kendall_tau`.

    Returns:
        Float scalar. A seed whose scores are all equal contributes 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import monotonicity
        >>> round(float(monotonicity(jnp.array([[0.1, 0.2, 0.3, 0.4], [0.1, 0.3, 0.2, 0.4]]))), 4)
        0.8333

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    shape = _checks.dims(scores=(scores, ("[K, T]", "[T]"), "number"))
    if shape["T"] < 2:
        raise ValueError(f"scores: expected [K, T] or [T] with T >= 2, got shape {tuple(jnp.shape(scores))}")
    s = _as_float(scores)
    s = s[None] if s.ndim == 1 else s
    steps = jnp.arange(s.shape[1], dtype=s.dtype)
    taus = jax.vmap(lambda row: _kendall(steps, row, variant=variant).statistic)(s)
    return jnp.mean(taus)


def item_difficulty(responses: jax.Array) -> jax.Array:
    r"""Classical item difficulty: the mean score of each item over models.

    .. math::  p_j = \frac1M\sum_{i=1}^M R_{ij}

    (For 0/1 items the fraction of models that get item j right; higher is easier, as in
    classical test theory.)

    Args:
        responses: [M, N] float or int, models x items scores.

    Returns:
        [N] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import item_difficulty
        >>> item_difficulty(jnp.array([[1, 0], [1, 1], [1, 0], [0, 0]])).tolist()
        [0.75, 0.25]

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
        Lord and Novick, Statistical Theories of Mental Test Scores, 1968.
    """
    _checks.dims(responses=(responses, "[M, N]", "number"))
    return jnp.mean(_as_float(responses), axis=0)


def item_discrimination(responses: jax.Array, *, rest: bool = False) -> jax.Array:
    r"""Classical item discrimination: correlation of each item's score with the models' total score.

    .. math::  d_j = \mathrm{corr}_i\big(R_{ij},\ T_i\big),\qquad
               T_i = \textstyle\sum_{j'} R_{ij'}\ \ (\text{or } T_i - R_{ij} \text{ with } \texttt{rest=True})

    For 0/1 items this Pearson correlation is the point-biserial item-total correlation
    (``scipy.stats.pointbiserialr(R[:, j], R.sum(1))``). ``rest=False`` (default) is the
    uncorrected item-total correlation, which is how we read Madaan et al.'s
    "correlation between an item and the models' overall score" [recon: the paper body
    could not be read]; ``rest=True`` is the corrected item-rest correlation of classical
    test theory, which does not count the item in its own criterion.

    Args:
        responses: [M, N] float or int, models x items scores, M >= 2.
        rest: static bool, correlate with the rest score instead of the total.

    Returns:
        [N] float in [-1, 1]. An item that every model scores the same (or a criterion
        that is constant) has no defined correlation and gets 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import item_discrimination
        >>> r = jnp.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]])
        >>> [round(v, 4) for v in item_discrimination(r).tolist()]
        [0.7746, 0.8944, 0.7746]

    References:
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
        Lord and Novick, Statistical Theories of Mental Test Scores, 1968 (ch. 15).
    """
    shape = _checks.dims(responses=(responses, "[M, N]", "number"))
    if shape["M"] < 2:
        raise ValueError(f"responses: expected [M, N] with M >= 2 models, got shape {tuple(jnp.shape(responses))}")
    r = _as_float(responses)
    total = jnp.sum(r, axis=1, keepdims=True)
    crit = total - r if rest else jnp.broadcast_to(total, r.shape)
    rc = r - jnp.mean(r, axis=0)
    cc = crit - jnp.mean(crit, axis=0)
    cov = jnp.sum(rc * cc, axis=0)
    denom = jnp.sqrt(jnp.sum(rc * rc, axis=0) * jnp.sum(cc * cc, axis=0))
    ok = denom > 0
    return jnp.where(ok, jnp.clip(cov / jnp.where(ok, denom, 1.0), -1.0, 1.0), 0.0)


def irt2pl_logits(theta: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    r"""Logits of the two-parameter logistic IRT model.

    .. math::  \mathrm{logit}\,P(R_{ij} = 1) = a_j(\theta_i - b_j)

    with :math:`\theta_i` the ability of model i, :math:`a_j` the discrimination and
    :math:`b_j` the difficulty of item j (classical parametrisation; tinyBenchmarks'
    :math:`\alpha_j\theta_i - \beta_j` is the same model with :math:`\beta_j = a_j b_j`).

    Args:
        theta: [M] float, abilities.
        a: [N] float, discriminations.
        b: [N] float, difficulties.

    Returns:
        [M, N] float logits.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import irt2pl_logits
        >>> irt2pl_logits(jnp.array([0.0, 1.0]), jnp.array([2.0]), jnp.array([0.5])).tolist()
        [[-1.0], [1.0]]

    References:
        Birnbaum, Some Latent Trait Models, in Lord and Novick 1968.
        Polo et al., tinyBenchmarks: evaluating LLMs with fewer examples, 2024 (arXiv 2402.14992).
    """
    _checks.dims(theta=(theta, "[M]", "float"), a=(a, "[N]", "float"), b=(b, "[N]", "float"))
    dtype = compute_dtype(theta, a, b)
    theta, a, b = (jnp.asarray(v, dtype) for v in (theta, a, b))
    return a[None, :] * (theta[:, None] - b[None, :])


class IRT2PLFit(NamedTuple):
    """What `fit_irt2pl` returns.

    Attributes:
        theta: [M] abilities, standardised to mean 0 and (population) std 1 over models.
        a: [N] discriminations (> 0).
        b: [N] difficulties on the theta scale.
        nll: the mean negative log-likelihood per observed response at the fit.
    """

    theta: jax.Array
    a: jax.Array
    b: jax.Array
    nll: jax.Array


def fit_irt2pl(responses: jax.Array, *, mask: jax.Array | None = None, num_steps: int = 500,
               learning_rate: float = 0.05, l2: float = 1e-3) -> IRT2PLFit:
    r"""Joint maximum-likelihood fit of the 2PL IRT model by Adam, in a fixed number of steps (jit-able).

    Minimises the mean Bernoulli negative log-likelihood of `irt2pl_logits` over the
    observed responses plus :math:`\tfrac{\lambda}{2}(\overline{\theta^2} +
    \overline{(\log a)^2} + \overline{b^2})`, a small ridge that keeps items every model
    gets right (or wrong) finite. Identifiability: the 2PL likelihood is unchanged by
    :math:`\theta \to c\theta + d,\ b \to cb + d,\ a \to a/c` (c > 0) and by the joint sign
    flip :math:`(\theta, b, a) \to (-\theta, -b, -a)`. bvjax fixes the sign by
    parametrising :math:`a = e^{\log a} > 0` (items are assumed to discriminate the right
    way round) and the location and scale by standardising the fitted abilities to mean 0
    and population std 1 at the end, which maps (a, b) exactly so that the logits do not
    change. Compare recovered parameters with the truth after the same standardisation.
    Start: theta from the logit of each model's accuracy, b from minus the logit of each
    item's, a = 1 (deterministic, no key).

    Args:
        responses: [M, N] float or int in {0, 1} (or probabilities: the loss is the
            cross-entropy), models x items.
        mask: optional [M, N] bool, True where a response was observed.
        num_steps: static int >= 1, Adam steps (a ``lax.scan``).
        learning_rate: Adam step size.
        l2: ridge strength lambda >= 0.

    Returns:
        `IRT2PLFit` ``(theta [M], a [N], b [N], nll)``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.stats import fit_irt2pl
        >>> r = (jax.random.uniform(jax.random.key(0), (40, 10)) < 0.6).astype(jnp.float32)
        >>> fit = fit_irt2pl(r, num_steps=50)
        >>> fit.theta.shape, fit.a.shape, abs(float(jnp.mean(fit.theta))) < 1e-5
        ((40,), (10,), True)

    References:
        Birnbaum, Some Latent Trait Models, in Lord and Novick 1968.
        Polo et al., tinyBenchmarks: evaluating LLMs with fewer examples, 2024 (arXiv 2402.14992).
        Madaan et al., Quantifying Variance in Evaluation Benchmarks, 2024 (arXiv 2406.10229).
    """
    _checks.dims(responses=(responses, "[M, N]", "number"), mask=(mask, "[M, N]", "bool"))
    _checks.positive_int(num_steps=num_steps)
    _checks.in_range("l2", l2, low=0.0)
    r = _as_float(responses)
    w = jnp.ones_like(r) if mask is None else jnp.asarray(mask, r.dtype)
    return _fit_irt2pl(r, w, jnp.asarray(learning_rate, r.dtype), jnp.asarray(l2, r.dtype), num_steps=num_steps)


@functools.partial(jax.jit, static_argnames="num_steps")
def _fit_irt2pl(r: jax.Array, w: jax.Array, learning_rate: jax.Array, l2: jax.Array, *, num_steps: int
                ) -> IRT2PLFit:
    """`fit_irt2pl` after its checks, jitted so that eager calls compile once per shape."""
    dtype = r.dtype
    count = jnp.maximum(jnp.sum(w), 1.0)

    def smoothed_logit(num, den):
        p = (num + 0.5) / (den + 1.0)
        return jnp.log(p) - jnp.log1p(-p)

    theta0 = smoothed_logit(jnp.sum(w * r, 1), jnp.sum(w, 1))
    theta0 = (theta0 - jnp.mean(theta0)) / jnp.maximum(jnp.std(theta0), 1e-3)
    b0 = -smoothed_logit(jnp.sum(w * r, 0), jnp.sum(w, 0))
    params = {"theta": theta0, "log_a": jnp.zeros(r.shape[1], dtype), "b": b0}

    def nll(p):
        z = irt2pl_logits(p["theta"], jnp.exp(p["log_a"]), p["b"])
        # Bernoulli cross-entropy in logit form: softplus(z) - r z.
        return jnp.sum(w * (jax.nn.softplus(z) - r * z)) / count

    def loss(p):
        ridge = jnp.mean(p["theta"] ** 2) + jnp.mean(p["log_a"] ** 2) + jnp.mean(p["b"] ** 2)
        return nll(p) + 0.5 * l2 * ridge

    opt = optax.adam(learning_rate)

    def step(carry, _):
        p, state = carry
        g = jax.grad(loss)(p)
        updates, state = opt.update(g, state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=num_steps)
    theta, a, b = params["theta"], jnp.exp(params["log_a"]), params["b"]
    center = jnp.mean(theta)
    scale = jnp.maximum(jnp.std(theta), jnp.finfo(dtype).tiny)
    theta, a, b = (theta - center) / scale, a * scale, (b - center) / scale
    return IRT2PLFit(theta, a, b, nll({"theta": theta, "log_a": jnp.log(a), "b": b}))
