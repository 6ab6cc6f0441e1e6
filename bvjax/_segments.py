"""Segment ids and segment statistics in plain jnp: the shared, non-kernel half of grouped advantages.

A bottom-layer module (it imports only jax, numpy and `bvjax._numerics`), so both the
library (`bvjax.rl`) and the Pallas kernels (`pallas_kernels.grouped_advantage`) import
it without a cycle. It holds:

- `segment_ids`: canonical ids of equal int tuples with a hash table (no sort), and
  `int32_ids`, which maps 64-bit ids to int32 ids with the same equalities;
- `segment_stats`: shifted two-pass statistics (count, centred value, centred sum of
  squares) of the groups given by equal tuples or by dense ids;
- `dense_group_stats_reference` and `level_stats_reference`: the plain-jnp references of
  the kernels `dense_group_stats` and `level_stats`, which are also the XLA path of
  `bvjax.rl`'s group functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _numerics

__all__: list[str] = []  # private module.


def check_level_inputs(values, group, keys, depth):
    if values.ndim != 1:
        raise ValueError(f"values: expected [M] float, got shape {values.shape}")
    m = values.shape[0]
    if group.shape != (m,):
        raise ValueError(f"group: expected [M] int with M={m}, got shape {group.shape}")
    if depth.shape != (m,):
        raise ValueError(f"depth: expected [M] int with M={m}, got shape {depth.shape}")
    if keys.ndim != 2 or keys.shape[1] != m or keys.shape[0] < 1:
        raise ValueError(f"keys: expected [L, M] int with M={m}, L >= 1, got shape {keys.shape}")


def dense_group_stats_reference(values: jax.Array, valid: jax.Array):
    """Plain-jnp `dense_group_stats` (the XLA path): same shifted two-pass formulas."""
    v = values.astype(jnp.float32)
    ok = valid.astype(bool)
    n = jnp.sum(ok, axis=1).astype(jnp.float32)
    shift = jnp.max(jnp.where(ok, v, -jnp.inf), axis=1)
    shift = jnp.where(n > 0, shift, 0.0)
    d = jnp.where(ok, v - shift[:, None], 0.0)
    offset = jnp.sum(d, axis=1) / jnp.maximum(n, 1.0)
    c = jnp.where(ok, d - offset[:, None], 0.0)
    return n, c, jnp.sum(c * c, axis=1)


_GOLDEN = np.uint32(0x9E3779B1)


def _hashes(columns: list[jax.Array]) -> tuple[jax.Array, jax.Array]:
    """Two independent 32-bit hashes of the int tuples in ``columns``."""
    h1 = jnp.full(columns[0].shape, 0x243F6A88, jnp.uint32)
    h2 = jnp.full(columns[0].shape, 0x13198A2E, jnp.uint32)
    for c in columns:
        c = c.astype(jnp.int32).astype(jnp.uint32)
        h1 = _numerics.fmix32(h1 ^ c) * _GOLDEN
        h2 = _numerics.fmix32((h2 + c) * np.uint32(0x85EBCA77))
    return _numerics.fmix32(h1), h2 | np.uint32(1)


def int32_columns(columns: list[jax.Array]) -> list[jax.Array]:
    """Int columns as int32 columns with the same tuple equalities (64-bit ids split in two)."""
    out = []
    for c in columns:
        if jnp.dtype(c.dtype).itemsize > 4:
            out += [(c & 0xFFFFFFFF).astype(jnp.uint32).astype(jnp.int32), (c >> 32).astype(jnp.int32)]
        else:
            out.append(c.astype(jnp.int32))
    return out


def segment_ids(columns: list[jax.Array], valid: jax.Array | None = None, *,
                 table_size: int | None = None) -> jax.Array:
    """Canonical ids of the distinct tuples of int ``columns`` (each [M]), without a sort.

    Row ``i`` gets ``min {j valid : columns[:, j] == columns[:, i]}``, the first row of
    its class, so the ids are in ``[0, M)`` and equal exactly when the tuples are equal
    (rows that are not ``valid`` get ``M``). A hash table with open rehashing: each
    round, every unresolved row scatters its index (``min``) into the slot of its hash;
    the winner of a slot is the first unresolved row hashed there, and every row whose
    tuple equals the winner's (checked on the columns, so collisions are never merged)
    takes the winner's index. All rows of a class share a slot, so a class resolves
    entirely in one round, to its first row; at least one class resolves per round, so
    the loop ends, in a few rounds for a table twice the size of the input (the slot
    of round ``r`` is ``h1 + r * h2``, double hashing). This replaces a lexsort, which on
    CPU costs most of a segment reduction. ``table_size`` (a power of two) is for tests
    that force collisions.
    """
    m = columns[0].shape[0]
    if m == 0:
        return jnp.zeros((0,), jnp.int32)
    table = table_size or _numerics.next_pow2(2 * m)
    rows = jnp.arange(m, dtype=jnp.int32)
    cols = jnp.stack(int32_columns(columns))
    h1, h2 = _hashes(list(cols))
    todo = jnp.ones((m,), bool) if valid is None else valid.astype(bool)

    def cond(carry):
        _, todo, _ = carry
        return jnp.any(todo)

    def body(carry):
        ids, todo, r = carry
        slot = ((h1 + r.astype(jnp.uint32) * h2) & np.uint32(table - 1)).astype(jnp.int32)
        winner = jnp.full((table,), m, jnp.int32).at[slot].min(jnp.where(todo, rows, m))[slot]
        same = todo & jnp.all(jnp.take(cols, jnp.minimum(winner, m - 1), axis=1) == cols, axis=0)
        return jnp.where(same, winner, ids), todo & ~same, r + 1

    ids, _, _ = jax.lax.while_loop(cond, body, (jnp.full((m,), m, jnp.int32), todo, jnp.int32(0)))
    return ids


def int32_ids(ids: jax.Array) -> jax.Array:
    """Ids as int32 with the same equalities: a cast up to 32 bits, canonical ids for 64-bit ids."""
    if jnp.dtype(ids.dtype).itemsize <= 4:
        return ids.astype(jnp.int32)
    return segment_ids([ids.reshape(-1)]).reshape(ids.shape)


def segment_stats(values: jax.Array, valid: jax.Array, columns: list[jax.Array],
                  num_segments: int | None = None):
    """Shifted two-pass statistics of the groups given by equal tuples of ``columns``.

    Without ``num_segments`` the tuples get canonical ids from `segment_ids` (a hash
    table). With ``num_segments``, the single column already holds dense ids in
    ``[0, num_segments)`` and is used as the segment index directly: no hashing. Rows
    whose id is out of range count as not valid.

    Returns ``(count, centred, m2)``, each [M] float32, 0 where not ``valid``.
    """
    m = values.shape[0]
    v = values.astype(jnp.float32)
    ok = valid.astype(bool)
    if num_segments is None:
        seg = segment_ids(list(columns), ok)  # invalid rows: id M, a bucket of their own
        m = m + 1
    else:
        (ids,) = columns
        ok = ok & (ids >= 0) & (ids < num_segments)
        seg = jnp.where(ok, ids, num_segments).astype(jnp.int32)  # one overflow bucket
        m = num_segments + 1
    n = jax.ops.segment_sum(ok.astype(jnp.float32), seg, m)
    shift = jax.ops.segment_max(jnp.where(ok, v, -jnp.inf), seg, m)
    shift = jnp.where(n > 0, shift, 0.0)
    d = jnp.where(ok, v - shift[seg], 0.0)
    offset = jax.ops.segment_sum(d, seg, m) / jnp.maximum(n, 1.0)
    c = jnp.where(ok, d - offset[seg], 0.0)
    m2 = jax.ops.segment_sum(c * c, seg, m)
    return jnp.where(ok, n[seg], 0.0), c, jnp.where(ok, m2[seg], 0.0)


def level_stats_reference(values: jax.Array, group: jax.Array, keys: jax.Array, depth: jax.Array):
    """Plain-jnp `level_stats` (the XLA path): hashed nested segments, ``O(L M)``.

    Level ``l`` clusters are the classes of the pair (level-``l-1`` cluster, ``k_l``)
    among rows with ``depth >= l`` (level ``-1``: ``group``), so each level hashes two
    int columns: `segment_ids` gives them canonical ids (no sort, no pairwise
    comparisons) and a shifted two-pass segment reduction gives the statistics.
    """
    check_level_inputs(values, group, keys, depth)
    num_levels, m = keys.shape
    parent = group.astype(jnp.int32)
    outs = []
    for level in range(num_levels):
        ok = depth >= level
        parent = segment_ids([parent, keys[level]], ok)
        outs.append(segment_stats(values, ok, [parent], num_segments=m))
    return tuple(jnp.stack([o[i] for o in outs], axis=1) for i in range(3))
