"""bvjax.rl group_advantages / rloo_advantages against float64 NumPy loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.rl import group_advantages, rloo_advantages

SETTINGS = settings(max_examples=20, deadline=None)
N_PAD = 256  # ragged inputs are padded (masked) to one shape so jit compiles once per configuration
STATIC = ("normalize", "std_ddof", "eps", "singleton", "implementation")
group_advantages_jit = jax.jit(group_advantages, static_argnames=STATIC)
rloo_jit = jax.jit(rloo_advantages)
REWARD = st.one_of(st.integers(-3, 3).map(float), st.sampled_from([0.0, 0.5, 1.0, 10.0]),
                   st.floats(-1e3, 1e3, width=32, allow_subnormal=False))


def np_group_advantages(r, gid, mask, *, normalize=True, ddof=1, eps=1e-6, singleton="raw"):
    """A_i = (r_i - mean_g) / (std_g + eps), looping over groups in float64."""
    r = np.asarray(r, np.float64)
    out = np.zeros_like(r)
    for g in np.unique(gid):
        idx = np.flatnonzero((gid == g) & mask)
        n = len(idx)
        if n == 0:
            continue
        x = r[idx]
        if n == 1:
            if singleton == "raw":
                out[idx] = x / (1.0 + eps) if normalize else x
            continue
        mu = x.sum() / n
        c = x - mu if np.ptp(x) > 0 else np.zeros(n)  # exact arithmetic: an all-equal group centres to 0
        sd = np.sqrt(np.sum(c**2) / (n - ddof))
        if normalize:
            out[idx] = 0.0 if sd + eps == 0 else c / (sd + eps)
        else:
            out[idx] = c
    return out


def np_rloo(r, gid, mask):
    """A_i = r_i - mean of the other valid members; a singleton keeps r_i."""
    r = np.asarray(r, np.float64)
    out = np.zeros_like(r)
    for g in np.unique(gid):
        idx = np.flatnonzero((gid == g) & mask)
        for i in idx:
            others = [j for j in idx if j != i]
            out[i] = r[i] - np.mean(r[others]) if others else r[i]
    return out


@st.composite
def ragged(draw, max_groups=4):
    sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=max_groups))
    n = sum(sizes)
    labels = draw(st.lists(st.integers(-1000, 1000), min_size=len(sizes), max_size=len(sizes), unique=True))
    gid = np.repeat(np.asarray(labels, np.int32), sizes)
    perm = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(n)
    gid = gid[perm]
    r = np.asarray(draw(st.lists(REWARD, min_size=n, max_size=n)), np.float32)
    mask = np.asarray(draw(st.lists(st.booleans().map(lambda b: b or True) | st.booleans(),
                                    min_size=n, max_size=n)), bool)
    pad = N_PAD - n  # padding rows are masked out and share a fresh id
    return (np.concatenate([r, np.zeros(pad, np.float32)]), np.concatenate([gid, np.full(pad, 5000, np.int32)]),
            np.concatenate([mask, np.zeros(pad, bool)]))


def _tol(r):
    return {"rtol": 1e-4, "atol": 1e-5 * (1.0 + float(np.max(np.abs(r), initial=0.0)))}


@SETTINGS
@given(data=ragged(), normalize=st.booleans(), ddof=st.sampled_from([0, 1]),
       singleton=st.sampled_from(["raw", "zero"]), eps=st.sampled_from([1e-6, 0.0, 0.1]), jit=st.booleans())
def test_ragged_matches_numpy(data, normalize, ddof, singleton, eps, jit):
    r, gid, mask = data
    fn = group_advantages_jit if jit else group_advantages
    out = np.asarray(fn(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask), normalize=normalize,
                        std_ddof=ddof, eps=eps, singleton=singleton, implementation="xla"))
    ref = np_group_advantages(r, gid, mask, normalize=normalize, ddof=ddof, eps=eps, singleton=singleton)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref, **_tol(r))


@SETTINGS
@given(p=st.integers(1, 6), g=st.integers(1, 64), seed=st.integers(0, 2**16), normalize=st.booleans(),
       ddof=st.sampled_from([0, 1]), singleton=st.sampled_from(["raw", "zero"]), jit=st.booleans(),
       masked=st.booleans())
def test_dense_matches_numpy(p, g, seed, normalize, ddof, singleton, jit, masked):
    # P groups of G live in the top-left corner of a fixed [6, 64] array; the rest is masked.
    rng = np.random.default_rng(seed)
    r = np.where(rng.random((6, 64)) < 0.5, rng.integers(0, 2, (6, 64)), rng.normal(0, 5, (6, 64)))
    r = r.astype(np.float32)
    mask = rng.random((6, 64)) < 0.7 if masked else np.ones((6, 64), bool)
    mask[p:] = False
    mask[:, g:] = False
    fn = group_advantages_jit if jit else group_advantages
    out = np.asarray(fn(jnp.asarray(r), mask=jnp.asarray(mask), normalize=normalize, std_ddof=ddof,
                        singleton=singleton, implementation="xla"))
    gid = np.repeat(np.arange(6), 64).reshape(6, 64)
    ref = np_group_advantages(r.ravel(), gid.ravel(), mask.ravel(), normalize=normalize, ddof=ddof,
                              singleton=singleton).reshape(6, 64)
    np.testing.assert_allclose(out, ref, **_tol(r))


@SETTINGS
@given(data=ragged(), jit=st.booleans(), dense=st.booleans())
def test_rloo_matches_numpy(data, jit, dense):
    r, gid, mask = data
    fn = rloo_jit if jit else rloo_advantages
    if dense:
        out = np.asarray(fn(jnp.asarray(r[None]), mask=jnp.asarray(mask[None])))[0]
        ref = np_rloo(r, np.zeros_like(gid), mask)
    else:
        out = np.asarray(fn(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask)))
        ref = np_rloo(r, gid, mask)
    np.testing.assert_allclose(out, ref, **_tol(r))


@settings(max_examples=40, deadline=None)
@given(r=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=16, max_size=16),
       normalize=st.booleans(), eps=st.sampled_from([0.0, 1e-6]))
def test_no_nan_for_any_finite_input(r, normalize, eps):
    r = np.asarray(r, np.float32)
    x = jnp.asarray(r)[None]
    out = np.asarray(group_advantages_jit(x, normalize=normalize, eps=eps, implementation="xla"))
    assert not np.any(np.isnan(out))
    assert not np.any(np.isnan(np.asarray(rloo_jit(x))))
    if normalize:  # z-scores are bounded by sqrt(n), so they must match float64 everywhere
        ref = np_group_advantages(r, np.zeros(len(r), int), np.ones(len(r), bool), eps=eps)
        np.testing.assert_allclose(out[0], ref, rtol=1e-4, atol=1e-4)


def test_edge_cases():
    ga = group_advantages_jit  # the eager path is covered by the hypothesis tests
    r = jnp.array([[2.0, 2.0, 2.0], [5.0, 0.0, 0.0]])
    m = jnp.array([[True, True, True], [True, False, False]])
    # all-equal group: exactly 0 (also with eps = 0); singleton: raw / zero.
    out = ga(r, mask=m, eps=0.0)
    np.testing.assert_array_equal(np.asarray(out), [[0, 0, 0], [5.0, 0, 0]])
    out = ga(r, mask=m, singleton="zero")
    np.testing.assert_array_equal(np.asarray(out), np.zeros((2, 3)))
    # verl's raw singleton is (r - 0) / (1 + eps).
    out = ga(jnp.array([[4.0]]), eps=0.5)
    np.testing.assert_allclose(np.asarray(out), [[4.0 / 1.5]])
    # all-masked group: 0.
    out = ga(jnp.array([1.0, 2.0, 3.0]), jnp.array([0, 0, 1]), mask=jnp.array([False, False, True]),
             singleton="zero")
    np.testing.assert_array_equal(np.asarray(out), [0.0, 0.0, 0.0])
    # a 0.1-valued all-equal group: the shifted mean is exact, so the advantage is exactly 0.
    out = ga(jnp.full((1, 3), 0.1), eps=0.0)
    np.testing.assert_array_equal(np.asarray(out), np.zeros((1, 3)))


def test_two_pass_variance_where_one_pass_cancels():
    # Rewards 1e4 + {0, .25, .5, .75} in float32: E[x^2] - mean^2 (verl's groupwise one-pass
    # formula) subtracts two numbers near 1e8 whose float32 spacing is 8, so the variance it
    # returns is off by orders of magnitude (here 0 or negative).
    x = np.float32(1e4) + np.array([0.0, 0.25, 0.5, 0.75], np.float32)
    xj = jnp.asarray(x)
    one_pass = float(jnp.mean(xj * xj) - jnp.mean(xj) ** 2)
    true_var = float(np.var(x.astype(np.float64)))
    assert abs(one_pass - true_var) > 0.5 * true_var
    out = np.asarray(group_advantages(xj[None], std_ddof=0, eps=0.0))[0]
    ref = np_group_advantages(x, np.zeros(4, int), np.ones(4, bool), ddof=0, eps=0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_vmap_over_batches():
    r = jax.random.normal(jax.random.key(0), (3, 4, 5))
    gid = jnp.array([3, 1, 3, 3, 1])
    batched = jax.jit(jax.vmap(lambda x: group_advantages(x, implementation="xla")))(r)
    ragged = jax.jit(jax.vmap(lambda x: group_advantages(x, gid, implementation="xla")))(r[:, 0])
    for b in range(3):
        np.testing.assert_allclose(batched[b], np_group_advantages(
            r[b].ravel(), np.repeat(np.arange(4), 5), np.ones(20, bool)).reshape(4, 5), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ragged[b], np_group_advantages(r[b, 0], np.asarray(gid), np.ones(5, bool)),
                                   rtol=1e-5, atol=1e-6)


SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from bvjax.rl import group_advantages, hgpo_advantages
mesh = Mesh(np.array(jax.devices()), ("data",))
rng = np.random.default_rng(0)
r = jnp.asarray(rng.normal(size=64), jnp.float32)
gid = jnp.asarray(np.arange(64) // 12, jnp.int32)  # groups of 12 straddle the 8-row shards
put = lambda x, spec: jax.device_put(x, NamedSharding(mesh, spec))
ga = jax.jit(group_advantages)
np.testing.assert_allclose(ga(put(r, P("data")), put(gid, P("data"))), ga(r, gid), rtol=1e-6, atol=1e-6)
d = r.reshape(4, 16)  # each group split over the G axis across shards
np.testing.assert_allclose(ga(put(d, P(None, "data"))), ga(d), rtol=1e-6, atol=1e-6)
s = jnp.asarray(rng.integers(0, 2, (16, 4)), jnp.int32)
ret = r.reshape(16, 4)
m = jnp.ones((16, 4), bool)
t = jnp.asarray(rng.integers(0, 3, 16), jnp.int32)  # a task's trajectories sit on different shards
h = jax.jit(hgpo_advantages, static_argnames="history_length")
np.testing.assert_allclose(h(put(s, P("data")), put(ret, P("data")), put(m, P("data")), put(t, P("data")),
                             history_length=2), h(s, ret, m, t, history_length=2), rtol=1e-6, atol=1e-6)
print("sharded ok", jax.device_count())
"""


def test_groups_split_across_shards():
    # Under jit the statistics are global, so a group whose rows sit on different devices
    # of a mesh gets the same advantages as on one device (8 fake CPU devices, subprocess).
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", SHARDED], check=False, cwd=root, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sharded ok 8" in out.stdout


def test_pallas_dispatch_matches_xla():
    rng = np.random.default_rng(1)
    r = jnp.asarray(rng.integers(0, 3, 40).astype(np.float32) + rng.normal(0, 1, 40).astype(np.float32))
    gid = jnp.asarray(rng.integers(0, 6, 40))
    mask = jnp.asarray(rng.random(40) < 0.8)
    a = group_advantages(r, gid, mask=mask, implementation="pallas")
    b = group_advantages(r, gid, mask=mask, implementation="xla")
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    kw = {"normalize": False, "std_ddof": 0, "singleton": "zero"}
    a = group_advantages(r.reshape(5, 8), mask=mask.reshape(5, 8), implementation="pallas", **kw)
    b = group_advantages(r.reshape(5, 8), mask=mask.reshape(5, 8), implementation="xla", **kw)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_contract_errors():
    with pytest.raises(ValueError, match=r"rewards: expected \[P, G\]"):
        group_advantages(jnp.zeros(3))
    with pytest.raises(ValueError, match="group_ids"):
        group_advantages(jnp.zeros(3), jnp.zeros(4, jnp.int32))
    with pytest.raises(TypeError, match="group_ids"):
        group_advantages(jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match="singleton"):
        group_advantages(jnp.zeros((2, 3)), singleton="nan")
    with pytest.raises(ValueError, match="implementation"):
        group_advantages(jnp.zeros((2, 3)), implementation="cuda")
    with pytest.raises(ValueError, match="mask"):
        rloo_advantages(jnp.zeros((2, 3)), mask=jnp.ones((2, 4), bool))


def test_64_bit_group_ids_are_not_truncated():
    # uid hashes as int64: ids equal in their low 32 bits are still different groups.
    with jax.enable_x64(True):
        r = jnp.array([1.0, 3.0, 5.0, 9.0], jnp.float32)
        gid = jnp.array([7, 7 + 2**32, 7, 7 + 2**32], jnp.int64)
        for impl in ("xla", "pallas"):
            out = group_advantages(r, gid, normalize=False, implementation=impl)
            np.testing.assert_allclose(out, [-2.0, -3.0, 2.0, 3.0])
        from bvjax.rl import dapo_group_filter, hgpo_advantages

        # each true group is all-equal (dropped); merged by truncation they would be kept.
        np.testing.assert_array_equal(dapo_group_filter(jnp.array([1.0, 0.0, 1.0, 0.0]), gid), [False] * 4)
        states = jnp.array([[5, 5 + 2**33]], jnp.int64).repeat(2, axis=0)
        returns, mask = jnp.array([[1.0, 4.0], [3.0, 4.0]]), jnp.ones((2, 2), bool)
        out = hgpo_advantages(states, returns, mask, jnp.zeros(2, jnp.int64), history_length=0, mode="mean_norm")
        np.testing.assert_allclose(out, [[-1.0, 0.0], [1.0, 0.0]], atol=1e-6)
        out = hgpo_advantages(states, returns, mask, jnp.array([2**40, 2**40 + 2**33], jnp.int64),
                              history_length=0, mode="mean_norm")
        np.testing.assert_allclose(out, np.zeros((2, 2)), atol=1e-6)  # two tasks: no shared cluster
        # with num_groups, an id that matches a group only in its low 32 bits is out of range
        # (advantage 0), and a negative one too, not a member of group 7 or 1
        gid = jnp.array([7, 7 + 2**32, 7, 1, 1 - 2**32, 1], jnp.int64)
        r6 = jnp.array([1.0, 100.0, 3.0, 2.0, 50.0, 6.0], jnp.float32)
        for fn in (group_advantages, jax.jit(group_advantages, static_argnames=("normalize", "num_groups"))):
            out = fn(r6, gid, normalize=False, num_groups=8)
            np.testing.assert_allclose(out, [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0])


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("n,groups", [(200, 12), (1200, 127), (1200, 128), (300, 127)])
def test_num_groups_fast_path_matches_numpy(jit, n, groups):
    """Dense ids with num_groups skip the sort; out-of-range ids count as masked.

    127 and 128 groups sit on either side of the per-group arrays' padding to a multiple
    of 128 (the bucket of the rows that take no part is then the last or the first padded
    one); 1200 rows take the branch that computes the factors once per group, 300 the one
    that gathers them per row.
    """
    rng = np.random.default_rng(3)
    gid = rng.integers(-2, groups + 2, n).astype(np.int32)  # some ids out of [0, groups)
    r = rng.normal(size=n).astype(np.float32) * 3.0 + 10.0
    mask = rng.random(n) < 0.9
    in_range = (gid >= 0) & (gid < groups)
    ga = jax.jit(group_advantages, static_argnames=("num_groups", "normalize")) if jit else group_advantages
    rl = jax.jit(rloo_advantages, static_argnames=("num_groups",)) if jit else rloo_advantages
    for normalize in (True, False):
        out = ga(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask), normalize=normalize, num_groups=groups)
        ref = np_group_advantages(r, gid, mask & in_range, normalize=normalize)
        np.testing.assert_allclose(np.asarray(out), ref, **_tol(r))
    out = rl(jnp.asarray(r), jnp.asarray(gid), mask=jnp.asarray(mask), num_groups=groups)
    np.testing.assert_allclose(np.asarray(out), np_rloo(r, gid, mask & in_range), **_tol(r))
    with pytest.raises(ValueError, match="num_groups"):
        group_advantages(jnp.zeros((2, 3)), num_groups=2)
    with pytest.raises(ValueError, match="num_groups"):
        group_advantages(jnp.zeros(3), jnp.zeros(3, jnp.int32), num_groups=0)
