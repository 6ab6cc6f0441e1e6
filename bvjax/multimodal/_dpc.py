"""DPC (Li et al., CVPR 2025): dual prompts with decoupled weighting, and the dynamic hard-negative optimizer.

A frozen, already tuned backbone prompt P is cloned into a parallel prompt P' that is
trained on base classes only; at inference the two are mixed with one weight for base
classes and another for new classes (weighting decoupling), so new-class accuracy can be
kept exactly (ω_n = 0). P' is trained with a symmetric image–text contrastive loss on a
mini-batch extended by hard negative classes chosen with the frozen prompt.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype


def mix_prompts(backbone: jax.Array, parallel: jax.Array, *, omega: float | jax.Array) -> jax.Array:
    r"""DPC's weighting-decoupled prompt: a convex mix of the parallel and the frozen backbone prompt.

    .. math::  P_\omega = \omega\,P' + (1 - \omega)\,P

    Use ω_b for base classes and ω_n for new classes (config defaults 0.5 and 0.2; the
    reported tables keep new-class accuracy unchanged, i.e. ω_n = 0).

    Args:
        backbone: [..., n_ctx, D] float, the frozen prompt P.
        parallel: [..., n_ctx, D] float (same shape), the tuned prompt P'.
        omega: ω in [0, 1], a scalar.

    Returns:
        [..., n_ctx, D] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import mix_prompts
        >>> mix_prompts(jnp.zeros((1, 2)), jnp.ones((1, 2)), omega=0.2)
        Array([[0.2, 0.2]], dtype=float32)

    References:
        Li et al, DPC: Dual-Prompt Collaboration for Tuning Vision-Language Models,
        CVPR 2025; defaults from the official code (JREion/DPC @01e6b59).
    """
    _checks.dims(kind="float", backbone=(backbone, "[..., N, D]"))
    _checks.same_shape(backbone=backbone, parallel=parallel)
    _checks.float_dtype(parallel=parallel)
    _checks.in_range("omega", omega, low=0.0, high=1.0)
    dt = compute_dtype(backbone, parallel)  # the dtype policy: half precision computed in float32
    backbone = backbone.astype(dt)
    parallel = parallel.astype(dt)
    omega = jnp.asarray(omega, backbone.dtype)
    return omega * parallel + (1.0 - omega) * backbone


class HardNegatives(NamedTuple):
    """Per image, the hard-negative classes chosen by DPC's sampler: ``classes`` [B, K-1] int and ``mask``
    [B, K-1] bool (False marks padding)."""

    classes: jax.Array
    mask: jax.Array


def _normalize(x):
    n = jnp.linalg.norm(x, axis=-1, keepdims=True)
    return x / jnp.where(n > 0, n, 1.0)


def hard_negative_classes(image_features: jax.Array, class_text_features: jax.Array, labels: jax.Array,
                          key: jax.Array, *, k: int = 8, logit_scale: float = 100.0,
                          min_negatives: int = 2) -> HardNegatives:
    r"""DPC's dynamic hard-negative sampler: the most confusable classes per image, each class used once per batch.

    For image i (in batch order), with the frozen prompt's class text features,
    :math:`p_i = \mathrm{softmax}(s \cos(\mathrm{img}_i, \mathrm{txt}_c))` over the C
    classes; take the top-``k`` classes, drop the true class, and keep, in rank order,
    those not yet present in the extended batch (the batch's own labels and the
    negatives already chosen for earlier images: the non-repeat rule), at most ``k - 1``.
    If fewer than ``min_negatives`` remain, random classes not yet present are added
    until there are ``min_negatives`` (or none is left). The caller then draws one
    training image per chosen class and builds the extended batch for
    `dual_prompt_contrastive_loss`; every class appears there at most once.

    Args:
        image_features: [B, D] float, image embeddings.
        class_text_features: [C, D] float, text embeddings of every base class under the
            frozen prompt P.
        labels: [B] int in [0, C), the images' classes.
        key: PRNG key for the random fill.
        k: top-k size K (8 in DPC), static; at most ``k - 1`` negatives per image.
        logit_scale: s, CLIP's logit scale (100); it does not change the ranking.
        min_negatives: the fill target (2 in DPC), static, in [0, k - 1].

    Returns:
        `HardNegatives` with ``classes`` [B, k-1] int (padding -1) and ``mask`` [B, k-1] bool.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.multimodal import hard_negative_classes
        >>> txt = jnp.eye(4)
        >>> img = jnp.array([[1.0, 0.9, 0.1, 0.0]])     # class 0, most confusable with class 1
        >>> out = hard_negative_classes(img, txt, jnp.array([0]), jax.random.key(0), k=3, min_negatives=1)
        >>> out.classes, out.mask
        (Array([[1, 2]], dtype=int32), Array([[ True,  True]], dtype=bool))

    References:
        Li et al, DPC: Dual-Prompt Collaboration for Tuning Vision-Language Models,
        CVPR 2025, the Dynamic Hard Negative Optimizer; the sampler's
        details (top-8, non-repeat rule, fill to 2) are from the official code
        (JREion/DPC @01e6b59, ``trainers/sple_coop.py``).
    """
    s = _checks.dims(kind="float", image_features=(image_features, "[B, D]"),
                     class_text_features=(class_text_features, "[C, D]"))
    _checks.dims(image_features=(image_features, "[B, D]"), labels=(labels, "[B]", "int"))
    _checks.positive_int(k=k)
    if k < 2 or k > s["C"]:
        raise ValueError(f"k: expected 2 <= k <= C={s['C']}, got {k!r}")
    if not isinstance(min_negatives, int) or not 0 <= min_negatives <= k - 1:
        raise ValueError(f"min_negatives: expected a static int in [0, k - 1 = {k - 1}], got {min_negatives!r}")
    num_classes, slots = s["C"], k - 1
    sims = logit_scale * _normalize(image_features) @ _normalize(class_text_features).T
    top = jax.lax.top_k(jax.nn.softmax(sims, axis=-1), k)[1]  # [B, k] in rank order
    priority = jax.random.uniform(key, (image_features.shape[0], num_classes))
    present0 = jnp.zeros(num_classes, bool).at[labels].set(True)

    def pick(present, inputs):
        cand, y, prio = inputs
        ok = (cand != y) & ~present[cand]
        rank = jnp.cumsum(ok) - 1
        take = ok & (rank < slots)
        out = jnp.full(slots, -1, jnp.int32)
        out = out.at[jnp.where(take, rank, slots)].set(cand.astype(jnp.int32), mode="drop")
        present = present.at[jnp.where(take, cand, num_classes)].set(True, mode="drop")
        count = jnp.sum(take)

        def fill(j, carry):
            out, present, count = carry
            free = ~present
            choice = jnp.argmax(jnp.where(free, prio, -1.0))
            do = (count < min_negatives) & jnp.any(free)
            out = jnp.where(do, out.at[jnp.minimum(count, slots - 1)].set(choice.astype(jnp.int32)), out)
            present = jnp.where(do, present.at[choice].set(True), present)
            return out, present, count + do.astype(count.dtype)

        out, present, count = jax.lax.fori_loop(0, min_negatives, fill, (out, present, count))
        return present, out

    _, classes = jax.lax.scan(pick, present0, (top, labels, priority))
    return HardNegatives(classes, classes >= 0)


def dual_prompt_contrastive_loss(image_features: jax.Array, text_features: jax.Array, *,
                                 logit_scale: float | jax.Array = 100.0,
                                 mask: jax.Array | None = None) -> jax.Array:
    r"""DHNO's symmetric image–text contrastive loss on the extended batch (per pair).

    .. math::  S = s\,\hat I \hat T^\top,\qquad
               \ell_i = \tfrac12\big(\mathrm{CE}(S_{i,:}, i) + \mathrm{CE}(S_{:,i}, i)\big)

    with :math:`\hat I, \hat T` the L2-normalised features of the B' image–label pairs
    (the text features are the pair labels' under the parallel prompt P'). The mean of
    ``ℓ`` over the valid pairs is DPC's loss. Masked pairs (padding) are removed from
    both softmaxes and get loss 0; zero feature vectors are left unnormalised (no NaN).

    Args:
        image_features: [B', D] float.
        text_features: [B', D] float, the text feature of each pair's class.
        logit_scale: s = exp(CLIP's learned logit scale), about 100.
        mask: optional [B'] bool, valid pairs.

    Returns:
        [B'] float, per-pair loss (0 where masked).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import dual_prompt_contrastive_loss
        >>> [round(float(v), 4) for v in dual_prompt_contrastive_loss(jnp.eye(2), jnp.eye(2), logit_scale=1.0)]
        [0.3133, 0.3133]

    References:
        Li et al, DPC, CVPR 2025; Radford et al, CLIP, 2021 (arXiv
        2103.00020) for the symmetric loss.
    """
    _checks.dims(kind="float", image_features=(image_features, "[B, D]"), text_features=(text_features, "[B, D]"))
    if mask is not None:
        _checks.dims(image_features=(image_features, "[B, D]"), mask=(mask, "[B]", "bool"))
    dt = compute_dtype(image_features, text_features)  # the dtype policy: half precision computed in float32
    image_features = image_features.astype(dt)
    text_features = text_features.astype(dt)
    n = image_features.shape[0]
    valid = jnp.ones(n, bool) if mask is None else mask
    sims = jnp.asarray(logit_scale, image_features.dtype) * _normalize(image_features) @ _normalize(text_features).T
    pair_ok = valid[:, None] & valid[None, :]
    neg = jnp.finfo(sims.dtype).min
    sims = jnp.where(pair_ok, sims, neg)
    diag = jnp.diagonal(sims)
    rows = jax.nn.logsumexp(sims, axis=1) - diag
    cols = jax.nn.logsumexp(sims, axis=0) - diag
    return jnp.where(valid, 0.5 * (rows + cols), 0.0)
