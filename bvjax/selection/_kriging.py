"""Kriging (Gaussian-process) active learning: posterior, utilities and test functions (Tian et al. 2021).

A pool-based loop: a GP surrogate is fitted to the experiments done so far, a utility
scores every candidate in the pool, and the candidate with the highest utility is the
next experiment. Everything is a pure function with static shapes: the training set is
a fixed-size buffer with a boolean ``train_mask`` so that the loop runs under
`jax.lax.scan`. Utilities are stated for *maximisation*; negate a function to minimise
it (Hartmann-3 is minimised in the literature).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax._numerics import compute_dtype

KERNELS = ("rbf", "matern12", "matern32", "matern52")
MEANS = ("zero", "ordinary")
UTILITIES = ("max_variance", "expected_improvement", "knowledge_gradient", "ucb", "exploit", "random")
KG_METHODS = ("exact", "gauss_hermite")

_REF_TIAN = ("Tian et al, Efficient estimation of material property curves and surfaces via active "
             "learning, 2021 (arXiv 2010.06896)")


class GPPosterior(NamedTuple):
    """GP posterior at the query points.

    Attributes:
        mean: [M] float, posterior mean of the latent function.
        variance: [M] float, posterior variance of the latent function (no observation
            noise added), clipped at 0.
        covariance: [M, M] float posterior covariance when ``full_cov=True``, else None.
    """

    mean: jax.Array
    variance: jax.Array
    covariance: jax.Array | None


class ActiveLearningTrace(NamedTuple):
    """What `kriging_active_learning` did.

    Attributes:
        chosen: [T] int, the pool index chosen at each step.
        means: [T + 1, M] float, the posterior mean over the pool before the first
            choice (row 0) and after each of the T new experiments.
        variances: [T + 1, M] float, the matching posterior variances.
        train_mask: [M] bool, the pool points observed at the end (initial design plus
            chosen points).
    """

    chosen: jax.Array
    means: jax.Array
    variances: jax.Array
    train_mask: jax.Array


def _sq_dist(x1, x2, lengthscale):
    a = x1 / lengthscale
    b = x2 / lengthscale
    d = a[:, None, :] - b[None, :, :]
    return jnp.sum(d * d, axis=-1)


def _safe_sqrt(r2):
    positive = r2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, r2, 1.0)), 0.0)


def _kernel(x1, x2, kernel, lengthscale, signal_variance):
    r2 = _sq_dist(x1, x2, lengthscale)
    if kernel == "rbf":
        k = jnp.exp(-0.5 * r2)
    else:
        r = _safe_sqrt(r2)
        if kernel == "matern12":
            k = jnp.exp(-r)
        elif kernel == "matern32":
            s = np.sqrt(3.0) * r
            k = (1.0 + s) * jnp.exp(-s)
        else:
            s = np.sqrt(5.0) * r
            k = (1.0 + s + s * s / 3.0) * jnp.exp(-s)
    return signal_variance * k


def _check_hypers(kernel, lengthscale, signal_variance, noise, d):
    _checks.one_of("kernel", kernel, KERNELS)
    _checks.dims(lengthscale=(lengthscale, ("[]", f"[{d}]")))
    _checks.in_range("signal_variance", signal_variance, low=0.0, low_inclusive=False)
    _checks.in_range("noise", noise, low=0.0)
    if not isinstance(lengthscale, jax.core.Tracer):
        try:
            bad = np.any(np.asarray(lengthscale) <= 0)
        except (TypeError, jax.errors.ConcretizationTypeError):
            bad = False
        if bad:
            raise ValueError(f"lengthscale: expected values > 0, got {lengthscale!r}")


def gp_kernel(x1: jax.Array, x2: jax.Array, *, kernel: str = "rbf", lengthscale: float | jax.Array = 1.0,
              signal_variance: float = 1.0) -> jax.Array:
    r"""Stationary covariance matrix between two point sets (squared exponential or Matérn).

    With the scaled distance :math:`r = \|(x - x') / \ell\|` (``lengthscale`` a scalar or
    one value per dimension, ARD):

    .. math::  k_{\mathrm{rbf}} = s^2 e^{-r^2/2},\quad k_{1/2} = s^2 e^{-r},\quad
               k_{3/2} = s^2 (1 + \sqrt3 r) e^{-\sqrt3 r},\quad
               k_{5/2} = s^2 (1 + \sqrt5 r + 5r^2/3) e^{-\sqrt5 r}.

    These equal scikit-learn's ``ConstantKernel(s**2) * RBF(l)`` and ``Matern(l, nu)``.

    Args:
        x1: [N, D] float.
        x2: [M, D] float.
        kernel: ``"rbf"`` (squared exponential, the "Gaussian" kriging kernel),
            ``"matern12"``, ``"matern32"`` or ``"matern52"``.
        lengthscale: scalar or [D] float > 0.
        signal_variance: :math:`s^2 > 0`.

    Returns:
        [N, M] float covariance matrix. Differentiable in ``x1``, ``x2`` and the
        hyperparameters, also at zero distance (a guarded square root).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import gp_kernel
        >>> [round(float(v), 4) for v in gp_kernel(jnp.zeros((1, 1)), jnp.array([[0.0], [1.0]]))[0]]
        [1.0, 0.6065]

    References:
        Rasmussen and Williams, Gaussian Processes for Machine Learning, 2006, eqs. (4.9), (4.17).
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896) (the kriging surrogate).
    """
    shape = _checks.dims(x1=(x1, "[N, D]", "float"), x2=(x2, "[M, D]", "float"))
    _check_hypers(kernel, lengthscale, signal_variance, 0.0, shape["D"])
    dt = compute_dtype(x1, x2)  # the dtype policy: half precision computed in float32
    x1 = x1.astype(dt)
    x2 = x2.astype(dt)
    return _kernel(x1, x2, kernel, jnp.asarray(lengthscale, x1.dtype), signal_variance)


def _prepared(x_train, y_train, train_mask, kernel, lengthscale, signal_variance, noise):
    """Masked Gram matrix's Cholesky factor and the masked targets."""
    n = x_train.shape[0]
    dtype = x_train.dtype
    mask = jnp.ones((n,), bool) if train_mask is None else train_mask
    ls = jnp.asarray(lengthscale, dtype)
    k = _kernel(x_train, x_train, kernel, ls, signal_variance)
    both = mask[:, None] & mask[None, :]
    eye = jnp.eye(n, dtype=dtype)
    # Masked points become independent unit-variance dummies with target 0: they change
    # neither the solve for the real points nor the log-determinant.
    a = jnp.where(both, k, 0.0) + eye * jnp.where(mask, noise, 1.0)
    chol = jnp.linalg.cholesky(a)
    y = jnp.where(mask, y_train, 0.0)
    return chol, y, mask, ls


def _solve(chol, b):
    return jax.scipy.linalg.cho_solve((chol, True), b)


def gp_posterior(x_train: jax.Array, y_train: jax.Array, x_query: jax.Array, *, kernel: str = "rbf",
                 lengthscale: float | jax.Array = 1.0, signal_variance: float = 1.0, noise: float = 1e-6,
                 mean: str = "zero", train_mask: jax.Array | None = None, full_cov: bool = False) -> GPPosterior:
    r"""Kriging / GP-regression posterior at query points, by a Cholesky solve.

    With :math:`A = K + \tau^2 I` over the observed points, :math:`k_x` the covariances
    between the observed points and :math:`x`:

    - ``mean="zero"`` (simple kriging, scikit-learn's ``GaussianProcessRegressor`` with
      ``normalize_y=False``): :math:`\mu(x) = k_x^\top A^{-1} y`,
      :math:`\Sigma(x, x') = k(x, x') - k_x^\top A^{-1} k_{x'}`.
    - ``mean="ordinary"`` (ordinary kriging: an unknown constant mean estimated by GLS,
      :math:`\hat m = 1^\top A^{-1} y / 1^\top A^{-1} 1`):
      :math:`\mu(x) = \hat m + k_x^\top A^{-1}(y - \hat m 1)` and the covariance gains
      :math:`(1 - 1^\top A^{-1} k_x)(1 - 1^\top A^{-1} k_{x'}) / 1^\top A^{-1} 1`, the
      uncertainty of :math:`\hat m`.

    Args:
        x_train: [N, D] float, the experiments' inputs (a fixed-size buffer: see
            ``train_mask``).
        y_train: [N] float, their observed (possibly noisy) responses.
        x_query: [M, D] float, where to predict.
        kernel: see `gp_kernel`.
        lengthscale: scalar or [D] float > 0.
        signal_variance: :math:`s^2 > 0`.
        noise: observation-noise variance :math:`\tau^2 \ge 0` (scikit-learn's ``alpha``);
            keep a small jitter (the default 1e-6) for noiseless data.
        mean: ``"zero"`` or ``"ordinary"``.
        train_mask: optional [N] bool, which rows of the buffer are real observations.
            With no observed point the posterior is the prior (mean 0, variance
            :math:`s^2`; with ``"ordinary"`` the mean is 0 too), never NaN.
        full_cov: static; also return the [M, M] posterior covariance.

    Returns:
        `GPPosterior` (mean [M], variance [M] of the latent function, clipped at 0;
        covariance [M, M] or None), in the promoted dtype of the inputs; float16/bfloat16
        inputs are computed in float32 (there is no half-precision Cholesky) and returned
        in x_query's dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import gp_posterior
        >>> x = jnp.array([[0.0], [1.0]])
        >>> post = gp_posterior(x, jnp.array([1.0, -1.0]), x, noise=1e-4)
        >>> post.mean.round(3)
        Array([ 1., -1.], dtype=float32)

    References:
        Rasmussen and Williams, Gaussian Processes for Machine Learning, 2006, Alg. 2.1.
        Cressie, Statistics for Spatial Data, 1993, §3.2 (ordinary kriging).
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896). The paper fits an ordinary-kriging
        surrogate; scikit-learn's zero mean is the default here because it is the oracle.
    """
    shape = _checks.dims(x_train=(x_train, "[N, D]", "float"), y_train=(y_train, "[N]", "float"),
                         x_query=(x_query, "[M, D]", "float"), train_mask=(train_mask, "[N]", "bool"))
    _check_hypers(kernel, lengthscale, signal_variance, noise, shape["D"])
    _checks.one_of("mean", mean, MEANS)
    out_dtype = x_query.dtype
    # float16/bfloat16 are computed in float32 (no half-precision Cholesky), returned in their dtype.
    x_train, y_train, x_query = (a.astype(jnp.promote_types(a.dtype, jnp.float32)) for a in (x_train, y_train, x_query))
    post = _posterior(x_train, y_train, x_query, train_mask, lengthscale, signal_variance, noise,
                      kernel=kernel, mean=mean, full_cov=full_cov)
    return GPPosterior(*(None if a is None else a.astype(out_dtype) for a in post))


@functools.partial(jax.jit, static_argnames=("kernel", "mean", "full_cov"))
def _posterior(x_train, y_train, x_query, train_mask, lengthscale, signal_variance, noise, *, kernel, mean,
               full_cov):
    chol, y, mask, ls = _prepared(x_train, y_train, train_mask, kernel, lengthscale, signal_variance, noise)
    kq = jnp.where(mask[:, None], _kernel(x_train, x_query, kernel, ls, signal_variance), 0.0)  # [N, M]
    v = jax.scipy.linalg.solve_triangular(chol, kq, lower=True)  # L^-1 k, [N, M]
    prior_var = jnp.full((x_query.shape[0],), signal_variance, x_query.dtype)
    if mean == "zero":
        mu = kq.T @ _solve(chol, y)
        extra = None
    else:
        ones = mask.astype(x_train.dtype)
        a_inv_1 = _solve(chol, ones)
        denom = jnp.sum(ones * a_inv_1)
        safe = jnp.where(denom > 0, denom, 1.0)
        m_hat = jnp.where(denom > 0, jnp.sum(a_inv_1 * y) / safe, 0.0)
        mu = m_hat + kq.T @ _solve(chol, y - m_hat * ones)
        u = jnp.where(denom > 0, 1.0 - kq.T @ a_inv_1, 0.0)  # [M]
        extra = (u, safe)
    var = prior_var - jnp.sum(v * v, axis=0)
    if extra is not None:
        var = var + extra[0] ** 2 / extra[1]
    cov = None
    if full_cov:
        cov = _kernel(x_query, x_query, kernel, ls, signal_variance) - v.T @ v
        if extra is not None:
            cov = cov + jnp.outer(extra[0], extra[0]) / extra[1]
    return GPPosterior(mu, jnp.maximum(var, 0.0), cov)


def gp_log_marginal_likelihood(x_train: jax.Array, y_train: jax.Array, *, kernel: str = "rbf",
                               lengthscale: float | jax.Array = 1.0, signal_variance: float = 1.0,
                               noise: float = 1e-6, train_mask: jax.Array | None = None) -> jax.Array:
    r"""Log marginal likelihood of zero-mean GP regression (maximise it to fit the hyperparameters).

    .. math::  \log p(y) = -\tfrac12 y^\top A^{-1} y - \tfrac12 \log|A| - \tfrac n2 \log 2\pi,
               \qquad A = K + \tau^2 I

    Args:
        x_train: [N, D] float.
        y_train: [N] float.
        kernel: see `gp_kernel`.
        lengthscale: scalar or [D] float > 0 (may be traced: differentiate through it).
        signal_variance: :math:`s^2 > 0`.
        noise: :math:`\tau^2 \ge 0`.
        train_mask: optional [N] bool; masked rows do not count (``n`` is the number of
            observed rows; with none observed the result is 0).

    Returns:
        [] float. Equals scikit-learn's ``GaussianProcessRegressor.log_marginal_likelihood``
        for ``ConstantKernel(s2) * RBF(l)`` (or ``Matern``) with ``alpha=noise``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import gp_log_marginal_likelihood
        >>> round(float(gp_log_marginal_likelihood(jnp.zeros((1, 1)), jnp.zeros(1), noise=0.0)), 4)
        -0.9189

    References:
        Rasmussen and Williams, Gaussian Processes for Machine Learning, 2006, eq. (2.30).
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896) (hyperparameters by maximum likelihood).
    """
    shape = _checks.dims(x_train=(x_train, "[N, D]", "float"), y_train=(y_train, "[N]", "float"),
                         train_mask=(train_mask, "[N]", "bool"))
    _check_hypers(kernel, lengthscale, signal_variance, noise, shape["D"])
    dt = compute_dtype(x_train, y_train)  # the dtype policy: half precision computed in float32
    x_train, y_train = x_train.astype(dt), y_train.astype(dt)
    return _lml(x_train, y_train, train_mask, lengthscale, signal_variance, noise, kernel=kernel)


@functools.partial(jax.jit, static_argnames=("kernel",))
def _lml(x_train, y_train, train_mask, lengthscale, signal_variance, noise, *, kernel):
    chol, y, mask, _ = _prepared(x_train, y_train, train_mask, kernel, lengthscale, signal_variance, noise)
    alpha = _solve(chol, y)
    n = jnp.sum(mask)
    return (-0.5 * jnp.dot(y, alpha) - jnp.sum(jnp.log(jnp.diagonal(chol)))
            - 0.5 * n * np.log(2.0 * np.pi))


def max_variance_utility(variance: jax.Array, *, available: jax.Array | None = None) -> jax.Array:
    r"""Maximum-variance (pure exploration) utility: the posterior variance itself.

    .. math::  U_{\mathrm{MV}}(x) = \sigma_n^2(x)

    Args:
        variance: [M] float, posterior variance over the candidate pool.
        available: optional [M] bool; unavailable candidates get ``-inf``.

    Returns:
        [M] float utility; the next experiment is its argmax.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import max_variance_utility
        >>> max_variance_utility(jnp.array([0.1, 0.5]), available=jnp.array([True, False]))
        Array([ 0.1, -inf], dtype=float32)

    References:
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896) ("directed exploration via maximum variance").
    """
    _checks.dims(variance=(variance, "[M]", "float"), available=(available, "[M]", "bool"))
    dt = compute_dtype(variance)  # the dtype policy: half precision computed in float32
    variance = variance.astype(dt)
    return _restrict(variance, available)


def _restrict(u, available):
    return u if available is None else jnp.where(available, u, -jnp.inf)


def expected_improvement(mean: jax.Array, std: jax.Array, best: float | jax.Array, *, xi: float = 0.0,
                         available: jax.Array | None = None) -> jax.Array:
    r"""Expected improvement (EGO) over the best value so far, for maximisation.

    .. math::  z = (\mu - f^* - \xi)/\sigma,\qquad
               \mathrm{EI} = (\mu - f^* - \xi)\,\Phi(z) + \sigma\,\varphi(z)

    Args:
        mean: [M] float, posterior mean.
        std: [M] float >= 0, posterior standard deviation.
        best: [] float, :math:`f^*` (the best observed value, or best posterior mean at
            the observed points for noisy data).
        xi: exploration margin :math:`\xi \ge 0`.
        available: optional [M] bool; unavailable candidates get ``-inf``.

    Returns:
        [M] float >= 0. Where ``std == 0`` it is the limit :math:`\max(\mu - f^* - \xi, 0)`
        (no NaN); a NaN ``std`` gives NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import expected_improvement
        >>> expected_improvement(jnp.array([1.0]), jnp.array([0.5]), 1.2).round(6)
        Array([0.115219], dtype=float32)

    References:
        Jones, Schonlau and Welch, Efficient Global Optimization of Expensive Black-Box
        Functions, 1998. Tian et al, Efficient estimation of material property curves and
        surfaces via active learning, 2021 (arXiv 2010.06896) (a trade-off utility).
    """
    _checks.dims(mean=(mean, "[M]", "float"), std=(std, "[M]", "float"), best=(best, "[]"),
                 available=(available, "[M]", "bool"))
    _checks.in_range("xi", xi, low=0.0)
    dt = compute_dtype(mean, std, best)  # the dtype policy: half precision computed in float32
    mean, std, best = mean.astype(dt), std.astype(dt), jnp.asarray(best).astype(dt)
    gain = mean - best - xi
    positive = std > 0
    s = jnp.where(positive, std, 1.0)
    z = gain / s
    ei = gain * jax.scipy.stats.norm.cdf(z) + s * jax.scipy.stats.norm.pdf(z)
    ei = jnp.where(positive, jnp.maximum(ei, 0.0), jnp.maximum(gain, 0.0))
    ei = jnp.where(jnp.isnan(std), jnp.nan, ei)  # a NaN std is not a zero one (no limit to take)
    return _restrict(ei, available)


def upper_confidence_bound(mean: jax.Array, std: jax.Array, *, kappa: float = 2.0,
                           available: jax.Array | None = None) -> jax.Array:
    r"""Upper confidence bound utility :math:`\mu + \kappa\sigma` (for maximisation).

    Args:
        mean: [M] float, posterior mean.
        std: [M] float >= 0, posterior standard deviation.
        kappa: :math:`\kappa \ge 0`; 0 is pure exploitation.
        available: optional [M] bool; unavailable candidates get ``-inf``.

    Returns:
        [M] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import upper_confidence_bound
        >>> upper_confidence_bound(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), kappa=2.0)
        Array([1., 2.], dtype=float32)

    References:
        Srinivas et al, Gaussian Process Optimization in the Bandit Setting, 2010 (arXiv
        0912.3995). Tian et al (arXiv 2010.06896) compare trade-off utilities; whether UCB
        is among them is unverified.
    """
    _checks.dims(mean=(mean, "[M]", "float"), std=(std, "[M]", "float"), available=(available, "[M]", "bool"))
    _checks.in_range("kappa", kappa, low=0.0)
    dt = compute_dtype(mean, std)  # the dtype policy: half precision computed in float32
    mean = mean.astype(dt)
    std = std.astype(dt)
    return _restrict(mean + kappa * std, available)


def _expected_max_exact(a, b):
    r"""E[max_i a_i + b_i Z], Z ~ N(0, 1), exactly: each line's argmax interval, O(M^2)."""
    m = a.shape[0]
    idx = jnp.arange(m)
    db = b[:, None] - b[None, :]          # b_i - b_j
    da = a[None, :] - a[:, None]          # a_j - a_i
    safe = jnp.where(db != 0, db, 1.0)
    c = da / safe                         # line i >= line j for z >= c (b_i > b_j) or z <= c (b_i < b_j)
    lower = jnp.max(jnp.where(db > 0, c, -jnp.inf), axis=1)
    upper = jnp.min(jnp.where(db < 0, c, jnp.inf), axis=1)
    # Equal slopes: the line with the larger intercept (then the lower index) dominates.
    beaten = (db == 0) & ((da > 0) | ((da == 0) & (idx[None, :] < idx[:, None])))
    alive = (lower < upper) & ~jnp.any(beaten, axis=1)
    lo = jnp.where(alive, lower, 0.0)
    hi = jnp.where(alive, upper, 0.0)
    cdf, pdf = jax.scipy.stats.norm.cdf, jax.scipy.stats.norm.pdf
    part = a * (cdf(hi) - cdf(lo)) + b * (pdf(lo) - pdf(hi))
    return jnp.sum(jnp.where(alive, part, 0.0))


def knowledge_gradient(mean: jax.Array, covariance: jax.Array, *, noise: float,
                       method: str = "exact", num_nodes: int = 64,
                       available: jax.Array | None = None) -> jax.Array:
    r"""Discrete knowledge gradient with correlated beliefs, for every candidate in the pool.

    .. math::  \mathrm{KG}(x) = \mathbb E\big[\max_{x'} \mu_{n+1}(x') \mid x_{n+1} = x\big]
               - \max_{x'} \mu_n(x'),\qquad
               \mu_{n+1}(x') = \mu_n(x') + \tilde\sigma(x', x) Z,\quad
               \tilde\sigma(x', x) = \frac{\Sigma_n(x', x)}{\sqrt{\Sigma_n(x, x) + \tau^2}}

    ``method="exact"`` integrates the maximum of the M lines :math:`a_i + b_i Z` in
    closed form: line i is the maximum on the interval between its largest crossing
    with a flatter line and its smallest crossing with a steeper one, and contributes
    :math:`a_i(\Phi(u_i) - \Phi(l_i)) + b_i(\varphi(l_i) - \varphi(u_i))` (the same value
    as Frazier et al.'s sorted-envelope algorithm, in O(M²) per candidate with no
    data-dependent shapes). ``"gauss_hermite"`` uses ``num_nodes`` probabilists'
    Gauss–Hermite nodes for Z instead.

    Args:
        mean: [M] float, posterior mean :math:`\mu_n` over the pool.
        covariance: [M, M] float, posterior covariance :math:`\Sigma_n` over the pool
            (`gp_posterior` with ``full_cov=True``).
        noise: observation-noise variance :math:`\tau^2 \ge 0` of the next experiment.
        method: ``"exact"`` or ``"gauss_hermite"``.
        num_nodes: static number of Gauss–Hermite nodes (``method="gauss_hermite"``).
        available: optional [M] bool; unavailable candidates get ``-inf`` (they still
            count in the max over x').

    Returns:
        [M] float >= 0 (up to rounding). A candidate with zero predictive variance and
        zero noise gets 0, not NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import knowledge_gradient
        >>> knowledge_gradient(jnp.zeros(2), jnp.eye(2), noise=0.0).round(4)
        Array([0.3989, 0.3989], dtype=float32)

    References:
        Frazier, Powell and Dayanik, The Knowledge-Gradient Policy for Correlated Normal
        Beliefs, 2009. Tian et al, Efficient estimation of material property curves and
        surfaces via active learning, 2021 (arXiv 2010.06896) (a trade-off utility; which
        KG variant the paper used is unverified: this is the discrete
        correlated-beliefs KG over the candidate pool).
    """
    _checks.dims(mean=(mean, "[M]", "float"), covariance=(covariance, "[M, M]", "float"),
                 available=(available, "[M]", "bool"))
    _checks.one_of("method", method, KG_METHODS)
    _checks.in_range("noise", noise, low=0.0)
    _checks.positive_int(num_nodes=num_nodes)
    sd = jnp.sqrt(jnp.maximum(jnp.diagonal(covariance), 0.0) + noise)
    ok = sd > 0
    b_all = jnp.where(ok[None, :], covariance / jnp.where(ok, sd, 1.0)[None, :], 0.0)  # [x', x]
    best = jnp.max(mean)
    if method == "exact":
        expected = jax.lax.map(lambda b: _expected_max_exact(mean, b), b_all.T)
    else:
        z, w = np.polynomial.hermite_e.hermegauss(num_nodes)
        z = jnp.asarray(z, mean.dtype)
        w = jnp.asarray(w / np.sqrt(2.0 * np.pi), mean.dtype)

        def one(b):
            return jnp.sum(w * jnp.max(mean[:, None] + b[:, None] * z[None, :], axis=0))

        expected = jax.lax.map(one, b_all.T)
    return _restrict(jnp.maximum(expected - best, 0.0), available)


def hartmann3(x: jax.Array) -> jax.Array:
    r"""The Hartmann-3 test function on :math:`[0, 1]^3` (to be minimised).

    .. math::  f(x) = -\sum_{i=1}^4 \alpha_i \exp\Big(-\sum_{j=1}^3 A_{ij}(x_j - P_{ij})^2\Big)

    with :math:`\alpha = (1, 1.2, 3, 3.2)`, :math:`A` and :math:`P` the standard tables.
    Global minimum :math:`f \approx -3.86278` at (0.114614, 0.555649, 0.852547).

    Args:
        x: [..., 3] float.

    Returns:
        [...] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import hartmann3
        >>> hartmann3(jnp.array([0.5, 0.5, 0.5])).round(5)
        Array(-0.62802, dtype=float32)

    References:
        Hartman, Some Experiments in Global Optimization, 1973; Dixon and Szegö, 1978.
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896) (the surface with and without noise).
    """
    _checks.dims(x=(x, "[..., 3]", "float"))
    dt = compute_dtype(x)  # the dtype policy: half precision computed in float32
    x = x.astype(dt)
    alpha = jnp.array([1.0, 1.2, 3.0, 3.2], x.dtype)
    a = jnp.array([[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]], x.dtype)
    p = 1e-4 * jnp.array([[3689.0, 1170.0, 2673.0], [4699.0, 4387.0, 7470.0],
                          [1091.0, 8732.0, 5547.0], [381.0, 5743.0, 8828.0]], x.dtype)
    inner = jnp.sum(a * (x[..., None, :] - p) ** 2, axis=-1)  # [..., 4]
    return -jnp.sum(alpha * jnp.exp(-inner), axis=-1)


def forrester_curve(x: jax.Array) -> jax.Array:
    r"""The Forrester 1-D test curve on [0, 1]: :math:`f(x) = (6x - 2)^2 \sin(12x - 4)`.

    A stand-in for the paper's measured 1-D curves (the 304L fatigue curve and the Fe–C
    liquidus are data sets we do not ship): smooth, with a flat region, a local and a
    global minimum, range about [−6.0, 15.8].

    Args:
        x: [..., 1] float (one input dimension, like a pool ``[M, 1]``).

    Returns:
        [...] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import forrester_curve
        >>> [round(float(v), 4) for v in forrester_curve(jnp.array([[0.0], [1.0]]))]
        [3.0272, 15.8297]

    References:
        Forrester, Sóbester and Keane, Engineering Design via Surrogate Modelling, 2008.
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896): our choice of 1-D curve (the paper's are
        measured materials curves).
    """
    _checks.dims(x=(x, "[..., 1]", "float"))
    dt = compute_dtype(x)  # the dtype policy: half precision computed in float32
    x = x.astype(dt)
    x = x[..., 0]
    return (6.0 * x - 2.0) ** 2 * jnp.sin(12.0 * x - 4.0)


def kriging_active_learning(key: jax.Array, x_pool: jax.Array, y_observed: jax.Array,
                            initial_indices: jax.Array, *, num_steps: int, utility: str = "max_variance",
                            kernel: str = "rbf", lengthscale: float | jax.Array = 1.0,
                            signal_variance: float = 1.0, noise: float = 1e-6, mean: str = "ordinary",
                            xi: float = 0.0, kappa: float = 2.0, kg_method: str = "exact",
                            lengthscale_grid: jax.Array | None = None) -> ActiveLearningTrace:
    r"""Pool-based Kriging active learning: fit, score every candidate, run the best experiment, repeat.

    At each of ``num_steps`` steps the GP posterior over the pool is computed from the
    observed points, the utility picks the unobserved candidate with the highest score,
    and its (pre-drawn, possibly noisy) response ``y_observed`` is revealed. Utilities
    (all for maximisation): ``"max_variance"``, ``"expected_improvement"`` (best =
    the largest posterior mean at an observed point, robust to noise),
    ``"knowledge_gradient"``, ``"ucb"``, ``"exploit"`` (argmax mean) and ``"random"``.
    Ties are broken at random. The observed points live in a buffer of
    ``N0 + num_steps`` rows, so each step costs one small Cholesky factorisation plus
    the utility over the pool (KG: an [M, M] covariance and O(M³) for ``"exact"``).

    Args:
        key: PRNG key (the random utility and tie-breaking).
        x_pool: [M, D] float, the candidate experiments (also the test grid for errors).
        y_observed: [M] float, the response each candidate would give (truth plus noise).
        initial_indices: [N0] int, the initial design (pool indices, distinct).
        num_steps: static number of new experiments T <= M - N0.
        utility: one of the names above.
        kernel: see `gp_kernel`.
        lengthscale: scalar or [D] float > 0, used when ``lengthscale_grid`` is None.
        signal_variance: :math:`s^2`.
        noise: :math:`\tau^2` (also the noise KG assumes for the next experiment).
        mean: ``"ordinary"`` (the paper's kriging) or ``"zero"``.
        xi: EI margin.
        kappa: UCB weight.
        kg_method: ``"exact"`` or ``"gauss_hermite"``.
        lengthscale_grid: optional [L] float; at every step the (isotropic) lengthscale
            with the highest `gp_log_marginal_likelihood` on the observed points is used
            (a grid search standing in for the paper's maximum-likelihood fit).

    Returns:
        `ActiveLearningTrace`. Compute the error curve from ``means`` against the truth.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.selection import forrester_curve, kriging_active_learning
        >>> x = jnp.linspace(0, 1, 21)[:, None]
        >>> tr = kriging_active_learning(jax.random.key(0), x, forrester_curve(x), jnp.array([0, 20]),
        ...                              num_steps=3, lengthscale=0.2, signal_variance=30.0)
        >>> tr.means.shape, int(tr.train_mask.sum())
        ((4, 21), 5)

    References:
        Tian et al, Efficient estimation of material property curves and surfaces via
        active learning, 2021 (arXiv 2010.06896). The loop, pool and error bookkeeping are
        our reconstruction (the paper's §II was not read).
    """
    shape = _checks.dims(x_pool=(x_pool, "[M, D]", "float"), y_observed=(y_observed, "[M]", "float"),
                         initial_indices=(initial_indices, "[N0]", "int"),
                         lengthscale_grid=(lengthscale_grid, "[L]", "float"))
    _checks.positive_int(num_steps=num_steps)
    m, n0 = shape["M"], shape["N0"]
    if num_steps > m - n0:
        raise ValueError(f"num_steps: expected a static int <= M - N0 = {m - n0}, got {num_steps!r}")
    _checks.one_of("utility", utility, UTILITIES)
    _checks.one_of("kg_method", kg_method, KG_METHODS)
    _check_hypers(kernel, lengthscale, signal_variance, noise, shape["D"])
    _checks.one_of("mean", mean, MEANS)
    return _active_learning(key, x_pool, y_observed, initial_indices, lengthscale, signal_variance, noise, xi,
                            kappa, lengthscale_grid, num_steps=num_steps, utility=utility, kernel=kernel,
                            mean=mean, kg_method=kg_method)


@functools.partial(jax.jit, static_argnames=("num_steps", "utility", "kernel", "mean", "kg_method"))
def _active_learning(key, x_pool, y_observed, initial_indices, lengthscale, signal_variance, noise, xi, kappa,
                     lengthscale_grid, *, num_steps, utility, kernel, mean, kg_method):
    m, n0 = x_pool.shape[0], initial_indices.shape[0]
    full_cov = utility == "knowledge_gradient"
    size = n0 + num_steps
    start = jnp.zeros((size,), jnp.int32).at[:n0].set(initial_indices.astype(jnp.int32))

    def posterior(buffer, count):
        x_tr, y_tr = x_pool[buffer], y_observed[buffer]
        filled = jnp.arange(size) < count
        if lengthscale_grid is None:
            ls = jnp.asarray(lengthscale, x_pool.dtype)
        else:
            lml = jax.vmap(lambda l: gp_log_marginal_likelihood(
                x_tr, y_tr, kernel=kernel, lengthscale=l, signal_variance=signal_variance,
                noise=noise, train_mask=filled))(lengthscale_grid)
            ls = lengthscale_grid[jnp.argmax(lml)]
        post = gp_posterior(x_tr, y_tr, x_pool, kernel=kernel, lengthscale=ls,
                            signal_variance=signal_variance, noise=noise, mean=mean,
                            train_mask=filled, full_cov=full_cov)
        observed = jnp.zeros((m,), bool).at[buffer].max(filled)
        return post, observed

    def score(post, observed, k):
        sd = jnp.sqrt(post.variance)
        if utility == "max_variance":
            u = post.variance
        elif utility == "expected_improvement":
            best = jnp.max(jnp.where(observed, post.mean, -jnp.inf))
            u = expected_improvement(post.mean, sd, best, xi=xi)
        elif utility == "knowledge_gradient":
            u = knowledge_gradient(post.mean, post.covariance, noise=noise, method=kg_method)
        elif utility == "ucb":
            u = upper_confidence_bound(post.mean, sd, kappa=kappa)
        elif utility == "exploit":
            u = post.mean
        else:
            u = jnp.zeros_like(post.mean)
        # Random tie-break among the best available candidates.
        u = jnp.where(observed, -jnp.inf, u)
        top = u >= jnp.max(u)
        return jnp.argmax(jnp.where(top, jax.random.uniform(k, u.shape), -1.0)).astype(jnp.int32)

    def step(buffer, inputs):
        t, k = inputs
        post, observed = posterior(buffer, n0 + t)
        pick = score(post, observed, k)
        return buffer.at[n0 + t].set(pick), (pick, post.mean, post.variance)

    steps = (jnp.arange(num_steps), jax.random.split(key, num_steps))
    final, (chosen, means, variances) = jax.lax.scan(step, start, steps)
    last, observed = posterior(final, size)
    means = jnp.concatenate([means, last.mean[None]], axis=0)
    variances = jnp.concatenate([variances, last.variance[None]], axis=0)
    return ActiveLearningTrace(chosen, means, variances, observed)
