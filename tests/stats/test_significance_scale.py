"""The paired t-tests are scale-free: differences of 1e20 (float32 squares overflow) or 1e-25
give scipy's statistic (reference: scipy.stats on float64)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bvjax.stats import ftest_5x2cv, paired_ttest, ttest_5x2cv

BASE = np.array([0.02, 0.03, 0.01, -0.01, 0.02, 0.025, 0.015, 0.0, 0.03, 0.01])


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e-25, 1e30])
def test_paired_ttest_scale_free(scale):
    d = (BASE * scale).astype(np.float32)
    ref = scipy.stats.ttest_1samp(d.astype(np.float64), 0.0)
    t, p = paired_ttest(d)
    np.testing.assert_allclose(float(t), ref.statistic, rtol=1e-4)
    np.testing.assert_allclose(float(p), ref.pvalue, rtol=1e-3)


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e-25])
def test_5x2cv_scale_free(scale):
    d = (BASE.reshape(5, 2) * scale).astype(np.float32)
    d64 = d.astype(np.float64)
    s2 = np.sum((d64 - d64.mean(1, keepdims=True)) ** 2, axis=1)
    t_ref = d64[0, 0] / np.sqrt(np.mean(s2))  # Dietterich 1998
    f_ref = np.sum(d64**2) / (2 * np.sum(s2))  # Alpaydin 1999
    np.testing.assert_allclose(float(ttest_5x2cv(d).statistic), t_ref, rtol=1e-4)
    np.testing.assert_allclose(float(ttest_5x2cv(d).pvalue), 2 * scipy.stats.t.sf(abs(t_ref), 5), rtol=1e-3)
    np.testing.assert_allclose(float(ftest_5x2cv(d).statistic), f_ref, rtol=1e-4)
    np.testing.assert_allclose(float(ftest_5x2cv(d).pvalue), scipy.stats.f.sf(f_ref, 10, 5), rtol=1e-3)
