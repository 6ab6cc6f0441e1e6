"""Padding a variable-length batch to one of a few sizes, so a training loop compiles few programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks, _numerics


def bucket_size(length: int, sizes: tuple[int, ...] | None = None) -> int:
    """The padded length `bucket_pad` gives a batch of ``length`` (the rule of its docstring)."""
    if sizes is None:
        return _numerics.next_pow2(length)
    fits = [s for s in sizes if s >= length]
    if not fits:
        raise ValueError(f"sizes: expected a size >= the batch length {length}, got {tuple(sizes)!r}")
    return min(fits)


def bucket_pad(x: jax.Array, *, mask: jax.Array | None = None, sizes: tuple[int, ...] | None = None,
               axis: int = 0) -> tuple[jax.Array, jax.Array]:
    r"""Pads a variable-length batch along ``axis`` to one of a few sizes, and its mask with False.

    A jitted function compiles one program per input shape, and each program keeps its
    own compiled code: a training loop whose batches have varying lengths (rollouts that
    end early, groups dropped by a filter) compiles again for every new length. Padding
    each batch to a *bucket* bounds the number of programs. The rule: with ``n =
    x.shape[axis]``, the padded length is

    .. math::  n' = \min\{s \in \texttt{sizes} : s \ge n\},\qquad
               \text{default } n' = 2^{\lceil \log_2 n \rceil}\ (n' = 1 \text{ for } n \le 1),

    so the default gives at most :math:`\lceil\log_2 n_{\max}\rceil + 1` shapes and never
    more than doubles the work; an explicit ``sizes`` trades fewer shapes against more
    padding. Padded entries are 0 in ``x`` and False in the returned mask.

    Every group function of `bvjax.rl` (`group_advantages`, `rloo_advantages`,
    `gigpo_advantages`, `hgpo_advantages`, `dapo_group_filter`) ignores masked entries
    and gives them 0, so its result on the padded batch, cut back to the first ``n``
    entries, equals its result on the unpadded batch. Pad every argument of one call
    with the same ``sizes`` (ids and returns padded with 0 are harmless, as their mask
    is False; for ``[B, T]`` steps pad ``T`` with ``axis=1`` and ``B`` with ``axis=0``).

    Args:
        x: array with the batch on ``axis``.
        mask: optional bool array of the shape of ``x`` (True: a real entry); default
            all True.
        sizes: optional static tuple of allowed padded lengths (positive ints); default
            the powers of two.
        axis: static int, the batch axis.

    Returns:
        ``(padded, padded_mask)``: ``x`` and the mask (bool, the shape of the padded
        ``x``), padded along ``axis`` with 0 and False.

    Raises:
        ValueError: ``mask`` of another shape, a non-positive size, or a batch longer
            than every size.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.rl import bucket_pad
        >>> x, m = bucket_pad(jnp.array([1.0, 2.0, 3.0]))
        >>> x
        Array([1., 2., 3., 0.], dtype=float32)
        >>> m
        Array([ True,  True,  True, False], dtype=bool)
        >>> bucket_pad(jnp.ones((2, 5)), sizes=(8, 16), axis=1)[0].shape
        (2, 8)

    References:
        Khomenko et al, Accelerating recurrent neural network training using sequence
        bucketing and multi-GPU data parallelization, 2017 (arXiv 1708.05604).
    """
    x = jnp.asarray(x)
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.ndim <= axis < max(x.ndim, 1):
        raise ValueError(f"axis: expected a static int in [-{x.ndim}, {x.ndim}), got {axis!r}")
    if x.ndim == 0:
        raise ValueError(f"x: expected an array with a batch axis, got shape {x.shape}")
    axis %= x.ndim
    if sizes is not None:
        sizes = tuple(sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError(f"sizes: expected a non-empty tuple of positive ints, got {sizes!r}")
    if mask is None:
        mask = jnp.ones(x.shape, bool)
    else:
        _checks.dims(mask=(mask, "[...]", "bool"))
        if tuple(mask.shape) != tuple(x.shape):
            raise ValueError(f"mask: expected bool of the shape of x {tuple(x.shape)}, got {tuple(mask.shape)}")
    n = x.shape[axis]
    pad = bucket_size(n, sizes) - n
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths), jnp.pad(mask.astype(bool), widths)
