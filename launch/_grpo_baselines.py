"""The GRPO baselines of `launch.bench_advantages`, in a module without flags (tests import it).

- `plain_segment_sum`: the 4-op program (count, sum, centred sum of squares, divide);
- `guarded_segment_sum`: the same with a power-of-two rescale and a member shift;
- `baseline_checks`: what each of them, and `bvjax.rl.group_advantages`, returns on
  inputs with a known answer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.rl import group_advantages


def plain_segment_sum(rewards, ids, num_groups, eps=1e-6):
    """The 4-op baseline: count, sum, centred sum of squares, divide (known dense ids)."""
    count = jax.ops.segment_sum(jnp.ones_like(rewards), ids, num_groups)
    mean = jax.ops.segment_sum(rewards, ids, num_groups) / count
    centred = rewards - mean[ids]
    m2 = jax.ops.segment_sum(centred * centred, ids, num_groups)
    return centred / (jnp.sqrt(m2 / (count - 1.0))[ids] + eps)


def guarded_segment_sum(rewards, ids, num_groups, eps=1e-6):
    """The plain program plus a power-of-two rescale and a member shift (see `launch.bench_advantages`).

    An all-equal group centres to exactly 0 and gets advantages 0 (a select, since ``eps``
    times the scale is flushed to 0 for rewards above ~1e32 and the division would be 0/0).
    """
    _, e = jnp.frexp(jnp.max(jnp.abs(rewards)))
    scale = jnp.ldexp(jnp.ones((), rewards.dtype), -jnp.clip(e, -126, 126))  # 2^-e, a normal number
    u = rewards * scale
    count = jax.ops.segment_sum(jnp.ones_like(u), ids, num_groups)
    shifted = u - jax.ops.segment_max(u, ids, num_groups)[ids]
    centred = shifted - (jax.ops.segment_sum(shifted, ids, num_groups) / count)[ids]
    m2 = jax.ops.segment_sum(centred * centred, ids, num_groups)
    denom = jnp.sqrt(m2 / (count - 1.0))[ids] + eps * scale  # eps * scale may flush to 0 for huge rewards
    return jnp.where(centred == 0, 0.0, centred / denom)


def grpo_reference(rewards: np.ndarray, ids: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """GRPO advantages from the equation in float64 NumPy: (r - mean) / (std, ddof 1, + eps), per group."""
    r = rewards.astype(np.float64)
    out = np.empty_like(r)
    for g in np.unique(ids):
        sel = ids == g
        out[sel] = (r[sel] - r[sel].mean()) / (r[sel].std(ddof=1) + eps)
    return out


def baseline_checks() -> dict[str, tuple[float, float]]:
    """Per program: (max |advantage| over all-equal groups, max |error| for rewards near 1e20).

    All-equal groups: groups of 8 and of 5 of the rewards 0.1, 0.7, 1/3 and 123.456 (float32),
    whose advantages are exactly 0. Large rewards: 64 groups of 8 normal rewards times 1e20,
    against `grpo_reference` in float64.
    """
    rng = np.random.default_rng(1)
    equal = []
    for size in (8, 5):
        values = np.repeat(np.float32([0.1, 0.7, 1 / 3, 123.456]), size)
        equal.append((values, np.repeat(np.arange(4), size).astype(np.int32), 4))
    big = (rng.normal(size=512) * 1e20).astype(np.float32)
    big_ids = rng.permutation(np.arange(512) // 8).astype(np.int32)
    programs = {
        "plain": plain_segment_sum,
        "guarded": guarded_segment_sum,
        "group_advantages": lambda r, g, k: group_advantages(r, g, num_groups=k, implementation="xla"),
    }
    out = {}
    for name, fn in programs.items():
        fn = jax.jit(fn, static_argnums=2)
        zero = max(float(np.max(np.abs(np.asarray(fn(jnp.asarray(v), jnp.asarray(g), k))))) for v, g, k in equal)
        err = float(np.max(np.abs(np.asarray(fn(jnp.asarray(big), jnp.asarray(big_ids), 64), np.float64)
                                  - grpo_reference(big, big_ids))))
        out[name] = (zero, err)
    return out
