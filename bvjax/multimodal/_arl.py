"""ARL (Wei, Luo and Luo, ICCV 2025): asymmetric representation learning for two modalities.

The bias–variance argument: with a fused score :math:`f = d_a f_a + d_v f_v`,
:math:`d_a + d_v = 1`, and independent unimodal predictions of variance
:math:`\\sigma_a^2, \\sigma_v^2`, the variance term :math:`d_a^2\\sigma_a^2 + d_v^2\\sigma_v^2` is
smallest at :math:`d_a/d_v = \\sigma_v^2/\\sigma_a^2`: the model should depend more on the
less variable modality, not equally on both. ARL (1) reads unimodal predictions off the
shared classifier (no extra parameters), (2) turns their variance into per-modality
coefficients that re-weight each encoder's gradient, and (3) adds the unimodal losses
(the "bias" regularisers) to the multimodal loss.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

COEFFICIENT_MODES = ("paper", "released_code")


class UnimodalLogits(NamedTuple):
    """Fused and unimodal logits from one shared linear head; each [B, C]."""

    fused: jax.Array
    audio: jax.Array
    visual: jax.Array


def shared_head_logits(h_a: jax.Array, h_v: jax.Array, kernel: jax.Array, bias: jax.Array) -> UnimodalLogits:
    r"""Fused and unimodal logits of a concat-fusion linear head, with the head's own weights.

    .. math::  z = [h_a; h_v] W + b,\quad z_a = [h_a; 0] W + b,\quad z_v = [0; h_v] W + b

    The unimodal heads share W and b with the fused head, so ARL adds no parameters.

    Args:
        h_a: [B, Da] float, the first ("audio") encoder's features.
        h_v: [B, Dv] float, the second ("visual") encoder's features.
        kernel: [Da + Dv, C] float (flax ``Dense`` layout: inputs by outputs).
        bias: [C] float.

    Returns:
        `UnimodalLogits` ``(fused, audio, visual)``, each [B, C].

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import shared_head_logits
        >>> out = shared_head_logits(jnp.ones((1, 1)), jnp.ones((1, 1)), jnp.array([[1.0], [2.0]]), jnp.zeros(1))
        >>> out.fused, out.audio, out.visual
        (Array([[3.]], dtype=float32), Array([[1.]], dtype=float32), Array([[2.]], dtype=float32))

    References:
        Wei, Luo and Luo, Improving Multimodal Learning via Imbalanced Learning, ICCV 2025
        (arXiv 2507.10203); the shared-head unimodal predictions follow the official code
        (shicaiwei123/ICCV2025-ARL, ``fusion_modules.py``).
    """
    s = _checks.dims(kind="float", h_a=(h_a, "[B, Da]"), h_v=(h_v, "[B, Dv]"), bias=(bias, "[C]"))
    _checks.dims(kind="float", kernel=(kernel, f"[{s['Da'] + s['Dv']}, {s['C']}]"))
    dt = compute_dtype(h_a, h_v, kernel, bias)  # the dtype policy: half precision computed in float32
    h_a = h_a.astype(dt)
    h_v = h_v.astype(dt)
    kernel = kernel.astype(dt)
    bias = bias.astype(dt)
    w_a, w_v = kernel[: s["Da"]], kernel[s["Da"]:]
    z_a = h_a @ w_a + bias
    z_v = h_v @ w_v + bias
    return UnimodalLogits(z_a + z_v - bias, z_a, z_v)


def prediction_entropy(logits: jax.Array) -> jax.Array:
    r"""Per-example entropy of the softmax prediction, ARL's proxy for a modality's prediction variance.

    .. math::  H_i = -\sum_c p_{i,c}\log p_{i,c},\qquad p_i = \mathrm{softmax}(z_i)

    Computed from log-probabilities, so saturated logits give 0, never NaN.

    Args:
        logits: [B, C] float.

    Returns:
        [B] float in :math:`[0, \log C]`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import prediction_entropy
        >>> [round(float(h), 4) for h in prediction_entropy(jnp.array([[0.0, 0.0], [100.0, 0.0]]))]
        [0.6931, 0.0]

    References:
        Wei, Luo and Luo, ICCV 2025 (arXiv 2507.10203); the entropy as the variance
        estimate is the official code's (``main_arl_variance.py``).
    """
    _checks.dims(logits=(logits, "[B, C]", "float"))
    dt = compute_dtype(logits)  # the dtype policy: half precision computed in float32
    logits = logits.astype(dt)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.maximum(-jnp.sum(jnp.exp(logp) * logp, axis=-1), 0.0)


def arl_coefficients(logits_a: jax.Array, logits_v: jax.Array, *, temperature: float = 4.0,
                     clamp_min: float = 0.3, mode: str = "paper") -> jax.Array:
    r"""ARL's per-modality gradient coefficients :math:`(k_a, k_v)` from unimodal variance and dependence.

    With :math:`H_m` the batch-mean `prediction_entropy` of modality m (the variance
    estimate), :math:`\hat H_m = \max(H_m / (H_a + H_v), c)` (``clamp_min`` c), the
    inverse-variance weights :math:`w_m = \hat H_m^{-1} / \sum_n \hat H_n^{-1}` and the
    dependence proxies :math:`D_m = \|\mathrm{mean}_i |z_{m,i}|\,\|_1`, normalised to sum 1:

    .. math::  (k_a, k_v) = \mathrm{softmax}\big(T\,(D_v w_a,\ D_a w_v)\big)

    so :math:`k_a > k_v` exactly when the inverse-variance target ratio :math:`w_a/w_v`
    exceeds the current dependence ratio :math:`D_a/D_v`: the boost goes to the modality
    the model depends on less than the inverse-variance rule asks, pushing the dependence
    ratio towards :math:`\sigma_v^2/\sigma_a^2`. `arl_gradient_scale` applies
    :math:`1 + k_m` to encoder m's gradient.
    Everything is under ``stop_gradient`` (the coefficients are not trained).

    ``mode="paper"`` returns these coefficients (what the paper describes).
    ``mode="released_code"`` returns ``(0.5, 0.5)``: the official script computes and
    prints the coefficients but never writes them into the weights it applies, which
    stay at 0.5, so both encoders get the same ×1.5 gradient after warm-up.

    Zero-entropy batches (both modalities certain) use equal weights; zero logits give
    equal dependence; the result is never NaN.

    Args:
        logits_a: [B, C] float, the audio-only logits (e.g. from `shared_head_logits`).
        logits_v: [B, C] float, the visual-only logits.
        temperature: T > 0 (8 for CREMA-D, 4 for AVE, Kinetics-Sounds, MOSI, UCF101).
        clamp_min: lower clamp c of the normalised entropies, in [0, 0.5].
        mode: ``"paper"`` or ``"released_code"``.

    Returns:
        [2] float, :math:`(k_a, k_v)`, summing to 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import arl_coefficients
        >>> sure = jnp.array([[4.0, 0.0], [0.0, 4.0]])     # low-entropy audio
        >>> unsure = jnp.array([[0.5, 0.0], [0.0, 0.5]])   # high-entropy visual
        >>> [round(float(k), 3) for k in arl_coefficients(sure, unsure, temperature=4.0)]  # boost visual
        [0.361, 0.639]
        >>> arl_coefficients(sure, unsure, mode="released_code")
        Array([0.5, 0.5], dtype=float32)

    References:
        Wei, Luo and Luo, Improving Multimodal Learning via Imbalanced Learning, ICCV 2025
        (arXiv 2507.10203), the inverse-variance dependence ratio; the coefficient
        formula (entropy as variance, logit magnitude as dependence, softmax with
        temperature, clamp 0.3) is read from the official code (shicaiwei123/ICCV2025-ARL
        @358af4f, ``main_arl_variance.py``), since the paper's Eq. 17 was not available
        to us [recon]. Departure from the released code: it never applies these
        coefficients (``mode="released_code"`` reproduces that).
    """
    _checks.dims(kind="float", logits_a=(logits_a, "[B, C]"), logits_v=(logits_v, "[B, C]"))
    _checks.in_range("temperature", temperature, low=0.0, low_inclusive=False)
    _checks.in_range("clamp_min", clamp_min, low=0.0, high=0.5)
    _checks.one_of("mode", mode, COEFFICIENT_MODES)
    dtype = logits_a.dtype
    if mode == "released_code":
        return jnp.full((2,), 0.5, dtype)
    za, zv = jax.lax.stop_gradient(logits_a), jax.lax.stop_gradient(logits_v)
    h = jnp.stack([jnp.mean(prediction_entropy(za)), jnp.mean(prediction_entropy(zv))])
    total = jnp.sum(h)
    h_norm = jnp.where(total > 0, h / jnp.where(total > 0, total, 1.0), 0.5)
    h_norm = jnp.maximum(h_norm, clamp_min)
    inv = 1.0 / jnp.maximum(h_norm, jnp.finfo(dtype).tiny)  # clamp_min = 0 with H = 0: a huge weight, not inf
    w = inv / jnp.sum(inv)
    dep = jnp.stack([jnp.sum(jnp.mean(jnp.abs(za), axis=0)), jnp.sum(jnp.mean(jnp.abs(zv), axis=0))])
    dsum = jnp.sum(dep)
    dep = jnp.where(dsum > 0, dep / jnp.where(dsum > 0, dsum, 1.0), 0.5)
    score = temperature * jnp.stack([dep[1] * w[0], dep[0] * w[1]])
    return jax.nn.softmax(score).astype(dtype)


@jax.custom_vjp
def _scale(x, k):
    return x


def _scale_fwd(x, k):
    return x, k


def _scale_bwd(k, g):
    return (jax.tree.map(lambda t: t * (1.0 + k).astype(t.dtype), g), jnp.zeros_like(k))


_scale.defvjp(_scale_fwd, _scale_bwd)


def arl_gradient_scale(x: jax.Array, coefficient: jax.Array) -> jax.Array:
    r"""Identity in the forward pass; multiplies the incoming gradient by :math:`1 + k` in the backward pass.

    Put it on an encoder's output, ``h_a = arl_gradient_scale(encoder_a(x_a), k[0])``, so
    that encoder's parameters receive :math:`(1 + k_a)` times their gradient while the
    head's gradient and the loss value are unchanged. No gradient flows into ``coefficient``.

    Args:
        x: [...] float, the features.
        coefficient: [] float, :math:`k` (e.g. one entry of `arl_coefficients`).

    Returns:
        [...] float, ``x`` itself.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.multimodal import arl_gradient_scale
        >>> jax.grad(lambda x: jnp.sum(arl_gradient_scale(x, jnp.array(0.25)) ** 2))(jnp.array([1.0, 2.0]))
        Array([2.5, 5. ], dtype=float32)

    References:
        Wei, Luo and Luo, ICCV 2025 (arXiv 2507.10203); the gradient-modulation op after
        each encoder follows the official code (``models/backbone.py``).
    """
    _checks.float_dtype(x=x)
    _checks.dims(coefficient=(coefficient, "[]", "float"))
    return _scale(x, jnp.asarray(coefficient))


def arl_loss(logits: jax.Array, logits_a: jax.Array, logits_v: jax.Array, labels: jax.Array, *,
             gamma: float = 4.0) -> jax.Array:
    r"""ARL's per-example loss: multimodal cross-entropy plus γ times the two unimodal ones.

    .. math::  \ell_i = \mathrm{CE}(z_i, y_i) + \gamma\,\big(\mathrm{CE}(z_{a,i}, y_i)
               + \mathrm{CE}(z_{v,i}, y_i)\big)

    The unimodal terms are the paper's bias regularisers (they reduce each modality's
    prediction bias); the coefficients act on the gradients through `arl_gradient_scale`,
    not on this loss. The caller reduces (the paper averages over the batch).

    Args:
        logits: [B, C] float, fused logits.
        logits_a: [B, C] float, audio-only logits from the shared head.
        logits_v: [B, C] float, visual-only logits from the shared head.
        labels: [B] int.
        gamma: γ >= 0 (4 in the paper; the released scripts use 3–5 and γ = 1 during a
            5-epoch warm-up).

    Returns:
        [B] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.multimodal import arl_loss
        >>> z = jnp.zeros((1, 2))
        >>> arl_loss(z, z, z, jnp.array([1]), gamma=4.0).round(4)   # (1 + 2 * 4) * log 2
        Array([6.2383], dtype=float32)

    References:
        Wei, Luo and Luo, Improving Multimodal Learning via Imbalanced Learning, ICCV 2025
        (arXiv 2507.10203), the total loss; γ from the paper.
    """
    _checks.dims(kind="float", logits=(logits, "[B, C]"), logits_a=(logits_a, "[B, C]"),
                 logits_v=(logits_v, "[B, C]"))
    _checks.dims(logits=(logits, "[B, C]"), labels=(labels, "[B]", "int"))
    _checks.in_range("gamma", gamma, low=0.0)

    dt = compute_dtype(logits, logits_a, logits_v)  # the dtype policy: half precision computed in float32
    logits = logits.astype(dt)
    logits_a = logits_a.astype(dt)
    logits_v = logits_v.astype(dt)
    def ce(z):
        return jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, labels[:, None], axis=-1)[:, 0]

    return ce(logits) + gamma * (ce(logits_a) + ce(logits_v))
