"""Variable screening by VIF and the multinomial lasso with k-fold CV (the Medicare Advantage study).

Liao et al. (2025) screen plan benefits for multicollinearity by the variance inflation
factor, then fit a multinomial logistic regression with an L1 penalty whose strength is
chosen by 5-fold cross-validation. Everything here is pure and jit-able: the lasso is
solved by FISTA (accelerated proximal gradient with adaptive restart) for a fixed number
of iterations, and CV runs every (fold, λ) fit at once through `jax.vmap`, on the
boolean fold masks of `bvjax.stats.kfold_masks` / `stratified_kfold_masks`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks

CV_CRITERIA = ("deviance", "misclassification")

_REF_MEDICARE = ("Liao et al, What Benefits Drive Membership in Medicare Advantage Plans?, 2025 "
                 "(arXiv 2511.08603)")


@jax.jit
def _vif_from_gram(g, keep, rel_tol):
    """VIF of every column of the design whose Gram matrix is g, among the `keep` columns."""
    p = g.shape[0]

    def one(j):
        others = keep & (jnp.arange(p) != j)
        both = others[:, None] & others[None, :]
        # The Gram matrix of the other kept columns, with unit dummies for the rest.
        g_oo = jnp.where(both, g, 0.0) + jnp.diag(jnp.where(others, 0.0, 1.0).astype(g.dtype))
        b = jnp.where(others, g[:, j], 0.0)
        coef = jnp.where(others, jnp.linalg.pinv(g_oo, hermitian=True) @ b, 0.0)
        tss = g[j, j]
        rss = tss - jnp.dot(b, coef)
        singular = (rss <= rel_tol * tss) | (tss <= 0)
        return jnp.where(singular, jnp.inf, tss / jnp.where(singular, 1.0, rss))

    return jax.vmap(one)(jnp.arange(p))


def _gram(x, center):
    # VIF is invariant to column scaling: scale every column to unit norm first, so that the
    # pseudo-inverse's relative cutoff sees a well-scaled Gram matrix (float32 designs with
    # columns on scales 1e-2 ... 1e3 would otherwise lose their small directions).
    z = x - jnp.mean(x, axis=0) if center else x
    norm = jnp.sqrt(jnp.sum(z * z, axis=0))
    z = z / jnp.where(norm > 0, norm, 1.0)
    return z.T @ z


def variance_inflation_factor(x: jax.Array, *, center: bool = True) -> jax.Array:
    r"""Variance inflation factor of every column of a design matrix.

    .. math::  \mathrm{VIF}_j = \frac{1}{1 - R_j^2}

    with :math:`R_j^2` from regressing column j on all the other columns, **with an
    intercept** when ``center=True`` (then :math:`\mathrm{VIF}_j` is the j-th diagonal
    entry of the inverse correlation matrix). ``center=False`` regresses through the
    origin with the uncentred :math:`R^2`, which is what statsmodels computes when the
    design has no constant column and ``standardize=False`` (usually a mistake; kept
    to reproduce that number).

    Args:
        x: [N, P] float design (no constant column needed), P >= 1.
        center: static; include an intercept in each auxiliary regression.

    Returns:
        [P] float >= 1. A column that is an exact linear combination of the others (or
        constant, with ``center=True``) gets ``inf``; with one column the VIF is 1.
        float16/bfloat16 designs are computed in float32 and returned in their dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import variance_inflation_factor
        >>> x = jnp.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0]])
        >>> [round(float(v), 4) for v in variance_inflation_factor(x)]
        [1.3889, 1.3889]

    References:
        Marquardt, Generalized Inverses, Ridge Regression, Biased Linear Estimation, 1970.
        Liao et al, What Benefits Drive Membership in Medicare Advantage Plans?, 2025
        (arXiv 2511.08603) (the VIF screen). Equals statsmodels'
        ``variance_inflation_factor`` on the design with a constant column added.
    """
    shape = _checks.dims(x=(x, "[N, P]", "float"))
    keep = jnp.ones((shape["P"],), bool)
    xc = x.astype(jnp.promote_types(x.dtype, jnp.float32))  # half precision: no LAPACK solve
    return _vif_from_gram(_gram(xc, center), keep, 100 * jnp.finfo(xc.dtype).eps).astype(x.dtype)


class VifScreen(NamedTuple):
    """Result of `vif_screen`.

    Attributes:
        keep: [P] bool, the columns that survive the screen.
        vif: [P] float; for a kept column its VIF among the kept columns, for a dropped
            column the VIF it had when it was dropped (> threshold).
    """

    keep: jax.Array
    vif: jax.Array


def vif_screen(x: jax.Array, *, threshold: float = 10.0, max_drop: int | None = None,
               center: bool = True) -> VifScreen:
    r"""Iterative VIF screen: drop the column with the largest VIF while it exceeds the threshold.

    After each drop the VIFs are recomputed among the remaining columns. The loop runs
    ``max_drop`` masked steps in a ``lax.fori_loop`` (a step after the screen has stopped
    changes nothing), so it jits to one copy of the step.

    Args:
        x: [N, P] float design.
        threshold: drop while the largest VIF is above this (5 and 10 are common).
        max_drop: static cap on the number of columns dropped (default P - 1: at least
            one column always stays).
        center: as in `variance_inflation_factor`.

    Returns:
        `VifScreen`. Ties between infinite VIFs drop the lowest column index first.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import vif_screen
        >>> x = jnp.array([[1.0, 2.0, 1.0], [2.0, 4.1, 0.0], [3.0, 5.9, 1.0], [4.0, 8.0, 0.0]])
        >>> vif_screen(x, threshold=10.0).keep.tolist()
        [False, True, True]

    References:
        Liao et al, What Benefits Drive Membership in Medicare Advantage Plans?, 2025
        (arXiv 2511.08603). The paper's cut-off is unverified; 10 is the
        default here, 5 the other common choice.
    """
    shape = _checks.dims(x=(x, "[N, P]", "float"))
    p = shape["P"]
    if max_drop is None:
        max_drop = p - 1
    elif not isinstance(max_drop, (int, np.integer)) or isinstance(max_drop, bool) or not 0 <= max_drop <= p - 1:
        raise ValueError(f"max_drop: expected a static int in [0, P - 1 = {p - 1}], got {max_drop!r}")
    _checks.in_range("threshold", threshold, low=1.0)
    g = _gram(x, center)
    tol = 100 * jnp.finfo(x.dtype).eps

    def step(_, carry):
        keep, dropped_vif = carry
        v = jnp.where(keep, _vif_from_gram(g, keep, tol), -jnp.inf)
        worst = jnp.argmax(v)
        drop = (v[worst] > threshold) & (jnp.sum(keep) > 1)
        dropped_vif = jnp.where(drop & (jnp.arange(p) == worst), v[worst], dropped_vif)
        return keep & ~(drop & (jnp.arange(p) == worst)), dropped_vif

    # One traced step in a fori_loop (not max_drop unrolled copies of the VIF solve).
    keep, dropped_vif = jax.lax.fori_loop(0, max_drop, step,
                                          (jnp.ones((p,), bool), jnp.zeros((p,), x.dtype)))
    final = _vif_from_gram(g, keep, tol)
    return VifScreen(keep, jnp.where(keep, final, dropped_vif))


class LassoFit(NamedTuple):
    """A multinomial-lasso fit.

    Attributes:
        coef: [C, P] float, coefficients on the original scale of ``x``.
        intercept: [C] float (unpenalised; summing to 0 across classes).
        objective: [] float, the penalised objective at the solution (on the scale the
            problem was solved: the standardised one when ``standardize=True``).
        step_norm: [] float, the size of the last proximal-gradient step divided by the
            step size (the norm of the gradient mapping, 0 at the optimum): a
            convergence diagnostic.
    """

    coef: jax.Array
    intercept: jax.Array
    objective: jax.Array
    step_norm: jax.Array


def _standardizer(x, w, standardize):
    n = jnp.maximum(jnp.sum(w), 1.0)
    if not standardize:
        return jnp.zeros(x.shape[1], x.dtype), jnp.ones(x.shape[1], x.dtype)
    # shifted by a row that counts (the largest weight): a constant column centres to exactly
    # 0 and keeps sd 1, where a rounded mean gave it sd ~1e-8 and standardised values of +-1
    ref = x[jnp.argmax(w)]
    d = x - ref
    offset = jnp.sum(w[:, None] * d, axis=0) / n
    var = jnp.sum(w[:, None] * (d - offset) ** 2, axis=0) / n
    sd = jnp.sqrt(var)
    return ref + offset, jnp.where(sd > 0, sd, 1.0)


def _nll(params, z, yoh, w):
    coef, b0 = params
    logits = z @ coef.T + b0
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(w * jnp.sum(yoh * logp, axis=-1)) / jnp.maximum(jnp.sum(w), 1.0)


def _soft(v, t):
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - t, 0.0)


def _fista(z, yoh, w, lam, num_iters):
    """FISTA with O'Donoghue–Candès gradient restart for the lasso-penalised multinomial NLL."""
    n_eff = jnp.maximum(jnp.sum(w), 1.0)
    zt = jnp.concatenate([jnp.ones((z.shape[0], 1), z.dtype), z], axis=1) * jnp.sqrt(w)[:, None]
    lipschitz = 0.5 * jnp.linalg.eigvalsh(zt.T @ zt)[-1] / n_eff
    step = 1.0 / jnp.maximum(lipschitz, jnp.finfo(z.dtype).tiny)
    c, p = yoh.shape[1], z.shape[1]
    zero = (jnp.zeros((c, p), z.dtype), jnp.zeros((c,), z.dtype))
    grad = jax.grad(_nll)

    def prox_step(v):
        gc, gb = grad(v, z, yoh, w)
        return (_soft(v[0] - step * gc, step * lam), v[1] - step * gb)

    def body(_, carry):
        x, y, t = carry
        x_new = prox_step(y)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        mom = (t - 1.0) / t_new
        # Restart when the momentum points uphill: <y - x_new, x_new - x> > 0.
        uphill = sum(jnp.vdot(a - b, b - o) for a, b, o in zip(y, x_new, x)) > 0
        mom = jnp.where(uphill, 0.0, mom)
        t_new = jnp.where(uphill, 1.0, t_new)
        y_new = tuple(b + mom * (b - o) for b, o in zip(x_new, x))
        return x_new, y_new, t_new

    x, _, _ = jax.lax.fori_loop(0, num_iters, body, (zero, zero, jnp.asarray(1.0, z.dtype)))
    x_next = prox_step(x)
    step_norm = jnp.sqrt(sum(jnp.sum((a - b) ** 2) for a, b in zip(x_next, x))) / step
    objective = _nll(x, z, yoh, w) + lam * jnp.sum(jnp.abs(x[0]))
    return x, objective, step_norm


def _check_fit_args(x, y, num_classes, sample_mask, num_iters):
    _checks.dims(x=(x, "[N, P]", "float"), y=(y, "[N]", "int"), sample_mask=(sample_mask, "[N]", "bool"))
    _checks.positive_int(num_classes=num_classes, num_iters=num_iters)
    if num_classes < 2:
        raise ValueError(f"num_classes: expected a static int >= 2, got {num_classes!r}")


@functools.partial(jax.jit, static_argnames=("num_classes", "num_iters", "standardize"))
def _fit(x, y, w, lam, num_classes, num_iters, standardize):
    mu, sd = _standardizer(x, w, standardize)
    z = (x - mu) / sd
    yoh = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    (coef_z, b0_z), objective, step_norm = _fista(z, yoh, w, lam, num_iters)
    coef = coef_z / sd
    intercept = b0_z - coef @ mu
    return LassoFit(coef, intercept, objective, step_norm)


def multinomial_lasso_fit(x: jax.Array, y: jax.Array, *, num_classes: int, lam: float | jax.Array,
                          num_iters: int = 2000, standardize: bool = True,
                          sample_mask: jax.Array | None = None) -> LassoFit:
    r"""L1-penalised multinomial logistic regression (glmnet's parametrisation), by FISTA.

    .. math::  \min_{\beta_0, \beta}\; -\frac1N \sum_i \log
               \frac{e^{\beta_{0 y_i} + x_i^\top \beta_{y_i}}}{\sum_c e^{\beta_{0c} + x_i^\top \beta_c}}
               \;+\; \lambda \sum_c \|\beta_c\|_1

    with unpenalised intercepts (glmnet's ``type.multinomial="ungrouped"``). Solved by
    accelerated proximal gradient (soft-thresholding) with step :math:`1/L`,
    :math:`L = \lambda_{\max}(\tilde X^\top \tilde X) / (2N)` for the design with a
    constant column, and gradient-based adaptive restart. scikit-learn's
    ``LogisticRegression(l1_ratio=1, C=1/(N λ), solver="saga")`` minimises the same
    objective (times :math:`N C`).

    Args:
        x: [N, P] float design.
        y: [N] int labels in ``[0, num_classes)``.
        num_classes: static C >= 2.
        lam: λ >= 0 (may be traced, e.g. vmapped over a path).
        num_iters: static number of FISTA iterations (check ``step_norm``).
        standardize: static; as glmnet, solve on columns scaled to mean 0 and (population)
            std 1 over the used rows and report coefficients on the original scale. A
            constant column is left unscaled (its coefficient stays 0).
        sample_mask: optional [N] bool, the rows to fit on (the CV training set); with no
            row the fit is all zeros.

    Returns:
        `LassoFit`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import multinomial_lasso_fit
        >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> fit = multinomial_lasso_fit(x, jnp.array([0, 0, 1, 1]), num_classes=2, lam=10.0)
        >>> bool((fit.coef == 0).all())
        True

    References:
        Friedman, Hastie and Tibshirani, Regularization Paths for Generalized Linear
        Models via Coordinate Descent, 2010 (glmnet). Beck and Teboulle, A Fast Iterative
        Shrinkage-Thresholding Algorithm, 2009; O'Donoghue and Candès, Adaptive Restart
        for Accelerated Gradient Schemes, 2015. Liao et al, What Benefits Drive Membership
        in Medicare Advantage Plans?, 2025 (arXiv 2511.08603). glmnet fits by coordinate
        descent on a quadratic approximation; the optimum is the same.
    """
    _check_fit_args(x, y, num_classes, sample_mask, num_iters)
    _checks.in_range("lam", lam, low=0.0)
    _checks.in_range("y", y, low=0, high=num_classes - 1)
    w = jnp.ones(x.shape[0], x.dtype) if sample_mask is None else sample_mask.astype(x.dtype)
    return _fit(x, y, w, jnp.asarray(lam, x.dtype), num_classes, num_iters, standardize)


def lasso_lambda_path(x: jax.Array, y: jax.Array, *, num_classes: int, num: int = 100, eps: float = 1e-3,
                      standardize: bool = True, sample_mask: jax.Array | None = None) -> jax.Array:
    r"""glmnet's λ path for the multinomial lasso: geometric from λ_max down to eps·λ_max.

    .. math::  \lambda_{\max} = \max_{c, j} \big|\tfrac1N Z^\top (Y - \bar Y)\big|_{jc}

    is the smallest λ at which every coefficient is 0 (the gradient at the
    intercept-only fit), with Z the (standardised) design and Y the one-hot labels.

    Args:
        x: [N, P] float design.
        y: [N] int labels.
        num_classes: static C >= 2.
        num: static path length >= 1.
        eps: ratio of the smallest to the largest λ, in (0, 1].
        standardize: as in `multinomial_lasso_fit`.
        sample_mask: optional [N] bool rows.

    Returns:
        [num] float, decreasing. All zeros if every column is constant.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import lasso_lambda_path
        >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> lasso_lambda_path(x, jnp.array([0, 0, 1, 1]), num_classes=2, num=2, eps=0.5, standardize=False).tolist()
        [0.5, 0.25]

    References:
        Friedman, Hastie and Tibshirani, Regularization Paths for Generalized Linear
        Models via Coordinate Descent, 2010, §2.5. Liao et al, 2025 (arXiv 2511.08603).
    """
    _check_fit_args(x, y, num_classes, sample_mask, 1)
    _checks.positive_int(num=num)
    _checks.in_range("eps", eps, low=0.0, high=1.0, low_inclusive=False)
    w = jnp.ones(x.shape[0], x.dtype) if sample_mask is None else sample_mask.astype(x.dtype)
    n = jnp.maximum(jnp.sum(w), 1.0)
    mu, sd = _standardizer(x, w, standardize)
    z = (x - mu) / sd
    yoh = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    ybar = jnp.sum(w[:, None] * yoh, axis=0) / n
    zc = z - jnp.sum(w[:, None] * z, axis=0) / n
    lam_max = jnp.max(jnp.abs((w[:, None] * zc).T @ (yoh - ybar))) / n
    return lam_max * jnp.asarray(np.geomspace(1.0, eps, num), x.dtype)


class LassoCV(NamedTuple):
    """Result of `multinomial_lasso_cv`.

    Attributes:
        cv_loss: [L] float, the held-out loss averaged over folds, per λ.
        cv_se: [L] float, its standard error over folds (std with ddof 1 / sqrt(K)).
        fold_loss: [K, L] float, the held-out loss of every fold and λ.
        best_index: [] int, argmin of ``cv_loss`` (glmnet's lambda.min).
        index_1se: [] int, the largest λ (smallest index on a decreasing path) whose
            loss is within one SE of the minimum (glmnet's lambda.1se).
    """

    cv_loss: jax.Array
    cv_se: jax.Array
    fold_loss: jax.Array
    best_index: jax.Array
    index_1se: jax.Array


def multinomial_lasso_cv(x: jax.Array, y: jax.Array, test_masks: jax.Array, lams: jax.Array, *,
                         num_classes: int, num_iters: int = 2000, standardize: bool = True,
                         criterion: str = "deviance") -> LassoCV:
    r"""K-fold cross-validation of the multinomial lasso over a λ grid (every fit at once, by vmap).

    Each fold fits on the complement of its test mask (standardising with the training
    rows only, as a scikit-learn Pipeline would) and scores the held-out rows by the mean
    deviance contribution :math:`-\log \hat p(y_i)` (``criterion="deviance"``, glmnet's
    default for multinomial) or the misclassification rate.

    Args:
        x: [N, P] float design.
        y: [N] int labels.
        test_masks: [K, N] bool test masks (`bvjax.stats.kfold_masks` or
            `bvjax.stats.stratified_kfold_masks`).
        lams: [L] float penalty grid (e.g. `lasso_lambda_path`).
        num_classes: static C >= 2.
        num_iters: static FISTA iterations per fit.
        standardize: as in `multinomial_lasso_fit`.
        criterion: ``"deviance"`` or ``"misclassification"``.

    Returns:
        `LassoCV`. A fold with an empty test set scores 0 and counts in the mean (avoid
        it: K <= N).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.selection import multinomial_lasso_cv
        >>> from bvjax.stats import kfold_masks
        >>> x = jnp.arange(8.0)[:, None]
        >>> y = jnp.array([0, 0, 0, 0, 1, 1, 1, 1])
        >>> masks = kfold_masks(jax.random.permutation(jax.random.key(0), 8), num_folds=2)
        >>> cv = multinomial_lasso_cv(x, y, masks, jnp.array([1.0, 0.01]), num_classes=2, num_iters=200)
        >>> int(cv.best_index)
        1

    References:
        Friedman, Hastie and Tibshirani, 2010 (cv.glmnet). Liao et al, What Benefits Drive
        Membership in Medicare Advantage Plans?, 2025 (arXiv 2511.08603): 5-fold CV; whether
        the paper took lambda.min or lambda.1se, and its CV loss, are unverified, so both
        indices are returned.
    """
    _checks.dims(x=(x, "[N, P]", "float"), y=(y, "[N]", "int"), test_masks=(test_masks, "[K, N]", "bool"),
                 lams=(lams, "[L]", "float"))
    _check_fit_args(x, y, num_classes, None, num_iters)
    _checks.one_of("criterion", criterion, CV_CRITERIA)
    return _cv(x, y, test_masks, lams, num_classes, num_iters, standardize, criterion)


@functools.partial(jax.jit, static_argnames=("num_classes", "num_iters", "standardize", "criterion"))
def _cv(x, y, test_masks, lams, num_classes, num_iters, standardize, criterion):
    yoh = jax.nn.one_hot(y, num_classes, dtype=x.dtype)

    def cell(test, lam):
        fit = _fit(x, y, (~test).astype(x.dtype), lam, num_classes, num_iters, standardize)
        logits = x @ fit.coef.T + fit.intercept
        if criterion == "deviance":
            per = -jnp.sum(yoh * jax.nn.log_softmax(logits, axis=-1), axis=-1)
        else:
            per = (jnp.argmax(logits, axis=-1) != y).astype(x.dtype)
        return jnp.sum(jnp.where(test, per, 0.0)) / jnp.maximum(jnp.sum(test), 1)

    fold_loss = jax.vmap(lambda t: jax.vmap(lambda lam: cell(t, lam))(lams))(test_masks)
    k = test_masks.shape[0]
    cv_loss = jnp.mean(fold_loss, axis=0)
    cv_se = jnp.std(fold_loss, axis=0, ddof=1) / np.sqrt(k) if k > 1 else jnp.zeros_like(cv_loss)
    best = jnp.argmin(cv_loss)
    within = cv_loss <= cv_loss[best] + cv_se[best]
    largest = jnp.argmax(jnp.where(within, lams, -jnp.inf))
    return LassoCV(cv_loss, cv_se, fold_loss, best.astype(jnp.int32), largest.astype(jnp.int32))
