"""Property-based sweep: random finite inputs of the documented shapes, then one non-finite
value injected. The result must be finite and equal to a float64 NumPy reference, or NaN
exactly where the bad value reaches (its group, its row or channel), never a finite wrong
number. The fast slice runs a few examples per function; the ``slow`` copies run 200."""

from __future__ import annotations

import functools
import inspect

import jax
import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bvjax import attention, rl
from bvjax.preference import token_logps
from bvjax.stats import paired_ttest
from tests.attention._np_reference import np_lla, np_softmax
from tests.rl.test_nonfinite_groups import np_grpo, np_rloo

FAST, SLOW = 8, 200
BADS = st.sampled_from([None, np.nan, np.inf, -np.inf])
P, G = 4, 5
N, D, E = 6, 3, 2


def _finite(shape, bound=1e3):
    return hnp.arrays(np.float32, shape, elements=st.floats(-bound, bound, width=32))


def _inject(x, bad, index):
    x = x.copy()
    if bad is not None:
        x.reshape(-1)[index % x.size] = bad
    return x


def _check(got, ref, rtol, atol):
    got = np.asarray(got, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=rtol, atol=atol)


_grpo = jax.jit(rl.group_advantages)
_rloo = jax.jit(rl.rloo_advantages)
_dapo = jax.jit(rl.dapo_group_filter)
_softmax = jax.jit(attention.softmax_attention)
_lla = jax.jit(functools.partial(attention.local_linear_attention, ridge=1.0, implementation="xla"))


def _grpo_case(r, bad, index):
    r = _inject(r, bad, index)
    ref = np_grpo(r)
    got = np.asarray(_grpo(r), np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    for g in range(P):  # float32 rounding of r_i - mean, amplified by max|r| / std
        if np.all(np.isfinite(r[g])):
            r64 = r[g].astype(np.float64)
            tol = 1e-5 * (1.0 + np.abs(r64).max() / (r64.std(ddof=1) + 1e-6))
            np.testing.assert_allclose(got[g], ref[g], rtol=1e-4, atol=tol)


def _rloo_case(r, bad, index):
    r = _inject(r, bad, index)
    _check(_rloo(r), np_rloo(r), rtol=1e-4, atol=1e-3)


def _dapo_case(r, bad, index):
    r = np.round(_inject(r, bad, index) / 500.0)  # few distinct values, so equal groups occur
    ref = [np.all(np.isfinite(g)) and np.ptp(g) > 0 for g in r]
    np.testing.assert_array_equal(np.asarray(_dapo(r)), ref)


def _attention_reached(q, k, v):
    bad_row = ~np.all(np.isfinite(q), -1) | (np.cumsum(~np.all(np.isfinite(k), -1), axis=1) > 0)
    return bad_row[..., None] | (np.cumsum(~np.isfinite(v), axis=1) > 0)


def _attention_case(fn, ref_fn, x, bad, which, index, tol):
    q, k, v = x[..., :D], x[..., D:2 * D], x[..., 2 * D:]
    arrays = [q.copy(), k.copy(), v.copy()]
    arrays[which] = _inject(arrays[which], bad, index)
    reached = _attention_reached(*arrays)
    clean = [np.where(np.isfinite(a), a, 0.0) for a in arrays]
    ref = np.where(reached, np.nan, ref_fn(*clean))
    _check(fn(*arrays), ref, rtol=tol, atol=tol)


def _ttest_case(d, bad, index):
    d = _inject(d, bad, index)
    t, p = (float(x) for x in jax.jit(paired_ttest)(d))
    if not np.all(np.isfinite(d)):
        assert np.isnan(t) and np.isnan(p)
        return
    d64 = d.astype(np.float64)
    if np.ptp(d64) == 0:  # documented: t = 0 when all 0, else +-inf
        assert t == (0.0 if d64[0] == 0 else np.sign(d64[0]) * np.inf)
        return
    ref = scipy.stats.ttest_1samp(d64, 0.0)
    # float32 rounding of d_i - mean, amplified by max|d| / std (conditioning, not luck)
    tol = 1e-4 + 1e-5 * np.abs(d64).max() / d64.std(ddof=1)
    np.testing.assert_allclose(t, ref.statistic, rtol=tol, atol=tol)


def _logps_case(z, bad, index):
    logits = z[:, :V * T].reshape(T, V).copy()
    labels = (np.abs(z[:, V * T:V * T + T]).astype(np.int64) % V).reshape(T)
    mask = (z[:, -T:] > 0).reshape(T)
    logits = _inject(logits, bad, index)
    got = np.asarray(_logps(logits, labels, mask=mask), np.float64)
    lz = logits.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mx = np.max(lz, -1, keepdims=True)
        ref = lz - mx - np.log(np.sum(np.exp(lz - mx), -1, keepdims=True))
    ref = np.where(mask, ref[np.arange(T), labels], 0.0)  # masked positions: 0 whatever their logits
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


V, T = 4, 3
_logps = jax.jit(token_logps)
QKV = _finite((1, N, 1, 2 * D + E), bound=2.0)
GROUPS = _finite((P, G))


def _cases():
    return {
        "group_advantages": (given(GROUPS, BADS, st.integers(0, 99)), _grpo_case),
        "rloo_advantages": (given(GROUPS, BADS, st.integers(0, 99)), _rloo_case),
        "dapo_group_filter": (given(GROUPS, BADS, st.integers(0, 99)), _dapo_case),
        "paired_ttest": (given(_finite((8,)), BADS, st.integers(0, 99)), _ttest_case),
        "token_logps": (given(_finite((1, V * T + 2 * T), bound=30.0), BADS, st.integers(0, 99)), _logps_case),
        "softmax_attention": (given(QKV, BADS, st.integers(0, 2), st.integers(0, 99)),
                              lambda x, b, w, i: _attention_case(_softmax, np_softmax, x, b, w, i, 1e-4)),
        "local_linear_attention": (given(QKV, BADS, st.integers(0, 2), st.integers(0, 99)),
                                   lambda x, b, w, i: _attention_case(_lla, lambda q, k, v: np_lla(q, k, v, 1.0),
                                                                      x, b, w, i, 2e-3)),
    }


NAMES = sorted(_cases())


def _run(name, examples):
    decorate, body = _cases()[name]
    calls = []

    def counted(data, bad, *rest):
        calls.append(bad is not None)  # whether a non-finite value was injected
        body(data, bad, *rest)

    if len(inspect.signature(body).parameters) == 3:
        fn = lambda data, bad, index: counted(data, bad, index)
    else:
        fn = lambda data, bad, which, index: counted(data, bad, which, index)
    test = settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])(decorate(fn))
    test()
    assert len(calls) >= examples  # every example ran (printed with -s)
    print(f"{name}: {len(calls)} examples, {sum(calls)} with a non-finite value injected")


@pytest.mark.parametrize("name", NAMES)
def test_sweep_fast(name):
    _run(name, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_sweep_slow(name):
    _run(name, SLOW)
