"""Step-level group advantages for multi-turn agents: GiGPO and HGPO."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks, _dispatch, _numerics, _segments
from bvjax.rl import _advantages
from pallas_kernels import grouped_advantage

MODES = ("mean_std_norm", "mean_norm")


def _check_steps(state_ids, step_returns, step_mask, task_ids):
    _checks.dims(state_ids=(state_ids, "[B, T]", "int"), step_returns=(step_returns, "[B, T]", "float"),
                 step_mask=(step_mask, "[B, T]", "bool"), task_ids=(task_ids, "[B]", "int"))


def history_keys(state_ids, step_mask, num_levels):
    """Keys ``[L, B*T]`` (state ``l`` valid steps back) and depth ``[B*T]`` (-1 if masked).

    Masked steps are skipped: the history of a step is the previous *valid* steps of
    its row, in order, as in verl-agent where only real steps are rows.
    """
    b, t = state_ids.shape
    mask = step_mask.astype(bool)
    pos = jnp.cumsum(mask, axis=1) - 1  # index among the row's valid steps
    # Valid steps packed to the front of their row, in order (a scatter, not a sort).
    rows = jnp.broadcast_to(jnp.arange(b)[:, None], (b, t))
    compact = jnp.zeros((b, t), jnp.int32).at[rows, jnp.where(mask, pos, t)].set(
        _segments.int32_ids(state_ids), mode="drop")
    keys = [jnp.take_along_axis(compact, jnp.clip(pos - level, 0, t - 1), axis=1).reshape(-1)
            for level in range(num_levels)]
    depth = jnp.where(mask, pos, -1).reshape(-1).astype(jnp.int32)
    return jnp.stack(keys), depth


def cluster_stats(values, group, keys, depth, implementation):
    """(count, centred, m2) ``[M, L]`` per row and level, via the kernel (float32 inside)
    or its reference, in the dtype of ``values``."""
    impl = grouped_advantage.pick_level_implementation(implementation, values.shape[0])
    if _dispatch.uses_kernel(impl):
        out = grouped_advantage.level_stats(values, group, keys, depth, interpret=_dispatch.kernel_interpret(impl))
        return tuple(x.astype(values.dtype) for x in out)
    return _segments.level_stats_reference(values, group, keys, depth)


def gigpo_advantages(state_ids: jax.Array, step_returns: jax.Array, step_mask: jax.Array,
                     task_ids: jax.Array, episode_returns: jax.Array, *, step_weight: float = 1.0,
                     mode: str = "mean_norm", eps: float = 1e-6,
                     implementation: str | None = None) -> jax.Array:
    r"""GiGPO: episode-level plus anchor-state step-level group advantages.

    For step :math:`t` of trajectory :math:`b` in task group :math:`g`,

    .. math::
        A_{b,t} = A^E_{b,t} + \omega\, A^S_{b,t},\qquad
        A^E = \frac{R_b - \mu_g}{\sigma_g + \varepsilon},\qquad
        A^S = \frac{R_{b,t} - \mu_{g,s}}{\sigma_{g,s} + \varepsilon}

    - :math:`A^E` (paper Eq. 3): the episode return :math:`R_b`, normalised over every
      valid *step row* of the task group (verl-agent's ``compute_mean_std_cross_steps``,
      so longer trajectories weigh more); unbiased std; a group with one valid row keeps
      the raw return (verl's mean 0, std 1).
    - :math:`A^S` (Eq. 6-7): the discounted step return :math:`R_{b,t}`, normalised over
      the steps of the same task group whose anchor state ``state_ids`` is equal;
      unbiased std; a singleton anchor group gives 0.
    - ``mode="mean_norm"`` drops both divisions (verl-agent's trainer default); the
      ALFWorld example script uses ``"mean_std_norm"``.

    Zero-variance groups give 0, masked steps 0. A non-finite episode or step return
    makes its own task group's (episode part) or anchor group's (step part) valid steps
    NaN and touches no other group. The result is ``stop_gradient``-ed.

    Args:
        state_ids: [B, T] int, a host-side hash of each step's anchor observation.
        step_returns: [B, T] float, discounted returns :math:`R_{b,t}` (gamma 0.95 in
            the paper's scripts).
        step_mask: [B, T] bool, valid steps.
        task_ids: [B] int, the task (environment seed) each trajectory belongs to.
        episode_returns: [B] float, each trajectory's episode return.
        step_weight: :math:`\omega`, 1.0 in the paper.
        mode: ``"mean_norm"`` or ``"mean_std_norm"``.
        eps: :math:`\varepsilon \ge 0`, added to the std.
        implementation: ``"pallas"``, ``"pallas_interpret"``, ``"xla"`` or None (the step-level statistics;
            None: Pallas on TPU/GPU up to 32768 steps, the hashed XLA path otherwise).

    Returns:
        [B, T] advantages in the returns' float dtype (float64 stays float64; float16 and
        bfloat16 give float32). The Pallas kernel computes in float32 whatever the dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import gigpo_advantages
        >>> s = jnp.array([[1, 2], [1, 3]])           # both trajectories start in state 1
        >>> ret = jnp.array([[1.0, 1.0], [0.0, 0.0]])
        >>> gigpo_advantages(s, ret, jnp.ones((2, 2), bool), jnp.array([0, 0]), jnp.array([1.0, 0.0]))
        Array([[ 1. ,  0.5],
               [-1. , -0.5]], dtype=float32)

    References:
        Feng et al, Group-in-Group Policy Optimization for LLM Agent Training, 2025
        (arXiv 2505.10978).

    Follows verl-agent's ``gigpo/core_gigpo.py`` with exact anchor matching; its
    optional similarity-based grouping (``difflib`` on text) is host-side and not provided.
    """
    _check_steps(state_ids, step_returns, step_mask, task_ids)
    _checks.dims(task_ids=(task_ids, "[B]"), episode_returns=(episode_returns, "[B]", "float"))
    _checks.one_of("mode", mode, MODES)
    _checks.in_range("eps", eps, low=0.0)
    b, t = state_ids.shape
    dt = _numerics.compute_dtype(step_returns, episode_returns)
    mask = step_mask.astype(bool).reshape(-1)
    group = jnp.repeat(_segments.int32_ids(task_ids), t)
    normalize = mode == "mean_std_norm"
    episode = jnp.broadcast_to(episode_returns.astype(dt)[:, None], (b, t)).reshape(-1)
    step = step_returns.astype(dt).reshape(-1)
    # One exact power-of-two scale for both parts, so their sum cannot be inf - inf.
    (s_ep, i_ep), (s_st, i_st) = _advantages.pow2_scale(episode, mask), _advantages.pow2_scale(step, mask)
    scale, inv = jnp.minimum(s_ep, s_st), jnp.maximum(i_ep, i_st)
    depth = jnp.where(mask, 0, -1).astype(jnp.int32)
    parts = []
    for values, keys, singleton in ((episode, jnp.zeros((1, b * t), jnp.int32), "raw"),
                                    (step, _segments.int32_ids(state_ids).reshape(1, -1), "zero")):
        u = values * scale
        count, centred, m2 = (x[:, 0] for x in cluster_stats(u, group, keys, depth, implementation))
        if normalize:
            f, g = _advantages.group_factors(count, m2, centred, scale, inv, kind="grpo", eps=eps, singleton=singleton)
            parts.append(centred * f + values * g)
        else:  # kept in the scaled domain until the end, so the sum stays finite
            f, g = _advantages.group_factors(count, m2, centred, scale, jnp.ones((), dt), kind="drgrpo",
                                             singleton=singleton)
            parts.append(centred * f + u * g)
    adv = parts[0] + step_weight * parts[1]
    if not normalize:
        adv = adv * inv
    return jax.lax.stop_gradient(jnp.where(mask, adv, 0.0).reshape(b, t))


def hgpo_advantages(state_ids: jax.Array, step_returns: jax.Array, step_mask: jax.Array,
                    task_ids: jax.Array, *, history_length: int, alpha: float = 1.0, level_offset: int = 1,
                    mode: str = "mean_std_norm", eps: float = 1e-6, base_advantages: jax.Array | None = None,
                    implementation: str | None = None) -> jax.Array:
    r"""HGPO: hierarchy-of-groups step advantages over matching state histories.

    Level :math:`k = 0..K` (:math:`K` = ``history_length``) groups a step with the steps
    of the same task group whose current state *and* :math:`k` previous states are
    equal (the groups nest, :math:`G_0 \supseteq G_1 \supseteq \dots \supseteq G_K`;
    :math:`k = 0` is GiGPO's anchor group). Inside each cluster with at least two members,

    .. math::
        a_k = \frac{R - \mu_{G_k}}{\sigma_{G_k} + \varepsilon}\ \ (\texttt{mean\_std\_norm}),
        \qquad a_k = R - \mu_{G_k}\ \ (\texttt{mean\_norm}),

    with the population std. Levels where the step is in a singleton cluster, or where
    :math:`a_k = 0` exactly (all-equal clusters, members exactly at the mean), are
    dropped; the rest are averaged with weights :math:`(k + 1 + \text{offset})^\alpha`:

    .. math::
        A = \frac{\sum_{k\ \text{valid}} (k+1+\text{offset})^\alpha\, a_k}
                 {\sum_{k\ \text{valid}} (k+1+\text{offset})^\alpha + \varepsilon},
        \qquad A = 0 \text{ when no level is valid.}

    With ``base_advantages`` (the recipe's ``base_group=True``), each step's base value
    joins as one more item of weight 1, also dropped when exactly 0.

    **Paper vs recipe.** The paper (Eq. for :math:`w_k`) weights level :math:`k` by
    :math:`(k+1)^\alpha`: ``level_offset=0``. The official recipe
    (``recipe/hgpo/core_hgpo.py``) counts the current state as length 1 and weights by
    ``(length + 1)^alpha``, i.e. :math:`(k+2)^\alpha`: ``level_offset=1``, the default
    (K = 2, alpha = 1 gives weights 2:3:4, the paper 1:2:3). Both are tested.

    The history of a step is the previous *valid* steps of its row, in order (masked
    steps are skipped); a step with fewer than :math:`k` previous steps has no level
    :math:`k`. States are compared by their ids only (not actions), as in the recipe.
    An all-equal cluster centres to exactly 0 (shifted two-pass statistics), so it is
    always dropped; float rounding in the recipe's ``torch.mean`` can leave a 1e-17
    residue there that it keeps. The result is ``stop_gradient``-ed; masked steps get 0.
    A non-finite return makes NaN the advantage of every valid step that shares a
    cluster with it at some level (its own included), and of a step whose
    ``base_advantages`` is non-finite; other steps are untouched.

    Args:
        state_ids: [B, T] int, host-side hash of each step's anchor observation (the
            observation text the memory module shows).
        step_returns: [B, T] float, discounted step returns (gamma 0.95 in the scripts).
        step_mask: [B, T] bool, valid steps.
        task_ids: [B] int, the task group of each trajectory.
        history_length: static int K >= 0, the memory length.
        alpha: :math:`\alpha \ge 0`; 0 gives uniform weights.
        level_offset: 1 (recipe, default) or 0 (paper).
        mode: ``"mean_std_norm"`` (default) or ``"mean_norm"``.
        eps: :math:`\varepsilon \ge 0`.
        base_advantages: optional [B, T] float; the recipe's base is GiGPO's episode
            advantage, ``group_advantages`` of the broadcast episode returns grouped by
            task over valid steps with ``normalize = mode == "mean_std_norm"``.
        implementation: ``"pallas"``, ``"pallas_interpret"``, ``"xla"`` or None (Pallas on TPU/GPU up to 32768
            steps, the hashed ``O(L M)`` XLA path otherwise).

    Returns:
        [B, T] advantages in the returns' float dtype (float64 stays float64; float16 and
        bfloat16 give float32). The Pallas kernel computes in float32 whatever the dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import hgpo_advantages
        >>> s = jnp.array([[1, 2], [1, 2], [3, 2]])
        >>> ret = jnp.array([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0]])
        >>> adv = hgpo_advantages(s, ret, jnp.ones((3, 2), bool), jnp.zeros(3, jnp.int32),
        ...                       history_length=1, mode="mean_norm")
        >>> adv.round(4)
        Array([[ 0.5   ,  0.4333],
               [-0.5   , -0.5667],
               [ 0.    ,  0.3333]], dtype=float32)

    References:
        He et al, Hierarchy-of-Groups Policy Optimization for Long-Horizon Agentic
        Tasks, 2026 (arXiv 2602.22817).
        Feng et al, Group-in-Group Policy Optimization for LLM Agent Training, 2025
        (arXiv 2505.10978).
    """
    _check_steps(state_ids, step_returns, step_mask, task_ids)
    _checks.dims(state_ids=(state_ids, "[B, T]"), base_advantages=(base_advantages, "[B, T]", "float"))
    if isinstance(history_length, bool) or not isinstance(history_length, int) or history_length < 0:
        raise ValueError(f"history_length: expected a static Python int >= 0, got {history_length!r}")
    _checks.one_of("level_offset", level_offset, (0, 1))
    _checks.one_of("mode", mode, MODES)
    _checks.in_range("alpha", alpha, low=0.0)
    _checks.in_range("eps", eps, low=0.0)
    b, t = state_ids.shape
    num_levels = history_length + 1
    mask = step_mask.astype(bool).reshape(-1)
    keys, depth = history_keys(state_ids, step_mask, num_levels)
    group = jnp.repeat(_segments.int32_ids(task_ids), t)
    dt = _numerics.compute_dtype(step_returns, base_advantages)
    returns = step_returns.astype(dt).reshape(-1)
    scale, inv = _advantages.pow2_scale(returns, mask)
    count, centred, m2 = cluster_stats(returns * scale, group, keys, depth, implementation)
    std_norm = mode == "mean_std_norm"
    if std_norm:
        std = jnp.sqrt(m2 / jnp.maximum(count, 1.0))
        denom = std + eps * scale
        a = jnp.where(denom > 0, centred / jnp.where(denom > 0, denom, 1.0), 0.0)
    else:
        a = centred  # kept in the scaled domain until the end, so sums stay finite
    bad = jnp.any(_advantages.nonfinite_groups(count, centred, m2), axis=1)  # a non-finite return in a cluster
    ok = (count >= 2) & (a != 0)
    weights = jnp.asarray([(k + 1.0 + level_offset) ** alpha for k in range(num_levels)], dt)
    num = jnp.sum(jnp.where(ok, weights * a, 0.0), axis=1)
    den = jnp.sum(jnp.where(ok, weights, 0.0), axis=1)
    if base_advantages is not None:
        base = base_advantages.astype(dt).reshape(-1)
        scaled_base = base if std_norm else base * scale
        num = num + jnp.where(base != 0, scaled_base, 0.0)
        den = den + jnp.where(base != 0, 1.0, 0.0)
        bad = bad | ~jnp.isfinite(base)
    adv = jnp.where(den > 0, num / jnp.where(den > 0, den + eps, 1.0), 0.0)
    adv = jnp.where(bad, jnp.nan, adv)
    if not std_norm:
        adv = adv * inv
    return jax.lax.stop_gradient(jnp.where(mask, adv, 0.0).reshape(b, t))
