"""Projected gradient ascent (PGD) attacks inside ℓ∞, ℓ2 and ℓ1 balls, and the exact ℓ1 projection.

Every attack maximises ``sum(loss_fn(x_adv, y))`` over ``x_adv = x + delta`` with
``||delta||_p <= eps`` (per example) and, when a box is given, ``clip_min <= x_adv <= clip_max``.
The loss function (the model and its loss, closed over the parameters) is a callable
passed in; the key is only used for the random start. Perturbation norms are taken
per example over all the non-batch axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def _l1_ball_flat(v: jax.Array, radius: jax.Array) -> jax.Array:
    """Duchi et al.'s sort-based projection of each row of v [B, D] onto {||z||_1 <= radius}."""
    a = jnp.abs(v)
    u = -jnp.sort(-a, axis=-1)  # descending
    # Everything relative to the largest |v|: t = u - u_1 <= 0 and theta' = theta - u_1, so
    # a radius far below |v| (1 against 1e7 in float32) is not lost in u_1 - theta.
    top = u[..., :1]
    t = u - top
    css = jnp.cumsum(t, axis=-1)
    j = jnp.arange(1, v.shape[-1] + 1, dtype=v.dtype)
    cond = t - (css - radius) / j > 0
    rho = jnp.maximum(jnp.sum(cond, axis=-1, keepdims=True), 1)  # number of non-zero coordinates
    theta = (jnp.take_along_axis(css, rho - 1, axis=-1) - radius) / rho.astype(v.dtype)  # theta - u_1
    theta = jnp.maximum(theta, -top)
    inside = jnp.sum(a, axis=-1, keepdims=True) <= radius
    out = jnp.sign(v) * jnp.maximum((a - top) - theta, 0.0)
    return jnp.where(inside, v, out)


def _l1_box_flat(v: jax.Array, radius: jax.Array, cap: jax.Array) -> jax.Array:
    """Exact projection of each row of v onto {||z||_1 <= radius, |z_i| <= cap_i} (cap_i >= 0 in v's sign).

    The minimiser is ``sign(v) * min(max(|v| - lam, 0), cap)`` with the smallest lam >= 0
    whose l1 norm is <= radius; the norm is piecewise linear and non-increasing in lam
    with breakpoints ``|v_i| - cap_i`` (leaves the cap) and ``|v_i|`` (reaches 0), so
    sorting the 2D breakpoints and integrating the slope gives lam exactly.
    """
    a = jnp.abs(v)
    cap = jnp.minimum(cap, a)  # a cap above |v_i| never binds
    s0 = jnp.sum(cap, axis=-1, keepdims=True)  # the norm at lam = 0
    # Events: the slope drops by 1 at max(a - cap, 0) and rises by 1 at a.
    points = jnp.concatenate([a - cap, a], axis=-1)
    deltas = jnp.concatenate([-jnp.ones_like(a), jnp.ones_like(a)], axis=-1)
    order = jnp.argsort(points, axis=-1)
    points = jnp.take_along_axis(points, order, axis=-1)
    slope = jnp.cumsum(jnp.take_along_axis(deltas, order, axis=-1), axis=-1)  # slope just after each point
    gaps = jnp.diff(points, axis=-1)
    norms = s0 + jnp.concatenate([jnp.zeros_like(s0), jnp.cumsum(slope[..., :-1] * gaps, axis=-1)], axis=-1)
    # The first breakpoint whose following segment reaches the radius.
    nxt = jnp.concatenate([norms[..., 1:], jnp.full_like(s0, -jnp.inf)], axis=-1)
    k = jnp.argmax(nxt <= radius, axis=-1, keepdims=True)
    p_k = jnp.take_along_axis(points, k, axis=-1)
    n_k = jnp.take_along_axis(norms, k, axis=-1)
    s_k = jnp.take_along_axis(slope, k, axis=-1)
    lam = p_k + (n_k - radius) / jnp.where(s_k < 0, -s_k, 1.0)
    lam = jnp.where(s0 <= radius, 0.0, jnp.maximum(lam, 0.0))
    return jnp.sign(v) * jnp.minimum(jnp.maximum(a - lam, 0.0), cap)


def project_l1_ball(v: jax.Array, *, radius: float | jax.Array = 1.0, lower: jax.Array | None = None,
                    upper: jax.Array | None = None) -> jax.Array:
    r"""Exact Euclidean projection of each row onto the ℓ1 ball (optionally intersected with a box).

    .. math::  \Pi(v) = \arg\min_{\|z\|_1 \le \varepsilon,\ l \le z \le u} \|z - v\|_2

    Without a box this is Duchi et al.'s sort-based algorithm: sort :math:`|v|` in
    descending order, :math:`\rho = \max\{j : u_j - (\sum_{i \le j} u_i - \varepsilon)/j > 0\}`,
    :math:`\theta = (\sum_{i \le \rho} u_i - \varepsilon)/\rho` and
    :math:`z = \mathrm{sign}(v)\max(|v| - \theta, 0)`. With a box (``lower <= 0 <= upper``,
    as for a perturbation of an image in :math:`[0, 1]`), the KKT conditions give
    :math:`z_i = \mathrm{sign}(v_i)\min(\max(|v_i| - \lambda, 0), c_i)` with :math:`c_i` the
    box bound on :math:`v_i`'s side; :math:`\lambda` is found exactly by sorting the 2D
    breakpoints of the piecewise-linear norm (no bisection).

    A row already inside keeps its value; ``radius = 0`` gives zeros.

    Args:
        v: [..., D] float; each row (last axis) is projected.
        radius: scalar or [...] (one per row) float >= 0, the ℓ1 radius ε.
        lower: optional [..., D] float <= 0, the box's lower bound (``None``: no bound).
        upper: optional [..., D] float >= 0, the box's upper bound (``None``: no bound).

    Returns:
        [..., D] float, the projection. A row with a NaN or infinite entry is NaN (its
        threshold is undefined); other rows are unaffected.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import project_l1_ball
        >>> project_l1_ball(jnp.array([3.0, 1.0, 0.5]), radius=2.0)
        Array([2., 0., 0.], dtype=float32)
        >>> project_l1_ball(jnp.array([3.0, 1.0, 0.5]), radius=2.0, upper=jnp.array([1.5, 1.0, 0.0]))
        Array([1.5, 0.5, 0. ], dtype=float32)

    References:
        Duchi et al, Efficient Projections onto the l1-Ball for Learning in High
        Dimensions, ICML 2008, Figure 1. Croce and Hein, Mind the Box: l1-APGD for Sparse
        Adversarial Attacks on Image Classifiers, 2021 (arXiv 2103.01208) (the l1-box
        projection; ours is the sort-based exact solution of the same KKT system).
    """
    _checks.dims(v=(v, "[..., D]", "float"))
    if hasattr(radius, "dtype"):
        _checks.dtype_kind("number", radius=radius)
    shape = v.shape
    for name, bound in (("lower", lower), ("upper", upper)):
        if bound is not None and tuple(jnp.shape(bound)) != tuple(shape):
            raise ValueError(f"{name}: expected the shape of v {tuple(shape)}, got shape {tuple(jnp.shape(bound))}")
    v = v.astype(compute_dtype(v))  # the dtype policy: half precision computed in float32
    radius = jnp.asarray(radius, v.dtype)
    if radius.ndim:
        if tuple(radius.shape) != tuple(shape[:-1]):
            raise ValueError(f"radius: expected a scalar or shape {tuple(shape[:-1])}, got shape {tuple(radius.shape)}")
        radius = radius[..., None]
    radius = jnp.maximum(radius, 0.0)
    # A non-finite entry leaves its row's threshold undefined: that row is NaN, never a
    # projection that silently dropped the entry; other rows are unaffected.
    bad = ~jnp.all(jnp.isfinite(v), axis=-1, keepdims=True)
    safe = jnp.where(bad, jnp.zeros((), v.dtype), v)
    if lower is None and upper is None:
        return jnp.where(bad, jnp.nan, _l1_ball_flat(safe, radius))
    lo = jnp.full(shape, -jnp.inf, v.dtype) if lower is None else jnp.minimum(jnp.asarray(lower, v.dtype), 0.0)
    hi = jnp.full(shape, jnp.inf, v.dtype) if upper is None else jnp.maximum(jnp.asarray(upper, v.dtype), 0.0)
    cap = jnp.where(safe >= 0, hi, -lo)
    return jnp.where(bad, jnp.nan, _l1_box_flat(safe, radius, cap))


def _flat(x):
    return x.reshape(x.shape[0], -1)


def _safe_norm(x, ord_):
    n = jnp.linalg.norm(x, ord=ord_, axis=-1, keepdims=True)
    return n, jnp.where(n > 0, n, 1.0)


def _box(x, clip_min, clip_max):
    lo = None if clip_min is None else jnp.asarray(clip_min, x.dtype) - x
    hi = None if clip_max is None else jnp.asarray(clip_max, x.dtype) - x
    return lo, hi


def _clip_box(delta, lo, hi):
    if lo is not None:
        delta = jnp.maximum(delta, lo)
    if hi is not None:
        delta = jnp.minimum(delta, hi)
    return delta


def _check_attack(loss_fn, x, y, eps, steps, step_size):
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable (x, y) -> [B] losses, got {type(loss_fn).__name__}")
    _checks.float_dtype(x=x)
    if jnp.ndim(x) < 2:
        raise ValueError(f"x: expected [B, ...] float with at least 2 axes, got shape {tuple(jnp.shape(x))}")
    if jnp.shape(y)[:1] != jnp.shape(x)[:1]:
        raise ValueError(f"y: expected a leading batch axis of size B={x.shape[0]} (as in x), "
                         f"got shape {tuple(jnp.shape(y))}")
    _checks.positive_int(steps=steps)
    _checks.in_range("eps", eps, low=0.0)
    _checks.in_range("step_size", step_size, low=0.0)


def _grad_fn(loss_fn, y):
    def total(x):
        losses = loss_fn(x, y)
        return jnp.sum(losses)
    return jax.grad(total)


def _run(loss_fn, x, y, delta0, steps, update):
    grad = _grad_fn(loss_fn, y)

    def body(_, delta):
        g = _flat(grad(x + delta.reshape(x.shape)).astype(x.dtype))
        return update(delta, g)

    delta = jax.lax.fori_loop(0, steps, body, delta0)
    return x + delta.reshape(x.shape)


def pgd_linf(loss_fn: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, y: jax.Array,
             key: jax.Array, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
             random_start: bool = True, clip_min: float | None = 0.0,
             clip_max: float | None = 1.0) -> jax.Array:
    r"""PGD in the ℓ∞ ball: signed-gradient ascent steps, then clipping to the ball and the box.

    .. math::  \delta \leftarrow \Pi_{\|\delta\|_\infty \le \varepsilon,\ x+\delta \in [a,b]}
               \big(\delta + \eta\,\mathrm{sign}\,\nabla_x \textstyle\sum_i \ell(x_i + \delta_i, y_i)\big)

    (for the ℓ∞ ball and a box both coordinate-wise, clipping is the exact projection).

    Args:
        loss_fn: ``loss_fn(x, y) -> [B]`` per-example losses to maximise (e.g. the
            cross-entropy of a model closed over its parameters); static under jit.
        x: [B, ...] float, clean inputs.
        y: [B, ...] labels (anything ``loss_fn`` takes; only the batch axis is checked).
        key: PRNG key for the random start (uniform in the ball).
        eps: ball radius ε >= 0; ``eps = 0`` returns ``x`` (clipped to the box).
        steps: number of PGD iterations (static int >= 1).
        step_size: η; ``None`` uses ``2.5 * eps / steps`` (Madry et al.).
        random_start: start from a uniform point of the ball instead of ``x``.
        clip_min, clip_max: the input box (``None``: unbounded on that side).

    Returns:
        [B, ...] float, the adversarial inputs ``x + delta``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.robust import pgd_linf
        >>> loss = lambda x, y: jnp.sum(x * y, axis=-1)   # linear: the optimum is x + eps * sign(y)
        >>> pgd_linf(loss, jnp.full((1, 2), 0.5), jnp.array([[1.0, -1.0]]), jax.random.key(0), eps=0.1,
        ...          steps=3, random_start=False)
        Array([[0.6, 0.4]], dtype=float32)

    References:
        Madry et al, Towards Deep Learning Models Resistant to Adversarial Attacks, 2018
        (arXiv 1706.06083). RAMP (Jiang and Singh, NeurIPS 2024, arXiv 2402.06827) trains
        with APGD (Croce and Hein, 2020); plain PGD with a fixed step is used here.
    """
    _check_attack(loss_fn, x, y, eps, steps, step_size)
    eta = 2.5 * eps / steps if step_size is None else step_size
    xf = _flat(x)
    lo, hi = _box(xf, clip_min, clip_max)
    lo_b = -eps if lo is None else jnp.maximum(lo, -eps)
    hi_b = eps if hi is None else jnp.minimum(hi, eps)
    delta0 = jnp.zeros_like(xf)
    if random_start:
        delta0 = jax.random.uniform(key, xf.shape, xf.dtype, -1.0, 1.0) * eps
    delta0 = jnp.clip(delta0, lo_b, hi_b)

    def update(delta, g):
        return jnp.clip(delta + eta * jnp.sign(g), lo_b, hi_b)

    return _run(loss_fn, x, y, delta0, steps, update)


def _project_l2(delta, eps, lo, hi):
    """ℓ2 ball then box (alternating once; exact when the box does not bind)."""
    n, safe = _safe_norm(delta, 2)
    delta = jnp.where(n > eps, delta * (eps / safe), delta)
    return _clip_box(delta, lo, hi)


def pgd_l2(loss_fn: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, y: jax.Array,
           key: jax.Array, *, eps: float = 0.5, steps: int = 10, step_size: float | None = None,
           random_start: bool = True, clip_min: float | None = 0.0,
           clip_max: float | None = 1.0) -> jax.Array:
    r"""PGD in the ℓ2 ball: normalised-gradient ascent steps, projection onto the ball, then the box.

    .. math::  \delta \leftarrow \mathrm{clip}_{[a-x,\,b-x]}\Big(\Pi_{\|\delta\|_2 \le \varepsilon}
               \big(\delta + \eta\, g / \|g\|_2\big)\Big)

    A zero gradient gives a zero step (no NaN). Clipping after the ball projection keeps
    the iterate feasible for both sets (clipping towards ``x`` only shrinks the norm),
    though it is not the projection onto their intersection.

    Args:
        loss_fn: ``loss_fn(x, y) -> [B]`` per-example losses to maximise; static under jit.
        x: [B, ...] float, clean inputs.
        y: [B, ...] labels (only the batch axis is checked).
        key: PRNG key for the random start (a random direction at a uniform radius).
        eps: ball radius ε >= 0.
        steps: number of iterations (static int >= 1).
        step_size: η; ``None`` uses ``2.5 * eps / steps``.
        random_start: start from a random point of the ball instead of ``x``.
        clip_min, clip_max: the input box (``None``: unbounded on that side).

    Returns:
        [B, ...] float, the adversarial inputs.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.robust import pgd_l2
        >>> loss = lambda x, y: jnp.sum(x * y, axis=-1)   # the optimum is x + eps * y / ||y||
        >>> pgd_l2(loss, jnp.zeros((1, 2)), jnp.array([[3.0, 4.0]]), jax.random.key(0), eps=1.0,
        ...        steps=2, random_start=False, clip_min=None, clip_max=None)
        Array([[0.6, 0.8]], dtype=float32)

    References:
        Madry et al, Towards Deep Learning Models Resistant to Adversarial Attacks, 2018
        (arXiv 1706.06083); Jiang and Singh, RAMP, NeurIPS 2024 (arXiv 2402.06827).
    """
    _check_attack(loss_fn, x, y, eps, steps, step_size)
    eta = 2.5 * eps / steps if step_size is None else step_size
    xf = _flat(x)
    lo, hi = _box(xf, clip_min, clip_max)
    delta0 = jnp.zeros_like(xf)
    if random_start:
        kd, kr = jax.random.split(key)
        d = jax.random.normal(kd, xf.shape, xf.dtype)
        _, safe = _safe_norm(d, 2)
        r = jax.random.uniform(kr, (xf.shape[0], 1), xf.dtype) ** (1.0 / xf.shape[1])
        delta0 = d / safe * r * eps
    delta0 = _project_l2(delta0, eps, lo, hi)

    def update(delta, g):
        _, safe = _safe_norm(g, 2)
        return _project_l2(delta + eta * g / safe, eps, lo, hi)

    return _run(loss_fn, x, y, delta0, steps, update)


def pgd_l1(loss_fn: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, y: jax.Array,
           key: jax.Array, *, eps: float = 12.0, steps: int = 10, step_size: float | None = None,
           sparsity: float = 0.05, random_start: bool = True, clip_min: float | None = 0.0,
           clip_max: float | None = 1.0) -> jax.Array:
    r"""PGD in the ℓ1 ball: sparse steepest ascent, then the exact ℓ1(∩ box) projection.

    Each step moves along the signs of the ``q = ceil(sparsity * D)`` largest gradient
    coordinates, with ℓ1 length η spread evenly over them (steepest ascent for the ℓ1
    norm is a single coordinate; spreading it over the top ``q``, as in SLIDE, moves
    faster), skipping coordinates that sit on the box and whose gradient pushes out of
    it. The iterate is then projected exactly onto
    :math:`\{\|\delta\|_1 \le \varepsilon,\ a \le x + \delta \le b\}` with
    `project_l1_ball` (sort-based, no bisection).

    Args:
        loss_fn: ``loss_fn(x, y) -> [B]`` per-example losses to maximise; static under jit.
        x: [B, ...] float, clean inputs.
        y: [B, ...] labels (only the batch axis is checked).
        key: PRNG key for the random start (Laplace noise projected onto the ball).
        eps: ball radius ε >= 0.
        steps: number of iterations (static int >= 1).
        step_size: η (ℓ1 length of a step); ``None`` uses ``2.5 * eps / steps``.
        sparsity: fraction of coordinates moved per step, in (0, 1] (static).
        random_start: start from a random point of the ball instead of ``x``.
        clip_min, clip_max: the input box (``None``: unbounded on that side).

    Returns:
        [B, ...] float, the adversarial inputs.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.robust import pgd_l1
        >>> loss = lambda x, y: jnp.sum(x * y, axis=-1)   # the optimum puts all eps on the largest |y_i|
        >>> pgd_l1(loss, jnp.zeros((1, 3)), jnp.array([[1.0, -3.0, 2.0]]), jax.random.key(0), eps=1.0,
        ...        steps=4, random_start=False, clip_min=None, clip_max=None)
        Array([[ 0., -1.,  0.]], dtype=float32)

    References:
        Tramer and Boneh, Adversarial Training and Robustness for Multiple Perturbations,
        NeurIPS 2019 (arXiv 1904.13000) (sparse l1 descent, SLIDE); Croce and Hein, Mind
        the Box, 2021 (arXiv 2103.01208); Jiang and Singh, RAMP, NeurIPS 2024 (arXiv
        2402.06827), which attacks with l1-APGD rather than this fixed-step PGD.
    """
    _check_attack(loss_fn, x, y, eps, steps, step_size)
    _checks.in_range("sparsity", sparsity, low=0.0, high=1.0, low_inclusive=False)
    eta = 2.5 * eps / steps if step_size is None else step_size
    xf = _flat(x)
    dim = xf.shape[1]
    q = max(1, min(dim, math.ceil(sparsity * dim)))
    lo, hi = _box(xf, clip_min, clip_max)

    def project(delta):
        return project_l1_ball(delta, radius=jnp.asarray(eps, xf.dtype), lower=lo, upper=hi)

    delta0 = jnp.zeros_like(xf)
    if random_start:
        delta0 = project(jax.random.laplace(key, xf.shape, xf.dtype) * (eps / dim))
    else:
        delta0 = project(delta0)

    def update(delta, g):
        blocked = jnp.zeros(g.shape, bool)
        if hi is not None:
            blocked = blocked | ((g > 0) & (delta >= hi))
        if lo is not None:
            blocked = blocked | ((g < 0) & (delta <= lo))
        score = jnp.where(blocked, -1.0, jnp.abs(g))
        kth = jax.lax.top_k(score, q)[0][:, -1:]
        chosen = (score >= kth) & (score > 0)
        count = jnp.maximum(jnp.sum(chosen, axis=-1, keepdims=True), 1)
        step = jnp.where(chosen, jnp.sign(g), 0.0) * (eta / count)
        return project(delta + step)

    return _run(loss_fn, x, y, delta0, steps, update)
