r"""Pallas kernels for the segment statistics of group-relative advantages (GRPO, RLOO, GiGPO, HGPO).

Two kernels share this file. Their plain-jnp references, which are also the XLA path of
`bvjax.rl`, live with the hashing and segment ids in `bvjax._segments` (they are not
kernels): `dense_group_stats_reference`, `level_stats_reference`, `segment_stats`.

- `dense_group_stats`: one group per row of a ``[P, G]`` array (GRPO's layout). One
  program handles a block of rows; each row is reduced in two passes (shifted mean,
  then the centred sum of squares).
- `level_stats`: ragged groups and HGPO's hierarchy of groups, in the pairwise-equality
  formulation (docs/notes/rl.md, "Hierarchy of groups as pairwise equality"). Rows ``i`` and ``j`` are in the same level-``l``
  cluster when they share ``group``, both have ``depth >= l`` and their keys agree on
  levels ``0..l``:

  .. math::  E_l[i, j] = E_{l-1}[i, j] \wedge (k_{l,i} = k_{l,j}) \wedge d_i \ge l \wedge d_j \ge l,
             \qquad E_{-1}[i,j] = (g_i = g_j) \wedge d_i \ge 0 \wedge d_j \ge 0 .

  With ``k_l`` the state ``l`` steps back, this unrolls the shifted-AND recurrence
  :math:`E_l[i,j] = E_0[i,j] \wedge E_{l-1}[\mathrm{prev}(i), \mathrm{prev}(j)]`: the
  caller passes the shifted states as keys, so no tile needs its neighbour's rows.
  One program owns a block of output rows and loops over column chunks twice: pass one
  accumulates the count and the sum of ``v_j - v_i`` (shifted by the row's own value,
  so an all-equal cluster centres to exactly 0), pass two the sum of squared deviations
  from the row's mean. Cost is ``O(L * M^2)`` multiply-adds with ``O(M)`` memory: a
  group split across row blocks or column chunks is handled like any other.
  The reference, `bvjax._segments.level_stats_reference`, is an independent formulation: level by
  level, it gives each row's pair (level-``l-1`` cluster, ``k_l``) a canonical id with a
  hash table (no sort, no pairwise comparisons) and uses segment sums, ``O(L M)``.

Both compute in float32 whatever the input dtype (inputs are cast; float64 callers get
float32 statistics from the kernels, while the XLA path in `bvjax._segments` follows the
input's float dtype, float64 included). Both return per-row ``(count, centred, m2)``: the number of members, the row's value
minus its group mean, and the group's centred sum of squares. The elementwise
normalisation (std, eps, singleton rules) is left to the caller, where XLA fuses it.

Advantages are constants of the policy gradient (verl computes them under
``torch.no_grad``), so there is no ``custom_vjp``: the public functions apply
``stop_gradient`` to the result.

`level_stats` keeps the whole column inputs (group, depth, value, keys) resident in
VMEM / as one block, so it targets batches up to a few tens of thousands of rows (RL
batches); beyond that use the hashed reference (``implementation="xla"``).

On GPU the kernels are lowered with Triton (the Mosaic GPU default wants blocks of at
least 128 elements per warpgroup, which these row statistics do not have); on TPU with
Mosaic, columns are padded to a multiple of ``block_cols`` (a multiple of 128).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl

from bvjax import _dispatch, _numerics
from bvjax._segments import check_level_inputs
from pallas_kernels import _common

__all__ = [
    "MAX_PAIRWISE_ROWS",
    "BlockSizes",
    "dense_group_stats",
    "dense_group_stats_kernel",
    "level_stats",
    "level_stats_kernel",
    "pick_level_implementation",
]


# `level_stats` does O(L M^2) work; above this many rows the O(L M) hashed reference is
# cheaper on any backend, so ``implementation=None`` picks the XLA path there.
MAX_PAIRWISE_ROWS = 32768


def pick_level_implementation(implementation: str | None, rows: int) -> str:
    """`bvjax._dispatch.resolve_implementation`, except that None picks XLA above `MAX_PAIRWISE_ROWS`."""
    impl = _dispatch.resolve_implementation(implementation)
    if implementation is None and rows > MAX_PAIRWISE_ROWS:
        return "xla"
    return impl


@dataclasses.dataclass(frozen=True)
class BlockSizes:
    """Block sizes of the grouped-advantage kernels.

    Attributes:
        block_prompts: rows (groups) per program of `dense_group_stats`; a multiple of 8.
        block_rows: output rows per program of `level_stats`; a multiple of 8.
        block_cols: columns per inner-loop chunk of `level_stats`; a multiple of 128.
    """

    block_prompts: int = 8
    block_rows: int = 64
    block_cols: int = 128

    @classmethod
    def get_default(cls) -> BlockSizes:
        return cls()

    def validate(self) -> None:
        for name, value, multiple in (("block_prompts", self.block_prompts, 8),
                                      ("block_rows", self.block_rows, 8),
                                      ("block_cols", self.block_cols, 128)):
            if not isinstance(value, int) or value < multiple or value % multiple:
                raise ValueError(f"block_sizes.{name}: expected a positive multiple of {multiple}, got {value!r}")
            if value & (value - 1):
                raise ValueError(f"block_sizes.{name}: expected a power of two (Triton), got {value!r}")


_ONE, _ZERO = np.float32(1.0), np.float32(0.0)  # explicit float32, also under jax_enable_x64


# ----------------------------------------------------------------------------- dense


def dense_group_stats_kernel(v_ref, ok_ref, count_ref, centred_ref, m2_ref):
    """One block of rows: count, centred values and centred sum of squares per row."""
    v = v_ref[...]
    ok = ok_ref[...] != 0
    n = jnp.sum(jnp.where(ok, _ONE, _ZERO), axis=1, keepdims=True)
    shift = jnp.max(jnp.where(ok, v, -jnp.inf), axis=1, keepdims=True)
    shift = jnp.where(n > 0, shift, 0.0)
    d = jnp.where(ok, v - shift, 0.0)
    offset = jnp.sum(d, axis=1, keepdims=True) / jnp.maximum(n, 1.0)
    c = jnp.where(ok, d - offset, 0.0)
    count_ref[...] = n
    centred_ref[...] = c
    m2_ref[...] = jnp.sum(c * c, axis=1, keepdims=True)


@functools.partial(jax.jit, static_argnames=("block_sizes", "interpret", "platform"))
def dense_group_stats(values: jax.Array, valid: jax.Array, *, block_sizes: BlockSizes | None = None,
                      interpret: bool | None = None, platform: str | None = None):
    """Per-row group statistics of ``values [P, G]`` over the entries where ``valid``.

    Args:
        values: [P, G] float.
        valid: [P, G] bool.
        block_sizes: a `BlockSizes`, default `BlockSizes.get_default()`.
        interpret: force interpret mode; default: interpret exactly when lowering for the CPU.
        platform: lowering platform ("tpu", "gpu"/"cuda", "cpu"); default the backend's.

    Returns:
        ``(count [P], centred [P, G], m2 [P])`` in float32: valid entries per row, each
        entry minus its row mean (0 where not valid) and the centred sum of squares.
    """
    if values.ndim != 2 or valid.shape != values.shape:
        raise ValueError(f"values, valid: expected [P, G] and [P, G], got {values.shape} and {valid.shape}")
    bs = block_sizes or BlockSizes.get_default()
    bs.validate()
    interpret, platform = _common.resolve_interpret(interpret, platform)
    p, g = values.shape
    bp = bs.block_prompts
    pp, gp = _numerics.round_up(max(p, 1), bp), _numerics.next_pow2(max(g, 1))
    if platform == "tpu":
        gp = _numerics.round_up(gp, 128)
    v = jnp.zeros((pp, gp), jnp.float32).at[:p, :g].set(values.astype(jnp.float32))
    ok = jnp.zeros((pp, gp), jnp.int32).at[:p, :g].set(valid.astype(jnp.int32))
    row = pl.BlockSpec((bp, gp), lambda i: (i, 0))
    col = pl.BlockSpec((bp, 1), lambda i: (i, 0))
    count, centred, m2 = pl.pallas_call(
        dense_group_stats_kernel,
        grid=(pp // bp,),
        in_specs=[row, row],
        out_specs=[col, row, col],
        out_shape=[jax.ShapeDtypeStruct((pp, 1), jnp.float32), jax.ShapeDtypeStruct((pp, gp), jnp.float32),
                   jax.ShapeDtypeStruct((pp, 1), jnp.float32)],
        interpret=interpret,
        compiler_params=None if interpret else _common.compiler_params(platform, ("parallel",)),
        name="dense_group_stats",
    )(v, ok)
    return count[:p, 0], centred[:p, :g], m2[:p, 0]


# ---------------------------------------------------------------------- hierarchical


def level_stats_kernel(gc_ref, dc_ref, vc_ref, kc_ref, gr_ref, dr_ref, vr_ref, kr_ref,
                       count_ref, centred_ref, m2_ref, *, num_levels: int, block_cols: int):
    """Rows ``i`` of one block against every column ``j``, chunk by chunk, two passes."""
    bn, lp = count_ref.shape
    num_chunks = gr_ref.shape[1] // block_cols
    gi, di, vi = gc_ref[...], dc_ref[...], vc_ref[...]
    lane = jax.lax.broadcasted_iota(jnp.int32, (1, lp), 1)

    def chunk(j):
        start = pl.multiple_of(j * block_cols, block_cols)
        sl = pl.ds(start, block_cols)
        return sl, gr_ref[:, sl], dr_ref[:, sl], vr_ref[:, sl]

    def matches(sl, gj, dj):
        """Yields the level-l equality tile E_l [bn, block_cols], l = 0 .. num_levels-1."""
        m = (gi == gj) & (di >= 0) & (dj >= 0)
        for level in range(num_levels):
            ki = kc_ref[:, level:level + 1]
            kj = kr_ref[level:level + 1, sl]
            m = m & (ki == kj) & (di >= level) & (dj >= level)
            yield level, m

    def pass_one(j, carry):
        cnt, tot = carry
        sl, gj, dj, vj = chunk(j)
        diff = vj - vi
        for level, m in matches(sl, gj, dj):
            at = lane == level
            cnt = cnt + jnp.where(at, jnp.sum(jnp.where(m, _ONE, _ZERO), axis=1, keepdims=True), 0.0)
            tot = tot + jnp.where(at, jnp.sum(jnp.where(m, diff, 0.0), axis=1, keepdims=True), 0.0)
        return cnt, tot

    zeros = jnp.zeros((bn, lp), jnp.float32)
    cnt, tot = jax.lax.fori_loop(0, num_chunks, pass_one, (zeros, zeros))
    offset = tot / jnp.maximum(cnt, 1.0)  # mean - v_i, per level

    def pass_two(j, m2):
        sl, gj, dj, vj = chunk(j)
        diff = vj - vi
        for level, m in matches(sl, gj, dj):
            at = lane == level
            off = jnp.sum(jnp.where(at, offset, 0.0), axis=1, keepdims=True)
            dev = diff - off
            m2 = m2 + jnp.where(at, jnp.sum(jnp.where(m, dev * dev, 0.0), axis=1, keepdims=True), 0.0)
        return m2

    m2 = jax.lax.fori_loop(0, num_chunks, pass_two, zeros)
    count_ref[...] = cnt
    centred_ref[...] = -offset
    m2_ref[...] = m2


@functools.partial(jax.jit, static_argnames=("block_sizes", "interpret", "platform"))
def level_stats(values: jax.Array, group: jax.Array, keys: jax.Array, depth: jax.Array, *,
                block_sizes: BlockSizes | None = None, interpret: bool | None = None,
                platform: str | None = None):
    """Per-row statistics of nested clusters (ragged groups when ``L = 1``).

    Args:
        values: [M] float.
        group: [M] int32; rows in different groups never match.
        keys: [L, M] int32; level ``l`` requires keys ``0..l`` to agree (map 64-bit ids
            through `bvjax._segments.int32_ids` first).
        depth: [M] int; row ``i`` takes part in levels ``l <= depth[i]``; ``-1`` drops
            the row altogether (masked).

    Returns:
        ``(count [M, L], centred [M, L], m2 [M, L])`` float32: the row's level-``l``
        cluster size, its value minus the cluster mean, and the cluster's centred sum
        of squares (all 0 where the row is not in a level-``l`` cluster).
    """
    check_level_inputs(values, group, keys, depth)
    bs = block_sizes or BlockSizes.get_default()
    bs.validate()
    interpret, platform = _common.resolve_interpret(interpret, platform)
    num_levels, m = keys.shape
    bn, bc = bs.block_rows, bs.block_cols
    lp = _numerics.next_pow2(num_levels)
    mp = _numerics.round_up(max(m, 1), max(bn, bc))
    if platform == "gpu":
        mp = max(_numerics.next_pow2(mp), bn, bc)  # Triton wants power-of-two blocks.
    pad = mp - m

    def padded(x, fill):
        return jnp.pad(x.astype(jnp.int32), (0, pad), constant_values=fill)

    g = padded(group, 0)
    d = padded(depth, -1)
    v = jnp.pad(values.astype(jnp.float32), (0, pad))
    k = jnp.pad(keys.astype(jnp.int32), ((0, lp - num_levels), (0, pad)))
    # Padded levels never match: key 0 for rows, key 1 for columns.
    k_rows = k.T
    k_cols = k.at[num_levels:].set(1)

    col1 = pl.BlockSpec((bn, 1), lambda i: (i, 0))
    coll = pl.BlockSpec((bn, lp), lambda i: (i, 0))
    row1 = pl.BlockSpec((1, mp), lambda i: (0, 0))
    rowl = pl.BlockSpec((lp, mp), lambda i: (0, 0))
    kernel = functools.partial(level_stats_kernel, num_levels=num_levels, block_cols=bc)
    out = jax.ShapeDtypeStruct((mp, lp), jnp.float32)
    count, centred, m2 = pl.pallas_call(
        kernel,
        grid=(mp // bn,),
        in_specs=[col1, col1, col1, coll, row1, row1, row1, rowl],
        out_specs=[coll, coll, coll],
        out_shape=[out, out, out],
        interpret=interpret,
        compiler_params=None if interpret else _common.compiler_params(platform, ("parallel",)),
        name="level_stats",
    )(g[:, None], d[:, None], v[:, None], k_rows, g[None], d[None], v[None], k_cols)
    return count[:m, :num_levels], centred[:m, :num_levels], m2[:m, :num_levels]
