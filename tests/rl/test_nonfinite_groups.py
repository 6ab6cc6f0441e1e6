"""One rule for every group function: a non-finite reward makes its own group's advantages
NaN and touches no other group. References are float64 NumPy loops (tests only)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bvjax import rl

BAD = [np.nan, np.inf, -np.inf]


def np_grpo(r, *, normalize=True, eps=1e-6):
    r = np.asarray(r, np.float64)
    out = np.zeros_like(r)
    for p in range(r.shape[0]):
        g = r[p]
        if not np.all(np.isfinite(g)):
            out[p] = np.nan
            continue
        c = g - g.mean()
        out[p] = c / (g.std(ddof=1) + eps) if normalize else c
    return out


def np_rloo(r):
    r = np.asarray(r, np.float64)
    out = np.zeros_like(r)
    for p in range(r.shape[0]):
        g = r[p]
        out[p] = np.nan if not np.all(np.isfinite(g)) else [g[i] - np.delete(g, i).mean() for i in range(len(g))]
    return out


def _rewards(seed=0, p=4, g=5, scale=1.0):
    return np.random.default_rng(seed).standard_normal((p, g)).astype(np.float32) * scale


def _assert_grouped(got, ref, rtol=1e-5):
    got = np.asarray(got, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=rtol, atol=1e-5)


@pytest.mark.parametrize("bad,normalize,implementation", [
    (np.nan, True, "xla"), (np.inf, True, "xla"), (-np.inf, False, "xla"), (np.nan, False, "xla"),
    (np.inf, True, "pallas"), (np.nan, False, "pallas")])
def test_group_advantages_dense(bad, normalize, implementation):
    r = _rewards()
    r[0, 0] = bad
    got = rl.group_advantages(r, normalize=normalize, implementation=implementation)
    _assert_grouped(got, np_grpo(r, normalize=normalize))


@pytest.mark.parametrize("bad", BAD)
def test_huge_group_is_not_zeroed_by_a_nan_elsewhere(bad):
    r = _rewards(1)
    r[1] *= 1e20
    r[0, 2] = bad
    got = jax.jit(rl.group_advantages)(r)
    _assert_grouped(got, np_grpo(r), rtol=1e-4)
    assert np.all(np.abs(np.asarray(got[1])) > 0.01)


@pytest.mark.parametrize("bad,implementation", [(np.nan, "xla"), (np.inf, "xla"), (-np.inf, "pallas")])
def test_group_advantages_ragged_and_num_groups(bad, implementation):
    r = _rewards(2)
    r[2, 3] = bad
    ids = np.repeat(np.arange(4), 5)
    perm = np.random.default_rng(0).permutation(20)
    ref = np_grpo(r).reshape(-1)[perm]
    got = rl.group_advantages(r.reshape(-1)[perm], ids[perm], implementation=implementation)
    _assert_grouped(got, ref)
    got = rl.group_advantages(r.reshape(-1)[perm], ids[perm], num_groups=4)
    _assert_grouped(got, ref)


@pytest.mark.parametrize("bad", BAD)
def test_masked_nonfinite_has_no_effect(bad):
    r = _rewards(3)
    mask = np.ones_like(r, bool)
    r[0, 0], mask[0, 0] = bad, False
    got = np.asarray(rl.group_advantages(r, mask=mask))
    assert got[0, 0] == 0.0
    _assert_grouped(got[1:], np_grpo(r[1:]))
    ref0 = np_grpo(r[:1, 1:])
    np.testing.assert_allclose(got[0, 1:], ref0[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("kw", [{}, {"num_groups": 3}, {"singleton": "zero"}, {"num_groups": 3, "singleton": "zero"}])
def test_singleton_nonfinite_is_nan(bad, kw):
    # The XLA path gathers one signed factor per group (the sign marks a "raw" singleton):
    # a non-finite singleton must still be NaN under either rule, a finite one r / (1 + eps) or 0.
    # With num_groups=3 and 16 entries (12 of them out of range) the few-groups branch runs.
    for pad in (0, 12):
        r = np.array([-2.0, bad, 3.0, 5.0] + [7.0] * pad, np.float32)
        ids = np.array([0, 1, 2, 2] + [-1] * pad)
        if pad and "num_groups" not in kw:
            continue
        got = np.asarray(rl.group_advantages(r, ids, **kw))
        assert np.isnan(got[1]) and np.all(np.isfinite(got[[0, 2, 3]])), got
        raw = kw.get("singleton", "raw") == "raw"
        np.testing.assert_allclose(got[[0, 2, 3]], [-2.0 / (1 + 1e-6) if raw else 0.0, -0.7071063, 0.7071063],
                                   rtol=1e-5)
        np.testing.assert_array_equal(got[4:], 0.0)
    got = np.asarray(rl.rloo_advantages(r, ids))
    assert np.isnan(got[1]) and np.all(np.isfinite(got[[0, 2, 3]]))


@pytest.mark.parametrize("bad", BAD)
def test_rloo(bad):
    r = _rewards(4)
    r[3, 1] = bad
    _assert_grouped(rl.rloo_advantages(r), np_rloo(r))


@pytest.mark.parametrize("bad", BAD)
def test_dapo_filter_drops_the_nonfinite_group_only(bad):
    r = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], np.float32)
    r[1, 1] = bad
    np.testing.assert_array_equal(rl.dapo_group_filter(r), [True, False, True])
    ids = np.repeat(np.arange(3), 3)
    np.testing.assert_array_equal(rl.dapo_group_filter(r.reshape(-1), ids), np.repeat([True, False, True], 3))


def _steps():
    state = np.array([[1, 2, 3], [1, 2, 4], [5, 6, 7], [5, 6, 8]])
    ret = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    task = np.array([0, 0, 1, 1])
    return state, ret, np.ones((4, 3), bool), task


@pytest.mark.parametrize("bad,mode,implementation", [
    (np.nan, "mean_norm", "xla"), (np.inf, "mean_std_norm", "xla"), (-np.inf, "mean_std_norm", "xla"),
    (np.nan, "mean_std_norm", "pallas")])
def test_hgpo_confines_nan_to_clusters(bad, mode, implementation):
    state, ret, mask, task = _steps()
    clean = np.asarray(rl.hgpo_advantages(state, ret, mask, task, history_length=1, mode=mode,
                                          implementation=implementation))
    ret[0, 0] = bad  # shares its level-0 cluster (state 1, task 0) with step [1, 0] only
    got = np.asarray(rl.hgpo_advantages(state, ret, mask, task, history_length=1, mode=mode,
                                        implementation=implementation))
    assert np.isnan(got[0, 0]) and np.isnan(got[1, 0])
    other = np.ones((4, 3), bool)
    other[0, 0] = other[1, 0] = False
    np.testing.assert_allclose(got[other], clean[other], rtol=1e-6)  # task 1 and the other states


@pytest.mark.parametrize("bad,mode", [(np.nan, "mean_norm"), (np.inf, "mean_std_norm"), (-np.inf, "mean_norm")])
def test_gigpo_confines_nan_to_its_groups(bad, mode):
    state, ret, mask, task = _steps()
    episode = np.array([1.0, 0.0, 2.0, 3.0], np.float32)
    clean = np.asarray(rl.gigpo_advantages(state, ret, mask, task, episode, mode=mode))
    episode[0] = bad  # task 0's episode group: rows 0 and 1
    got = np.asarray(rl.gigpo_advantages(state, ret, mask, task, episode, mode=mode))
    assert np.all(np.isnan(got[:2])) and np.all(np.isfinite(got[2:]))
    np.testing.assert_allclose(got[2:], clean[2:], rtol=1e-6)
