"""Group-relative advantages: GRPO, Dr.GRPO and RLOO over dense or ragged groups.

Every path computes per-group statistics once and then one per-entry expression,
``f[g] * centred + g[g] * reward`` (`group_factors`), so the normalisation, the singleton
rule and the non-finite rule cost one gather of per-group factors. The XLA statistics and
the profile of where their time goes are in `bvjax._segments`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks, _dispatch, _numerics, _segments
from pallas_kernels import grouped_advantage

SINGLETON_RULES = ("raw", "zero")


def _layout(rewards, group_ids, mask, name="rewards", num_groups=None):
    """Checks the dense/ragged contract; returns the mask as bool (all True without one).

    Ids outside ``[0, num_groups)`` are dropped by `bvjax._segments.segment_index`, the
    only place that reads them with ``num_groups``: checking the range here as well made
    XLA:CPU's cost model split the final pass over two threads, which at 4k rows costs
    more than it saves (~1.2x -> ~1.7x the plain program).
    """
    if group_ids is None:
        _checks.dims(**{name: (rewards, "[P, G]", "number")}, mask=(mask, "[P, G]", "bool"))
        if num_groups is not None:
            raise ValueError(f"num_groups: only meaningful with group_ids, got {num_groups!r}")
    else:
        _checks.dims(**{name: (rewards, "[N]", "number")}, group_ids=(group_ids, "[N]", "int"),
                     mask=(mask, "[N]", "bool"))
        if num_groups is not None:
            _checks.positive_int(num_groups=num_groups)
    return jnp.ones(rewards.shape, bool) if mask is None else mask


def scale_exponent(values, valid, axis=None):
    """The exponent e of max |values| over valid entries (max |values| in [2^(e-1), 2^e)).

    Statistics are computed on ``ldexp(values, -e)``, an exact rescaling into [-1, 1],
    so no finite input overflows to inf (and then NaN) in the squares or differences,
    and tiny inputs do not underflow there either. Non-finite entries are ignored (they
    make only their own group NaN, see `nonfinite_groups`). Clipped to [-126, 128].
    ``axis=1`` gives one exponent per row (dense groups), so a group of huge rewards
    does not push another group's statistics into float32 underflow.
    """
    top = jnp.max(jnp.where(valid & jnp.isfinite(values), jnp.abs(values), 0.0), axis=axis, initial=0.0,
                  keepdims=axis is not None)
    _, e = jnp.frexp(top)
    return jnp.clip(e, -126, 128).astype(jnp.int32)


def pow2_scale(values, valid, axis=None):
    """``(s, 1/s)``: an exact power of two ``s = 2^-e`` that brings the valid finite
    ``values`` into [-4, 4] (``e`` as in `scale_exponent`, clipped to ``[-126, 126]`` in
    float32, ``[-1022, 1022]`` in float64, so that both ``s`` and ``1/s`` are normal
    numbers: a subnormal scale would be flushed to zero).

    ``valid=None`` (every entry valid) with ``axis=1`` is for one group per row: a row
    with a non-finite entry is all NaN whatever its scale, so the maximum is taken over
    ``|values|`` with no select. The reduction then fuses with its input, and the dense
    ``[P, G]`` program compiles one loop fusion fewer (~0.1 -> ~0.085 s at ``[8192, 8]``).

    Multiplying by ``s`` is exact and, unlike `jnp.ldexp` on every entry (about eight
    elementwise operations), fuses into its neighbours at the cost of one multiply. The
    exponent and both powers come from the float's bits (`bvjax._numerics.frexp_exponent`,
    `bvjax._numerics.exp2_int`), not ``jnp.frexp``/``jnp.ldexp``, whose lowering was more
    than half of the dense path's program (136 of 236 jaxpr equations).
    """
    info = jnp.finfo(values.dtype)
    if valid is None:
        if axis != 1:
            raise ValueError(f"valid: None only with axis=1 (one group per row), got axis={axis!r}")
        top = jnp.max(jnp.abs(values), axis=1, initial=0.0, keepdims=True)
    else:
        top = jnp.max(jnp.where(valid & jnp.isfinite(values), jnp.abs(values), 0.0), axis=axis, initial=0.0,
                      keepdims=axis is not None)
    e = jnp.clip(_numerics.frexp_exponent(top), info.minexp, -info.minexp)
    return _numerics.exp2_int(-e, values.dtype), _numerics.exp2_int(e, values.dtype)


def group_factors(count, m2, offset, scale, inv_scale, *, kind, std_ddof=1, eps=0.0, singleton="raw"):
    """Per-group ``(f, g)`` so that an entry's advantage is ``f * centred + g * reward``.

    ``centred`` and ``m2`` are statistics of the rewards times ``scale`` (a power of two);
    ``offset`` is the group's mean minus its shift (non-finite exactly when a valid member
    is, see `nonfinite_groups`). ``kind`` is ``"grpo"`` (normalised), ``"drgrpo"`` or
    ``"rloo"``. A singleton has ``centred = 0`` exactly, so its ``g`` carries the raw rule;
    other groups have ``g = 0``. A group with a non-finite member gets ``f = NaN``.
    """
    if kind == "grpo":
        std = jnp.sqrt(m2 / jnp.maximum(count - std_ddof, 1.0))
        denom = std + eps * scale
        f = jnp.where(denom > 0, 1.0 / jnp.where(denom > 0, denom, 1.0), 0.0)
        raw = 1.0 / (1.0 + eps)  # verl: a singleton has mean 0, std 1
    elif kind == "drgrpo":
        f, raw = jnp.broadcast_to(inv_scale, count.shape), 1.0
    else:  # rloo: n / (n - 1) (r - mean)
        f, raw = inv_scale * count / jnp.maximum(count - 1.0, 1.0), 1.0
        singleton = "raw"
    single = count == 1
    g = jnp.where(single, raw if singleton == "raw" else 0.0, 0.0).astype(count.dtype)
    f = jnp.where(single, 0.0, f)
    f = jnp.where(nonfinite_groups(count, offset, m2), jnp.nan, f)
    return f, g


def signed_factor(count, f, g):
    """One per-group number for both factors of `group_factors`: ``f`` (never negative,
    NaN for a group with a non-finite member), or ``-g`` for a finite singleton under the
    ``"raw"`` rule (``g > 0``; its centred value is exactly 0, and under the ``"zero"``
    rule ``f = 0`` already gives 0). An entry's advantage is then ``-h * reward`` where
    ``h`` has its sign bit set and ``h * centred`` otherwise: one real gather per entry
    instead of two factors, and no NaN is lost (a NaN ``h`` gives NaN on either side).
    """
    return jnp.where((count == 1) & (g > 0) & ~jnp.isnan(f), -g, f)


def nonfinite_groups(count, centred, m2):
    """Per group (or entry): does the group hold a non-finite valid reward?

    The shifted two-pass statistics of a group with a NaN or an infinite member are
    never finite (``inf - inf``, ``NaN`` in the mean), while those of a finite group
    are, after the power-of-two rescaling, bounded. The documented rule of every group
    function: such a group's valid entries get NaN, and no other group is touched.
    """
    return (count > 0) & ~(jnp.isfinite(m2) & jnp.isfinite(centred))


def _group_advantages(rewards, group_ids, mask, num_groups, implementation, **factors):
    """The shared body of `group_advantages` and `rloo_advantages` (contract checked by the caller)."""
    valid = _layout(rewards, group_ids, mask, num_groups=num_groups)
    if group_ids is None:
        impl = _dispatch.resolve_implementation(implementation)
    else:
        impl = grouped_advantage.pick_level_implementation(implementation, rewards.shape[0])
    out_dtype = _numerics.compute_dtype(rewards)
    if rewards.size == 0:  # no entries (G = 0 or P = 0): no advantages
        return jnp.zeros(rewards.shape, out_dtype)
    r = jnp.asarray(rewards).astype(out_dtype)
    if group_ids is None:  # dense [P, G]: one power-of-two scale per row
        scale, inv = pow2_scale(r, None if mask is None else valid, axis=1)
        if _dispatch.uses_kernel(impl):
            count, centred, m2 = grouped_advantage.dense_group_stats(
                r * scale, valid, interpret=_dispatch.kernel_interpret(impl))
            count, centred, m2 = (x.astype(out_dtype) for x in (count, centred, m2))
        else:
            count, centred, m2 = _segments.dense_group_stats_reference(r * scale, valid)
        # m2 is non-finite exactly when a valid member is (it then stands for the offset too)
        f, g = group_factors(count[:, None], m2[:, None], m2[:, None], scale, inv, **factors)
        adv = centred * f + r * g
    elif _dispatch.uses_kernel(impl) and num_groups is None:
        scale, inv = pow2_scale(r, valid)
        depth = jnp.where(valid, 0, -1).astype(jnp.int32)
        keys = _segments.int32_ids(group_ids)[None]
        count, centred, m2 = (x[:, 0].astype(out_dtype) for x in grouped_advantage.level_stats(
            r * scale, jnp.zeros_like(depth), keys, depth, interpret=_dispatch.kernel_interpret(impl)))
        f, g = group_factors(count, m2, centred, scale, inv, **factors)
        adv = centred * f + r * g
    else:  # XLA: segment ids (hashed, or the dense ids given), then two scatter-adds
        # the member shift comes from the raw rewards (a power-of-two rescaling is exact
        # and monotone, so it is still a member once rescaled), and validity from the
        # segments: every pass then reads the rewards and one index array (see _segments)
        seg, size, shift = _segments.segment_index(r, valid, [group_ids], num_groups)
        valid = seg < size
        scale, inv = pow2_scale(r, valid)
        u = r * scale
        count, centred, m2, offset = _segments.segment_moments(u, seg, size, shift * scale)
        f, g = group_factors(count, m2, offset, scale, inv, **factors)
        if 4 * (size + 1) <= r.shape[0]:  # few groups: the factors once per group, one real gather
            h = _segments.take(_segments.materialise(signed_factor(count, f, g)), seg)
            adv = jnp.where(jnp.signbit(h), r * -h, centred * h)
        else:  # a segment per row (ids not promised dense): fused into the gather, one complex gather
            fg = _segments.take(jax.lax.complex(f, g), seg)
            adv = centred * jnp.real(fg) + r * jnp.imag(fg)
    return jax.lax.stop_gradient(jnp.where(valid, adv, 0.0))


def group_advantages(rewards: jax.Array, group_ids: jax.Array | None = None, *, mask: jax.Array | None = None,
                     normalize: bool = True, std_ddof: int = 1, eps: float = 1e-6, singleton: str = "raw",
                     implementation: str | None = None, num_groups: int | None = None) -> jax.Array:
    r"""Group-relative advantages of GRPO (and, with ``normalize=False``, Dr.GRPO).

    For each group :math:`g` of valid (unmasked) entries with :math:`n_g` members,

    .. math::
        \mu_g = \frac1{n_g}\sum_{j\in g} r_j,\qquad
        \sigma_g = \Big(\frac{1}{n_g - d}\sum_{j\in g}(r_j-\mu_g)^2\Big)^{1/2},\qquad
        A_i = \frac{r_i - \mu_g}{\sigma_g + \varepsilon}\ \ (\text{normalize}),\quad
        A_i = r_i - \mu_g\ \ (\text{Dr.GRPO}),

    with :math:`d` = ``std_ddof`` (1: unbiased ``torch.std``, as verl; 0: population).
    The variance is computed in two passes, centring on one member of the group first
    (its maximum, or its first entry with hashed ids) and then on the mean (verl's
    vectorised ``E[x^2] - mean^2`` loses every digit when the rewards sit far from
    zero), so an all-equal group gets exactly 0.

    Edge cases, all finite:

    - singleton group (one valid member): ``singleton="raw"`` reproduces verl's mean 0,
      std 1, i.e. :math:`A = r/(1+\varepsilon)` (``r`` with ``normalize=False``);
      ``"zero"`` gives 0.
    - zero-variance group: 0 (the numerator is exactly 0), also with ``eps=0``.
    - masked entries are excluded from the statistics and get 0; so does an all-masked group.
    - non-finite rewards (NaN, +-inf) in a group's valid entries make that group's valid
      advantages NaN (never a silent 0) and touch no other group; a masked non-finite
      reward has no effect. The same rule holds for every group function
      (`rloo_advantages`, `gigpo_advantages`, `hgpo_advantages`; `dapo_group_filter` drops
      such a group).

    Statistics are computed in the rewards' float dtype (float64 stays float64; float16
    and bfloat16 are computed and returned in float32) on the rewards rescaled by an exact
    power of two into [-4, 4] (one power per group for dense ``[P, G]`` input, one for the
    batch with ``group_ids``), so no finite input overflows into NaN. (Ragged input: a group
    whose spread is below ~1e-19 of the batch's largest finite reward underflows in the
    rescaled domain; its advantages are then wrong, so keep ragged batches within 1e19
    of each other in magnitude, or pass them dense.) The result is wrapped in
    ``stop_gradient``: advantages are constants of the policy
    gradient (verl computes them under ``no_grad``).

    Args:
        rewards: [P, G] float (P groups of G samples, one group per row), or [N] float
            with ``group_ids``.
        group_ids: None, or [N] int: rows with equal ids form one group (any int values,
            in any order; a group may be scattered over the batch).
        mask: optional bool of the shape of ``rewards``; False entries are excluded.
        normalize: divide by :math:`\sigma_g + \varepsilon` (GRPO); False is Dr.GRPO.
        std_ddof: 1 (unbiased, verl) or 0 (population).
        eps: :math:`\varepsilon \ge 0`, added to the std (not the variance).
        singleton: ``"raw"`` (verl) or ``"zero"``.
        implementation: ``"pallas"`` (interpret mode on CPU), ``"pallas_interpret"``,
            ``"xla"`` or None (Pallas on TPU/GPU, else XLA;
            for ragged groups, XLA above 32768 entries, where the kernel's pairwise
            ``O(N^2)`` work loses to the hashed ``O(N)`` path).
            The XLA path gives ragged groups canonical ids with a hash table (``O(N)``
            expected, no sort) and reduces them with two scatter-adds; the Pallas path
            compares rows pairwise (``O(N^2)`` work, ``O(N)`` memory, no sort or
            scatter), which suits RL batches of up to tens of thousands of rows. The
            Pallas kernels compute in float32 whatever the input dtype.
        num_groups: optional static int: promises ``group_ids`` are dense ids in
            ``[0, num_groups)`` (as a rollout buffer's prompt index usually is), so they
            index the segment statistics directly with no hashing (always the XLA path;
            see launch/bench_advantages.py for its cost against a plain segment sum).
            Rows whose id is outside the range are treated as masked (advantage 0).

    Returns:
        Advantages, the shape of ``rewards``, in its float dtype (float64 stays float64;
        float16, bfloat16 and integer rewards give float32).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import group_advantages
        >>> group_advantages(jnp.array([[0.0, 1.0, 1.0, 0.0]]), eps=0.0)
        Array([[-0.86602545,  0.86602545,  0.86602545, -0.86602545]], dtype=float32)
        >>> group_advantages(jnp.array([1.0, 3.0, 5.0]), jnp.array([7, 7, 2]), normalize=False)
        Array([-1.,  1.,  5.], dtype=float32)

    References:
        Shao et al, DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
        Language Models, 2024 (arXiv 2402.03300).
        Liu et al, Understanding R1-Zero-Like Training: A Critical Perspective, 2025
        (arXiv 2503.20783).
        Sheng et al, HybridFlow: A Flexible and Efficient RLHF Framework (verl), 2024
        (arXiv 2409.19256).

    Departure from verl: verl's vectorised path also floors the variance at eps and
    uses the one-pass variance; bvjax follows verl's reference loop
    (``compute_grpo_outcome_advantage``) with a two-pass variance.
    """
    _checks.one_of("std_ddof", std_ddof, (0, 1))
    _checks.one_of("singleton", singleton, SINGLETON_RULES)
    _checks.in_range("eps", eps, low=0.0)
    return _group_advantages(rewards, group_ids, mask, num_groups, implementation,
                             kind="grpo" if normalize else "drgrpo", std_ddof=std_ddof, eps=eps, singleton=singleton)


def rloo_advantages(rewards: jax.Array, group_ids: jax.Array | None = None, *,
                    mask: jax.Array | None = None, num_groups: int | None = None,
                    implementation: str | None = None) -> jax.Array:
    r"""Leave-one-out (RLOO) advantages: each reward minus the mean of the others in its group.

    .. math::
        A_i = r_i - \frac{1}{n_g-1}\sum_{j\in g,\,j\ne i} r_j = \frac{n_g}{n_g-1}\,(r_i - \mu_g)

    Edge cases: a singleton group keeps its raw reward (verl's
    ``compute_rloo_outcome_advantage``); masked entries and all-masked groups get 0; a
    group with a non-finite valid reward gets NaN, and no other group is touched.
    The result is wrapped in ``stop_gradient``.

    Args:
        rewards: [P, G] float (one group per row), or [N] float with ``group_ids``.
        group_ids: None, or [N] int; rows with equal ids form one group.
        mask: optional bool of the shape of ``rewards``; False entries are excluded.
        num_groups: optional static int, as in `group_advantages`: dense ids in
            ``[0, num_groups)`` used directly, no hashing; out-of-range rows get 0.
        implementation: as in `group_advantages` (the same statistics: RLOO is
            :math:`n/(n-1)` times the Dr.GRPO advantage).

    Returns:
        Advantages, the shape of ``rewards``, in its float dtype (float64 stays float64;
        float16, bfloat16 and integer rewards give float32).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import rloo_advantages
        >>> rloo_advantages(jnp.array([[1.0, 2.0, 6.0]]))
        Array([[-3. , -1.5,  4.5]], dtype=float32)

    References:
        Kool et al, Buy 4 REINFORCE Samples, Get a Baseline for Free!, 2019.
        Ahmadian et al, Back to Basics: Revisiting REINFORCE Style Optimization for
        Learning from Human Feedback in LLMs, 2024 (arXiv 2402.14740).

    Follows verl exactly, including the singleton rule.
    """
    return _group_advantages(rewards, group_ids, mask, num_groups, implementation, kind="rloo")
