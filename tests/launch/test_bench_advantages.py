"""The advantages benchmark runs end to end and bvjax agrees with both loops (no timing asserts)."""

import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from launch._grpo_baselines import baseline_checks, guarded_segment_sum

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_advantages_smoke():
    out = subprocess.run([sys.executable, "-m", "launch.bench_advantages", "--sizes=256", "--hgpo_shapes=2x4x6",
                          "--repeats=1", "--loop_repeats=1", "--compile_repeats=1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if re.match(r"\s*(256|2x4x6) \|", line)]
    assert len(rows) == 2, out.stdout
    for row in rows:
        assert float(row.rsplit("|", 1)[1]) < 1e-4, row  # max |xla - loop|


def _grpo_float64(rewards, ids, eps=1e-6):
    r = np.asarray(rewards, np.float64)
    out = np.empty_like(r)
    for g in np.unique(ids):
        sel = ids == g
        out[sel] = (r[sel] - r[sel].mean()) / (r[sel].std(ddof=1) + eps)
    return out


@pytest.mark.parametrize("magnitude", [1.0, 1e-20, 1e20, 1e30])
def test_guarded_baseline_zeroes_equal_groups_and_matches_float64(magnitude):
    # The benchmark's `guarded` baseline must be a correct program on its inputs: all-equal
    # groups give exactly 0 and huge or tiny rewards match a float64 reference.
    rng = np.random.default_rng(0)
    spread = (rng.normal(size=(40, 8)) * magnitude).astype(np.float32)
    equal = np.repeat(np.float32([0.1, 0.7, 1 / 3, 123.456])[:, None] * np.float32(magnitude), 8, axis=1)
    rewards = np.concatenate([spread, equal]).reshape(-1)
    perm = rng.permutation(rewards.size)
    ids = (np.arange(rewards.size) // 8)[perm].astype(np.int32)
    rewards = rewards[perm]
    fn = jax.jit(guarded_segment_sum, static_argnums=2)
    got = np.asarray(fn(jnp.asarray(rewards), jnp.asarray(ids), 44))
    np.testing.assert_array_equal(got[ids >= 40], 0.0)
    np.testing.assert_allclose(got, _grpo_float64(rewards, ids), rtol=2e-5, atol=2e-5)


def test_baseline_table_values():
    checks = baseline_checks()
    assert set(checks) == {"plain", "guarded", "group_advantages"}
    for name in ("guarded", "group_advantages"):
        zero, err = checks[name]
        assert zero == 0.0 and err < 1e-5, (name, checks[name])
