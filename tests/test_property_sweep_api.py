"""Property sweep over the rest of the public array API (preference, finance, counterfactual,
fairness, distill, diagnostics, selection, robust, continual, multimodal).

Each case draws random finite inputs of the documented shapes (float32), runs the jitted
function and compares with an independent float64 NumPy/SciPy reference written here from
the docstring's equation. Then one input entry is replaced by NaN, +inf or -inf and every
output entry must be one of:

* finite and equal to the reference computed on the same (injected) input, or
* NaN, where the bad value reaches it: by default where the float64 reference, fed a NaN at
  the same position, is NaN (NumPy propagates NaN exactly through what it touches); for
  grouped outputs, the bad value's group or row (``reach`` below), or
* ``+-inf`` equal to the reference's,

or the call raises a ValueError. A finite number where the reference is not finite, or a
finite number that differs from it, fails. Arguments documented non-negative (probabilities,
counts, standard deviations) receive NaN or +inf, never -inf (outside their domain).

The fast slice (``make test``) runs 3 examples per function; the ``slow`` copies run 200 each
(``BVJAX_SWEEP_EXAMPLES`` overrides) and print, per function, the examples, how many had a
value injected, and the outcomes: ``clean`` (no injection), ``equal to the reference`` (an
injection, and every output equal to the reference: finite, or the same infinity), ``NaN
confined`` (NaN only where the bad value reaches) and ``ValueError``. Examples are not shrunk:
a failure is reported as drawn.
"""

from __future__ import annotations

import collections
import functools
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bvjax import (
    continual,
    counterfactual,
    diagnostics,
    distill,
    fairness,
    finance,
    multimodal,
    preference,
    robust,
    selection,
)
from bvjax import data as bvdata
from tests.preference.test_group_alignment import _np_gal
from tests.preference.test_logprobs import _np_token_logps

FAST, SLOW = 3, int(os.environ.get("BVJAX_SWEEP_EXAMPLES", "200"))
BADS = st.sampled_from([None, np.nan, np.inf, -np.inf])


class Case(NamedTuple):
    fn: Callable[..., Any]            # the jitted public function, on the drawn arguments
    ref: Callable[..., Any]           # float64 NumPy reference, same arguments (floats as float64)
    draw: Callable[[np.random.Generator], list]  # documented shapes, finite values
    inject: tuple[int, ...]           # which arguments may receive the non-finite value
    reach: Any = "ref"                # "ref" | "all" | "row" | callable(arg, flat_index, args) -> masks
    rtol: float = 1e-4
    atol: float = 1e-4
    nonneg: tuple[int, ...] = ()      # arguments documented >= 0 (probabilities, counts, scales):
                                      # -inf is outside their domain, so they get NaN or +inf only


# ---- draws ---------------------------------------------------------------------------------

def _spd_of(a):
    """A well-conditioned symmetric positive definite matrix from a square one."""
    return (a @ a.T + 3 * np.eye(len(a))).astype(np.float32)


def _n(rng, *shape, s=1.0):
    return (s * rng.standard_normal(shape)).astype(np.float32)


def _u(rng, *shape, lo=0.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def _probs(rng, *shape):
    z = rng.standard_normal(shape)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return p.astype(np.float32)


def _inject(x, bad, index):
    x = np.array(x, copy=True)
    x.reshape(-1)[index % x.size] = bad
    return x


def _f64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def _leaves(tree):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def _logsig(x):
    return -np.logaddexp(0.0, -x)


def _softmax(z, axis=-1):
    m = np.max(z, axis, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis, keepdims=True)


def _log_softmax(z, axis=-1):
    m = np.max(z, axis, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis, keepdims=True))


def _nan_if_bad(out, *inputs):
    """A reference whose every output is reached by any non-finite input (solves, fits)."""
    if all(np.all(np.isfinite(np.asarray(a, np.float64))) for a in inputs):
        return out
    return jax.tree.map(lambda o: np.full(np.shape(o), np.nan), out)


def _all_reached(ref):
    """Wraps a reference so that a non-finite float input makes every output NaN, without running
    the solve on it (LAPACK may not return on NaN or inf)."""
    @functools.wraps(ref)
    def wrapped(*args):
        floats = [a for a in args if np.issubdtype(np.asarray(a).dtype, np.floating)]
        if all(np.all(np.isfinite(a)) for a in floats):
            return ref(*args)
        clean = [np.where(np.isfinite(a), a, 0.0) if np.issubdtype(np.asarray(a).dtype, np.floating) else a
                 for a in args]
        return jax.tree.map(lambda o: np.full(np.shape(o), np.nan), ref(*clean))
    return wrapped


# ---- the check -----------------------------------------------------------------------------

def _reach_masks(case, args, which, index, bad_args):
    if case.reach == "ref":
        nan_args = list(args)
        nan_args[which] = _inject(args[which], np.nan, index)
        with np.errstate(all="ignore"):
            return [np.isnan(r) for r in _leaves(case.ref(*[_f64(a) for a in nan_args]))]
    if case.reach == "all":
        return None
    if case.reach == "row":  # the injected entry's leading index: that row of every output
        row = np.unravel_index(index % args[which].size, args[which].shape)[0]
        masks = []
        for g in _leaves(case.fn(*bad_args)):
            m = np.zeros(g.shape, bool)
            if g.ndim:
                m[row] = True
            else:
                m[...] = True
            masks.append(m)
        return masks
    return case.reach(which, index % args[which].size, args)


def _run_example(case, seed, bad, which, index):
    rng = np.random.default_rng(seed)
    args = case.draw(rng)
    injected = bad is not None
    which = case.inject[which % len(case.inject)]
    if injected and which in case.nonneg and bad == -np.inf:
        bad = np.inf
    if injected:
        bad_args = list(args)
        bad_args[which] = _inject(args[which], bad, index)
    else:
        bad_args = args
    try:
        got = _leaves(case.fn(*bad_args))
    except ValueError:
        assert injected, "ValueError on finite input"
        return "ValueError"
    with np.errstate(all="ignore"):
        ref = _leaves(case.ref(*[_f64(a) for a in bad_args]))
    assert len(got) == len(ref)
    reach = _reach_masks(case, args, which, index, bad_args) if injected else None
    outcome = "equal to the reference" if injected else "clean"  # finite, or the same infinity
    for k, (g, r) in enumerate(zip(got, ref)):
        r = np.broadcast_to(r, g.shape)
        gnan = np.isnan(g)
        if not injected:
            np.testing.assert_array_equal(gnan, np.isnan(r), err_msg=f"output {k}: NaN pattern on finite input")
        elif gnan.any():
            outcome = "NaN confined"
            allowed = np.ones(g.shape, bool) if reach is None else (np.broadcast_to(reach[k], g.shape) | np.isnan(r))
            assert not np.any(gnan & ~allowed), f"output {k}: NaN leaks to {np.argwhere(gnan & ~allowed)[:5]}"
        fin = np.isfinite(g)
        assert not np.any(fin & ~np.isfinite(r)), (
            f"output {k}: finite {g[fin & ~np.isfinite(r)][:5]} where the reference is {r[fin & ~np.isfinite(r)][:5]}")
        inf = np.isinf(g)
        np.testing.assert_array_equal(g[inf], r[inf], err_msg=f"output {k}: infinities differ")
        np.testing.assert_allclose(g[fin], r[fin], rtol=case.rtol, atol=case.atol, err_msg=f"output {k}")
    return outcome


# ---- cases: preference ---------------------------------------------------------------------

B = 5


def _logps4(rng):
    return [_u(rng, B, lo=-40.0, hi=0.0) for _ in range(4)]


def _margin(pc, pr, rc, rr):
    return (pc - rc) - (pr - rr)


def _dpo_ref(pc, pr, rc, rr, beta=0.1, eps=0.0):
    h = beta * _margin(pc, pr, rc, rr)
    return -(1 - eps) * _logsig(h) - (eps * _logsig(-h) if eps else 0.0)


def _robust_ref(pc, pr, rc, rr, beta=0.1, eps=0.1):
    h = beta * _margin(pc, pr, rc, rr)
    return ((1 - eps) * -_logsig(h) - eps * -_logsig(-h)) / (1 - 2 * eps)


def _bvpo_loss_ref(t, e, tm, em, alpha=0.3):
    def mean(x, m):
        return np.sum(np.where(m, x, 0.0)) / max(1, int(np.sum(m)))
    return alpha * mean(t, tm) + (1 - alpha) * mean(e, em)


def _bvpo_alpha_ref(a, c, x, degenerate=0.5):
    den = a + c - 2 * x
    out = np.where(den > 0, np.clip((c - x) / np.where(den > 0, den, 1.0), 0.0, 1.0), degenerate)
    return np.where(np.isnan(a) | np.isnan(c) | np.isnan(x), np.nan, out)


@_all_reached
def _bvpo_estimate_ref(gt, ge):
    mu = gt.mean(0)
    num = np.sum((ge - mu) * (ge - gt))
    den = np.sum((gt - ge) ** 2)
    return _nan_if_bad(np.clip(num / den, 0.0, 1.0) if den > 0 else 0.5, gt, ge)


def _seq_draw(rng, b=3, t=4, v=5):
    logits = _n(rng, b, t, v, s=3.0)
    labels = rng.integers(0, v, (b, t)).astype(np.int32)
    mask = rng.random((b, t)) < 0.7
    return [logits, labels, mask]


def _seq_ref(logits, labels, mask, normalize=False):
    tok = _np_token_logps(logits, labels, mask)
    s = np.where(mask, tok, 0.0).sum(-1)
    return s / np.maximum(1, mask.sum(-1)) if normalize else s


def _sft_ref(logits, labels, mask, prompt_mask):
    m = mask & ~prompt_mask
    return -_seq_ref(logits, labels, m, normalize=True)


def _pairs_draw(rng):
    return [np.round(_u(rng, 3, 4, hi=3.0), 1)]


def _pairs_fn(r):
    out = preference.reward_pairs(r, threshold=0.2)
    return jnp.where(out.mask, out.chosen, -1), jnp.where(out.mask, out.rejected, -1)


def _pairs_ref(r):
    n = r.shape[1]
    ch, rj = [], []
    for i in range(n):
        for j in range(i + 1, n):
            keep = (np.abs(r[:, i] - r[:, j]) >= 0.2) & (r[:, i] != r[:, j])
            first = r[:, i] > r[:, j]
            ch.append(np.where(keep, np.where(first, i, j), -1))
            rj.append(np.where(keep, np.where(first, j, i), -1))
    return np.stack(ch, 1).astype(np.float64), np.stack(rj, 1).astype(np.float64)


def _gal_draw(rng):
    return [_u(rng, 3, 4, lo=-30.0, hi=0.0), _u(rng, 3, 4, lo=-30.0, hi=0.0),
            (rng.random((3, 4)) < 0.5).astype(np.float32), rng.random((3, 4)) < 0.85]


def _orpo_ref(a_w, a_l, nll, lam=0.1):
    def log_odds(a):
        a = np.minimum(a, -1e-6)
        return a - np.log(-np.expm1(a))
    return nll - lam * _logsig(log_odds(a_w) - log_odds(a_l))


def _jit(fn, **kw):
    return jax.jit(functools.partial(fn, **kw))


PREFERENCE = {
    "dpo_loss": Case(_jit(preference.dpo_loss, beta=0.1, label_smoothing=0.1),
                     functools.partial(_dpo_ref, beta=0.1, eps=0.1), _logps4, (0, 1, 2, 3)),
    "bvpo_trace_loss": Case(_jit(preference.bvpo_trace_loss, beta=0.2), functools.partial(_dpo_ref, beta=0.2),
                            _logps4, (0, 1, 2, 3)),
    "bvpo_empty_trace_loss": Case(_jit(preference.bvpo_empty_trace_loss, beta=0.2),
                                  functools.partial(_dpo_ref, beta=0.2), _logps4, (0, 1, 2, 3)),
    "ipo_loss": Case(_jit(preference.ipo_loss, tau=0.1), lambda *a: (_margin(*a) - 5.0) ** 2, _logps4, (0, 1, 2, 3),
                     rtol=1e-4, atol=1e-3),
    "hinge_dpo_loss": Case(_jit(preference.hinge_dpo_loss, beta=0.1),
                           lambda *a: np.maximum(0.0, 1.0 - 0.1 * _margin(*a)), _logps4, (0, 1, 2, 3)),
    "robust_dpo_loss": Case(_jit(preference.robust_dpo_loss, beta=0.1, label_smoothing=0.1), _robust_ref,
                            _logps4, (0, 1, 2, 3)),
    "f_dpo_loss": Case(_jit(preference.f_dpo_loss, beta=0.1, divergence="js_divergence"),
                       lambda pc, pr, rc, rr: -_logsig(0.1 * (_logsig(pc - rc) - _logsig(pr - rr))), _logps4,
                       (0, 1, 2, 3)),
    "orpo_loss": Case(_jit(preference.orpo_loss, lam=0.1), _orpo_ref,
                      lambda rng: [_u(rng, B, lo=-5.0, hi=-0.01), _u(rng, B, lo=-5.0, hi=-0.01), _u(rng, B, hi=5.0)],
                      (0, 1, 2)),
    "bvpo_loss": Case(jax.jit(lambda t, e, tm, em: preference.bvpo_loss(t, e, alpha=0.3, trace_mask=tm, empty_mask=em)),
                      lambda t, e, tm, em: _bvpo_loss_ref(t, e, tm, em),
                      lambda rng: [_u(rng, 4, hi=3.0), _u(rng, 3, hi=3.0), rng.random(4) < 0.7, rng.random(3) < 0.7],
                      (0, 1), reach="ref"),
    "bvpo_optimal_alpha": Case(jax.jit(preference.bvpo_optimal_alpha), _bvpo_alpha_ref,
                               lambda rng: [_u(rng, 6, hi=2.0), _u(rng, 6, hi=2.0), _n(rng, 6, s=0.5)], (0, 1, 2)),
    "bvpo_alpha_estimate": Case(jax.jit(lambda gt, ge: preference.bvpo_alpha_estimate(gt, ge).alpha),
                                _bvpo_estimate_ref, lambda rng: [_n(rng, 6, 4), _n(rng, 6, 4) + 0.5], (0, 1),
                                reach="all"),
    "sequence_logps": Case(_jit(preference.sequence_logps, normalize=True),
                           functools.partial(_seq_ref, normalize=True), _seq_draw, (0,)),
    "sft_loss": Case(jax.jit(lambda lg, lb, m, pm: preference.sft_loss(lg, lb, m, prompt_mask=pm)), _sft_ref,
                     lambda rng: _seq_draw(rng) + [rng.random((3, 4)) < 0.3], (0,)),
    "reward_pairs": Case(jax.jit(_pairs_fn), _pairs_ref, _pairs_draw, (0,), reach="row"),
    "group_alignment_loss": Case(
        jax.jit(lambda lp, rf, r, m: preference.group_alignment_loss(lp, rf, r, beta=0.5, mask=m, min_gap=0.1)),
        lambda lp, rf, r, m: _np_gal(lp, rf, r, 0.5, m, 0.1, "mean"), _gal_draw, (0, 1, 2), reach="row",
        atol=1e-3),
}


# ---- cases: finance ------------------------------------------------------------------------

T, NA = 10, 3


def _rets(rng, *shape):
    r = _n(rng, *shape, s=0.05)
    ruin = rng.random(shape) < 0.03  # an occasional period at or below -100%
    return np.where(ruin, np.float32(-1.2), r).astype(np.float32)


def _spd(rng, n=NA):
    a = rng.standard_normal((n, n))
    return (a @ a.T / n + 0.5 * np.eye(n)).astype(np.float32)


@_all_reached
def _minvar_ref(cov):
    x = np.linalg.pinv(cov) @ np.ones(len(cov))
    return _nan_if_bad(x / x.sum(), cov)


@_all_reached
def _meanvar_ref(mean, cov, gamma=3.0):
    p = np.linalg.pinv(cov)
    w_mv = p @ np.ones(len(cov)) / np.sum(p)
    pm = p @ mean
    return _nan_if_bad(w_mv + (pm - pm.sum() * w_mv) / gamma, mean, cov)


@_all_reached
def _tangency_ref(mean, cov, rf=0.001):
    x = np.linalg.pinv(cov) @ (mean - rf)
    return _nan_if_bad(x / x.sum(), mean, cov)


def _wealth_path(r, initial):
    out = np.empty(r.shape)
    for idx in np.ndindex(r.shape[:-1]):
        s = float(initial)
        for t in range(r.shape[-1]):
            x = r[idx + (t,)]
            if s == 0.0:
                pass                      # ruin is absorbing
            elif np.isnan(x) or np.isnan(s):
                s = np.nan
            elif x <= -1.0:
                s = 0.0
            else:
                s = s * (1.0 + x)
            out[idx + (t,)] = s
    return out


def _from_t_on(which, flat, args):
    """A bad return in period t reaches that series from t on."""
    i, t = np.unravel_index(flat, args[which].shape)
    m = np.zeros(args[which].shape, bool)
    m[i, t:] = True
    return [m]


def _drawdown_ref(r):
    s = _wealth_path(r, 1.0)
    s = np.concatenate([np.ones(r.shape[:-1] + (1,)), s], -1)
    peak = np.maximum.accumulate(s, -1)
    return np.max(1.0 - s / peak, -1)


def _sharpe_ref(r, rf=0.001, ppy=12.0):
    sd = np.std(r, -1, ddof=1)
    mean = np.mean(r - rf, -1)
    return np.where(sd == 0, 0.0 * mean, np.sqrt(ppy) * mean / np.where(sd == 0, 1.0, sd))


def _ir_ref(r, b):
    return _sharpe_ref(r - b, rf=0.0, ppy=252.0)


@_all_reached
def _pca_ref(r, k=2):
    s = np.cov(r, rowvar=False, ddof=1)
    w, v = np.linalg.eigh(s)
    lo = (v[:, -k:] * w[-k:]) @ v[:, -k:].T
    return _nan_if_bad(lo + np.diag(np.maximum(np.diag(s - lo), 0.0)), r)


@_all_reached
def _factor_ref(r, f, ddof=1):
    t = len(r)
    x = np.column_stack([np.ones(t), f])
    coef, *_ = np.linalg.lstsq(x, r, rcond=None)
    beta = coef[1:]
    resid = r - x @ coef
    cov_f = np.cov(f, rowvar=False, ddof=ddof).reshape(f.shape[1], f.shape[1])
    return _nan_if_bad(beta.T @ cov_f @ beta + np.diag(np.sum(resid**2, 0) / (t - ddof)), r, f)


def _lw_ref(r):
    import sklearn.covariance
    if not np.all(np.isfinite(r)):
        return np.full((NA, NA), np.nan), np.nan
    cov, shrink = sklearn.covariance.ledoit_wolf(r)
    return cov, shrink


FINANCE = {
    "sample_covariance": Case(jax.jit(finance.sample_covariance), lambda r: np.cov(r, rowvar=False, ddof=1),
                              lambda rng: [_n(rng, T, NA, s=0.05)], (0,), atol=1e-6),
    "ledoit_wolf_covariance": Case(jax.jit(lambda r: tuple(finance.ledoit_wolf_covariance(r))), _lw_ref,
                                   lambda rng: [_n(rng, T, NA, s=0.05)], (0,), reach="all", rtol=1e-3, atol=1e-6),
    "pca_factor_covariance": Case(_jit(finance.pca_factor_covariance, num_factors=2), _pca_ref,
                                  lambda rng: [_n(rng, T, NA, s=0.05)], (0,), reach="all", rtol=1e-3, atol=1e-6),
    "factor_model_covariance": Case(jax.jit(finance.factor_model_covariance), _factor_ref,
                                    lambda rng: [_n(rng, T, NA, s=0.05), _n(rng, T, 2, s=0.05)], (0, 1), reach="all",
                                    rtol=1e-3, atol=1e-6),
    "min_variance_weights": Case(jax.jit(finance.min_variance_weights), _minvar_ref, lambda rng: [_spd(rng)], (0,),
                                 reach="all", rtol=1e-3, atol=1e-4),
    "mean_variance_weights": Case(_jit(finance.mean_variance_weights, risk_aversion=3.0), _meanvar_ref,
                                  lambda rng: [_n(rng, NA, s=0.1), _spd(rng)], (0, 1), reach="all", rtol=1e-3,
                                  atol=1e-4),
    "tangency_weights": Case(_jit(finance.tangency_weights, risk_free=0.001), _tangency_ref,
                             lambda rng: [_u(rng, NA, lo=0.05, hi=0.2), _spd(rng)], (0, 1), reach="all", rtol=1e-3,
                             atol=1e-3),
    "portfolio_returns": Case(jax.jit(finance.portfolio_returns), lambda w, r: r @ w,
                              lambda rng: [_probs(rng, NA), _n(rng, T, NA, s=0.05)], (0, 1), atol=1e-6),
    "portfolio_returns[T,N]": Case(jax.jit(finance.portfolio_returns), lambda w, r: np.sum(r * w, -1),
                                   lambda rng: [_probs(rng, T, NA), _n(rng, T, NA, s=0.05)], (0, 1), atol=1e-6),
    "cumulative_wealth": Case(_jit(finance.cumulative_wealth, initial=2.0), lambda r: _wealth_path(r, 2.0),
                              lambda rng: [_rets(rng, 2, T)], (0,), reach=_from_t_on, rtol=1e-5, atol=1e-6),
    "max_drawdown": Case(jax.jit(finance.max_drawdown), _drawdown_ref, lambda rng: [_rets(rng, 2, T)], (0,),
                         reach="row", rtol=1e-5, atol=1e-6),
    "sharpe_ratio": Case(_jit(finance.sharpe_ratio, risk_free=0.001, periods_per_year=12.0), _sharpe_ref,
                         lambda rng: [_n(rng, 2, T, s=0.05)], (0,), rtol=1e-4, atol=1e-5),
    "information_ratio": Case(jax.jit(finance.information_ratio), _ir_ref,
                              lambda rng: [_n(rng, 2, T, s=0.05), _n(rng, T, s=0.05)], (0, 1), rtol=1e-4, atol=1e-4),
}


# ---- cases: counterfactual -----------------------------------------------------------------

U, I = 3, 5
EPS = 1e-7


def _d1(p):
    return -np.log(np.maximum(p, EPS))


def _d0(p):
    return -np.log(np.maximum(1.0 - p, EPS))


def _clicks(rng):
    return (rng.random((U, I)) < 0.3).astype(np.float32)


def _ids(rng, n=8, m=3):
    ids = np.arange(n) % m
    return rng.permutation(ids).astype(np.int32)


def _bag_means_ref(v, ids, m=3):
    return np.stack([v[ids == a].mean(0) if np.any(ids == a) else np.zeros(v.shape[1:]) for a in range(m)])


def _interp_ref(pred, labels, ids, rho=0.5):
    fbar = _bag_means_ref(pred, ids)
    within = np.array([np.mean((pred[ids == a] - fbar[a]) ** 2) for a in range(len(labels))])
    return (labels - fbar) ** 2 + rho * within


@_all_reached
def _alr_ref(x, labels, ids, rho=0.5, ridge=0.1):
    m, n, d = len(labels), len(x), x.shape[1]
    xbar = _bag_means_ref(x, ids, m)
    xc = x - xbar[ids]
    a = xbar.T @ xbar / m + rho / n * xc.T @ xc + ridge * np.eye(d)
    return _nan_if_bad(np.linalg.solve(a, xbar.T @ labels / m), x, labels)


def _rank_draw(rng, with_prop=False):
    rel = (rng.random((U, I)) < 0.4).astype(np.float32)
    out = [rel, _n(rng, U, I), rng.random((U, I)) < 0.8]
    if with_prop:
        out.insert(2, _u(rng, I, lo=0.01, hi=1.0))
    return out


def _ranked(rel, scores, mask, k):
    """Per user: the relevances of the top-k valid items by score, or None when undefined (NaN)."""
    rows = []
    for u in range(rel.shape[0]):
        valid = np.flatnonzero(mask[u])
        if np.any(np.isnan(scores[u, valid])) or not np.all(np.isfinite(rel[u, valid])):
            rows.append(None)
            continue
        order = valid[np.argsort(-scores[u, valid], kind="stable")]
        rows.append((order[:k], valid))
    return rows


def _disc(r):
    return np.where(r == 1, 1.0, np.log2(np.maximum(r, 2)))


def _per_user(metric, rel, scores, mask, k):
    """``metric(r_top, total)`` per user over the ranked top k; NaN for a user _ranked marks None,
    0 for a user with no relevant valid item."""
    out = []
    for u, row in enumerate(_ranked(rel, scores, mask, k)):
        if row is None:
            out.append(np.nan)
            continue
        top, valid = row
        total = rel[u, valid].sum()
        out.append(metric(rel[u, top], total) if total > 0 else 0.0)
    return np.array(out)


def _dcg_ref(rel, scores, mask, k=3):
    return _per_user(lambda r, total: np.sum(r / _disc(np.arange(1, len(r) + 1))) / total, rel, scores, mask, k)


def _recall_ref(rel, scores, mask, k=3):
    return _per_user(lambda r, total: r.sum() / total, rel, scores, mask, k)


def _map_ref(rel, scores, mask, k=3):
    return _per_user(lambda r, total: np.sum(r * np.cumsum(r) / np.arange(1, len(r) + 1)) / total,
                     rel, scores, mask, k)


def _snips_ref(rel, scores, prop, mask, k=3, clip=0.05):
    th = np.maximum(prop, clip)
    out = []
    for u, row in enumerate(_ranked(rel, scores, mask, k)):
        if row is None or np.any(np.isnan(th[np.flatnonzero(mask[u])])):
            out.append(np.nan)
            continue
        top, valid = row
        den = np.sum(rel[u, valid] / th[valid])
        num = np.sum(rel[u, top] / (th[top] * _disc(np.arange(1, len(top) + 1))))
        out.append(num / den if den > 0 else 0.0)
    return np.array(out)


def _laplace_ref(y, ids):
    return _bag_means_ref(np.clip(y, -1.0, 1.0), ids)


COUNTERFACTUAL = {
    "ideal_pointwise_loss": Case(jax.jit(counterfactual.ideal_pointwise_loss),
                                 lambda p, g: g * _d1(p) + (1 - g) * _d0(p),
                                 lambda rng: [_u(rng, U, I, lo=0.01, hi=0.99), _u(rng, U, I)], (0, 1)),
    "naive_pointwise_loss": Case(jax.jit(counterfactual.naive_pointwise_loss),
                                 lambda p, y: y * _d1(p) + (1 - y) * _d0(p),
                                 lambda rng: [_u(rng, U, I, lo=0.01, hi=0.99), _clicks(rng)], (0, 1)),
    "ips_pointwise_loss": Case(_jit(counterfactual.ips_pointwise_loss, clip=0.05),
                               lambda p, y, th: (y / np.maximum(th, 0.05)) * _d1(p)
                               + (1 - y / np.maximum(th, 0.05)) * _d0(p),
                               lambda rng: [_u(rng, U, I, lo=0.01, hi=0.99), _clicks(rng), _u(rng, I, lo=0.01)],
                               (0, 1, 2), rtol=1e-4, atol=1e-3),
    "item_propensity": Case(jax.jit(counterfactual.item_propensity),
                            lambda n: np.where(n.max() > 0, np.sqrt(n / np.where(n.max() > 0, n.max(), 1.0)), 0.0)
                            if not np.isnan(n).any() else np.full(n.shape, np.nan),
                            lambda rng: [rng.integers(0, 10, 6).astype(np.float32)], (0,), reach="all"),
    "bag_means": Case(_jit(counterfactual.bag_means, num_bags=3), _bag_means_ref,
                      lambda rng: [_n(rng, 8), _ids(rng)], (0,), atol=1e-5),
    "bag_means[N,D]": Case(_jit(counterfactual.bag_means, num_bags=3), _bag_means_ref,
                           lambda rng: [_n(rng, 8, 2), _ids(rng)], (0,), atol=1e-5),
    "bag_level_loss": Case(jax.jit(counterfactual.bag_level_loss),
                           lambda p, y, ids: (y - _bag_means_ref(p, ids)) ** 2,
                           lambda rng: [_n(rng, 8), _n(rng, 3), _ids(rng)], (0, 1), atol=1e-5),
    "instance_level_loss": Case(jax.jit(counterfactual.instance_level_loss), lambda p, y, ids: (y[ids] - p) ** 2,
                                lambda rng: [_n(rng, 8), _n(rng, 3), _ids(rng)], (0, 1), atol=1e-5),
    "aggregate_interpolated_loss": Case(_jit(counterfactual.aggregate_interpolated_loss, rho=0.5), _interp_ref,
                                        lambda rng: [_n(rng, 8), _n(rng, 3), _ids(rng)], (0, 1), atol=1e-5),
    "aggregate_linear_regression": Case(_jit(counterfactual.aggregate_linear_regression, rho=0.5, ridge=0.1), _alr_ref,
                                        lambda rng: [_n(rng, 8, 2), _n(rng, 3), _ids(rng)], (0, 1), reach="all",
                                        rtol=1e-3, atol=1e-4),
    "dcg_at_k": Case(jax.jit(lambda r, s, m: counterfactual.dcg_at_k(r, s, k=3, mask=m, normalize=True)), _dcg_ref,
                     _rank_draw, (0, 1), atol=1e-6),
    "recall_at_k": Case(jax.jit(lambda r, s, m: counterfactual.recall_at_k(r, s, k=3, mask=m)), _recall_ref,
                        _rank_draw, (0, 1), atol=1e-6),
    "map_at_k": Case(jax.jit(lambda r, s, m: counterfactual.map_at_k(r, s, k=3, mask=m)), _map_ref,
                     _rank_draw, (0, 1), atol=1e-6),
    "snips_dcg_at_k": Case(jax.jit(lambda r, s, p, m: counterfactual.snips_dcg_at_k(r, s, p, k=3, clip=0.05, mask=m)),
                           _snips_ref, lambda rng: _rank_draw(rng, with_prop=True), (0, 1, 2), atol=1e-5),
    "laplace_bag_means": Case(jax.jit(lambda y, ids: counterfactual.laplace_bag_means(
        jax.random.key(0), y, ids, num_bags=3, clip=1.0, epsilon=1e7)), _laplace_ref,
        lambda rng: [_n(rng, 8), _ids(rng)], (0,), atol=1e-5),
}


# ---- cases: distill ------------------------------------------------------------------------

KB, V = 4, 5


def _kl_ref(p, q):
    with np.errstate(all="ignore"):
        t = np.where(p > 0, p * np.log(p / q), np.where(np.isnan(p) | np.isnan(q), np.nan, 0.0))
    return t.sum(-1)


def _tempered(p, tau):
    x = p ** (1.0 / tau)
    return x / x.sum(-1, keepdims=True)


def _cos(a, b):
    na = np.maximum(np.linalg.norm(a, axis=-1), 1e-12)
    nb = np.maximum(np.linalg.norm(b, axis=-1), 1e-12)
    return np.sum(a * b, -1) / (na * nb)


def _hidden_draw(rng):
    return [_n(rng, KB, 3), _n(rng, KB, 2), _n(rng, 3, 2)]


def _infonce_ref(s):
    k = len(s)
    lse = scipy.special.logsumexp(s, axis=1) - np.log(k)
    return np.mean(np.diag(s) - lse)


def _nwj_ref(s):
    k = len(s)
    off = ~np.eye(k, dtype=bool)
    return np.mean(np.diag(s)) - np.sum(np.exp(s[off] - 1.0)) / (k * (k - 1))


def _aggregate_ref(tp, w, tau=2.0):
    if np.isnan(w).any():  # the weights are normalised by their sum: a NaN one reaches every output
        return np.full(tp.shape[1:], np.nan)
    w = np.maximum(w, 0.0)
    w = w / w.sum() if w.sum() > 0 else np.full(w.shape, 1.0 / len(w))
    return np.einsum("m,mbv->bv", w, _tempered(tp, tau))


DISTILL = {
    "categorical_kl": Case(jax.jit(distill.categorical_kl), _kl_ref,
                           lambda rng: [_probs(rng, KB, V), _probs(rng, KB, V)], (0, 1)),
    "kd_kl_loss": Case(_jit(distill.kd_kl_loss, temperature=2.0),
                       lambda s, t: 4.0 * _kl_ref(_softmax(t / 2.0), _softmax(s / 2.0)),
                       lambda rng: [_n(rng, KB, V, s=3.0), _n(rng, KB, V, s=3.0)], (0, 1)),
    "soft_target_kl_loss": Case(_jit(distill.soft_target_kl_loss, temperature=2.0),
                                lambda s, p: 4.0 * _kl_ref(_tempered(p, 2.0), _softmax(s / 2.0)),
                                lambda rng: [_n(rng, KB, V, s=3.0), _probs(rng, KB, V)], (0, 1)),
    "temperature_scale_probs": Case(_jit(distill.temperature_scale_probs, temperature=2.0),
                                    lambda p: _tempered(p, 2.0), lambda rng: [_probs(rng, KB, V)], (0,)),
    "aggregate_teachers": Case(_jit(distill.aggregate_teachers, temperature=2.0), _aggregate_ref,
                               lambda rng: [_probs(rng, 3, 2, V), _u(rng, 3)], (0, 1)),
    "anchored_target": Case(_jit(distill.anchored_target, anchor_weight=0.3), lambda s, a: 0.3 * a + 0.7 * s,
                            lambda rng: [_probs(rng, KB, V), _probs(rng, KB, V)], (0, 1)),
    "logit_mse_loss": Case(jax.jit(distill.logit_mse_loss), lambda s, t: np.mean((s - t) ** 2, -1),
                           lambda rng: [_n(rng, KB, V), _n(rng, KB, V)], (0, 1)),
    "hidden_mse_loss": Case(jax.jit(distill.hidden_mse_loss), lambda s, t, w: np.mean((s @ w - t) ** 2, -1),
                            _hidden_draw, (0, 1, 2)),
    "hidden_cosine_loss": Case(jax.jit(distill.hidden_cosine_loss), lambda s, t, w: 1.0 - _cos(s @ w, t),
                               _hidden_draw, (0, 1, 2)),
    "pkd_loss": Case(jax.jit(distill.pkd_loss), lambda s, t, w: 2.0 - 2.0 * _cos(s @ w, t), _hidden_draw, (0, 1, 2),
                     atol=2e-4),
    "bilinear_critic": Case(jax.jit(distill.bilinear_critic), lambda s, t, w: s @ w @ t.T,
                            lambda rng: [_n(rng, KB, 3), _n(rng, KB, 2), _n(rng, 3, 2)], (0, 1, 2)),
    "infonce_bound": Case(jax.jit(distill.infonce_bound), _infonce_ref, lambda rng: [_n(rng, KB, KB, s=2.0)], (0,),
                          reach="all"),
    "nwj_bound": Case(jax.jit(distill.nwj_bound), _nwj_ref, lambda rng: [_n(rng, KB, KB, s=2.0)], (0,), reach="all"),
}


# ---- cases: continual, multimodal, robust ---------------------------------------------------

P_, E_ = 4, 3


def _dkl_ref(mq, sq, mp, sp):
    return np.sum(np.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5, -1)


def _pos(rng, *shape):
    return _u(rng, *shape, lo=0.1, hi=2.0)


def _entropy_ref(z):
    lp = _log_softmax(z)
    return -np.sum(np.where(lp == -np.inf, 0.0, np.exp(lp) * lp), -1)


def _ce(z, y):
    return scipy.special.logsumexp(z, axis=-1) - z[np.arange(len(y)), y]


def _dpc_ref(img, txt, mask, s=10.0):
    def unit(x):
        n = np.linalg.norm(x, axis=-1, keepdims=True)
        return x / np.where(n > 0, n, 1.0)
    b = len(img)
    sim = s * unit(img) @ unit(txt).T
    out = np.zeros(b)
    valid = np.flatnonzero(mask)
    sub = sim[np.ix_(valid, valid)]
    if len(valid):
        li = -np.diag(_log_softmax(sub, 1))
        lt = -np.diag(_log_softmax(sub, 0))
        out[valid] = 0.5 * (li + lt)
    return out


def _pairing_ref(src, tgt, y):
    correct = np.argmax(src, -1) == y
    return np.where(correct, np.sum(_softmax(src) * (_log_softmax(src) - _log_softmax(tgt)), -1), 0.0)


def _l1_ball_ref(v, radius=1.0):
    out = np.empty_like(v)
    for i, row in enumerate(v):
        if not np.all(np.isfinite(row)):
            out[i] = np.nan
            continue
        if np.abs(row).sum() <= radius:
            out[i] = row
            continue
        u = np.sort(np.abs(row))[::-1]
        css = np.cumsum(u)
        rho = np.nonzero(u * np.arange(1, len(u) + 1) > css - radius)[0][-1]
        theta = (css[rho] - radius) / (rho + 1.0)
        out[i] = np.sign(row) * np.maximum(np.abs(row) - theta, 0.0)
    return out


OTHERS = {
    "continual.diag_gaussian_kl": Case(jax.jit(continual.diag_gaussian_kl), _dkl_ref,
                                       lambda rng: [_n(rng, 2, P_), _pos(rng, 2, P_), _n(rng, 2, P_), _pos(rng, 2, P_)],
                                       (0, 1, 2, 3)),
    "continual.fgcs_distance": Case(jax.jit(continual.fgcs_distance),
                                    lambda m1, s1, m2, s2: (np.linalg.norm(m1 - m2, axis=-1)
                                                            + np.linalg.norm(s1 - s2, axis=-1)) / P_,
                                    lambda rng: [_n(rng, 2, P_), _pos(rng, 2, P_), _n(rng, 2, P_), _pos(rng, 2, P_)],
                                    (0, 1, 2, 3), atol=1e-5),
    "continual.combine_gaussians": Case(jax.jit(lambda m, s, w: tuple(continual.combine_gaussians(m, s, w))),
                                        lambda m, s, w: (w @ m, w @ s),
                                        lambda rng: [_n(rng, E_, P_), _pos(rng, E_, P_), _probs(rng, E_)], (0, 1, 2)),
    "continual.gaussian_hdr_box": Case(jax.jit(lambda m, s: tuple(continual.gaussian_hdr_box(m, s, alpha=0.05))),
                                       lambda m, s: (m - scipy.stats.norm.ppf((1 + 0.95 ** (1 / P_)) / 2) * s,
                                                     m + scipy.stats.norm.ppf((1 + 0.95 ** (1 / P_)) / 2) * s),
                                       lambda rng: [_n(rng, 2, P_), _pos(rng, 2, P_)], (0, 1)),
    "multimodal.prediction_entropy": Case(jax.jit(multimodal.prediction_entropy), _entropy_ref,
                                          lambda rng: [_n(rng, KB, V, s=3.0)], (0,)),
    "multimodal.mix_prompts": Case(_jit(multimodal.mix_prompts, omega=0.3), lambda b, p: 0.3 * p + 0.7 * b,
                                   lambda rng: [_n(rng, 2, 3, 4), _n(rng, 2, 3, 4)], (0, 1)),
    "multimodal.arl_loss": Case(_jit(multimodal.arl_loss, gamma=4.0),
                                lambda z, za, zv, y: _ce(z, y) + 4.0 * (_ce(za, y) + _ce(zv, y)),
                                lambda rng: [_n(rng, KB, V), _n(rng, KB, V), _n(rng, KB, V),
                                             rng.integers(0, V, KB).astype(np.int32)], (0, 1, 2), atol=1e-3),
    "multimodal.shared_head_logits": Case(
        jax.jit(lambda a, v, w, b: tuple(multimodal.shared_head_logits(a, v, w, b))),
        lambda a, v, w, b: (np.concatenate([a, v], 1) @ w + b, a @ w[:2] + b, v @ w[2:] + b),
        lambda rng: [_n(rng, KB, 2), _n(rng, KB, 3), _n(rng, 5, V), _n(rng, V)], (0, 1, 2, 3)),
    "multimodal.dual_prompt_contrastive_loss": Case(
        jax.jit(lambda i, t, m: multimodal.dual_prompt_contrastive_loss(i, t, logit_scale=10.0, mask=m)), _dpc_ref,
        lambda rng: [_n(rng, KB, 3), _n(rng, KB, 3), rng.random(KB) < 0.8], (0, 1), reach="all", atol=1e-4),
    "robust.logit_pairing_loss": Case(jax.jit(robust.logit_pairing_loss), _pairing_ref,
                                      lambda rng: [_n(rng, KB, V, s=2.0), _n(rng, KB, V, s=2.0),
                                                   rng.integers(0, V, KB).astype(np.int32)], (0, 1), reach="row"),
    "robust.select_max_adv": Case(jax.jit(robust.select_max_adv),
                                  lambda a, b, la, lb: np.where((la >= lb)[:, None], a, b),
                                  lambda rng: [_n(rng, KB, 3), _n(rng, KB, 3), _n(rng, KB), _n(rng, KB)], (0, 1, 2, 3),
                                  reach="row"),
    "robust.project_l1_ball": Case(_jit(robust.project_l1_ball, radius=1.0), _l1_ball_ref,
                                   lambda rng: [_n(rng, 3, 6)], (0,), reach="row", atol=1e-5),
}


# ---- cases: selection, fairness, diagnostics ------------------------------------------------

M_ = 6


def _ei_ref(mu, sd, best, avail, xi=0.01):
    imp = mu - best - xi
    with np.errstate(all="ignore"):
        z = imp / sd
        ei = np.where(sd > 0, imp * scipy.stats.norm.cdf(z) + sd * scipy.stats.norm.pdf(z), np.maximum(imp, 0.0))
    ei = np.where(np.isnan(sd) | np.isnan(best), np.nan, ei)
    return np.where(avail, ei, -np.inf)


def _hartmann3_ref(x):
    a = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
    c = np.array([1.0, 1.2, 3.0, 3.2])
    p = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
    return -np.sum(c * np.exp(-np.sum(a * (x[..., None, :] - p) ** 2, -1)), -1)


def _rbf_ref(x1, x2, ls=0.7, sv=1.5):
    d2 = np.sum((x1[:, None] - x2[None]) ** 2, -1)
    return sv * np.exp(-d2 / (2 * ls**2))


def _gp_ref(xt, yt, xq, noise=1e-2):
    if not np.all(np.isfinite(xt)):
        return np.full(len(xq), np.nan), np.full(len(xq), np.nan)
    bad_q = np.any(np.isnan(xq), -1)  # (an infinite query is at infinite distance: the prior, a limit)
    if bad_q.any():  # query points are independent: a bad one reaches its own row only
        mean, var = _gp_ref(xt, yt, np.where(bad_q[:, None], 0.0, xq), noise)
        return np.where(bad_q, np.nan, mean), np.where(bad_q, np.nan, var)
    far = np.any(np.isinf(xq), -1)
    if far.any():  # infinitely far from the data: the prior (mean 0, variance s^2), a limit
        mean, var = _gp_ref(xt, yt, np.where(far[:, None], 0.0, xq), noise)
        return np.where(far, 0.0, mean), np.where(far, 1.5, var)
    if not np.all(np.isfinite(yt)):  # the posterior variance does not depend on the targets
        return np.full(len(xq), np.nan), _gp_ref(xt, np.zeros_like(yt), xq, noise)[1]
    k = _rbf_ref(xt, xt) + noise * np.eye(len(xt))
    ks = _rbf_ref(xq, xt)
    mean = ks @ np.linalg.solve(k, yt)
    var = 1.5 - np.sum(ks * np.linalg.solve(k, ks.T).T, -1)
    return _nan_if_bad((mean, var), xt, yt, xq)


@_all_reached
def _lml_ref(xt, yt, noise=1e-2):
    k = _rbf_ref(xt, xt) + noise * np.eye(len(xt))
    _, logdet = np.linalg.slogdet(k)
    return _nan_if_bad(-0.5 * yt @ np.linalg.solve(k, yt) - 0.5 * logdet - 0.5 * len(yt) * np.log(2 * np.pi), xt, yt)


@_all_reached
def _vif_ref(x):
    c = np.corrcoef(x, rowvar=False)
    return _nan_if_bad(np.diag(np.linalg.inv(c)), x)


def _mi_ref(p):
    p = p / p.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    with np.errstate(all="ignore"):
        t = np.where(p > 0, p * np.log2(p / (px * py)), np.where(np.isnan(p), np.nan, 0.0))
    return max(t.sum(), 0.0) if not np.isnan(t.sum()) else np.nan


def _cmi_ref(p):
    p = p / p.sum()
    pc, pcx, pcy = p.sum((1, 2), keepdims=True), p.sum(2, keepdims=True), p.sum(1, keepdims=True)
    with np.errstate(all="ignore"):
        t = np.where(p > 0, p * np.log2(pc * p / (pcx * pcy)), np.where(np.isnan(p), np.nan, 0.0))
    return max(t.sum(), 0.0) if not np.isnan(t.sum()) else np.nan


def _iv_ref(d, e):
    sd, se = d.sum(-1, keepdims=True), e.sum(-1, keepdims=True)
    with np.errstate(all="ignore"):
        v = 0.5 * np.sum(np.abs(d / sd - e / se), -1)
    ok = (sd[..., 0] > 0) & (se[..., 0] > 0)
    bad = ~np.all(np.isfinite(d), -1) | ~np.all(np.isfinite(e), -1)
    return np.where(bad, np.nan, np.where(ok, v, 0.0))


def _counts(rng, *shape):
    return rng.integers(0, 6, shape).astype(np.float32)


SELECTION = {
    "selection.expected_improvement": Case(
        jax.jit(lambda mu, sd, best, av: selection.expected_improvement(mu, sd, best, xi=0.01, available=av)),
        _ei_ref, lambda rng: [_n(rng, M_), np.where(rng.random(M_) < 0.2, 0.0, _u(rng, M_, hi=2.0)).astype(np.float32),
                              _n(rng), rng.random(M_) < 0.8], (0, 1, 2)),
    "selection.upper_confidence_bound": Case(
        jax.jit(lambda mu, sd, av: selection.upper_confidence_bound(mu, sd, kappa=2.0, available=av)),
        lambda mu, sd, av: np.where(av, mu + 2.0 * sd, -np.inf),
        lambda rng: [_n(rng, M_), _u(rng, M_, hi=2.0), rng.random(M_) < 0.8], (0, 1)),
    "selection.max_variance_utility": Case(
        jax.jit(lambda v, av: selection.max_variance_utility(v, available=av)), lambda v, av: np.where(av, v, -np.inf),
        lambda rng: [_u(rng, M_, hi=2.0), rng.random(M_) < 0.8], (0,)),
    "selection.hartmann3": Case(jax.jit(selection.hartmann3), _hartmann3_ref, lambda rng: [_u(rng, M_, 3)], (0,)),
    "selection.gp_kernel": Case(_jit(selection.gp_kernel, lengthscale=0.7, signal_variance=1.5), _rbf_ref,
                                lambda rng: [_n(rng, 4, 2), _n(rng, 3, 2)], (0, 1)),
    "selection.gp_posterior": Case(
        jax.jit(lambda xt, yt, xq: tuple(selection.gp_posterior(xt, yt, xq, lengthscale=0.7, signal_variance=1.5,
                                                                noise=1e-2))[:2]),
        _gp_ref, lambda rng: [_n(rng, 5, 2), _n(rng, 5), _n(rng, 3, 2)], (0, 1, 2), reach="all", rtol=2e-3,
        atol=2e-3),
    "selection.gp_log_marginal_likelihood": Case(
        jax.jit(lambda xt, yt: selection.gp_log_marginal_likelihood(xt, yt, lengthscale=0.7, signal_variance=1.5,
                                                                    noise=1e-2)),
        _lml_ref, lambda rng: [_n(rng, 5, 2), _n(rng, 5)], (0, 1), reach="all", rtol=2e-3, atol=2e-3),
    "selection.newton_alignment": Case(
        jax.jit(selection.newton_alignment), lambda g, m, u: g @ np.linalg.solve(m, u),
        lambda rng: [_n(rng, 5, 3), _spd_of(_n(rng, 3, 3)), _n(rng, 3)], (0, 1, 2), rtol=1e-3, atol=1e-4),
    "selection.variance_inflation_factor": Case(jax.jit(selection.variance_inflation_factor), _vif_ref,
                                                lambda rng: [_n(rng, 12, 3)], (0,), reach="all", rtol=1e-3),
    "fairness.mutual_information": Case(jax.jit(fairness.mutual_information), _mi_ref,
                                        lambda rng: [_counts(rng, 3, 2)], (0,), reach="all", atol=1e-5),
    "fairness.conditional_mutual_information": Case(jax.jit(fairness.conditional_mutual_information), _cmi_ref,
                                                    lambda rng: [_counts(rng, 2, 3, 2)], (0,), reach="all", atol=1e-5),
    "fairness.impression_variance": Case(jax.jit(fairness.impression_variance), _iv_ref,
                                         lambda rng: [_counts(rng, 4, 3), _counts(rng, 4, 3)], (0, 1), atol=1e-6),
}


# ---- cases: data, diagnostics ---------------------------------------------------------------

def _bv_fn(loc, scale, ref):
    def est(k):
        return loc + scale * jax.random.normal(k, (3,))
    r = diagnostics.bias_variance(est, ref, jax.random.key(0), num_draws=64, chunk_size=32)
    return r.bias_squared, r.variance, r.mse


_BV_Z: dict[bool, np.ndarray] = {}


def _bv_ref(loc, scale, ref):
    x64 = bool(jax.config.jax_enable_x64)  # the default float of the draws (x64 draws other normals)
    if x64 not in _BV_Z:  # the standard normal draws the meter's keys give (jax.random.split of key 0)
        _BV_Z[x64] = np.asarray(jax.vmap(lambda k: jax.random.normal(k, (3,)))(jax.random.split(jax.random.key(0), 64)),
                                np.float64)
    x = loc + scale * _BV_Z[x64]
    n = len(x)
    var = np.sum(np.var(x, axis=0, ddof=1))
    mse = np.mean(np.sum((x - ref) ** 2, axis=1))
    return np.sum((x.mean(0) - ref) ** 2) - var / n, var, mse


def _joint_ref(t, a):
    lt = _log_softmax(t)
    la = _log_softmax(a)
    return np.concatenate([lt[..., :, None] + la[..., :-1, :], la[..., -1:, :]], axis=-2)


def _marginal_ref(t, a):
    return scipy.special.logsumexp(_log_softmax(t)[..., :, None] + _log_softmax(a)[..., :-1, :], axis=-2)


DATA = {
    "diagnostics.bias_variance": Case(jax.jit(_bv_fn), _bv_ref,
                                      lambda rng: [_n(rng, 3), _u(rng, 3, lo=0.5, hi=2.0), _n(rng, 3)], (0, 1, 2),
                                      reach="all", rtol=1e-4, atol=1e-4),
    "data.bandit_expected_return": Case(jax.jit(bvdata.bandit_expected_return),
                                        lambda z, mu: _softmax(z) @ mu, lambda rng: [_n(rng, 3, V, s=2.0), _n(rng, V)],
                                        (0, 1), atol=1e-5),
    "data.bandit_policy_gradient": Case(jax.jit(bvdata.bandit_policy_gradient),
                                        lambda z, mu: _softmax(z) * (mu - (_softmax(z) @ mu)[..., None]),
                                        lambda rng: [_n(rng, 3, V, s=2.0), _n(rng, V)], (0, 1), atol=1e-5),
    "data.latent_trace_joint_logps": Case(jax.jit(bvdata.latent_trace_joint_logps), _joint_ref,
                                          lambda rng: [_n(rng, 2, 3, s=2.0), _n(rng, 2, 4, V, s=2.0)], (0, 1)),
    "data.latent_trace_marginal_logps": Case(jax.jit(bvdata.latent_trace_marginal_logps), _marginal_ref,
                                             lambda rng: [_n(rng, 2, 3, s=2.0), _n(rng, 2, 4, V, s=2.0)], (0, 1)),
}


# ---- cases: more closed forms ----------------------------------------------------------------

def _relevance_ref(img, txt, ci, ct, beta=0.5):
    def cos(a, b):
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b)
        c = np.where((na > 0) & (nb > 0), (a @ b) / np.where((na > 0) & (nb > 0), na * nb, 1.0), 0.0)
        return np.where(np.isnan(na) | np.isnan(nb), np.nan, c)  # a zero vector has cosine 0, a NaN one NaN
    return scipy.special.expit((1 - beta) * cos(img, ci) + beta * cos(txt, ct))


def _ramp_ref(lmax, y, src, tgt, lam=1.5):
    correct = np.argmax(src, -1) == y
    kl = np.sum(_softmax(src) * (_log_softmax(src) - _log_softmax(tgt)), -1)
    pair = np.sum(np.where(correct, kl, 0.0)) / max(1, int(correct.sum()))
    return np.mean(_ce(lmax, y)) + lam * pair


EXTRA = {
    "selection.forrester_curve": Case(jax.jit(selection.forrester_curve),
                                      lambda x: ((6 * x - 2) ** 2 * np.sin(12 * x - 4))[..., 0],
                                      lambda rng: [_u(rng, M_, 1)], (0,), atol=1e-4),
    "selection.relevance_weight": Case(_jit(selection.relevance_weight, beta=0.5), _relevance_ref,
                                       lambda rng: [_n(rng, 4, 3), _n(rng, 4, 3), _n(rng, 3), _n(rng, 3)], (0, 1, 2, 3),
                                       atol=1e-5),
    "robust.ramp_loss": Case(_jit(robust.ramp_loss, lam=1.5), _ramp_ref,
                             lambda rng: [_n(rng, KB, V, s=2.0), rng.integers(0, V, KB).astype(np.int32),
                                          _n(rng, KB, V, s=2.0), _n(rng, KB, V, s=2.0)], (0, 2, 3), reach="all",
                             atol=1e-4),
}


# ---- the sweep -----------------------------------------------------------------------------

CASES: dict[str, Case] = {}
for _area, _cases in (("preference", PREFERENCE), ("finance", FINANCE), ("counterfactual", COUNTERFACTUAL),
                      ("distill", DISTILL)):
    CASES.update({f"{_area}.{k}": v for k, v in _cases.items()})
CASES.update(OTHERS)
CASES.update(SELECTION)
CASES.update(DATA)
CASES.update(EXTRA)
# Arguments documented non-negative (probabilities, counts, standard deviations, propensities).
for _name, _args in {
        "distill.categorical_kl": (0, 1), "distill.soft_target_kl_loss": (1,), "distill.temperature_scale_probs": (0,),
        "distill.aggregate_teachers": (0, 1), "continual.diag_gaussian_kl": (1, 3), "continual.gaussian_hdr_box": (1,),
        "continual.combine_gaussians": (1, 2), "fairness.mutual_information": (0,),
        "fairness.conditional_mutual_information": (0,), "fairness.impression_variance": (0, 1),
        "counterfactual.item_propensity": (0,), "counterfactual.ips_pointwise_loss": (2,),
        "counterfactual.snips_dcg_at_k": (2,), "preference.bvpo_optimal_alpha": (0, 1),
        "selection.max_variance_utility": (0,), "selection.upper_confidence_bound": (1,),
        "selection.expected_improvement": (1,)}.items():
    CASES[_name] = CASES[_name]._replace(nonneg=_args)
NAMES = sorted(CASES)


def _run(name, examples):
    case = CASES[name]
    outcomes = collections.Counter()

    # No shrinking: the first failing example is reported as drawn (shrinking a 200-example run
    # over ~80 functions would cost minutes per failure).
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(st.integers(0, 2**32 - 1), BADS, st.integers(0, 7), st.integers(0, 10**6))
    def sweep(seed, bad, which, index):
        outcomes[_run_example(case, seed, bad, which, index)] += 1

    sweep()
    total = sum(outcomes.values())
    assert total >= examples
    injected = total - outcomes["clean"]
    print(f"SWEEP {name}: {total} examples, {injected} injected; "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return outcomes


@pytest.mark.parametrize("name", NAMES)
def test_sweep_api_fast(name):
    _run(name, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_sweep_api_slow(name):
    _run(name, SLOW)
