"""BVPO gradient mixing as an optax transformation."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bvjax import _checks
from bvjax.preference._bvpo import _alpha_from

PyTree = Any


class BVPOMixState(NamedTuple):
    """State of `bvpo_mix`.

    Attributes:
        count: [] int32, updates seen.
        alpha: [] float, the weight the next update uses (fixed, or the running estimate).
        trace_mean: EMA of the trace gradients (like ``params``; ``()`` for a fixed alpha),
            the stand-in for the marginal gradient when no ``reference_grads`` is passed.
        trace_mse, empty_mse, cross: [] float EMAs of :math:`\\|g_t-\\mu\\|^2`,
            :math:`\\|g_e-\\mu\\|^2`, :math:`\\langle g_t-\\mu, g_e-\\mu\\rangle`.
        numerator, denominator: [] float EMAs of :math:`\\langle g_e-\\mu, g_e-g_t\\rangle` and
            :math:`\\|g_e-g_t\\|^2` (C - X and A + C - 2X without cancellation).
        moment_weight: [] float, the EMA weight those moments carry (0 before any).
    """

    count: jax.Array
    alpha: jax.Array
    trace_mean: PyTree
    trace_mse: jax.Array
    empty_mse: jax.Array
    cross: jax.Array
    numerator: jax.Array
    denominator: jax.Array
    moment_weight: jax.Array


def _vdot(a: PyTree, b: PyTree) -> jax.Array:
    parts = [jnp.vdot(x, y).real for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))]
    return sum(parts[1:], parts[0]) if parts else jnp.zeros(())


def bvpo_mix(alpha: float | str = 0.5, *, decay: float = 0.99, initial_alpha: float = 0.5,
             alpha_if_degenerate: float = 0.5) -> optax.GradientTransformationExtraArgs:
    r"""Mixes the trace gradient (``updates``) with the empty-trace gradient (an extra arg).

    .. math::  g_c = \alpha\, g_t + (1-\alpha)\, g_e

    ``update(g_t, state, params, empty_trace_grads=g_e)`` returns :math:`g_c`; put it first
    in an ``optax.chain`` (``optax.chain(bvpo_mix(), optax.adamw(1e-6))``), which forwards
    the extra argument. With a number, :math:`\alpha` is fixed (the paper trains with 0.5).
    With ``alpha="optimal"`` it follows a running estimate of
    :math:`\alpha^* = \mathrm{clip}((C-X)/(A+C-2X), 0, 1)` (see
    `bvjax.preference.bvpo_optimal_alpha`): each step adds
    :math:`\|g_t-\mu\|^2`, :math:`\|g_e-\mu\|^2` and :math:`\langle g_t-\mu, g_e-\mu\rangle` to
    exponential moving averages (weight ``1 - decay``), with :math:`\mu` the
    ``reference_grads`` extra argument when given (e.g. a multi-trace average), else the
    moving average of past trace gradients (the trace estimator taken as unbiased). The
    weight used at step k comes from steps before k, so it does not depend on the current
    draw; ``initial_alpha`` is used until there is an estimate. The cost is a few inner
    products and one params-sized buffer.

    Args:
        alpha: a float in [0, 1], or ``"optimal"`` for the running estimate.
        decay: EMA decay in [0, 1) for the ``"optimal"`` moments.
        initial_alpha: weight in [0, 1] before the first estimate.
        alpha_if_degenerate: weight in [0, 1] when :math:`g_t` and :math:`g_e` have coincided
            so far (zero denominator).

    Returns:
        An ``optax.GradientTransformationExtraArgs`` whose update takes the keyword
        ``empty_trace_grads`` (a pytree like ``updates``, required) and optionally
        ``reference_grads``; its state is a `BVPOMixState`.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> from bvjax.transforms import bvpo_mix
        >>> opt = optax.chain(bvpo_mix(0.25), optax.sgd(1.0))
        >>> params = {"w": jnp.zeros(2)}
        >>> state = opt.init(params)
        >>> g_t, g_e = {"w": jnp.array([4.0, 0.0])}, {"w": jnp.array([0.0, 4.0])}
        >>> updates, state = opt.update(g_t, state, params, empty_trace_grads=g_e)
        >>> updates["w"]  # -(0.25 * g_t + 0.75 * g_e)
        Array([-1., -3.], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: by the paper's reviews, it trains with a fixed alpha = 0.5 (the
    default here) and does not estimate it during training; the ``"optimal"`` mode is our
    addition built on our closed form (see `bvjax.preference.bvpo_optimal_alpha`).
    """
    if isinstance(alpha, str):
        _checks.one_of("alpha", alpha, ("optimal",))
    else:
        _checks.in_range("alpha", alpha, low=0.0, high=1.0)
    _checks.in_range("decay", decay, low=0.0, high=1.0, high_inclusive=False)
    _checks.in_range("initial_alpha", initial_alpha, low=0.0, high=1.0)
    _checks.in_range("alpha_if_degenerate", alpha_if_degenerate, low=0.0, high=1.0)
    estimate = alpha == "optimal"
    first_alpha = initial_alpha if estimate else alpha

    def init_fn(params):
        zero = jnp.zeros((), jnp.float32)
        trace_mean = jax.tree_util.tree_map(jnp.zeros_like, params) if estimate else ()
        return BVPOMixState(jnp.zeros((), jnp.int32), jnp.asarray(first_alpha, jnp.float32),
                            trace_mean, zero, zero, zero, zero, zero, zero)

    def update_fn(updates, state, params=None, *, empty_trace_grads=None, reference_grads=None,
                  **extra_args):
        del params, extra_args
        if empty_trace_grads is None:
            raise ValueError("empty_trace_grads: expected a pytree like updates (the empty-trace "
                             "gradient, passed as an extra argument), got None")
        _checks.same_structure(updates=updates, empty_trace_grads=empty_trace_grads)
        if reference_grads is not None:
            _checks.same_structure(updates=updates, reference_grads=reference_grads)
        a = state.alpha
        mixed = jax.tree_util.tree_map(
            lambda t, e: (a * t + (1.0 - a) * e).astype(jnp.result_type(t, e)),
            updates, empty_trace_grads)
        count = state.count + 1
        if not estimate:
            return mixed, state._replace(count=count)

        if reference_grads is not None:
            mu, have_mu = reference_grads, jnp.asarray(True)
        else:
            debias = 1.0 - decay ** state.count.astype(jnp.float32)
            have_mu = state.count > 0
            mu = jax.tree_util.tree_map(lambda m: m / jnp.where(have_mu, debias, 1.0), state.trace_mean)
        d_t = jax.tree_util.tree_map(lambda t, m: t - m, updates, mu)
        d_e = jax.tree_util.tree_map(lambda e, m: e - m, empty_trace_grads, mu)
        diff = jax.tree_util.tree_map(lambda e, t: e - t, empty_trace_grads, updates)
        w = jnp.where(have_mu, 1.0 - decay, 0.0)

        def ema(old, new):
            return jnp.where(have_mu, decay * old + (1.0 - decay) * new, old)

        trace_mse = ema(state.trace_mse, _vdot(d_t, d_t))
        empty_mse = ema(state.empty_mse, _vdot(d_e, d_e))
        cross = ema(state.cross, _vdot(d_t, d_e))
        numerator = ema(state.numerator, _vdot(d_e, diff))
        denominator = ema(state.denominator, _vdot(diff, diff))
        moment_weight = jnp.where(have_mu, decay * state.moment_weight + w, state.moment_weight)
        new_alpha = jnp.where(moment_weight > 0,
                              _alpha_from(numerator, denominator, alpha_if_degenerate),
                              initial_alpha).astype(jnp.float32)
        trace_mean = jax.tree_util.tree_map(lambda m, t: decay * m + (1.0 - decay) * t,
                                            state.trace_mean, updates)
        return mixed, BVPOMixState(count, new_alpha, trace_mean, trace_mse, empty_mse, cross,
                                   numerator, denominator, moment_weight)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
