"""Idealized runtime of autoregressive Transformer inference (Narayanan et al. 2023).

The cost model: a request with p prompt tokens and o output tokens takes

    T(p, o) = F(p) + g * (o - 1)   (o >= 1),      T(p, 0) = F(p),

with F(p) the time to encode the prompt and produce the first token, and g the time per
further output token, both per model on uniform hardware and software (Megatron on
A100s in the paper). F is profiled at a few prompt sizes and read between them by
HELM's bucket rule; g and F(p_k) come from a least-squares fit of profiled runtimes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.stats._distributions import _broadcastable


class RuntimeFit(NamedTuple):
    """What `fit_runtime_model` returns.

    Attributes:
        prompt_times: [K] F(p_k), the prompt-encoding time (first output token
            included) at each profiled prompt size.
        per_token_time: g, the time per further output token: a scalar, or [K] (one
            slope per prompt size) for ``method="per_prompt"``.
        overhead: the per-request overhead c taken out of F with ``denoised=True``
            (0 otherwise); `idealized_runtime` adds it back through ``overhead=``.
    """

    prompt_times: jax.Array
    per_token_time: jax.Array
    overhead: jax.Array


RUNTIME_FIT_METHODS = ("joint", "per_prompt", "helm_measured", "helm_regression")


def _row_lines(o, t, w):
    """Per-row weighted least squares of t on o: (value at o = 1, slope, has-spread, has-runs)."""
    n = jnp.sum(w, axis=1)
    safe_n = jnp.where(n > 0, n, 1.0)
    o_bar = jnp.sum(w * o, axis=1) / safe_n
    t_bar = jnp.sum(w * t, axis=1) / safe_n
    do = o - o_bar[:, None]
    sxy = jnp.sum(w * do * (t - t_bar[:, None]), axis=1)
    sxx = jnp.sum(w * do * do, axis=1)
    return o_bar, t_bar, sxy, sxx, n


def _slope(sxy, sxx):
    return jnp.where(sxx > 0, sxy / jnp.where(sxx > 0, sxx, 1.0), 0.0)


def _pooled_slope(o, y, w):
    """Slope of one least-squares line (with intercept) through all (o, y) pairs."""
    n = jnp.maximum(jnp.sum(w), 1.0)
    o_bar = jnp.sum(w * o) / n
    y_bar = jnp.sum(w * y) / n
    return _slope(jnp.sum(w * (o - o_bar) * (y - y_bar)), jnp.sum(w * (o - o_bar) ** 2))


def fit_runtime_model(output_tokens: jax.Array, runtimes: jax.Array, *, mask: jax.Array | None = None,
                      method: str = "joint", denoised: bool = False) -> RuntimeFit:
    r"""Least-squares fit of the idealized-runtime cost model to profiled runtimes of one model.

    Row k holds runs at profiled prompt size :math:`p_k` (rows in increasing prompt size)
    with output lengths :math:`o_{kj}` and runtimes :math:`T_{kj}`; the model is
    :math:`T_{kj} = F_k + g\,(o_{kj} - 1) + \varepsilon_{kj}`.

    - ``"joint"`` (default): one least-squares problem with K intercepts and a common
      slope, solved in closed form by the within estimator
      :math:`\hat g = \sum w(o - \bar o_k)(T - \bar T_k) / \sum w(o - \bar o_k)^2`,
      :math:`\hat F_k = \bar T_k - \hat g(\bar o_k - 1)` (weighted row means), identical to
      ``numpy.linalg.lstsq`` on the design ``[one_hot(k), o - 1]``.
    - ``"per_prompt"``: one line per prompt size (slope g_k and F_k the line at o = 1),
      ``sklearn.linear_model.LinearRegression`` per row.
    - ``"helm_measured"``: the authors' profiling script (stanford-crfm/helm-efficiency,
      ``notebooks/fit_runtimes.py``, default mode): F_k is the measured runtime of the
      row's o = 1 run, and g the slope of one least-squares line with intercept through
      all :math:`(o_{kj},\ T_{kj} - F_k)` (the intercept is dropped). A row without an
      o = 1 run falls back to its own line at o = 1.
    - ``"helm_regression"``: the script's other mode: F_k is the per-row line at o = 1,
      raised to at least F_0 for k > 0, then g as in ``"helm_measured"``.

    With ``denoised=True`` (the script's ``real_system``, for API measurements) a
    per-request overhead :math:`c = F_0 - g` is taken out of every F_k and returned,
    giving HELM's denoised runtime when passed back to `idealized_runtime`. HELM's
    tables also round every number to 3 decimals; bvjax does not round. Fit each model
    separately, or ``jax.vmap`` over models.

    Args:
        output_tokens: [K, O] int or float, output lengths of the profiled runs.
        runtimes: [K, O] float, measured runtimes.
        mask: optional [K, O] bool, True for a real run (ragged grids); masked entries are
            ignored.
        method: static ``"joint"``, ``"per_prompt"``, ``"helm_measured"`` or
            ``"helm_regression"``.
        denoised: static bool, take the overhead out of F.

    Returns:
        `RuntimeFit` ``(prompt_times [K], per_token_time [] or [K], overhead [])``. A slope
        with no spread in output lengths behind it is 0 (then F is the mean runtime); a
        row with no runs has F = 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import fit_runtime_model
        >>> o = jnp.array([[1., 5., 9.], [1., 5., 9.]])
        >>> t = jnp.array([[0.1, 0.5, 0.9], [0.3, 0.7, 1.1]])  # F = 0.1, 0.3; g = 0.1
        >>> f, g, _ = fit_runtime_model(o, t)
        >>> [round(v, 4) for v in f.tolist()], round(float(g), 4)
        ([0.1, 0.3], 0.1)

    References:
        Narayanan, Santhanam, Henderson, Bommasani, Lee and Liang, Cheaply Evaluating
        Inference Efficiency Metrics for Autoregressive Transformer APIs, 2023 (arXiv 2305.02440).
    """
    _checks.dims(output_tokens=(output_tokens, "[K, O]", "number"), runtimes=(runtimes, "[K, O]", "number"),
                 mask=(mask, "[K, O]", "bool"))
    _checks.one_of("method", method, RUNTIME_FIT_METHODS)
    dtype = compute_dtype(output_tokens, runtimes)
    o = jnp.asarray(output_tokens, dtype)
    t = jnp.asarray(runtimes, dtype)
    w = jnp.ones_like(t) if mask is None else jnp.asarray(mask, dtype)
    o_bar, t_bar, sxy, sxx, n = _row_lines(o, t, w)
    has_runs = n > 0
    if method == "joint":
        g = _slope(jnp.sum(sxy), jnp.sum(sxx))
        f = t_bar - g * (o_bar - 1.0)
    else:
        g_rows = _slope(sxy, sxx)
        f = t_bar - g_rows * (o_bar - 1.0)  # each row's own line at o = 1
        if method == "per_prompt":
            g = g_rows
        else:
            if method == "helm_measured":
                first = (o == 1.0) & (w > 0)
                at_one = jnp.sum(jnp.where(first & (jnp.cumsum(first, axis=1) == 1), t, 0.0), axis=1)
                f = jnp.where(jnp.any(first, axis=1), at_one, f)
            else:
                f = jnp.concatenate([f[:1], jnp.maximum(f[1:], f[0])])
            g = _pooled_slope(o, t - f[:, None], w)
    f = jnp.where(has_runs, f, 0.0)
    overhead = jnp.zeros((), dtype)
    if denoised:
        overhead = f[0] - (g[0] if g.ndim else g)
        f = jnp.where(has_runs, f - overhead, 0.0)
    return RuntimeFit(f, g, overhead)


def idealized_runtime(prompt_tokens: jax.Array, output_tokens: jax.Array, prompt_sizes: jax.Array,
                      prompt_times: jax.Array, per_token_time: jax.Array, *, overhead: jax.Array = 0.0
                      ) -> jax.Array:
    r"""Idealized (or denoised) runtime of requests from the fitted cost model.

    .. math::  T(p, o) = F(p) + g\,\max(o - 1, 0) + c,\qquad F(p) = F(k^*)\,\frac{p}{k^*},

    with :math:`k^*` the smallest profiled prompt size :math:`\ge p` (the largest one when
    p exceeds them all: linear extrapolation), assuming constant throughput inside a
    bucket, as HELM's ``_compute_estimated_time_from_prompt_size_and_num_output_tokens``
    does. :math:`c` is the per-request ``overhead`` of HELM's denoised runtime (0 for the
    idealized one).

    Args:
        prompt_tokens: [...] int or float, prompt lengths p.
        output_tokens: [...] int or float, output lengths o (broadcast with p).
        prompt_sizes: [K] profiled prompt sizes, increasing.
        prompt_times: [K] F at those sizes (e.g. `fit_runtime_model`'s prompt_times).
        per_token_time: scalar g.
        overhead: scalar c, added to every request.

    Returns:
        [...] float runtimes (seconds if the inputs are).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import idealized_runtime
        >>> keys, f = jnp.array([1, 128, 512, 1920]), jnp.array([0.084, 0.094, 0.178, 0.597])
        >>> round(float(idealized_runtime(jnp.array(100), 10, keys, f, 0.081)), 7)  # HELM davinci
        0.8024375

    References:
        Narayanan, Santhanam, Henderson, Bommasani, Lee and Liang, Cheaply Evaluating
        Inference Efficiency Metrics for Autoregressive Transformer APIs, 2023 (arXiv 2305.02440).
        Liang et al., Holistic Evaluation of Language Models (HELM), 2022 (arXiv 2211.09110).
    """
    _broadcastable(prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    _checks.dims(prompt_sizes=(prompt_sizes, "[K]", "number"), prompt_times=(prompt_times, "[K]", "number"),
                 per_token_time=(per_token_time, "[]", "number"), overhead=(overhead, "[]", "number"))
    dtype = compute_dtype(prompt_tokens, output_tokens, prompt_times, per_token_time, overhead)
    p = jnp.asarray(prompt_tokens, dtype)
    o = jnp.asarray(output_tokens, dtype)
    sizes = jnp.asarray(prompt_sizes, dtype)
    times = jnp.asarray(prompt_times, dtype)
    k = jnp.minimum(jnp.searchsorted(sizes, p, side="left"), sizes.shape[0] - 1)
    prompt = times[k] * p / sizes[k]
    gen = jnp.asarray(per_token_time, dtype) * jnp.maximum(o - 1.0, 0.0)
    return prompt + gen + jnp.asarray(overhead, dtype)


COST_UNITS = ("cents", "dollars", "accelerator_seconds")


def accelerator_cost(runtime: jax.Array, num_accelerators: jax.Array, *,
                     price_per_accelerator_hour: jax.Array = 4.096, unit: str = "cents") -> jax.Array:
    r"""Idealized cost: the cost-aware variant of the idealized runtime.

    .. math::  C = T_{\mathrm{ideal}}\cdot n_{\mathrm{acc}}\cdot \frac{\pi}{3600}
               \ \text{dollars}\quad(\times 100 \text{ in cents}),

    with :math:`n_{\mathrm{acc}}` the accelerators needed to serve the model (the paper
    uses the fewest 80 GB A100s that hold it, e.g. 8 for davinci, 24 for TNLG v2 530B) and
    :math:`\pi` the price per accelerator-hour. The defaults follow the authors' analysis
    notebook (stanford-crfm/helm-efficiency, ``notebooks/efficiency_vs_capability.ipynb``):
    cost in cents at $4.096 per A100-hour (AWS on-demand, an 8-A100 instance / 8; their
    V100 variant uses $3.06 with its own GPU counts). ``unit="accelerator_seconds"``
    gives :math:`T\cdot n` and ignores the price. The paper body was not readable here;
    the formula is read from that notebook.

    Args:
        runtime: [...] float, idealized runtime per request in seconds (`idealized_runtime`).
        num_accelerators: [...] int or float, accelerators serving the model (broadcasts).
        price_per_accelerator_hour: [...] float, dollars per accelerator-hour.
        unit: static ``"cents"``, ``"dollars"`` or ``"accelerator_seconds"``.

    Returns:
        [...] float, the broadcast shape.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import accelerator_cost
        >>> round(float(accelerator_cost(jnp.array(0.9), 8)), 4)  # 0.9 s on 8 A100s, in cents
        0.8192

    References:
        Narayanan, Santhanam, Henderson, Bommasani, Lee and Liang, Cheaply Evaluating
        Inference Efficiency Metrics for Autoregressive Transformer APIs, 2023 (arXiv 2305.02440).
    """
    _broadcastable(runtime=runtime, num_accelerators=num_accelerators,
                   price_per_accelerator_hour=price_per_accelerator_hour)
    _checks.one_of("unit", unit, COST_UNITS)
    dtype = compute_dtype(runtime, num_accelerators, price_per_accelerator_hour)
    seconds = jnp.asarray(runtime, dtype) * jnp.asarray(num_accelerators, dtype)
    if unit == "accelerator_seconds":
        return seconds
    dollars = seconds * jnp.asarray(price_per_accelerator_hour, dtype) / 3600.0
    return 100.0 * dollars if unit == "cents" else dollars
