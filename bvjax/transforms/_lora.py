"""Low-rank adapters (LoRA) as a pure transform of a parameter pytree."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from bvjax import _checks


def _name(path) -> str:
    return jax.tree_util.keystr(path) or "<root>"


def lora_init(key: jax.Array, params: Any, *, rank: int) -> Any:
    r"""Fresh low-rank adapters for every matrix (2-D leaf) of a parameter pytree.

    For a leaf :math:`W \in \mathbb R^{n \times m}` the adapter is
    :math:`A \in \mathbb R^{n \times r}`, :math:`A_{ij} \sim \mathcal N(0, 1/n)`, and
    :math:`B = 0 \in \mathbb R^{r \times m}`, so the adapted model starts equal to the base
    model (see `lora_merge`). Leaves that are not matrices (biases, scalars) get ``None``
    and stay frozen.

    Args:
        key: a PRNG key.
        params: a pytree of float arrays (e.g. flax ``variables``); its matrices are adapted.
        rank: static int r >= 1, the adapters' rank (at most ``min(n, m)`` is useful).

    Returns:
        A pytree with the structure of ``params`` whose leaves are
        ``{"a": [n, r], "b": [r, m]}`` for each matrix and ``None`` elsewhere.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.transforms import lora_init
        >>> adapters = lora_init(jax.random.key(0), {"w": jnp.ones((4, 3)), "b": jnp.ones(3)}, rank=2)
        >>> adapters["w"]["a"].shape, adapters["w"]["b"].shape, adapters["b"]
        ((4, 2), (2, 3), None)

    References:
        Hu et al, LoRA: Low-Rank Adaptation of Large Language Models, 2021 (arXiv 2106.09685).

    Departures: the paper adapts the attention projections only and initialises A with a
    Gaussian of unspecified scale; here every matrix is adapted and the scale is
    :math:`1/\sqrt n`. Select leaves by building ``params`` from the ones you want adapted.
    """
    _checks.positive_int(rank=rank)
    _checks.dims(key=(key, "[]"))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    adapters = []
    for k, (path, leaf) in zip(keys, leaves):
        if not hasattr(leaf, "ndim"):
            raise TypeError(f"params: expected a pytree of arrays, got {type(leaf).__name__} at {_name(path)}")
        if leaf.ndim != 2:
            adapters.append(None)
            continue
        n, m = leaf.shape
        a = jax.random.normal(k, (n, rank), leaf.dtype) / jnp.sqrt(jnp.asarray(n, leaf.dtype))
        adapters.append({"a": a, "b": jnp.zeros((rank, m), leaf.dtype)})
    return jax.tree_util.tree_unflatten(treedef, adapters)


def lora_merge(params: Any, adapters: Any, *, scale: float | jax.Array = 2.0) -> Any:
    r"""The adapted parameters: each adapted matrix plus its scaled low-rank update.

    .. math::  W' = W + s\,A B, \qquad s = \alpha / r

    Differentiate with respect to ``adapters`` (``params`` frozen) to fine-tune with LoRA;
    the base model is ``params`` itself (the adapters "disabled"), which is what DPO uses
    as its reference in PEFT runs.

    Args:
        params: a pytree of float arrays; matrices ``W`` are [n, m].
        adapters: a pytree with the structure of ``params`` (as `lora_init` returns): ``None``
            or ``{"a": [n, r], "b": [r, m]}`` at each leaf.
        scale: :math:`s = \alpha / r`; 2 matches the common r = 16, alpha = 32.

    Returns:
        A pytree like ``params``: ``W + s A B`` where adapted, the leaf itself elsewhere.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.transforms import lora_merge
        >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.ones(2)}
        >>> adapters = {"w": {"a": jnp.ones((2, 1)), "b": jnp.array([[1.0, 2.0]])}, "b": None}
        >>> lora_merge(params, adapters, scale=0.5)["w"]
        Array([[0.5, 1. ],
               [0.5, 1. ]], dtype=float32)

    References:
        Hu et al, LoRA: Low-Rank Adaptation of Large Language Models, 2021 (arXiv 2106.09685).
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    try:
        ads = treedef.flatten_up_to(adapters)
    except (ValueError, TypeError) as err:
        raise ValueError(f"adapters: expected the structure of params ({treedef}), got {err}") from None
    merged = []
    for (path, w), ad in zip(flat, ads):
        if ad is None:
            merged.append(w)
            continue
        a, b = ad["a"], ad["b"]
        if getattr(w, "ndim", 0) != 2 or a.ndim != 2 or b.ndim != 2 or a.shape[0] != w.shape[0] \
                or b.shape[1] != w.shape[1] or a.shape[1] != b.shape[0]:
            raise ValueError(f"adapters: expected a [n, r] and b [r, m] for the [n, m] leaf {_name(path)} "
                             f"of shape {tuple(w.shape)}, got a {tuple(a.shape)} and b {tuple(b.shape)}")
        merged.append(w + scale * (a @ b))
    return jax.tree_util.tree_unflatten(treedef, merged)
