"""Cross-validation splits as static-shape boolean masks: k-fold, stratified and nested.

Every generator returns full-length ``[..., N]`` test masks (the training set is the
complement), so shapes do not depend on the data and the masks jit, vmap and replay a
peer's splits: pass ``np.random.RandomState(seed).permutation(N)`` as ``order`` to
reproduce scikit-learn's ``KFold(shuffle=True, random_state=seed)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks


def _fold_stops(num_items: int, num_folds: int) -> np.ndarray:
    """End positions of scikit-learn's k-fold chunks: the first N mod K folds get one more."""
    sizes = np.full(num_folds, num_items // num_folds, dtype=np.int64)
    sizes[: num_items % num_folds] += 1
    return np.cumsum(sizes)


def _check_folds(num_items: int, num_folds: int, name: str, arg: str) -> None:
    _checks.positive_int(**{name: num_folds})
    if num_folds < 2 or num_folds > num_items:
        raise ValueError(f"{name}: expected a static int in [2, N={num_items}] for {arg} with N items, "
                         f"got {num_folds!r}")


def kfold_masks(order: jax.Array, *, num_folds: int) -> jax.Array:
    r"""K-fold cross-validation test masks over N items, in the order given.

    Items are taken in the sequence ``order`` and cut into K consecutive chunks; the
    first :math:`N \bmod K` chunks hold :math:`\lfloor N/K \rfloor + 1` items and the rest
    :math:`\lfloor N/K \rfloor`, as in scikit-learn's ``KFold``.

    Args:
        order: [N] int, a permutation of ``0..N-1``: ``jnp.arange(N)`` for unshuffled
            folds, ``jax.random.permutation(key, N)`` or
            ``np.random.RandomState(seed).permutation(N)`` (scikit-learn's shuffle) for
            shuffled ones.
        num_folds: static int K in [2, N].

    Returns:
        [K, N] bool test masks; each item is in exactly one fold's test set.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import kfold_masks
        >>> kfold_masks(jnp.arange(5), num_folds=2).astype(int).tolist()
        [[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]

    References:
        Stone, Cross-Validatory Choice and Assessment of Statistical Predictions, 1974.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    shape = _checks.dims(order=(order, "[N]", "int"))
    n = shape["N"]
    _check_folds(n, num_folds, "num_folds", "order")
    if not isinstance(order, jax.core.Tracer) and not np.array_equal(np.sort(np.asarray(order)), np.arange(n)):
        raise ValueError(f"order: expected a permutation of 0..{n - 1}, got {np.asarray(order).tolist()[:10]}")
    stops = jnp.asarray(_fold_stops(n, num_folds), jnp.int32)
    fold_of_position = jnp.searchsorted(stops, jnp.arange(n, dtype=jnp.int32), side="right")
    fold_of_item = jnp.zeros((n,), jnp.int32).at[order].set(fold_of_position.astype(jnp.int32))
    return fold_of_item[None, :] == jnp.arange(num_folds, dtype=jnp.int32)[:, None]


def stratified_kfold_masks(y: jax.Array, *, num_folds: int, num_classes: int,
                           priority: jax.Array | None = None) -> jax.Array:
    r"""Stratified k-fold test masks: each fold gets each class in near-equal share.

    Follows scikit-learn's ``StratifiedKFold`` allocation. Classes are numbered by first
    appearance in ``y``; the labels sorted by that number are dealt round-robin to the
    K folds, which fixes how many items of each class every fold receives; within a
    class, items are then given to folds 0, 1, ... in the order of ``priority`` (ties by
    index), so ``priority=None`` reproduces ``shuffle=False``.

    Args:
        y: [N] int class labels in ``[0, num_classes)``.
        num_folds: static int K in [2, N].
        num_classes: static int C >= 1, an upper bound on the labels.
        priority: optional [N] int or float sort key within each class, e.g.
            ``jax.random.uniform(key, (N,))`` to shuffle. To replay scikit-learn's
            ``shuffle=True`` stream, give the r-th item of class k (in index order)
            the r-th entry of ``rng.permutation(n_k)`` drawn class by class in
            first-appearance order.

    Returns:
        [K, N] bool test masks.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import stratified_kfold_masks
        >>> y = jnp.array([0, 0, 0, 0, 1, 1])
        >>> stratified_kfold_masks(y, num_folds=2, num_classes=2).astype(int).tolist()
        [[1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]]

    References:
        Kohavi, A Study of Cross-Validation and Bootstrap for Accuracy Estimation and Model
        Selection, 1995.
    """
    shape = _checks.dims(y=(y, "[N]", "int"), priority=(priority, "[N]", "number"))
    n = shape["N"]
    _check_folds(n, num_folds, "num_folds", "y")
    _checks.positive_int(num_classes=num_classes)
    index = jnp.arange(n, dtype=jnp.int32)
    first = jax.ops.segment_min(index, y, num_classes)  # absent classes: int max, numbered last
    class_rank = jnp.argsort(jnp.argsort(first, stable=True), stable=True).astype(jnp.int32)
    enc = class_rank[y]
    count = jnp.zeros((num_classes,), jnp.int32).at[enc].add(1)
    start = jnp.cumsum(count) - count
    keys = (index, enc) if priority is None else (index, priority, enc)
    sorted_items = jnp.lexsort(keys)
    position = jnp.zeros((n,), jnp.int32).at[sorted_items].set(index)
    within = position - start[enc]
    folds = jnp.arange(num_folds, dtype=jnp.int32)[:, None]

    def dealt_below(x):  # how many positions p in [0, x) have p mod K == f, [K, C]
        return (x[None, :] - folds + num_folds - 1) // num_folds

    allocation = dealt_below(start + count) - dealt_below(start)
    cumulative = jnp.cumsum(allocation, axis=0)  # [K, C]
    fold_of_item = jnp.sum(cumulative[:, enc] <= within[None, :], axis=0)
    return fold_of_item[None, :] == folds


def nested_kfold_masks(order: jax.Array, *, outer_folds: int, inner_folds: int
                       ) -> tuple[jax.Array, jax.Array]:
    r"""Nested cross-validation masks: outer k-fold test sets and, inside each outer
    training set, inner k-fold test sets for model selection.

    The outer split is `kfold_masks` ``(order, num_folds=outer_folds)``. Each outer
    training set, taken in index order, is cut into ``inner_folds`` consecutive chunks,
    which is what scikit-learn's ``cross_val_score(GridSearchCV(est, grid, cv=KFold(J)),
    X, y, cv=outer)`` does.

    Args:
        order: [N] int, a permutation of ``0..N-1`` for the outer split.
        outer_folds: static int K in [2, N].
        inner_folds: static int J >= 2, at most the smallest outer training set.

    Returns:
        ``(outer, inner)``: [K, N] bool outer test masks and [K, J, N] bool inner test
        masks, False outside the outer training set; the inner training set of
        (k, j) is ``~outer[k] & ~inner[k, j]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.stats import nested_kfold_masks
        >>> outer, inner = nested_kfold_masks(jnp.arange(6), outer_folds=3, inner_folds=2)
        >>> inner[0].astype(int).tolist()
        [[0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]

    References:
        Varma and Simon, Bias in Error Estimation when Using Cross-Validation for Model
        Selection, 2006.
        Raschka, Model Evaluation, Model Selection, and Algorithm Selection in Machine
        Learning, 2018 (arXiv 1811.12808).
    """
    shape = _checks.dims(order=(order, "[N]", "int"))
    n = shape["N"]
    outer = kfold_masks(order, num_folds=outer_folds)
    outer_stops = _fold_stops(n, outer_folds)
    smallest_train = n - int(np.max(np.diff(np.concatenate([[0], outer_stops]))))
    _check_folds(smallest_train, inner_folds, "inner_folds", "each outer training set")
    inner = []
    for k in range(outer_folds):
        train = ~outer[k]
        n_train = n - (int(outer_stops[k]) - (int(outer_stops[k - 1]) if k else 0))
        stops = jnp.asarray(_fold_stops(n_train, inner_folds), jnp.int32)
        position = jnp.cumsum(train.astype(jnp.int32)) - 1
        fold = jnp.searchsorted(stops, position, side="right")
        inner.append(train[None, :] & (fold[None, :] == jnp.arange(inner_folds)[:, None]))
    return outer, jnp.stack(inner)
