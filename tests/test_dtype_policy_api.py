"""The dtype policy (``bvjax._numerics``) on every function of the API sweep.

Rule 1: float64 inputs (with ``jax_enable_x64``) give float64 outputs computed in float64, so
they match the float64 NumPy reference of ``tests/test_property_sweep_api.py`` to ~1e-9.
Rule 2: float16 inputs are computed in float32 and returned in float32, so they match the
reference evaluated on the float16-rounded inputs to float32 accuracy (computing in float16
would be ~1e-3 off).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tests.test_property_sweep_api import CASES, NAMES, _f64, _leaves

SEEDS = (0, 1)
# Computed in float32 but returned in the input dtype, as its docstring says (rule 3's exception).
RETURNS_INPUT_DTYPE = {"finance.ledoit_wolf_covariance", "selection.gp_posterior",
                      "selection.variance_inflation_factor"}
# The Laplace noise at epsilon = 1e7 (about 1e-7) is part of the value: a looser float64 bound.
F64_ATOL = {"counterfactual.laplace_bag_means": 1e-5}
# The meter accumulates in float32, but the estimator under test draws in float16: its draws carry
# float16 rounding that the float64 reference (on the same standard normals) does not.
F16_RTOL = {"diagnostics.bias_variance": 2e-2}
# Not yet on rule 2 (computed in the input's half precision): listed so that the test fails the
# day they are converted and the entry must be removed.
NOT_YET: set[str] = set()


def _mark(name):
    if name in NOT_YET:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="computes float16 in float16"))
    return name


def _cast(args, dtype):
    return [a.astype(dtype) if np.issubdtype(np.asarray(a).dtype, np.floating) else a for a in args]


def _float_leaves(tree):
    return [x for x in jax.tree.leaves(tree) if np.issubdtype(np.asarray(x).dtype, np.floating)]


@pytest.mark.parametrize("name", NAMES)
def test_float64_in_float64_out(name):
    case = CASES[name]
    with jax.enable_x64(True):
        for seed in SEEDS:
            args = _cast(case.draw(np.random.default_rng(seed)), np.float64)
            out = case.fn(*args)
            for leaf in _float_leaves(out):
                assert np.asarray(leaf).dtype == np.float64, f"{name}: {np.asarray(leaf).dtype}"
            ref = _leaves(case.ref(*[_f64(a) for a in args]))
            for g, r in zip(_leaves(out), ref):
                np.testing.assert_allclose(g, np.broadcast_to(r, g.shape), rtol=1e-9, atol=F64_ATOL.get(name, 1e-9),
                                           err_msg=name)


@pytest.mark.parametrize("name", [_mark(n) for n in NAMES])
def test_float16_computed_in_float32(name):
    case = CASES[name]
    half_out = name in RETURNS_INPUT_DTYPE
    for seed in SEEDS:
        args = _cast(case.draw(np.random.default_rng(seed)), np.float16)
        out = case.fn(*args)
        for leaf in _float_leaves(out):
            assert np.asarray(leaf).dtype == (np.float16 if half_out else np.float32), f"{name}: {np.asarray(leaf).dtype}"
        ref = _leaves(case.ref(*[_f64(a) for a in args]))
        rtol = 1e-3 if half_out else F16_RTOL.get(name, case.rtol)  # float16 rounding of the result only
        for g, r in zip(_leaves(out), ref):
            np.testing.assert_allclose(g, np.broadcast_to(r, g.shape), rtol=rtol, atol=case.atol, err_msg=name)
