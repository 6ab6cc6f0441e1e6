"""BVPO: mixing the trace-based and empty-trace DPO gradients of a reasoning model.

The two losses are DPO on different log-probabilities; the estimator side gives the
MSE-optimal mixing weight in closed form and a plug-in estimate of it from gradients.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.preference._dpo import dpo_loss

PyTree = Any
PROJECTIONS = (None, "gaussian", "sparse")


def bvpo_trace_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
                    reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
                    beta: float = 0.1) -> jax.Array:
    r"""Per-pair trace-based BVPO loss: DPO on the joint log-probs of trace and answer.

    For a pair generated in thinking mode, each response with its own sampled trace
    :math:`r^\pm`, and :math:`\Delta(r, y) = \log\pi_\theta(r, y\mid x) - \log\pi_{ref}(r, y\mid x)`,

    .. math::  \ell_t = -\log\sigma\big(\beta\,[\Delta(r^+, y^+) - \Delta(r^-, y^-)]\big).

    Its gradient :math:`g_t` targets the joint, not the marginal :math:`\pi(y\mid x)`, and
    varies with the sampled traces (high variance).

    Args:
        policy_chosen_logps: [B_t] float, :math:`\log\pi_\theta(r^+, y^+\mid x)`, summed over
            the trace *and* answer tokens of the chosen response.
        policy_rejected_logps: [B_t] float, the same for the rejected response.
        reference_chosen_logps: [B_t] float, under the frozen reference (the initial model).
        reference_rejected_logps: [B_t] float.
        beta: :math:`\beta > 0`.

    Returns:
        [B_t] float, one loss per pair.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import bvpo_trace_loss
        >>> bvpo_trace_loss(jnp.array([-10.0]), jnp.array([-12.0]), jnp.array([-11.0]),
        ...                 jnp.array([-11.0]), beta=1.0).round(4)  # -log sigmoid(2)
        Array([0.1269], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: none; this is `dpo_loss` with ``label_smoothing=0``, named for what goes in.
    The paper's beta was not available to us; 0.1 is DPO's usual default.
    """
    return dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                    reference_rejected_logps, beta=beta)


def bvpo_empty_trace_loss(policy_chosen_logps: jax.Array, policy_rejected_logps: jax.Array,
                          reference_chosen_logps: jax.Array, reference_rejected_logps: jax.Array, *,
                          beta: float = 0.1) -> jax.Array:
    r"""Per-pair empty-trace BVPO loss: DPO on answers generated with thinking disabled.

    For a pair generated with an empty trace (the prompt ends with the chat template's empty
    think block, e.g. ``<think>\n\n</think>``),

    .. math::  \ell_e = -\log\sigma\big(\beta\,[\Delta(\varnothing, y'^+) - \Delta(\varnothing, y'^-)]\big).

    No trace is sampled, so its gradient :math:`g_e` carries no trace-induced variance, at
    the price of a bias against the marginal-likelihood gradient.

    Args:
        policy_chosen_logps: [B_e] float, :math:`\log\pi_\theta(\varnothing, y'^+\mid x)`, summed
            over the answer tokens (the empty think block is part of the conditioning).
        policy_rejected_logps: [B_e] float.
        reference_chosen_logps: [B_e] float.
        reference_rejected_logps: [B_e] float.
        beta: :math:`\beta > 0`.

    Returns:
        [B_e] float, one loss per pair.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import bvpo_empty_trace_loss
        >>> zero = jnp.zeros(1)
        >>> bvpo_empty_trace_loss(zero, zero, zero, zero)  # log 2
        Array([0.6931472], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: none; `dpo_loss` on empty-trace log-probs.
    """
    return dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                    reference_rejected_logps, beta=beta)


def _masked_mean(losses, mask):
    losses = losses.astype(compute_dtype(losses))
    if mask is None:
        return jnp.mean(losses)
    total = jnp.sum(jnp.where(mask, losses, 0.0))
    return total / jnp.maximum(jnp.sum(mask).astype(losses.dtype), 1.0)


def bvpo_loss(trace_losses: jax.Array, empty_losses: jax.Array, *, alpha: float | jax.Array = 0.5,
              trace_mask: jax.Array | None = None, empty_mask: jax.Array | None = None) -> jax.Array:
    r"""The BVPO objective: the :math:`\alpha`-mixture of the two batch-mean losses.

    .. math::  L_c = \alpha\,\overline{\ell_t} + (1-\alpha)\,\overline{\ell_e},
               \qquad \nabla L_c = \alpha g_t + (1-\alpha) g_e = g_c

    Because the mixture is linear, differentiating this scalar gives BVPO's mixed gradient
    :math:`g_c` in one backward pass. The trace and empty-trace batches are independent
    forward passes and may differ in size, which is why this reduces each to its mean (a
    named aggregation, not a hidden default). To mix gradients computed separately, use
    `bvjax.transforms.bvpo_mix`.

    Args:
        trace_losses: [B_t] float, from `bvpo_trace_loss`.
        empty_losses: [B_e] float, from `bvpo_empty_trace_loss`.
        alpha: :math:`\alpha \in [0, 1]`, the trace weight; the paper trains with 0.5. A
            traced scalar (e.g. an estimate of :math:`\alpha^*`) is accepted.
        trace_mask: optional [B_t] bool, the valid trace pairs.
        empty_mask: optional [B_e] bool, the valid empty-trace pairs.

    Returns:
        [] float, the scalar mixed loss. A batch whose mask is empty contributes 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import bvpo_loss
        >>> bvpo_loss(jnp.array([1.0, 3.0]), jnp.array([0.5]), alpha=0.25)  # .25*2 + .75*.5
        Array(0.875, dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: returns a scalar, not per-example values, because the two batches differ.
    """
    _checks.dims(trace_losses=(trace_losses, "[Bt]", "float"), empty_losses=(empty_losses, "[Be]", "float"),
                 trace_mask=(trace_mask, "[Bt]", "bool"), empty_mask=(empty_mask, "[Be]", "bool"))
    _checks.dims(alpha=(alpha, "[]"))
    _checks.in_range("alpha", alpha, low=0.0, high=1.0)
    return alpha * _masked_mean(trace_losses, trace_mask) + (1.0 - alpha) * _masked_mean(
        empty_losses, empty_mask)


def _alpha_from(numerator, denominator, alpha_if_degenerate):
    """clip(num / den, 0, 1), and `alpha_if_degenerate` where den <= 0; NaN where either is NaN
    (a non-finite gradient or moment upstream is not a degenerate pair of estimators)."""
    dtype = jnp.result_type(numerator, denominator, jnp.float32)
    ok = denominator > 0
    ratio = numerator / jnp.where(ok, denominator, 1.0)
    alpha = jnp.where(ok, jnp.clip(ratio, 0.0, 1.0), alpha_if_degenerate)
    return jnp.where(jnp.isnan(numerator) | jnp.isnan(denominator), jnp.nan, alpha).astype(dtype)


def bvpo_optimal_alpha(trace_mse: jax.Array, empty_mse: jax.Array, cross: jax.Array, *,
                       alpha_if_degenerate: float = 0.5) -> jax.Array:
    r"""The MSE-optimal BVPO mixing weight, in closed form.

    With target :math:`\mu` (the marginal-likelihood DPO gradient),
    :math:`A = E\|g_t-\mu\|^2 = \mathrm{tr}\,\Sigma_t + \|b_t\|^2`,
    :math:`C = E\|g_e-\mu\|^2 = \mathrm{tr}\,\Sigma_e + \|b_e\|^2` and
    :math:`X = E\langle g_t-\mu, g_e-\mu\rangle = \mathrm{tr}\,\Sigma_{te} + \langle b_t, b_e\rangle`,
    the mixture :math:`g_c = \alpha g_t + (1-\alpha) g_e` has
    :math:`\mathrm{MSE}(\alpha) = \alpha^2 A + (1-\alpha)^2 C + 2\alpha(1-\alpha) X`, minimised over
    :math:`[0, 1]` by

    .. math::  \alpha^* = \mathrm{clip}\Big(\frac{C - X}{A + C - 2X},\ 0,\ 1\Big).

    So :math:`\mathrm{MSE}(\alpha^*) \le \min(\mathrm{MSE}(0), \mathrm{MSE}(1))`. The denominator is
    :math:`E\|g_t - g_e\|^2 \ge 0`; where it is 0 (the two estimators coincide, and every
    :math:`\alpha` has the same MSE) the result is ``alpha_if_degenerate``, not NaN. A NaN
    input (a non-finite gradient upstream) gives NaN in its own entry, never the fallback.

    Args:
        trace_mse: [...] float, :math:`A`.
        empty_mse: [...] float, :math:`C` (broadcast against ``trace_mse``).
        cross: [...] float, :math:`X`.
        alpha_if_degenerate: value in [0, 1] returned where :math:`A + C - 2X \le 0`; 0.5 is
            the paper's fixed choice.

    Returns:
        [...] float in [0, 1], the broadcast shape of the inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import bvpo_optimal_alpha
        >>> bvpo_optimal_alpha(jnp.array(4.0), jnp.array(1.0), jnp.array(0.0))  # 1 / 5
        Array(0.2, dtype=float32)
        >>> bvpo_optimal_alpha(jnp.array(1.0), jnp.array(1.0), jnp.array(1.0))  # degenerate
        Array(0.5, dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: the paper's abstract (read on arXiv) promises a closed-form MSE-minimising
    weight, but its theorem text was not retrievable here, so this is our derivation
    from the MSE decomposition above, checked against a brute-force grid search in the
    tests. It keeps the cross term :math:`X` (the paper's :math:`\Sigma_{te}` and bias product)
    and clips to [0, 1]; with :math:`b_t = 0` and :math:`\Sigma_{te} = 0` it reduces to
    :math:`C / (A + C)`. Check it against the PDF's theorem when available.
    """
    _checks.dims(kind="float", trace_mse=(trace_mse, "[...]"), empty_mse=(empty_mse, "[...]"),
                 cross=(cross, "[...]"))
    try:
        jnp.broadcast_shapes(jnp.shape(trace_mse), jnp.shape(empty_mse), jnp.shape(cross))
    except ValueError:
        raise ValueError(f"cross: expected shapes that broadcast with trace_mse {jnp.shape(trace_mse)} "
                         f"and empty_mse {jnp.shape(empty_mse)}, got shape {jnp.shape(cross)}") from None
    _checks.in_range("alpha_if_degenerate", alpha_if_degenerate, low=0.0, high=1.0)
    dt = compute_dtype(trace_mse, empty_mse, cross)
    trace_mse, empty_mse, cross = (jnp.asarray(x).astype(dt) for x in (trace_mse, empty_mse, cross))
    return _alpha_from(empty_mse - cross, trace_mse + empty_mse - 2.0 * cross, alpha_if_degenerate)


class BVPOAlphaEstimate(NamedTuple):
    """What `bvpo_alpha_estimate` returns: the weight and the three plug-in moments.

    Attributes:
        alpha: [] float in [0, 1], the plug-in :math:`\\hat\\alpha^*`.
        trace_mse: [] float, :math:`\\hat A`, mean squared error of the trace gradients.
        empty_mse: [] float, :math:`\\hat C`, the same for the empty-trace gradients.
        cross: [] float, :math:`\\hat X`, their mean cross product about the reference.
    """

    alpha: jax.Array
    trace_mse: jax.Array
    empty_mse: jax.Array
    cross: jax.Array


def _rows(tree: PyTree, name: str) -> tuple[jax.Array, int]:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"{name}: expected a pytree with at least one [n, ...] float leaf, got no leaves")
    n = None
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        where = f"{name}{jax.tree_util.keystr(path)}"
        _checks.float_dtype(**{where: leaf})
        if jnp.ndim(leaf) < 1:
            raise ValueError(f"{where}: expected [n, ...] float (a leading draw axis), got {leaf.shape} {leaf.dtype}")
        if n is None:
            n = leaf.shape[0]
        elif leaf.shape[0] != n:
            raise ValueError(f"{where}: expected a leading dim n={n} as in the first leaf, "
                             f"got shape {leaf.shape} {leaf.dtype}")
    dt = compute_dtype(*leaves)  # the dtype policy: half precision gradients are reduced in float32
    return jnp.concatenate([leaf.reshape(n, -1).astype(dt) for leaf in leaves], axis=1), n


def _project(rows: list[jax.Array], key, projection, dim):
    size = rows[0].shape[-1]
    if projection == "gaussian":
        matrix = jax.random.normal(key, (size, dim), rows[0].dtype) / jnp.sqrt(float(dim))
        return [r @ matrix for r in rows]
    bucket_key, sign_key = jax.random.split(key)
    bucket = jax.random.randint(bucket_key, (size,), 0, dim)
    sign = jax.random.rademacher(sign_key, (size,), rows[0].dtype)
    return [jax.ops.segment_sum((r * sign).T, bucket, dim).T for r in rows]


def bvpo_alpha_estimate(trace_grads: PyTree, empty_grads: PyTree, reference: PyTree | None = None, *,
                        projection: str | None = None, projection_dim: int = 256,
                        key: jax.Array | None = None,
                        alpha_if_degenerate: float = 0.5) -> BVPOAlphaEstimate:
    r"""Plug-in estimate of the MSE-optimal BVPO weight from paired gradient draws.

    Given :math:`n` draws :math:`g_t^{(i)}, g_e^{(i)}` of the two estimators (per-example
    gradients from ``jax.vmap(jax.grad(...))``, or gradients of separate minibatches) and a
    reference :math:`\hat\mu` for the marginal gradient,

    .. math::  \hat A = \tfrac1n\textstyle\sum_i\|g_t^{(i)}-\hat\mu\|^2,\quad
               \hat C = \tfrac1n\sum_i\|g_e^{(i)}-\hat\mu\|^2,\quad
               \hat X = \tfrac1n\sum_i\langle g_t^{(i)}-\hat\mu,\ g_e^{(i)}-\hat\mu\rangle,

    .. math::  \hat\alpha = \mathrm{clip}\Big(\frac{\sum_i\langle g_e^{(i)}-\hat\mu,\
               g_e^{(i)}-g_t^{(i)}\rangle}{\sum_i\|g_t^{(i)}-g_e^{(i)}\|^2},\ 0,\ 1\Big)
               = \mathrm{clip}\Big(\frac{\hat C-\hat X}{\hat A+\hat C-2\hat X},\ 0,\ 1\Big),

    the second form computed directly to avoid cancellation. The weight is for mixing
    estimators distributed like the rows: per-example rows give the per-example weight;
    for a minibatch of size :math:`B` pass minibatch gradients as rows, since the variance
    terms shrink with :math:`B` while the biases do not.

    ``reference``: the recommended recipe is the average of :math:`R \ge 4` trace gradients per
    prompt (one row per prompt, or one vector for all). Left as None, :math:`\hat\mu` is the
    mean of the trace rows, i.e. the trace estimator is taken as unbiased (:math:`b_t = 0`).

    ``projection`` keeps the cost down for large models by mapping every row (and the
    reference) through one random linear map :math:`S` with :math:`E[S^\top S] = I`, so each
    inner product is estimated without bias from ``projection_dim`` = k numbers per row:
    ``"gaussian"`` draws :math:`S` with i.i.d. :math:`N(0, 1/k)` entries (a [P, k] matrix;
    Johnson-Lindenstrauss), ``"sparse"`` hashes each coordinate to one of k buckets with a
    random sign (count sketch, O(P) memory and time).

    Args:
        trace_grads: pytree of [n, ...] float leaves, the trace-based gradient draws.
        empty_grads: pytree with the structure and leaf shapes of ``trace_grads``.
        reference: optional pytree of [...] leaves (one target) or [n, ...] leaves (a target
            per row), the stand-in for the marginal gradient :math:`\mu`.
        projection: None (exact), ``"gaussian"`` or ``"sparse"``.
        projection_dim: static int k >= 1, the sketch size.
        key: PRNG key, required when ``projection`` is set.
        alpha_if_degenerate: returned when :math:`\sum_i\|g_t^{(i)}-g_e^{(i)}\|^2 = 0`.

    Returns:
        A `BVPOAlphaEstimate` ``(alpha, trace_mse, empty_mse, cross)`` of scalars.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.preference import bvpo_alpha_estimate
        >>> g_t = {"w": jnp.array([[2.0], [-2.0]])}  # unbiased, variance 4
        >>> g_e = {"w": jnp.array([[1.0], [1.0]])}   # constant, bias 1
        >>> bvpo_alpha_estimate(g_t, g_e, {"w": jnp.zeros(1)}).alpha  # (1 - 0) / (4 + 1 - 0)
        Array(0.2, dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).
        Johnson and Lindenstrauss, Extensions of Lipschitz Mappings into a Hilbert Space, 1984.
        Charikar et al, Finding Frequent Items in Data Streams, 2002 (count sketch).

    Departures: by the paper's reviews, it trains with a fixed alpha = 0.5 and
    does not estimate :math:`\alpha^*`; this plug-in estimator (and its sketching) is ours,
    built on the closed form of `bvpo_optimal_alpha`.
    """
    _checks.same_structure(trace_grads=trace_grads, empty_grads=empty_grads)
    _checks.one_of("projection", projection, PROJECTIONS)
    _checks.in_range("alpha_if_degenerate", alpha_if_degenerate, low=0.0, high=1.0)
    g_t, n = _rows(trace_grads, "trace_grads")
    g_e, _ = _rows(empty_grads, "empty_grads")
    if reference is None:
        mu = jnp.mean(g_t, axis=0, keepdims=True)
    else:
        t_leaves, t_def = jax.tree_util.tree_flatten(trace_grads)
        r_leaves, r_def = jax.tree_util.tree_flatten(reference)
        if r_def != t_def:
            raise ValueError(f"reference: expected the pytree structure of trace_grads {t_def}, got {r_def}")
        per_row = all(r.shape == t.shape for r, t in zip(r_leaves, t_leaves))
        for r, t in zip(r_leaves, t_leaves):
            if jnp.shape(r) != (t.shape if per_row else t.shape[1:]):
                raise ValueError(f"reference: expected leaves shaped like one row {t.shape[1:]} (or all "
                                 f"rows {t.shape}) of trace_grads, got shape {jnp.shape(r)}")
        rows = n if per_row else 1
        mu = jnp.concatenate([jnp.reshape(r, (rows, -1)) for r in r_leaves], axis=1).astype(g_t.dtype)
    if projection is not None:
        _checks.positive_int(projection_dim=projection_dim)
        if key is None:
            raise ValueError(f"key: expected a PRNG key when projection={projection!r}, got None")
        g_t, g_e, mu = _project([g_t, g_e, mu], key, projection, projection_dim)
    d_t, d_e = g_t - mu, g_e - mu
    trace_mse = jnp.mean(jnp.sum(d_t * d_t, axis=1))
    empty_mse = jnp.mean(jnp.sum(d_e * d_e, axis=1))
    cross = jnp.mean(jnp.sum(d_t * d_e, axis=1))
    diff = g_e - g_t
    numerator = jnp.mean(jnp.sum(d_e * diff, axis=1))
    denominator = jnp.mean(jnp.sum(diff * diff, axis=1))
    return BVPOAlphaEstimate(_alpha_from(numerator, denominator, alpha_if_degenerate),
                             trace_mse, empty_mse, cross)
