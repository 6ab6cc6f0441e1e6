"""Ranking metrics with NaN scores: NaN for that list only, never DCG 1.0 / recall 0.5
(reference: a float64 NumPy DCG/recall written from the definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from bvjax.counterfactual import dcg_at_k, map_at_k, recall_at_k


def np_dcg(rel, s, k):
    order = np.argsort(-s, kind="stable")[:k]
    ranks = np.arange(1, k + 1)
    disc = np.where(ranks == 1, 1.0, np.log2(ranks))
    return np.sum(rel[order] / disc)


def np_recall(rel, s, k):
    return np.sum(rel[np.argsort(-s, kind="stable")[:k]]) / np.sum(rel)


@pytest.mark.parametrize("fn", [dcg_at_k, recall_at_k, map_at_k])
def test_nan_scores_make_only_their_list_nan(fn):
    rel = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]], np.float32)
    s = np.array([[np.nan] * 4, [0.3, 0.9, 0.1, 0.5]], np.float32)
    out = np.asarray(fn(rel, s, k=2))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    if fn is dcg_at_k:
        np.testing.assert_allclose(out[1], np_dcg(rel[1].astype(float), s[1].astype(float), 2), rtol=1e-6)
    if fn is recall_at_k:
        np.testing.assert_allclose(out[1], np_recall(rel[1].astype(float), s[1].astype(float), 2), rtol=1e-6)


def test_masked_nan_score_has_no_effect():
    rel = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    s = np.array([[0.9, np.nan, 0.1, 0.5]], np.float32)
    mask = np.array([[True, False, True, True]])
    out = np.asarray(dcg_at_k(rel, s, k=2, mask=mask))
    np.testing.assert_allclose(out[0], np_dcg(np.array([1.0, 1.0, 0.0]), np.array([0.9, 0.1, 0.5]), 2), rtol=1e-6)
