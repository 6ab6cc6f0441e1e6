"""The simplicity-bias datasets of Shah et al. 2020: LMS-k and MS-(5,7), and the randomisation probe.

Every coordinate of x is drawn independently given the balanced binary label y. A
*linear* coordinate separates the classes by sign with margin 2γ; a *k-slab* coordinate
cuts [−B, B] into k slabs of equal width separated by gaps of 2γ, with the classes
alternating over the slabs, so only a k-piece classifier separates them. Both kinds
separate the data perfectly on their own. A network that relies only on the simplest
coordinate loses all its accuracy when that coordinate is shuffled across samples
(`randomize_coordinates`), and none when the complex ones are.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks

_REF = ("Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv 2006.07710); "
        "official code harshays/simplicitybiaspitfalls (scripts/gendata.py)")


class SimplicityData(NamedTuple):
    """A draw of an LMS-k or MS-(5,7) dataset.

    Attributes:
        x: [N, D] float, the features (rotated by ``rotation`` when asked: ``z @ rotation``
            with ``z`` the axis-aligned coordinates).
        y: [N] int32 labels in {0, 1}, exactly balanced (N // 2 ones, in random order).
        rotation: [D, D] float orthonormal matrix W (the identity without rotation); the
            axis-aligned coordinates are ``x @ rotation.T``.
    """

    x: jax.Array
    y: jax.Array
    rotation: jax.Array


def _slab_table(num_slabs: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of each slab index for y = 0 and y = 1 (as the official generator draws them)."""
    neg, pos = np.zeros(num_slabs), np.zeros(num_slabs)
    if num_slabs == 3:
        neg[1] = 1.0
        pos[[0, 2]] = 0.5
    elif num_slabs == 5:
        neg[2] = p
        neg[[0, 4]] = (1.0 - p) / 2
        pos[[1, 3]] = 0.5
    else:
        pos[[2, 4]] = p / 2
        pos[[0, 6]] = (1.0 - p) / 2
        neg[3] = 0.5
        neg[[1, 5]] = 0.25
    return neg, pos


def slab_bounds(num_slabs: int, margin: float = 0.1, width: float = 1.0) -> np.ndarray:
    """[k, 2] float64 (low, high) edges of the k slabs: slab i starts at -B + i (w + 2 gamma),
    w = (2B - 2 (k - 1) gamma) / k (static, NumPy; also used by the tests)."""
    _checks.one_of("num_slabs", num_slabs, (3, 5, 7))
    w = (2.0 * width - 2.0 * (num_slabs - 1) * margin) / num_slabs
    if w <= 0 or margin < 0:
        raise ValueError(f"margin: expected 0 <= margin < width / (num_slabs - 1) = "
                         f"{width / (num_slabs - 1):g}, got {margin!r}")
    start = -width + np.arange(num_slabs) * (w + 2.0 * margin)
    return np.stack([start, start + w], axis=1)


def slab_coordinate(key: jax.Array, y: jax.Array, *, num_slabs: int, margin: float = 0.1, width: float = 1.0,
                    p: float | None = None) -> jax.Array:
    r"""One k-slab coordinate given the labels: a class-specific slab, then a uniform point in it.

    Slabs alternate between the classes from the centre out (the centre slab is
    negative). 5 slabs: a negative is in the centre with probability ``p`` (¾) and in
    one of the two outer slabs otherwise; a positive is in one of the two slabs next to
    the centre. 7 slabs: a positive is in the inner pair with probability ``p`` (⅞),
    else the outer pair; a negative is in the centre or the middle pair, ½ each. 3 slabs:
    negatives in the centre, positives on either side (``p`` unused).

    Args:
        key: PRNG key.
        y: [N] int or bool labels in {0, 1}.
        num_slabs: static 3, 5 or 7.
        margin: static γ (the gap between slabs is 2γ).
        width: static B.
        p: static slab probability above; default ¾ for 5 slabs, ⅞ for 7.

    Returns:
        [N] float32 in [−B, B].

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import slab_coordinate
        >>> v = slab_coordinate(jax.random.key(0), jnp.zeros(4, jnp.int32), num_slabs=3)
        >>> bool(jnp.all(jnp.abs(v) <= 0.27))
        True

    References:
        Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv
        2006.07710), §3; slab probabilities from the official generator (``slab5_pval``,
        ``slab7_pval``). We sample the slab index from a categorical instead of the
        official code's permutation bookkeeping: same distribution, different draws.
    """
    _checks.dims(y=(y, "[N]"))
    if not (_checks._kind_ok(y.dtype, "int") or _checks._kind_ok(y.dtype, "bool")):
        raise TypeError(f"y: expected [N] int or bool, got shape {tuple(y.shape)} {y.dtype}")
    bounds = slab_bounds(num_slabs, margin=margin, width=width)
    if p is None:
        p = {3: 0.5, 5: 0.75, 7: 0.875}[num_slabs]
    _checks.in_range("p", p, low=0.0, high=1.0)
    neg, pos = _slab_table(num_slabs, float(p))
    k_slab, k_u = jax.random.split(key)
    logits = jnp.log(jnp.asarray(np.stack([neg, pos]), jnp.float32))  # [2, k]; log 0 = -inf never drawn
    idx = jax.random.categorical(k_slab, logits[jnp.asarray(y).astype(jnp.int32)])
    lo = jnp.asarray(bounds[:, 0], jnp.float32)[idx]
    hi = jnp.asarray(bounds[:, 1], jnp.float32)[idx]
    return lo + (hi - lo) * jax.random.uniform(k_u, y.shape)


def linear_coordinate(key: jax.Array, y: jax.Array, *, margin: float = 0.1, width: float = 1.0) -> jax.Array:
    r"""The linear coordinate: :math:`x = (2y - 1)(\gamma + (B - \gamma) U)`, U ~ U[0, 1].

    Positives lie in [γ, B], negatives in [−B, −γ]: a gap of 2γ at 0.

    Args:
        key: PRNG key.
        y: [N] int or bool labels in {0, 1}.
        margin: γ in [0, B).
        width: B.

    Returns:
        [N] float32.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import linear_coordinate
        >>> v = linear_coordinate(jax.random.key(0), jnp.array([0, 1]))
        >>> bool(v[0] <= -0.1) and bool(v[1] >= 0.1)
        True

    References:
        Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv 2006.07710), §3.
    """
    _checks.dims(y=(y, "[N]"))
    if not (_checks._kind_ok(y.dtype, "int") or _checks._kind_ok(y.dtype, "bool")):
        raise TypeError(f"y: expected [N] int or bool, got shape {tuple(y.shape)} {y.dtype}")
    _checks.in_range("margin", margin, low=0.0, high=width, high_inclusive=False)
    sign = 2.0 * jnp.asarray(y).astype(jnp.float32) - 1.0
    return sign * (margin + (width - margin) * jax.random.uniform(key, y.shape))


def _rotation(key, dim):
    q, r = jnp.linalg.qr(jax.random.normal(key, (dim, dim)))
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)[None, :]


def _dataset(key, num_samples, dim, first, rest, margin, width, p5, p7, rotate):
    _checks.positive_int(num_samples=num_samples, dim=dim)
    if num_samples < 2:
        raise ValueError(f"num_samples: expected a static int >= 2 (both classes), got {num_samples!r}")
    return _dataset_jit(key, num_samples, dim, first, rest, margin, width, p5, p7, rotate)


@functools.partial(jax.jit, static_argnums=tuple(range(1, 10)))
def _dataset_jit(key, num_samples, dim, first, rest, margin, width, p5, p7, rotate):
    k_y, k_first, k_rest, k_rot = jax.random.split(key, 4)
    y = jax.random.permutation(k_y, jnp.arange(num_samples, dtype=jnp.int32) % 2)
    probs = {5: p5, 7: p7, 3: None}
    if first == "linear":
        c0 = linear_coordinate(k_first, y, margin=margin, width=width)
    else:
        c0 = slab_coordinate(k_first, y, num_slabs=first, margin=margin, width=width, p=probs[first])
    keys = jax.random.split(k_rest, max(dim - 1, 1))
    cols = [slab_coordinate(keys[i], y, num_slabs=rest, margin=margin, width=width, p=probs[rest])
            for i in range(dim - 1)]
    z = jnp.stack([c0, *cols], axis=1)
    w = _rotation(k_rot, dim) if rotate else jnp.eye(dim, dtype=z.dtype)
    return SimplicityData(z @ w if rotate else z, y, w)


def lms_data(key: jax.Array, *, num_samples: int, dim: int, num_slabs: int = 5, margin: float = 0.1,
             width: float = 1.0, slab_p: float | None = None, rotate: bool = False) -> SimplicityData:
    r"""LMS-k: one linear coordinate (column 0) and ``dim − 1`` k-slab coordinates.

    Args:
        key: PRNG key.
        num_samples: static N >= 2 (exactly N // 2 positives).
        dim: static D >= 1 (the paper's notebooks use 50).
        num_slabs: static k in {3, 5, 7} (LMS-5 and LMS-7 in the paper).
        margin: γ for every coordinate (``lin_margin = slab_margin = 0.1`` in the paper).
        width: B (1 in the paper).
        slab_p: the slab probability of `slab_coordinate` (default ¾ / ⅞).
        rotate: static; multiply by a random orthonormal W (the paper's
            ``random_transform``), so no coordinate is axis-aligned. W is drawn from
            ``key``: draw one dataset and split it into train and test, or draw with
            ``rotate=False`` and apply one fixed W yourself (as the launch experiment does).

    Returns:
        `SimplicityData`.

    Examples:
        >>> import jax
        >>> from bvjax.data import lms_data
        >>> d = lms_data(jax.random.key(0), num_samples=6, dim=3)
        >>> d.x.shape, int(d.y.sum())
        ((6, 3), 3)

    References:
        Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv
        2006.07710), §3 (LMS-5, LMS-7). The official generator puts unused coordinates at
        U[0, B] noise; here every coordinate carries signal, as in LMS-k proper.
    """
    _checks.one_of("num_slabs", num_slabs, (3, 5, 7))
    return _dataset(key, num_samples, dim, "linear", num_slabs, margin, width,
                    slab_p if num_slabs == 5 else None, slab_p if num_slabs == 7 else None, rotate)


def ms57_data(key: jax.Array, *, num_samples: int, dim: int, margin: float = 0.1, width: float = 1.0,
              p5: float = 0.75, p7: float = 0.875, rotate: bool = False) -> SimplicityData:
    r"""MS-(5,7): one 5-slab coordinate (column 0) and ``dim − 1`` 7-slab coordinates.

    The 5-slab coordinate is the *simpler* one; Shah et al. show networks rely on it alone.

    Args:
        key: PRNG key.
        num_samples: static N >= 2.
        dim: static D >= 1.
        margin: γ.
        width: B.
        p5: probability of the centre slab for a negative on the 5-slab coordinate.
        p7: probability of the inner pair for a positive on the 7-slab coordinates.
        rotate: static; random orthonormal rotation as in `lms_data`.

    Returns:
        `SimplicityData`.

    Examples:
        >>> import jax
        >>> from bvjax.data import ms57_data
        >>> ms57_data(jax.random.key(0), num_samples=4, dim=2).x.shape
        (4, 2)

    References:
        Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv 2006.07710), §3.
    """
    return _dataset(key, num_samples, dim, 5, 7, margin, width, p5, p7, rotate)


def randomize_coordinates(key: jax.Array, x: jax.Array, coords: jax.Array, *,
                          rotation: jax.Array | None = None) -> jax.Array:
    r"""Shuffle chosen coordinates across samples: Shah et al.'s S-randomised probe.

    In the axis-aligned basis (``x @ rotation.T`` when the data were rotated), the
    coordinates in S (``coords``) are permuted across the N samples by **one shared
    permutation**, which destroys their relation to the label while keeping their joint
    marginal; the rest are untouched; the result is rotated back.

    Args:
        key: PRNG key.
        x: [N, D] float features.
        coords: [D] bool, the set S.
        rotation: optional [D, D] float orthonormal W (`SimplicityData.rotation`).

    Returns:
        [N, D] float, same dtype as ``x``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import randomize_coordinates
        >>> x = jnp.arange(8.0).reshape(4, 2)
        >>> out = randomize_coordinates(jax.random.key(0), x, jnp.array([False, True]))
        >>> out[:, 0].tolist(), sorted(out[:, 1].tolist())
        ([0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0])

    References:
        Shah et al, The Pitfalls of Simplicity Bias in Neural Networks, 2020 (arXiv
        2006.07710), §4 (S-randomised and S^c-randomised AUC).
    """
    shape = _checks.dims(x=(x, "[N, D]", "float"), coords=(coords, "[D]", "bool"),
                         rotation=(rotation, "[D, D]", "float"))
    z = x if rotation is None else x @ rotation.T
    perm = jax.random.permutation(key, shape["N"])
    z = jnp.where(coords[None, :], z[perm], z)
    return z if rotation is None else (z @ rotation).astype(x.dtype)
