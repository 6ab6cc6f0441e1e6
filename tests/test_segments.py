"""bvjax._segments: hashed segment ids against a NumPy dict, and the segment statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _segments


def np_canonical_ids(columns, valid):
    """Row i -> the first valid row whose tuple equals row i's (len(valid) if not valid)."""
    m = len(valid)
    first, out = {}, np.full(m, m, np.int64)
    for i in range(m):
        if valid[i]:
            out[i] = first.setdefault(tuple(int(c[i]) for c in columns), i)
    return out


@pytest.mark.parametrize("table_size", [None, 2, 16])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_ids_are_canonical_under_collisions(seed, table_size):
    # A 2-slot table makes almost every class collide: the rounds must still never merge
    # two different tuples and must give every class its first row.
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 200))
    columns = [rng.integers(-3, 3, m).astype(np.int32) for _ in range(int(rng.integers(1, 4)))]
    valid = rng.random(m) > 0.2
    fn = jax.jit(lambda v, *c: _segments.segment_ids(list(c), v, table_size=table_size))
    got = np.asarray(fn(jnp.asarray(valid), *map(jnp.asarray, columns)))
    np.testing.assert_array_equal(got, np_canonical_ids(columns, valid))


def test_segment_ids_extreme_and_64bit_ids():
    ids = np.array([np.iinfo(np.int32).min, -1, 0, np.iinfo(np.int32).max, -1, 0], np.int32)
    got = np.asarray(_segments.segment_ids([jnp.asarray(ids)]))
    np.testing.assert_array_equal(got, [0, 1, 2, 3, 1, 2])
    assert _segments.segment_ids([jnp.zeros((0,), jnp.int32)]).shape == (0,)
    with jax.enable_x64(True):
        big = jnp.asarray(np.array([1, 1 + (1 << 32), 1, -(1 << 40), -(1 << 40)], np.int64))
        np.testing.assert_array_equal(np.asarray(_segments.int32_ids(big)), [0, 1, 0, 3, 3])


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _imports(path):
    import ast

    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, a.asname or a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.module, a.name, a.asname or a.name) for a in node.names]
    return tree, out


def test_segments_is_bottom_layer():
    # Imports only jax, numpy and bvjax._numerics, so the kernels can import it.
    _, imports = _imports(ROOT / "bvjax" / "_segments.py")
    allowed = ("__future__", "jax", "numpy", "bvjax")
    for module, name, _ in imports:
        assert module.split(".")[0] in allowed, module
        if module == "bvjax":
            assert name == "_numerics", name


@pytest.mark.parametrize("path", sorted((ROOT / "bvjax" / "rl").glob("*.py")), ids=lambda p: p.name)
def test_rl_uses_no_private_kernel_name(path):
    # bvjax.rl reaches the kernels through their public wrappers only.
    import ast

    tree, imports = _imports(path)
    kernel_aliases = {alias for module, name, alias in imports if module.startswith("pallas_kernels")}
    for module, name, _ in imports:
        if module.startswith("pallas_kernels"):
            assert not (name or "").startswith("_") and "._" not in module, (module, name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in kernel_aliases:
            assert not node.attr.startswith("_"), f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}"


def _np_partition_stats(values, ids, valid):
    """(count, centred, m2) per row in float64 by grouping equal ids with a dict."""
    out = np.zeros((3, len(values)))
    for g in set(ids[valid].tolist()):
        idx = np.flatnonzero((ids == g) & valid)
        x = values[idx].astype(np.float64)
        out[0, idx], out[1, idx], out[2, idx] = len(x), x - x.mean(), np.sum((x - x.mean()) ** 2)
    return out


@pytest.mark.parametrize("spread", [1, 1 << 20, None])
def test_segment_stats_same_partition_for_narrow_and_wide_ids(spread):
    # Ids spanning fewer than M integers take the offset branch (no hashing), wider ids
    # the hash table; 64-bit-like wide ids (spread None: random int32) too. Same statistics.
    rng = np.random.default_rng(0)
    m = 64
    base = rng.integers(0, 9, m)
    ids = (base * spread - 5 if spread else rng.integers(-2**31, 2**31 - 1, 9)[base]).astype(np.int32)
    values = (rng.integers(-4, 5, m) * 0.5).astype(np.float32)
    valid = rng.random(m) < 0.85
    for jit in (False, True):
        fn = jax.jit(_segments.segment_stats, static_argnums=3) if jit else _segments.segment_stats
        got = fn(jnp.asarray(values), jnp.asarray(valid), [jnp.asarray(ids)], None)
        for x, y in zip(got, _np_partition_stats(values, ids, valid)):
            np.testing.assert_allclose(np.asarray(x), y, rtol=1e-6, atol=1e-6)


def test_segment_stats_all_equal_group_centres_to_exactly_zero():
    # The shift is a member of the group (its maximum, or its first row), so an all-equal
    # group of any size centres to exactly 0 on every branch, even for a non-dyadic value.
    m = 5000
    values = jnp.full((m,), 0.1, jnp.float32)
    for ids, num in ((jnp.zeros(m, jnp.int32), 1), (jnp.zeros(m, jnp.int32), None),
                     (jnp.full((m,), 2**30, jnp.int32).at[::2].set(-2**30), None)):
        _count, centred, m2 = _segments.segment_stats(values, jnp.ones(m, bool), [ids], num)
        np.testing.assert_array_equal(np.asarray(centred), 0.0)
        np.testing.assert_array_equal(np.asarray(m2), 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.complex64])
def test_materialise_is_the_identity(dtype):
    x = (np.random.default_rng(0).normal(size=37) * 100).astype(dtype)
    x[3] = 0
    for fn in (_segments.materialise, jax.jit(_segments.materialise)):
        got = np.asarray(fn(jnp.asarray(x)))
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, x)


def test_buckets_pad_to_a_multiple_of_128_past_the_extra_bucket():
    for n in (0, 1, 126, 127, 128, 255, 8192, 65536):
        b = _segments.buckets(n)
        assert b % 128 == 0 and n + 1 <= b < n + 129, (n, b)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_take_matches_numpy_indexing(dtype):
    table = np.random.default_rng(1).normal(size=300).astype(np.float32)
    seg = np.random.default_rng(2).integers(0, 300, 1000).astype(dtype)
    for fn in (_segments.take, jax.jit(_segments.take)):
        np.testing.assert_array_equal(np.asarray(fn(jnp.asarray(table), jnp.asarray(seg))), table[seg])


@pytest.mark.parametrize("num_segments", [None, 9])
def test_segment_index_shift_is_a_member_of_the_raw_values(num_segments):
    # The group functions take the shift from the raw values and rescale it per row, so
    # it must be the raw value of a member of the row's own segment: the maximum with
    # dense ids (num_segments, and the narrow branch), the first row when hashed.
    rng = np.random.default_rng(4)
    m = 500
    values = (rng.normal(size=m) * 1e30).astype(np.float32)
    valid = rng.random(m) < 0.8
    for ids in (rng.integers(0, 9, m), rng.integers(-2**31, 2**31 - 1, 9)[rng.integers(0, 9, m)]):
        if num_segments is not None and ids.max() >= num_segments:
            continue
        ids = ids.astype(np.int32)
        seg, size, shift = jax.jit(_segments.segment_index, static_argnums=3)(
            jnp.asarray(values), jnp.asarray(valid), [jnp.asarray(ids)], num_segments)
        seg, shift = np.asarray(seg), np.asarray(shift)
        assert seg.dtype == np.uint32
        np.testing.assert_array_equal(seg < size, valid)
        narrow = num_segments is not None or np.ptp(ids[valid].astype(np.int64)) < m
        for g in np.unique(ids[valid]):
            rows = valid & (ids == g)
            want = values[rows].max() if narrow else values[np.flatnonzero(rows)[0]]
            np.testing.assert_array_equal(shift[rows], want)
