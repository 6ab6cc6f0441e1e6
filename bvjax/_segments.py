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

Where the time goes (XLA:CPU, 2 cores, 64k rows in 8k groups; per-op costs measured by
chaining 20 copies of one op in a jitted function, so the call overhead divides out):
a scatter-add or scatter-max of one column costs ~60-80 us, a gather ~65 us, a fused
elementwise pass a few us, but `jnp.ldexp` on every entry ~235 us and `jnp.frexp`
~35 us; a scatter of two real columns costs twice one column, a complex64 scatter
~1.4x one real column. The compiled HLO of the earlier path held four scatters
(count, max, shifted sum, squares), four gathers and two per-entry ``ldexp`` rescalings:
the rescalings alone were more than half of its time. The path here keeps the same
guarantees with three scatters (max shift, count + shifted sum as one complex scatter,
centred squares), gathers that XLA fuses into their consumers, and power-of-two scales
applied as one multiply (`bvjax.rl._advantages.pow2_scale`): with dense ids its compiled
HLO is 14 fusions, against 3 scatters and 2 gathers for the plain 4-op segment sum. What
remains above that baseline is the max-shift scatter (an all-equal group of any size
centres to exactly 0 only with a member as the shift) and one reduction for the scale.
Hashed ids add the hash table's rounds: each round is a scatter-min and two gathers
over all rows (2-3 rounds at a table twice the input), which is why ids that span fewer
than ``M`` consecutive integers skip the table (`segment_index`).

Measured again (idle machine, same data, the plain 4-op program = 1.0x): with dense ids,
dropping the max-shift scatter and its gather takes the path from ~1.45x to ~1.15x, and
dropping the scale as well to ~1.0x, so those two guarantees are the whole gap. XLA:CPU
does not fuse the producer of a scatter's updates into the scatter: every scatter costs a
materialised pass over the rows, and the path makes 14 passes over the rows where the
plain program makes 7. Rejected, slower or no better: a shift from an integer magnitude key
that also gives each group its own scale (~1.5x); an exact first sum from splitting each
value into three 8-bit parts (an ``[M, 4]`` scatter, ~1.75x); a corrected two-pass (mean,
then the sums of the deviations and their squares in one complex scatter; ~1.3x, and an
all-equal group is exactly 0 only up to a few thousand members); two real gathers in place
of the complex one, and drop-mode scatters on the raw ids (within the noise). Hashed ids:
64k rows in 8k classes take 2 rounds (2,104 rows are left after the first), ~250 us a
round; the table's fill is not the cost (a table stamped with the round, filled once, was
no faster), the random scatter-min and gathers into it are.

A per-fusion profile (``jax.profiler.trace``, then the trace's per-op durations) showed
one more cost: XLA:CPU fuses an elementwise producer into a gather that reads it and
evaluates it once per gathered row, so the per-group factors (~60 scalar operations) were
computed once per entry. `materialise` computes them once per group where there are
few groups (``jax.lax.optimization_barrier`` does not help: it is removed before fusion).
With it, the dense-ids path runs at 0.85-1.06x of ``guarded`` in
``launch/bench_advantages.py``, the plain program plus only a power-of-two rescale and
a member shift. ``guarded`` is itself 1.3-1.5x the plain program, and the plain program
is not correct: all-equal groups get advantages up to ~0.8 instead of 0 (a rounded
mean), and rewards near 1e20 get 0 (overflowing squares). Also rejected: the rescale's
maximum from the integer bits (slower), the max shift's corrected sums (``sum d`` and
``sum d^2`` in one ``[M, 3]`` or complex scatter, ~1.5x), independent scatters arranged
to run side by side (no faster), and for ``[P, G]`` rows as ``G`` unrolled columns (one
fusion, but 0.27 s to compile at ``G = 8`` and 11.5 s at ``G = 64``).

Four more costs of that kind, found in the same profile and removed:

- XLA:CPU splits an elementwise loop it deems costly (a division, a square root) into
  one partition per thread and vectorises a partition only when its length is a multiple
  of the vector width. The per-group arrays had ``S + 1`` entries (8,193 for 8,192
  groups), so the per-group factors ran as scalar code: ~45 us, against ~15 us at
  8,256. They now have `buckets` entries, a multiple of 128.
- A scatter's updates are always materialised: the max-shift scatter read a rescaled
  copy of the rewards (one more pass over the rows). The shift now comes from the raw
  rewards and is rescaled per row where it is used: a power-of-two rescaling is exact
  and monotone, so it is the same member, bit for bit.
- jnp wraps negative int32 indices with a select per row, in every gather and in the
  index array of every scatter; segment indices are uint32 (`unsigned`), which jnp uses
  as they are, and the rows' validity is read back from them (``seg < S``), so the
  passes read the rewards and one index array.
- Checking the id range twice (in the caller and here) added two redundant predicates
  to the final pass, enough for XLA:CPU's cost model to split it over two threads, which
  at 4k rows costs more than it saves (1.6-1.8x the plain program, against ~1.05x).

Together, in ``launch/bench_advantages.py`` (three runs): with dense ids the path is
0.79-0.87x of ``guarded`` at 64k, i.e. 1.14-1.23x the plain program (was 1.20-1.37x),
0.78-1.00x at 4k and 1.27-1.35x at 1M; the summed per-fusion time of the shuffled-ids
path fell by ~10%. Tried and not kept: rescaling the shift in the gathered table so the
centred values need no materialised difference (no faster), and computing the factors
once per bucket with a segment per row (``S = M``; 1.8x against 1.5x the plain program).

Compile time: ``jnp.frexp`` and ``jnp.ldexp`` were 136 of the 236 jaxpr equations of the
dense ``[P, G]`` path; the scale now comes from the float's bits (`bvjax._numerics.frexp_exponent`,
`bvjax._numerics.exp2_int`). The hash table's ``while_loop`` adds ~0.08 s of XLA compile
on its own (one unrolled round compiles in ~0.09 s, the loop in ~0.17 s). Compile time
follows the number of loop fusions (~10-30 ms each); a reduction whose input is a select,
a comparison or a bitcast cannot join XLA:CPU's YNNPACK reduction fusion and becomes a
loop fusion of its own, hence the unmasked ``[P, G]`` scale without a select.
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
    """Plain-jnp `dense_group_stats` (the XLA path): same shifted two-pass formulas.

    Computed in `bvjax._numerics.compute_dtype` of ``values`` (float64 stays float64).
    """
    dt = _numerics.compute_dtype(values)
    v = values.astype(dt)
    ok = valid.astype(bool)
    n = jnp.sum(ok, axis=1).astype(dt)
    shift = jnp.max(jnp.where(ok, v, -jnp.inf), axis=1, keepdims=True)
    d = jnp.where(ok, v - jnp.where(n[:, None] > 0, shift, 0.0), 0.0)
    offset = jnp.sum(d, axis=1, keepdims=True) / jnp.maximum(n[:, None], 1.0)
    c = jnp.where(ok, d - offset, 0.0)
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


PROMISE = "promise_in_bounds"  # every segment index below is in range by construction


def buckets(num_segments: int) -> int:
    """Length of the per-segment arrays: ``num_segments + 1`` (the last one collects the
    rows that take no part), rounded up to a multiple of 128.

    XLA:CPU splits an elementwise loop it deems costly (a division, a square root) into
    partitions, one per thread, and vectorises a partition only when its length is a
    multiple of the vector width: at 8,193 groups the per-group factors ran as scalar
    code, 2-3x slower than at 8,256 (the trailing buckets are empty and never read).
    """
    return -(-(num_segments + 1) // 128) * 128


def unsigned(seg: jax.Array) -> jax.Array:
    """Segment indices as uint32: jnp then indexes with them as they are, where int32
    indices get a select per row that wraps negative ones (a free cast instead)."""
    return seg.astype(jnp.uint32)


def take(table: jax.Array, seg: jax.Array) -> jax.Array:
    """``table[seg]`` for indices known to be in range (no bounds check in the gather)."""
    return table.at[unsigned(seg)].get(mode=PROMISE)


def materialise(per_segment: jax.Array) -> jax.Array:
    """``per_segment`` itself, computed once per segment before a gather reads it.

    XLA:CPU fuses an elementwise producer into a gather that reads it, and the fused
    gather evaluates the producer once per gathered row: the per-group factors of the
    group functions (a chain of ~60 scalar operations) were computed once per entry, not
    once per group. ``jax.lax.optimization_barrier`` does not prevent it (it is removed
    before fusion). The updates of a scatter are never fused into it, so an identity
    scatter (``S`` updates, sorted unique indices) materialises the array at the cost of
    one pass over the segments, an eighth of the rows for groups of 8.
    """
    rows = jnp.arange(per_segment.shape[0], dtype=jnp.uint32)
    return jnp.zeros_like(per_segment).at[rows].set(per_segment, mode=PROMISE, unique_indices=True,
                                                   indices_are_sorted=True)


def segment_moments(u: jax.Array, seg: jax.Array, num_segments: int, shift: jax.Array):
    r"""Two-pass moments of the segments ``seg`` of ``u``, shifted by a member of each segment.

    Args:
        u: [M] float, the values (already in the compute dtype and rescaled).
        seg: [M] int (used as uint32) in ``[0, num_segments]``; ``num_segments`` is the bucket of the
            rows that take no part (its statistics are computed and ignored).
        num_segments: static int S.
        shift: [M], for each row the value of some member of its segment (the segment's
            maximum, or its first row): an all-equal segment then centres to exactly 0.

    Returns:
        ``(count [S+1], centred [M], m2 [S+1], offset [S+1])``: members per segment,
        ``u - mean`` per row, the centred sum of squares, and the segment's mean minus
        its shift (non-finite exactly when a member is non-finite).

    Cost: two scatter-adds and one gather. The count and the shifted sum travel as the
    real and imaginary parts of one complex scatter-add (a complex scatter costs about
    as much as a real one on CPU, two real columns twice as much).
    """
    seg = unsigned(seg)
    d = u - shift
    packed = jax.lax.complex(d, jnp.ones_like(d))
    z = jax.ops.segment_sum(packed, seg, buckets(num_segments), mode=PROMISE)
    count = jnp.imag(z)
    offset = jnp.real(z) / jnp.maximum(count, 1.0)
    c = d - take(offset, seg)
    m2 = jax.ops.segment_sum(c * c, seg, buckets(num_segments), mode=PROMISE)
    return count, c, m2, offset


def segment_stats(values: jax.Array, valid: jax.Array, columns: list[jax.Array],
                  num_segments: int | None = None):
    """Shifted two-pass statistics of the groups given by equal tuples of ``columns``.

    Without ``num_segments`` the tuples get canonical ids from `segment_ids` (a hash
    table), and each group is shifted by its first row's value (a gather). With
    ``num_segments``, the single column already holds dense ids in ``[0, num_segments)``
    and is used as the segment index directly (no hashing), and each group is shifted by
    its maximum (a scatter-max). Rows whose id is out of range count as not valid.
    Computed in `bvjax._numerics.compute_dtype` of ``values``.

    Returns ``(count, centred, m2)``, each [M], 0 where not ``valid``.
    """
    v = values.astype(_numerics.compute_dtype(values))
    seg, size, shift = segment_index(v, valid, columns, num_segments)
    ok = seg < size
    count, c, m2, _ = segment_moments(v, seg, size, shift)
    return jnp.where(ok, take(count, seg), 0.0), jnp.where(ok, c, 0.0), jnp.where(ok, take(m2, seg), 0.0)


def segment_index(u: jax.Array, valid: jax.Array, columns: list[jax.Array], num_segments: int | None = None):
    """``(seg, S, shift)`` for `segment_moments`: the segment of each row (uint32; S for rows
    that are not valid), the number of segments, and each row's shift: the value in ``u``
    of a member of its segment. ``u`` may be the values before an exact power-of-two
    rescaling (then multiply the shift by the scale): the shift is a member either way,
    and the scatter then reads the values as they are, without a rescaled copy.

    - Dense ids (``num_segments`` given): ``S = num_segments``, the ids are the segments,
      shift = the group's maximum (a scatter-max; rows outside the range go to bucket S).
    - One int column of at most 32 bits whose valid values span fewer than ``M``
      consecutive integers (checked at run time, e.g. prompt indices, also offset by a
      step counter): ``S = M``, segment = id - min id, shift = the group's maximum. No
      hashing; a `jax.lax.cond` picks this branch or the next.
    - Otherwise, hashed: canonical ids of the tuples from `segment_ids`, ``S = M``,
      shift = the value of the group's first row (a gather).
    """
    m = u.shape[0]
    ok = valid.astype(bool)
    if num_segments is not None:
        (ids,) = columns
        # one comparison: negative ids wrap above the range (64-bit ids compared in 64 bits)
        wide = jnp.uint64 if jnp.dtype(ids.dtype).itemsize > 4 else jnp.uint32
        ok = ok & (ids.astype(wide) < num_segments)
        seg = unsigned(jnp.where(ok, ids, num_segments))
        top = jax.ops.segment_max(u, seg, buckets(num_segments), mode=PROMISE)
        return seg, num_segments, take(top, seg)

    def hashed():
        seg = unsigned(segment_ids(list(columns), ok))  # not valid: M
        return seg, u.at[seg].get(mode="clip")

    if len(columns) != 1 or jnp.dtype(columns[0].dtype).itemsize > 4 or m == 0:
        return _with_size(hashed(), m)
    ids = columns[0].astype(jnp.int32)
    limits = jnp.iinfo(jnp.int32)
    lo, hi = jax.lax.reduce(  # one variadic reduction: fewer kernels to compile than two
        (jnp.where(ok, ids, limits.max), jnp.where(ok, ids, limits.min)),
        (np.int32(limits.max), np.int32(limits.min)),
        lambda a, b: (jnp.minimum(a[0], b[0]), jnp.maximum(a[1], b[1])), (0,))
    narrow = hi.astype(jnp.uint32) - lo.astype(jnp.uint32) < np.uint32(m)  # exact span, mod 2^32

    def offset():
        seg = unsigned(jnp.where(ok, ids - lo, m))
        top = jax.ops.segment_max(u, seg, buckets(m), mode=PROMISE)
        return seg, take(top, seg)

    return _with_size(jax.lax.cond(narrow, offset, hashed), m)


def _with_size(seg_shift, size):
    seg, shift = seg_shift
    return seg, size, shift


def level_stats_reference(values: jax.Array, group: jax.Array, keys: jax.Array, depth: jax.Array):
    """Plain-jnp `level_stats` (the XLA path): hashed nested segments, ``O(L M)``.

    Level ``l`` clusters are the classes of the pair (level-``l-1`` cluster, ``k_l``)
    among rows with ``depth >= l`` (level ``-1``: ``group``), so each level hashes two
    int columns: `segment_ids` gives them canonical ids (no sort, no pairwise
    comparisons; the id is the cluster's first row, whose value is the shift) and a
    shifted two-pass segment reduction gives the statistics. The levels run in a
    `jax.lax.scan`, so the program holds one level's code whatever the number of levels.
    Computed in `bvjax._numerics.compute_dtype` of ``values``.
    """
    check_level_inputs(values, group, keys, depth)
    num_levels, m = keys.shape
    v = values.astype(_numerics.compute_dtype(values))
    depth = depth.astype(jnp.int32)

    def level_step(parent, xs):
        key, level = xs
        ok = depth >= level
        seg = segment_ids([parent, key], ok)  # the cluster's first row; M where not ok
        count, c, m2, _ = segment_moments(v, seg, m, v.at[seg].get(mode="clip"))
        stats = (jnp.where(ok, take(count, seg), 0.0), jnp.where(ok, c, 0.0), jnp.where(ok, take(m2, seg), 0.0))
        return seg, stats

    xs = (keys.astype(jnp.int32), jnp.arange(num_levels, dtype=jnp.int32))
    _, outs = jax.lax.scan(level_step, group.astype(jnp.int32), xs)
    return tuple(o.T for o in outs)
