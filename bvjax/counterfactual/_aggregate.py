"""Learning from aggregate (bag-mean) responses: bag- and instance-level losses (Javanmard et al. 2024).

The n samples are partitioned into disjoint bags; only each bag's mean response
:math:`\\bar y_a = \\frac1{k_a}\\sum_{i\\in B_a} y_i` is revealed. ``bag_ids`` [N] int in
[0, num_bags) assigns samples to bags; ``bag_labels`` [num_bags] holds the revealed means.
An empty bag (no sample) contributes 0 to every per-bag output, never NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _counts(bag_ids, num_bags, dtype):
    return jax.ops.segment_sum(jnp.ones(bag_ids.shape, dtype), bag_ids, num_bags)


def _means(values, bag_ids, num_bags):
    total = jax.ops.segment_sum(values, bag_ids, num_bags)
    count = _counts(bag_ids, num_bags, values.dtype)
    count = count.reshape(count.shape + (1,) * (values.ndim - 1))
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), 0.0)


def bag_means(values: jax.Array, bag_ids: jax.Array, *, num_bags: int) -> jax.Array:
    r"""Per-bag means of per-sample values (responses, predictions or feature rows).

    .. math::  \bar v_a = \frac{1}{k_a} \sum_{i \in B_a} v_i,\qquad k_a = |B_a|

    Args:
        values: [N] or [N, D] float.
        bag_ids: [N] int in [0, num_bags).
        num_bags: static int m >= 1.

    Returns:
        [m] or [m, D] float; an empty bag gets 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import bag_means
        >>> bag_means(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 1]), num_bags=3)
        Array([2., 5., 0.], dtype=float32)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), section 2.
    """
    _checks.dims(values=(values, ("[N]", "[N, D]"), "float"), bag_ids=(bag_ids, "[N]", "int"))
    _checks.positive_int(num_bags=num_bags)
    _checks.in_range("bag_ids", bag_ids, low=0, high=num_bags - 1)  # eager only; traced ids are dropped
    dt = compute_dtype(values)  # the dtype policy: half precision computed in float32
    values = values.astype(dt)
    return _means(values, bag_ids, num_bags)


def _check_losses(pred, bag_labels, bag_ids):
    _checks.dims(pred=(pred, "[N]", "float"), bag_ids=(bag_ids, "[N]", "int"),
                 bag_labels=(bag_labels, "[M]", "float"))


def bag_level_loss(pred: jax.Array, bag_labels: jax.Array, bag_ids: jax.Array) -> jax.Array:
    r"""Bag-level squared loss: each bag's mean prediction against its revealed mean response.

    .. math::  \ell_a^{\mathrm{bag}} = \big(\bar y_a - \bar f_a\big)^2,\qquad
               \bar f_a = \frac{1}{k_a}\sum_{i \in B_a} f(x_i)

    The paper's :math:`L_{\mathrm{bag}}` is the mean over bags.

    Args:
        pred: [N] float, per-sample predictions :math:`f(x_i)`.
        bag_labels: [M] float, the revealed bag means :math:`\bar y_a`.
        bag_ids: [N] int in [0, M).

    Returns:
        [M] float, one loss per bag; an empty bag gets 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import bag_level_loss
        >>> bag_level_loss(jnp.array([1.0, 3.0, 5.0]), jnp.array([1.0, 4.0]), jnp.array([0, 0, 1]))
        Array([1., 1.], dtype=float32)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), eq. (2) with the squared loss.
    """
    _check_losses(pred, bag_labels, bag_ids)
    dt = compute_dtype(pred, bag_labels)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    bag_labels = bag_labels.astype(dt)
    m = bag_labels.shape[0]
    nonempty = _counts(bag_ids, m, pred.dtype) > 0
    return jnp.where(nonempty, (bag_labels - _means(pred, bag_ids, m)) ** 2, 0.0)


def instance_level_loss(pred: jax.Array, bag_labels: jax.Array, bag_ids: jax.Array) -> jax.Array:
    r"""Instance-level squared loss: every sample is labelled with its bag's mean response.

    .. math::  \ell_i^{\mathrm{inst}} = \big(\bar y_{a(i)} - f(x_i)\big)^2

    Its mean over samples equals, for equal bag sizes, the bag-level loss plus the
    within-bag variance of the predictions (`aggregate_interpolated_loss` at
    :math:`\rho = 1`): the instance loss is a regularised bag loss.

    Args:
        pred: [N] float, per-sample predictions.
        bag_labels: [M] float, the revealed bag means.
        bag_ids: [N] int in [0, M).

    Returns:
        [N] float, one loss per sample.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import instance_level_loss
        >>> instance_level_loss(jnp.array([1.0, 3.0, 5.0]), jnp.array([1.0, 4.0]), jnp.array([0, 0, 1]))
        Array([0., 4., 1.], dtype=float32)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), eq. (3) with the squared loss.
    """
    _check_losses(pred, bag_labels, bag_ids)
    dt = compute_dtype(pred, bag_labels)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    bag_labels = bag_labels.astype(dt)
    return (bag_labels[bag_ids] - pred) ** 2


def aggregate_interpolated_loss(pred: jax.Array, bag_labels: jax.Array, bag_ids: jax.Array, *,
                                rho: float = 0.5) -> jax.Array:
    r"""The interpolating estimator's loss: bag-level loss plus rho times the within-bag prediction variance.

    .. math::  \ell_a^{\rho} = \big(\bar y_a - \bar f_a\big)^2
               + \rho\,\frac{1}{k_a}\sum_{i\in B_a}\big(f(x_i) - \bar f_a\big)^2

    Averaged over bags, :math:`\rho = 0` is the bag-level loss and, for equal bag sizes,
    :math:`\rho = 1` is the instance-level loss (exactly: :math:`\frac1n\sum_i
    (\bar y_{a(i)} - f_i)^2 = \frac1m\sum_a \ell^{1}_a`). Javanmard et al. tune
    :math:`\rho` on validation data.

    Args:
        pred: [N] float, per-sample predictions.
        bag_labels: [M] float, the revealed bag means.
        bag_ids: [N] int in [0, M).
        rho: the interpolation weight :math:`\rho \ge 0`.

    Returns:
        [M] float, one loss per bag; an empty bag gets 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import aggregate_interpolated_loss
        >>> pred, ybar, ids = jnp.array([1.0, 3.0, 5.0]), jnp.array([1.0, 4.0]), jnp.array([0, 0, 1])
        >>> aggregate_interpolated_loss(pred, ybar, ids, rho=1.0)  # bag 0: (1 - 2)^2 + (1 + 1) / 2
        Array([2., 1.], dtype=float32)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), section 4 (interpolating estimator).

    Departure: the regulariser is normalised per bag (1/k_a), so the mean over bags is the
    paper's :math:`L_{\mathrm{bag}} + \rho R` whenever the bags have equal sizes.
    """
    _check_losses(pred, bag_labels, bag_ids)
    _checks.in_range("rho", rho, low=0.0)
    dt = compute_dtype(pred, bag_labels)  # the dtype policy: half precision computed in float32
    pred = pred.astype(dt)
    bag_labels = bag_labels.astype(dt)
    m = bag_labels.shape[0]
    fbar = _means(pred, bag_ids, m)
    within = _means((pred - fbar[bag_ids]) ** 2, bag_ids, m)
    return bag_level_loss(pred, bag_labels, bag_ids) + rho * within


def aggregate_linear_regression(x: jax.Array, bag_labels: jax.Array, bag_ids: jax.Array, *,
                                rho: float = 1.0, ridge: float = 0.0) -> jax.Array:
    r"""Closed-form minimiser of the interpolated aggregate loss for a linear model :math:`f(x) = x^\top\theta`.

    .. math::  \hat\theta_\rho = \Big[\tfrac1m \bar X^\top \bar X + \tfrac{\rho}{n} X^\top (I - P) X
               + \lambda I\Big]^{-1} \tfrac1m \bar X^\top \bar y

    with :math:`\bar X` [m, d] the bag-mean features and :math:`P` the block-averaging
    projector (so :math:`(I-P)X` centres each bag). This minimises
    :math:`\frac1m\sum_a (\bar y_a - \bar x_a^\top\theta)^2 + \frac{\rho}{n}\sum_i
    (x_i^\top\theta - \bar x_{a(i)}^\top\theta)^2 + \lambda\|\theta\|^2` (for equal bag
    sizes, the mean of `aggregate_interpolated_loss` plus the ridge). At :math:`\rho = 1`
    and :math:`\lambda = 0` it equals OLS of the bag-mean labels on the instances.

    Args:
        x: [N, D] float, the features.
        bag_labels: [M] float, the revealed bag means.
        bag_ids: [N] int in [0, M); every bag should be non-empty.
        rho: :math:`\rho \ge 0`.
        ridge: :math:`\lambda \ge 0`. With :math:`\rho = 0` and more features than
            bags the bag-level solution is not unique: pass ``ridge > 0``.

    Returns:
        [D] float, :math:`\hat\theta_\rho`; NaN throughout if a feature or label is NaN or
        infinite.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.counterfactual import aggregate_linear_regression
        >>> x = jnp.array([[1.0], [3.0], [2.0], [2.0]])
        >>> aggregate_linear_regression(x, jnp.array([4.0, 4.0]), jnp.array([0, 0, 1, 1]), rho=0.0)
        Array([2.], dtype=float32)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), section 3 (linear regression).

    Departure: the paper analyses the estimator asymptotically; this closed form is our
    derivation from the loss, checked in the tests against a
    float64 NumPy solve and against OLS on bag-mean labels at :math:`\rho = 1`.
    """
    _checks.dims(x=(x, "[N, D]", "float"), bag_ids=(bag_ids, "[N]", "int"),
                 bag_labels=(bag_labels, "[M]", "float"))
    _checks.in_range("rho", rho, low=0.0)
    _checks.in_range("ridge", ridge, low=0.0)
    dt = compute_dtype(x, bag_labels)  # the dtype policy: half precision computed in float32
    x = x.astype(dt)
    bag_labels = bag_labels.astype(dt)
    n, d = x.shape
    m = bag_labels.shape[0]
    xbar = _means(x, bag_ids, m)
    centred = x - xbar[bag_ids]
    gram = xbar.T @ xbar / m + rho * centred.T @ centred / n + ridge * jnp.eye(d, dtype=x.dtype)
    theta = jnp.linalg.solve(gram, xbar.T @ bag_labels / m)
    # a NaN or infinite feature or label: the solve mixes inf and NaN; the fit is NaN throughout
    return jnp.where(jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(bag_labels)), theta, jnp.nan)


def laplace_bag_means(key: jax.Array, responses: jax.Array, bag_ids: jax.Array, *, num_bags: int,
                      clip: float = 1.0, epsilon: float = 1.0) -> jax.Array:
    r"""Label-differentially-private bag means: clip the responses, average per bag, add Laplace noise.

    .. math::  \tilde y_a = \frac1{k_a}\sum_{i\in B_a} \mathrm{clip}(y_i, -C, C)
               + \mathrm{Lap}\Big(\frac{2C}{k_a\,\varepsilon}\Big)

    Changing one response moves only its own bag's clipped mean, by at most
    :math:`\Delta_a = 2C/k_a`, so by the Laplace mechanism and parallel composition over
    disjoint bags the released means are :math:`\varepsilon`-label-DP. The noise variance
    :math:`8C^2/(k^2\varepsilon^2)` falls with the bag size k while the aggregation loses
    information, which is the trade-off behind the paper's optimal bag size.

    Args:
        key: a PRNG key.
        responses: [N] float, the private labels.
        bag_ids: [N] int in [0, num_bags).
        num_bags: static int m >= 1.
        clip: the clipping bound :math:`C > 0`.
        epsilon: the privacy budget :math:`\varepsilon > 0`.

    Returns:
        [m] float, the released bag means; an empty bag releases 0 (no noise: it holds no label).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.counterfactual import laplace_bag_means
        >>> laplace_bag_means(jax.random.key(0), jnp.ones(6), jnp.array([0, 0, 0, 1, 1, 1]), num_bags=2).shape
        (2,)

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), section 5 (label DP).
        Dwork et al, Calibrating Noise to Sensitivity in Private Data Analysis, 2006.

    Open question: the paper's exact clipping range and constant were not verified
    in its PDF; we chose the symmetric range [-C, C] with per-bag sensitivity 2C/k_a,
    derived above, which is what label-DP by the Laplace mechanism needs.
    """
    _checks.dims(responses=(responses, "[N]", "float"), bag_ids=(bag_ids, "[N]", "int"))
    _checks.positive_int(num_bags=num_bags)
    _checks.in_range("clip", clip, low=0.0, low_inclusive=False)
    _checks.in_range("epsilon", epsilon, low=0.0, low_inclusive=False)
    dt = compute_dtype(responses)  # the dtype policy: half precision computed in float32
    responses = responses.astype(dt)
    means = _means(jnp.clip(responses, -clip, clip), bag_ids, num_bags)
    counts = _counts(bag_ids, num_bags, responses.dtype)
    scale = jnp.where(counts > 0, 2.0 * clip / (jnp.maximum(counts, 1.0) * epsilon), 0.0)
    return means + scale * jax.random.laplace(key, (num_bags,), responses.dtype)
