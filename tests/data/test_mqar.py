"""MQAR sequences follow Zoology's construction, checked row by row in NumPy."""

import jax
import numpy as np
import pytest

from bvjax.data import mqar


@pytest.mark.parametrize("random_non_queries", [False, True])
def test_structure_matches_the_definition(random_non_queries):
    v, length, n = 20, 24, 5
    fn = jax.jit(mqar, static_argnames=("num_examples", "vocab_size", "seq_len", "num_pairs", "random_non_queries"))
    data = fn(jax.random.key(0), num_examples=200, vocab_size=v, seq_len=length, num_pairs=n,
              random_non_queries=random_non_queries)
    x, t, m = (np.asarray(a) for a in data)
    assert x.shape == t.shape == m.shape == (200, length)
    for row, tgt, mask in zip(x, t, m):
        keys, vals = row[0:2 * n:2], row[1:2 * n:2]
        assert len(set(keys)) == n and len(set(vals)) == n
        assert np.all((keys >= 1) & (keys < v // 2)) and np.all((vals >= v // 2) & (vals < v))
        qpos = np.flatnonzero(mask)
        assert len(qpos) == n and np.all(qpos >= 2 * n) and np.all((qpos - 2 * n) % 2 == 0)
        assert sorted(row[qpos]) == sorted(keys)  # every key queried once
        answer = dict(zip(keys, vals))
        assert all(tgt[p] == answer[row[p]] for p in qpos)
        assert np.all(tgt[~mask] == 0)
        rest = row[2 * n:][~mask[2 * n:]]
        if random_non_queries:
            assert np.all((rest >= 0) & (rest < v))
        else:
            assert np.all(rest == 0)
    if random_non_queries:
        assert np.mean(x[:, 2 * n:][~m[:, 2 * n:]] == 0) < 0.2


def test_power_law_gaps():
    # Small power_a puts queries right after the context; power_a = 1 spreads them uniformly.
    kw = {"num_examples": 400, "vocab_size": 64, "seq_len": 64, "num_pairs": 2}
    near = np.asarray(mqar(jax.random.key(1), power_a=0.01, **kw).target_mask)
    flat = np.asarray(mqar(jax.random.key(1), power_a=1.0, **kw).target_mask)
    gap = lambda m: (np.nonzero(m)[1] - 4) / 2
    space = (64 - 4) // 2
    # Uniform without replacement: each gap's marginal is uniform, mean (space - 1) / 2 = 14.5.
    assert abs(gap(flat).mean() - (space - 1) / 2) < 4 * np.sqrt((space**2 - 1) / 12 / 800)
    # a = 0.01: P(g) ~ (g+1)^-0.99, so the first draw alone has P(g = 0) = 1 / H where H = sum (g+1)^-0.99.
    p = (np.arange(1, space + 1) ** -0.99)
    assert gap(near).mean() < gap(flat).mean() - 3
    assert np.mean(gap(near) == 0) > p[0] / p.sum() * 0.9


def test_bad_arguments():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="seq_len"):
        mqar(key, num_examples=1, vocab_size=20, seq_len=13, num_pairs=2)
    with pytest.raises(ValueError, match="num_pairs"):
        mqar(key, num_examples=1, vocab_size=64, seq_len=12, num_pairs=4)
    with pytest.raises(ValueError, match="vocab_size"):
        mqar(key, num_examples=1, vocab_size=8, seq_len=64, num_pairs=4)
    with pytest.raises(ValueError, match="power_a"):
        mqar(key, num_examples=1, vocab_size=64, seq_len=64, num_pairs=4, power_a=0.0)
