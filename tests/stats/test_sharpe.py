"""SharpeRatio@k against a float64 NumPy loop of scope-rl's top-k computation and hand-computed values.

scope-rl itself needs torch, d3rlpy and gym, which are not installed; the loop below follows
what its ``OffPolicySelection`` code computes (read from scope-rl): rank by
``np.argsort(estimate)[::-1]``, per-k NumPy statistics with ``std(ddof=1)``, numerator clipped
at 0, optional clipping of rows k >= 2.
"""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax import stats


def _scope_rl_reference(true, est, baseline, max_k, ddof=1, clip_return=True, clip=False, threshold=0.0):
    ranked = true[np.argsort(est)[::-1]]
    out = {m: np.zeros(max_k) for m in ("k_th", "best", "worst", "mean", "std", "safety_violation_rate")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(1, max_k + 1):
            top = ranked[:k]
            out["k_th"][k - 1] = top[-1]
            out["best"][k - 1] = top.max()
            out["worst"][k - 1] = top.min()
            out["mean"][k - 1] = top.mean()
            out["std"][k - 1] = top.std(ddof=ddof)
            out["safety_violation_rate"][k - 1] = (top < threshold).sum() / k
        gain = out["best"] - baseline
        if clip_return:
            gain = np.clip(gain, 0, None)
        sr = gain / out["std"]
    if clip:
        sr[1:] = np.clip(np.nan_to_num(sr[1:], posinf=1e2), 0.0, 1e2)
    out["sharpe_ratio"] = sr
    return out


def _check(got, expected):
    for field in stats.TopkMetrics._fields:
        np.testing.assert_allclose(np.asarray(getattr(got, field), np.float64), expected[field], rtol=1e-10,
                                   atol=1e-300, err_msg=field)


def test_spec_values(x64):
    # Values from running scope-rl's semantics in float64 NumPy.
    true, est = jnp.array([1., 2., 3., 4., 5.]), jnp.array([1.5, 1.0, 3.5, 2.0, 4.8])
    code = stats.sharpe_ratio_at_k(true, est, 2.5)
    np.testing.assert_array_equal(code.k_th, [5, 3, 4, 1, 2])
    assert np.isnan(code.sharpe_ratio[0])
    np.testing.assert_allclose(code.sharpe_ratio[1:], [1.767767, 2.5, 1.463850, 1.581139], atol=1e-6)
    docs = stats.sharpe_ratio_at_k(true, est, 2.5, ddof=0, clip_return=False)
    assert docs.sharpe_ratio[0] == np.inf
    np.testing.assert_allclose(docs.sharpe_ratio[1:], [2.5, 3.061862, 1.690309, 1.767767], atol=1e-6)


@pytest.mark.parametrize("ddof,clip_return,clip", [(1, True, False), (0, False, False), (1, True, True)])
def test_matches_scope_rl_loop(ddof, clip_return, clip, x64):
    fn = functools.partial(stats.sharpe_ratio_at_k, max_k=9, ddof=ddof, clip_return=clip_return,
                           clip_sharpe_ratio=clip, safety_threshold=-0.2)
    jitted = jax.jit(fn)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        true, est = rng.normal(size=12), rng.normal(size=12)
        true[3] = true[5]
        baseline = float(np.median(true))
        expected = _scope_rl_reference(true, est, baseline, 9, ddof, clip_return, clip, threshold=-0.2)
        args = (jnp.asarray(true), jnp.asarray(est), jnp.asarray(baseline))
        _check(jitted(*args), expected)
        if seed == 0:
            _check(fn(*args), expected)


def test_ties_follow_reversed_argsort(x64):
    true = np.arange(6.0)
    est = np.array([1.0, 2.0, 2.0, 0.5, 2.0, 1.0])
    got = stats.sharpe_ratio_at_k(jnp.asarray(true), jnp.asarray(est), 0.0)
    np.testing.assert_array_equal(got.k_th, true[np.argsort(est)[::-1]])


def test_degenerate_std_is_documented(x64):
    same = jnp.ones(4)
    got = stats.sharpe_ratio_at_k(same, jnp.arange(4.0), 0.0)
    assert np.all(np.isinf(got.sharpe_ratio[1:]))  # positive gain over a zero std
    got = stats.sharpe_ratio_at_k(same, jnp.arange(4.0), 2.0, undefined_value=0.0)
    np.testing.assert_array_equal(got.sharpe_ratio, 0.0)  # 0/0 and k <= ddof take undefined_value
    np.testing.assert_array_equal(got.std, [0.0, 0.0, 0.0, 0.0])
    clipped = stats.sharpe_ratio_at_k(same, jnp.arange(4.0), 0.0, clip_sharpe_ratio=True)
    np.testing.assert_array_equal(clipped.sharpe_ratio[1:], 100.0)


_SR_JIT = jax.jit(stats.sharpe_ratio_at_k)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), ties=st.booleans())
def test_clipped_sharpe_is_nonnegative(seed, ties):
    rng = np.random.default_rng(seed)
    true = rng.normal(size=8)
    if ties:
        true = np.round(true)
    got = _SR_JIT(jnp.asarray(true, jnp.float32), jnp.asarray(rng.normal(size=8), jnp.float32),
                  jnp.float32(0.0))
    sr = np.asarray(got.sharpe_ratio[1:])
    assert np.all(sr[~np.isnan(sr)] >= 0)
    assert np.all(np.asarray(got.best) >= np.asarray(got.mean)) and np.all(np.asarray(got.mean) >= np.asarray(got.worst))


def test_behavior_policy_baseline_matches_numpy(x64):
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(40, 7))
    returns = (rewards * 0.9 ** np.arange(7)).sum(axis=1) + 1e-10
    base = functools.partial(stats.behavior_policy_baseline, jnp.asarray(rewards), gamma=0.9)
    np.testing.assert_allclose(base(), returns.mean(), rtol=1e-12)
    np.testing.assert_allclose(base(kind="cvar", alpha=0.3), np.sort(returns)[: int(40 * 0.3)].mean(), rtol=1e-12)
    np.testing.assert_allclose(base(kind="lower_quartile", alpha=0.25), np.quantile(returns, 0.25), rtol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        base(kind="cvar", alpha=0.01)


def test_contract_errors():
    with pytest.raises(ValueError, match="estimated_values"):
        stats.sharpe_ratio_at_k(jnp.ones(4), jnp.ones(5), 0.0)
    with pytest.raises(ValueError, match="max_k"):
        stats.sharpe_ratio_at_k(jnp.ones(4), jnp.ones(4), 0.0, max_k=5)
    with pytest.raises(ValueError, match="baseline"):
        stats.sharpe_ratio_at_k(jnp.ones(4), jnp.ones(4), jnp.ones(2))


@pytest.mark.parametrize("x64", [False, True])
def test_equal_true_values_have_zero_std(x64):
    # Equal values have std exactly 0 (so a positive gain reads inf, from k = 2 on), also
    # when their mean rounds: 0.1 x 7 had a float32 std of ~1e-8 and a ratio of ~1.2e7.
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        for value in (0.1, 0.7, 1 / 3):
            m = stats.sharpe_ratio_at_k(jnp.full(12, value, dtype), jnp.arange(12.0, dtype=dtype), 0.0)
            np.testing.assert_array_equal(np.asarray(m.std)[1:], 0.0)
            np.testing.assert_array_equal(np.asarray(m.sharpe_ratio)[1:], np.inf)
            np.testing.assert_array_equal(np.asarray(m.mean), np.asarray(dtype(value)))
