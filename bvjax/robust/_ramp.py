"""RAMP (Jiang and Singh, NeurIPS 2024): logit pairing, the max-loss example, the GP merge, union accuracy.

RAMP trains against the union of ℓ∞, ℓ2 and ℓ1 threat models by focusing on the key
trade-off pair (source ℓ∞ ``q``, target ℓ1 ``r``): the cross-entropy at whichever of the
two adversarial examples has the larger loss, plus a logit-pairing term that pulls the
target's predictions towards the source's where the source is still classified
correctly; once per epoch, the natural-training and adversarial-training updates are
merged per layer (gradient projection, GP).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

PAIRING_KINDS = ("kl", "mse", "cosine")


def _check_logits(**named):
    _checks.dims(kind="float", **{k: (v, "[B, V]") for k, v in named.items()})


def _check_labels(labels, logits):
    _checks.dims(logits=(logits, "[B, V]"), labels=(labels, "[B]", "int"))


def logit_pairing_loss(logits_src: jax.Array, logits_tgt: jax.Array, labels: jax.Array, *,
                       kind: str = "kl") -> jax.Array:
    r"""RAMP's per-example logit-pairing term, zero outside the set C of correctly classified source examples.

    .. math::  \ell_i = \mathbb 1[\arg\max_c f(x^q_i)_c = y_i]\;
               \mathrm{KL}\big(\mathrm{softmax} f(x^q_i)\,\|\,\mathrm{softmax} f(x^r_i)\big)

    (``kind="kl"``); ``"mse"`` uses :math:`\|f(x^q_i) - f(x^r_i)\|^2 / V` and ``"cosine"``
    uses :math:`1 - \cos(f(x^q_i), f(x^r_i))` (a zero logit vector counts as cosine 0).
    RAMP averages over C: ``sum(loss) / max(|C|, 1)`` (see `ramp_loss`); an empty C gives 0.
    Gradients flow into both logits, as the formula is written.

    Args:
        logits_src: [B, V] float, logits at the source (ℓ∞) adversarial examples.
        logits_tgt: [B, V] float, logits at the target (ℓ1) adversarial examples.
        labels: [B] int, the true classes.
        kind: ``"kl"`` (RAMP's default), ``"mse"`` or ``"cosine"``.

    Returns:
        [B] float, the pairing loss per example (0 outside C).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import logit_pairing_loss
        >>> src = jnp.array([[2.0, 0.0], [0.0, 2.0]])
        >>> tgt = jnp.array([[0.0, 0.0], [0.0, 0.0]])
        >>> logit_pairing_loss(src, tgt, jnp.array([0, 0])).round(4)   # example 1 is not in C
        Array([0.3278, 0.    ], dtype=float32)

    References:
        Jiang and Singh, RAMP: Boosting Adversarial Robustness Against Multiple l_p
        Perturbations for Universal Robustness, NeurIPS 2024 (arXiv 2402.06827), the
        logit-pairing loss; the official code (uiuc-focal-lab/RAMP) also offers MSE and
        cosine variants.
    """
    _check_logits(logits_src=logits_src, logits_tgt=logits_tgt)
    _check_labels(labels, logits_src)
    _checks.one_of("kind", kind, PAIRING_KINDS)
    dt = compute_dtype(logits_src, logits_tgt)  # the dtype policy: half precision computed in float32
    logits_src = logits_src.astype(dt)
    logits_tgt = logits_tgt.astype(dt)
    in_c = jnp.argmax(logits_src, axis=-1) == labels
    if kind == "kl":
        lp = jax.nn.log_softmax(logits_src, axis=-1)
        lq = jax.nn.log_softmax(logits_tgt, axis=-1)
        per = jnp.sum(jnp.exp(lp) * (lp - lq), axis=-1)
    elif kind == "mse":
        per = jnp.mean((logits_src - logits_tgt) ** 2, axis=-1)
    else:
        num = jnp.sum(logits_src * logits_tgt, axis=-1)
        n1 = jnp.sum(logits_src**2, axis=-1)
        n2 = jnp.sum(logits_tgt**2, axis=-1)
        denom = n1 * n2
        cos = jnp.where(denom > 0, num / jnp.sqrt(jnp.where(denom > 0, denom, 1.0)), 0.0)
        per = 1.0 - cos
    return jnp.where(in_c, per, 0.0)


def ramp_loss(logits_max: jax.Array, labels: jax.Array, logits_src: jax.Array, logits_tgt: jax.Array, *,
              lam: float = 1.5, kind: str = "kl") -> jax.Array:
    r"""RAMP's training loss: cross-entropy at the max-loss examples plus λ times the logit pairing over C.

    .. math::  L = \frac1B\sum_i \mathrm{CE}(f(x^{\max}_i), y_i)
               + \lambda\,\frac{1}{\max(|C|, 1)}\sum_{i \in C} \mathrm{KL}\big(p^q_i \,\|\, p^r_i\big)

    A scalar (RAMP's own reduction: the pairing term is a mean over C, not over the
    batch, so it cannot be a per-example loss); an empty C contributes 0.

    Args:
        logits_max: [B, V] float, logits at `select_max_adv`'s examples.
        labels: [B] int.
        logits_src: [B, V] float, logits at the source (ℓ∞) examples.
        logits_tgt: [B, V] float, logits at the target (ℓ1) examples.
        lam: λ >= 0 (1.5 for robust fine-tuning; 5 for ResNet-18 from scratch).
        kind: the pairing distance, as in `logit_pairing_loss`.

    Returns:
        [] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import ramp_loss
        >>> z = jnp.zeros((2, 2))
        >>> ramp_loss(z, jnp.array([0, 1]), z, z, lam=1.5).round(4)   # log 2; C has one element, KL 0
        Array(0.6931, dtype=float32)

    References:
        Jiang and Singh, RAMP, NeurIPS 2024 (arXiv 2402.06827); defaults from the
        official code (uiuc-focal-lab/RAMP, ``RAMP.py``).
    """
    _check_logits(logits_max=logits_max, logits_src=logits_src, logits_tgt=logits_tgt)
    _check_labels(labels, logits_max)
    _checks.in_range("lam", lam, low=0.0)
    lse = jax.nn.logsumexp(logits_max, axis=-1)
    ce = lse - jnp.take_along_axis(logits_max, labels[:, None], axis=-1)[:, 0]
    pair = logit_pairing_loss(logits_src, logits_tgt, labels, kind=kind)
    size = jnp.sum(jnp.argmax(logits_src, axis=-1) == labels)
    return jnp.mean(ce) + lam * jnp.sum(pair) / jnp.maximum(size, 1).astype(pair.dtype)


def select_max_adv(x_a: jax.Array, x_b: jax.Array, loss_a: jax.Array, loss_b: jax.Array) -> jax.Array:
    r"""Per example, the adversarial input with the larger attack loss (RAMP's "max" strategy).

    .. math::  x^{\max}_i = x^a_i \text{ if } \ell^a_i \ge \ell^b_i \text{ else } x^b_i

    Ties go to ``x_a``.

    Args:
        x_a: [B, ...] float, e.g. the ℓ∞ examples.
        x_b: [B, ...] float (shape of ``x_a``), e.g. the ℓ1 examples.
        loss_a: [B] float, the per-example loss at ``x_a``.
        loss_b: [B] float, the per-example loss at ``x_b``.

    Returns:
        [B, ...] float.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import select_max_adv
        >>> select_max_adv(jnp.zeros((2, 1)), jnp.ones((2, 1)), jnp.array([1.0, 0.0]), jnp.array([0.5, 2.0]))
        Array([[0.],
               [1.]], dtype=float32)

    References:
        Jiang and Singh, RAMP, NeurIPS 2024 (arXiv 2402.06827); Tramer and Boneh,
        Adversarial Training and Robustness for Multiple Perturbations, 2019 (the MAX
        strategy).
    """
    _checks.same_shape(x_a=x_a, x_b=x_b)
    if jnp.ndim(x_a) < 1:
        raise ValueError(f"x_a: expected [B, ...], got shape {tuple(jnp.shape(x_a))}")
    _checks.dims(loss_a=(loss_a, f"[{x_a.shape[0]}]", "float"), loss_b=(loss_b, f"[{x_a.shape[0]}]", "float"))
    dt = compute_dtype(x_a, x_b, loss_a, loss_b)  # the dtype policy: half precision computed in float32
    x_a = x_a.astype(dt)
    x_b = x_b.astype(dt)
    loss_a = loss_a.astype(dt)
    loss_b = loss_b.astype(dt)
    take_a = (loss_a >= loss_b).reshape((-1,) + (1,) * (x_a.ndim - 1))
    return jnp.where(take_a, x_a, x_b)


def gp_merge(theta_old: Any, theta_at: Any, theta_nt: Any, *, beta: float = 0.5) -> Any:
    r"""RAMP's gradient projection (GP): merge the natural-training update into the adversarial one, per layer.

    For every leaf (layer) ℓ, with :math:`\Delta^{AT}_\ell = \theta^{AT}_\ell - \theta^{old}_\ell`,
    :math:`\Delta^{NT}_\ell = \theta^{NT}_\ell - \theta^{old}_\ell` and
    :math:`c_\ell = \cos(\mathrm{vec}\,\Delta^{AT}_\ell, \mathrm{vec}\,\Delta^{NT}_\ell)`:

    .. math::  \theta^{new}_\ell = \theta^{old}_\ell + (1-\beta)\,\Delta^{AT}_\ell
               + \beta\,\max(c_\ell, 0)\,\Delta^{NT}_\ell

    An update that is orthogonal or opposed to the adversarial one is dropped, leaving
    :math:`\theta^{old} + (1-\beta)\Delta^{AT}`. A zero update (norm 0) counts as
    :math:`c = 0`. Integer leaves (step counters, BatchNorm's ``num_batches_tracked``)
    are copied from ``theta_at``, as the official code does for its scalar buffers;
    float buffers such as BatchNorm running statistics are merged like weights.

    Args:
        theta_old: pytree, the parameters at the start of the epoch.
        theta_at: pytree (same structure and shapes), after one epoch of adversarial training.
        theta_nt: pytree (same structure and shapes), after one epoch of natural training
            from ``theta_old`` on a separate copy.
        beta: β in [0, 1] (0.5 in RAMP).

    Returns:
        A pytree like ``theta_old``, the merged parameters (load them into both models).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import gp_merge
        >>> old = {"w": jnp.zeros(2)}
        >>> gp_merge(old, {"w": jnp.array([2.0, 0.0])}, {"w": jnp.array([4.0, 0.0])})["w"]   # aligned: cos 1
        Array([3., 0.], dtype=float32)
        >>> gp_merge(old, {"w": jnp.array([2.0, 0.0])}, {"w": jnp.array([-1.0, 3.0])})["w"]  # opposed: dropped
        Array([1., 0.], dtype=float32)

    References:
        Jiang and Singh, RAMP, NeurIPS 2024 (arXiv 2402.06827), the gradient projection
        connecting natural and adversarial training; details (per-tensor cosine, buffers)
        from the official code (uiuc-focal-lab/RAMP @be4971f).
    """
    _checks.same_structure(theta_old=theta_old, theta_at=theta_at, theta_nt=theta_nt)
    _checks.in_range("beta", beta, low=0.0, high=1.0)

    def merge(old, at, nt):
        old, at, nt = jnp.asarray(old), jnp.asarray(at), jnp.asarray(nt)
        if not jnp.issubdtype(old.dtype, jnp.floating):
            return at
        d_at = (at - old).astype(jnp.promote_types(old.dtype, jnp.float32))
        d_nt = (nt - old).astype(d_at.dtype)
        dot = jnp.sum(d_at * d_nt)
        den = jnp.sqrt(jnp.sum(d_at**2)) * jnp.sqrt(jnp.sum(d_nt**2))
        cos = jnp.where(den > 0, dot / jnp.where(den > 0, den, 1.0), 0.0)
        new = old + (1.0 - beta) * d_at + beta * jnp.maximum(cos, 0.0) * d_nt
        return new.astype(old.dtype)

    return jax.tree.map(merge, theta_old, theta_at, theta_nt)


def union_accuracy(correct: jax.Array) -> jax.Array:
    r"""Union (all-threat-model) robust accuracy: the fraction of examples correct under every attack.

    .. math::  \mathrm{acc}_{\cup} = \frac1B \sum_i \prod_n \mathbb 1[\text{correct}_{n,i}]

    Args:
        correct: [N, B] bool (or 0/1 numbers), whether example ``i`` is classified
            correctly under threat model ``n`` (e.g. ℓ∞, ℓ2, ℓ1).

    Returns:
        [] float32 in [0, 1].

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.robust import union_accuracy
        >>> union_accuracy(jnp.array([[True, True, False], [True, False, False]]))
        Array(0.33333334, dtype=float32)

    References:
        Jiang and Singh, RAMP, NeurIPS 2024 (arXiv 2402.06827); Tramer and Boneh,
        Adversarial Training and Robustness for Multiple Perturbations, NeurIPS 2019.
    """
    _checks.dims(correct=(correct, "[N, B]"))
    return jnp.mean(jnp.all(jnp.asarray(correct) != 0, axis=0).astype(jnp.float32))
