"""bvjax.stats._cv masks against scikit-learn's KFold and StratifiedKFold index streams."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

from bvjax import stats

pytestmark = pytest.mark.filterwarnings("ignore:The least populated class")


def _masks_from_sklearn(splitter, n, y=None):
    out = np.zeros((splitter.get_n_splits(), n), bool)
    for f, (_, test) in enumerate(splitter.split(np.zeros((n, 1)), y)):
        out[f, test] = True
    return out


@pytest.mark.parametrize("n,k", [(10, 2), (11, 3), (23, 5), (7, 7)])
def test_kfold_matches_sklearn(n, k):
    fn = jax.jit(functools.partial(stats.kfold_masks, num_folds=k))
    np.testing.assert_array_equal(fn(jnp.arange(n)), _masks_from_sklearn(KFold(k), n))
    order = np.random.RandomState(42).permutation(n)  # sklearn's shuffle stream
    np.testing.assert_array_equal(stats.kfold_masks(jnp.asarray(order), num_folds=k),
                                  _masks_from_sklearn(KFold(k, shuffle=True, random_state=42), n))


def _labels(seed, n, classes):
    rng = np.random.default_rng(seed)
    y = rng.choice(classes, size=n, p=np.arange(1, classes + 1) / np.arange(1, classes + 1).sum())
    return y


@pytest.mark.parametrize("seed,n,k,classes", [(0, 30, 3, 2), (1, 47, 5, 3), (2, 60, 4, 5), (3, 25, 2, 4)])
def test_stratified_kfold_matches_sklearn(seed, n, k, classes):
    y = _labels(seed, n, classes + 1) % (classes + 1)  # label `classes` may be absent or late
    fn = jax.jit(functools.partial(stats.stratified_kfold_masks, num_folds=k, num_classes=classes + 1))
    expected = _masks_from_sklearn(StratifiedKFold(k), n, y)
    np.testing.assert_array_equal(fn(jnp.asarray(y)), expected)


@pytest.mark.parametrize("seed", [0, 5])
def test_stratified_kfold_replays_sklearn_shuffle(seed):
    n, k = 40, 4
    y = _labels(seed, n, 3)
    # sklearn shuffles each class's fold labels with one RandomState, classes in order of first
    # appearance; an item's within-class rank under `priority` is its shuffled position.
    rng = np.random.RandomState(seed)
    _, first = np.unique(y, return_index=True)
    classes_by_appearance = np.unique(y)[np.argsort(first)]
    priority = np.zeros(n, np.int64)
    for c in classes_by_appearance:
        members = np.flatnonzero(y == c)
        perm = np.arange(len(members))
        rng.shuffle(perm)
        priority[members] = perm
    got = stats.stratified_kfold_masks(jnp.asarray(y), num_folds=k, num_classes=3, priority=jnp.asarray(priority))
    np.testing.assert_array_equal(got, _masks_from_sklearn(StratifiedKFold(k, shuffle=True, random_state=seed), n, y))


def test_stratified_with_random_priority_keeps_class_shares():
    y = jnp.asarray(np.repeat([0, 1, 2], [20, 10, 30]))
    masks = stats.stratified_kfold_masks(y, num_folds=5, num_classes=3,
                                         priority=jax.random.uniform(jax.random.key(0), (60,)))
    assert bool(jnp.all(jnp.sum(masks, axis=0) == 1))
    per_fold = np.array([[int(jnp.sum(m & (y == c))) for c in range(3)] for m in masks])
    np.testing.assert_array_equal(per_fold, np.tile([4, 2, 6], (5, 1)))


@pytest.mark.parametrize("n,outer,inner", [(20, 5, 3), (17, 3, 4)])
def test_nested_kfold_matches_sklearn(n, outer, inner):
    order = np.random.RandomState(0).permutation(n)
    fn = jax.jit(functools.partial(stats.nested_kfold_masks, outer_folds=outer, inner_folds=inner))
    got_outer, got_inner = fn(jnp.asarray(order))
    outer_split = KFold(outer, shuffle=True, random_state=0)
    for f, (train, test) in enumerate(outer_split.split(np.zeros((n, 1)))):
        np.testing.assert_array_equal(np.flatnonzero(got_outer[f]), np.sort(test))
        # GridSearchCV(cv=KFold(inner)) splits X[train] in the order KFold returned it.
        for j, (_, inner_test) in enumerate(KFold(inner).split(np.zeros((len(train), 1)))):
            np.testing.assert_array_equal(np.flatnonzero(got_inner[f, j]), train[inner_test])


def test_contract_errors():
    with pytest.raises(ValueError, match="num_folds"):
        stats.kfold_masks(jnp.arange(3), num_folds=4)
    with pytest.raises(TypeError, match="order"):
        stats.kfold_masks(jnp.arange(3.0), num_folds=2)
    with pytest.raises(ValueError, match="priority"):
        stats.stratified_kfold_masks(jnp.zeros(4, jnp.int32), num_folds=2, num_classes=1, priority=jnp.zeros(3))
    with pytest.raises(ValueError, match="inner_folds"):
        stats.nested_kfold_masks(jnp.arange(6), outer_folds=3, inner_folds=5)
