"""grouped_advantage kernels in interpret mode against their references and float64 loops."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _dispatch, _segments
from pallas_kernels import _common
from pallas_kernels import grouped_advantage as ga

SMALL = ga.BlockSizes(block_prompts=8, block_rows=8, block_cols=128)  # many blocks on small inputs


def np_level_stats(values, group, keys, depth):
    """Loops over rows: members of i's level-l cluster are the rows agreeing on group and keys 0..l."""
    m, num_levels = len(values), keys.shape[0]
    out = np.zeros((3, m, num_levels))
    v = values.astype(np.float64)
    for i in range(m):
        for level in range(num_levels):
            if depth[i] < level:
                continue
            members = [j for j in range(m) if depth[j] >= level and group[j] == group[i]
                       and all(keys[k, j] == keys[k, i] for k in range(level + 1))]
            x = v[members]
            mu = x.mean()
            out[:, i, level] = len(x), (0.0 if np.ptp(x) == 0 else v[i] - mu), np.sum((x - mu) ** 2)
    return out


def _case(seed, m=300, num_levels=3, n_groups=3, n_keys=3, p_masked=0.15):
    rng = np.random.default_rng(seed)
    values = (rng.integers(-4, 5, m) * 0.5).astype(np.float32)
    group = rng.integers(0, n_groups, m).astype(np.int32)
    keys = rng.integers(0, n_keys, (num_levels, m)).astype(np.int32)
    depth = np.where(rng.random(m) < p_masked, -1, rng.integers(0, num_levels + 1, m)).astype(np.int32)
    return values, group, keys, depth


def _assert_stats_close(a, b, scale=1.0):
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("seed", [0, 1])
def test_level_stats_matches_reference_and_numpy(seed):
    values, group, keys, depth = _case(seed)
    args = tuple(map(jnp.asarray, (values, group, keys, depth)))
    kernel = ga.level_stats(*args, block_sizes=SMALL, interpret=True)
    reference = _segments.level_stats_reference(*args)
    _assert_stats_close(kernel, reference)
    _assert_stats_close(kernel, np_level_stats(values, group, keys, depth))


def test_level_stats_edge_cases():
    # ragged groups split across row blocks (8) and column chunks (128): group 7 at rows
    # 5..12 and 125..131; a singleton; an all-equal group of 0.1s; masked rows; a float
    # group with spread far below its mean.
    m = 140
    values = np.zeros(m, np.float32)
    group = np.arange(m, dtype=np.int32) + 100  # singletons by default
    depth = np.zeros(m, np.int32)
    split = np.r_[5:13, 125:132]
    group[split], values[split] = 7, np.arange(len(split), dtype=np.float32)
    group[20:30], values[20:30] = 8, 0.1
    group[40:44], values[40:44] = 9, 1e4 + np.array([0.0, 0.25, 0.5, 0.75], np.float32)
    depth[[6, 21, 41]] = -1
    keys = np.zeros((1, m), np.int32)
    args = tuple(map(jnp.asarray, (values, group, keys, depth)))
    kernel = ga.level_stats(*args, block_sizes=SMALL, interpret=True)
    _assert_stats_close(kernel, _segments.level_stats_reference(*args), scale=1e4)
    _assert_stats_close(kernel, np_level_stats(values, group, keys, depth), scale=1e4)
    count, centred, _ = (np.asarray(x)[:, 0] for x in kernel)
    assert count[5] == len(split) - 1 and count[6] == 0 and count[50] == 1
    np.testing.assert_array_equal(centred[20:30], 0.0)  # all-equal: exactly 0


@pytest.mark.parametrize("shape", [(5, 7), (16, 64), (3, 1)])
def test_dense_group_stats_matches_reference_and_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    values = rng.normal(0, 3, shape).astype(np.float32)
    values[0] = 0.3  # all-equal row
    valid = rng.random(shape) < 0.8
    valid[-1] = False  # masked row
    if shape[1] > 1:
        valid[1] = False
        valid[1, 0] = True  # singleton row
    args = jnp.asarray(values), jnp.asarray(valid)
    kernel = ga.dense_group_stats(*args, block_sizes=SMALL, interpret=True)
    _assert_stats_close(kernel, _segments.dense_group_stats_reference(*args), scale=3.0)
    ref = np.zeros((3,) + shape)
    for p in range(shape[0]):
        x = values[p, valid[p]].astype(np.float64)
        if len(x):
            ref[0, p] = len(x)
            ref[1, p, valid[p]] = 0.0 if np.ptp(x) == 0 else x - x.mean()
            ref[2, p] = np.sum((x - x.mean()) ** 2)
    np.testing.assert_array_equal(np.asarray(kernel[0]), ref[0, :, 0])
    np.testing.assert_allclose(np.asarray(kernel[1]), ref[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(kernel[2]), ref[2, :, 0], rtol=1e-5, atol=1e-5)


def test_block_sizes_validated():
    with pytest.raises(ValueError, match="block_cols"):
        ga.level_stats(jnp.zeros(4), jnp.zeros(4, jnp.int32), jnp.zeros((1, 4), jnp.int32), jnp.zeros(4, jnp.int32),
                       block_sizes=ga.BlockSizes(block_cols=100), interpret=True)
    with pytest.raises(ValueError, match="keys"):
        ga.level_stats(jnp.zeros(4), jnp.zeros(4, jnp.int32), jnp.zeros((1, 5), jnp.int32), jnp.zeros(4, jnp.int32))
    assert ga.BlockSizes.get_default() == ga.BlockSizes()


def test_interpret_mode_follows_the_argument_and_platform(monkeypatch):
    # No environment variable changes the choice (the library reads no environment).
    monkeypatch.setenv("BVJAX_PALLAS_INTERPRET", "0")
    assert _common.resolve_interpret(None, "cpu") == (True, "cpu")  # Pallas cannot compile for the CPU
    assert _common.resolve_interpret(None, "tpu") == (False, "tpu")
    assert _common.resolve_interpret(None, "cuda") == (False, "gpu")
    assert _common.resolve_interpret(True, "tpu") == (True, "tpu")
    assert _dispatch.resolve_implementation(None, backend="cpu") == "xla"
    assert _dispatch.resolve_implementation(None, backend="tpu") == "pallas"
    assert _dispatch.resolve_implementation("xla", backend="tpu") == "xla"
    assert _dispatch.resolve_implementation("pallas_interpret", backend="gpu") == "pallas_interpret"
    assert _dispatch.kernel_interpret("pallas_interpret") is True
    assert _dispatch.kernel_interpret("pallas") is None
    with pytest.raises(ValueError, match="'pallas', 'pallas_interpret', 'xla', None"):
        _dispatch.resolve_implementation("triton")


def test_pallas_interpret_matches_xla():
    r = jax.random.normal(jax.random.key(3), (5, 4))
    from bvjax.rl import group_advantages
    np.testing.assert_allclose(group_advantages(r, implementation="pallas_interpret"),
                               group_advantages(r, implementation="xla"), rtol=1e-5, atol=1e-6)


S = jax.ShapeDtypeStruct
LOWERINGS = {
    "dense": (ga.dense_group_stats, [S((16, 8), jnp.float32), S((16, 8), jnp.bool_)]),
    "level": (ga.level_stats, [S((300,), jnp.float32), S((300,), jnp.int32), S((3, 300), jnp.int32),
                               S((300,), jnp.int32)]),
}


@pytest.mark.parametrize("platform,custom_call", [("tpu", "tpu_custom_call"), ("cuda", "triton")])
@pytest.mark.parametrize("name", sorted(LOWERINGS))
def test_lowers_for_tpu_and_gpu(name, platform, custom_call):
    fn, specs = LOWERINGS[name]
    fn = functools.partial(fn, interpret=False, platform=platform)
    # The Triton custom call carries no cross-version compatibility guarantee; we only lower it here.
    disabled = [jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    exported = jax.export.export(jax.jit(fn), platforms=[platform], disabled_checks=disabled)(*specs)
    assert custom_call in exported.mlir_module()


def test_default_implementation_avoids_quadratic_kernel_on_large_inputs(monkeypatch):
    monkeypatch.setattr(ga._dispatch, "resolve_implementation", lambda impl: impl or "pallas")  # as on a GPU
    assert ga.pick_level_implementation(None, ga.MAX_PAIRWISE_ROWS) == "pallas"
    assert ga.pick_level_implementation(None, ga.MAX_PAIRWISE_ROWS + 1) == "xla"
    assert ga.pick_level_implementation("pallas", 10 * ga.MAX_PAIRWISE_ROWS) == "pallas"  # explicit wins
