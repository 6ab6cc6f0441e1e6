r"""Distiller's other knowledge-distillation objectives: intermediate-representation and logit losses.

Every loss is per example (per position): the caller reduces and masks. Intermediate
losses take student hidden states [..., Ds] and teacher hidden states [..., Dt] of mapped
layers, with an optional learned projection [Ds, Dt] applied to the student when the
widths differ. Logit losses take [..., V] logits.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

LAYER_MAPS = ("skip", "last")

_NORM_EPS = 1e-12


def _project(student, teacher, projection):
    """Checks the states and returns (student @ projection, teacher) in the compute dtype."""
    _checks.float_dtype(student=student, teacher=teacher)
    dt = compute_dtype(student, teacher, projection)  # the dtype policy: half precision computed in float32
    if projection is None:
        _checks.dims(student=(student, "[..., D]"), teacher=(teacher, "[..., D]"))
        _checks.same_shape(student=student, teacher=teacher)
        return student.astype(dt), teacher.astype(dt)
    _checks.dims(kind="float", student=(student, "[..., Ds]"), projection=(projection, "[Ds, Dt]"),
                 teacher=(teacher, "[..., Dt]"))
    if student.shape[:-1] != teacher.shape[:-1]:
        raise ValueError(f"teacher: expected leading shape {tuple(student.shape[:-1])} as in student, "
                         f"got shape {tuple(teacher.shape)} {teacher.dtype}")
    return student.astype(dt) @ projection.astype(dt), teacher.astype(dt)


def _safe_norm(x):
    """||x|| with a finite gradient at 0 (the norm is floored at 1e-12)."""
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    return jnp.sqrt(jnp.maximum(sq, _NORM_EPS**2))


def hidden_mse_loss(student: jax.Array, teacher: jax.Array, projection: jax.Array | None = None) -> jax.Array:
    r"""Mean squared error between (projected) student and teacher hidden states.

    .. math::  \ell = \frac1{D_t}\lVert s W - t\rVert^2

    Args:
        student: [..., Ds] float student hidden states.
        teacher: [..., Dt] float teacher hidden states (same leading shape).
        projection: [Ds, Dt] float learned map W, or None when Ds = Dt (identity).

    Returns:
        [...] float, one loss per position.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import hidden_mse_loss
        >>> hidden_mse_loss(jnp.array([[1.0, 3.0]]), jnp.array([[0.0, 1.0]]))
        Array([2.5], dtype=float32)

    References:
        He et al, Distiller, SustaiNLP 2021 (arXiv 2109.11105), intermediate MSE objective;
        Romero et al, FitNets: Hints for Thin Deep Nets, 2015 (arXiv 1412.6550).
    """
    s, teacher = _project(student, teacher, projection)
    return jnp.mean((s - teacher) ** 2, axis=-1)


def hidden_cosine_loss(student: jax.Array, teacher: jax.Array, projection: jax.Array | None = None) -> jax.Array:
    r"""One minus the cosine similarity between (projected) student and teacher hidden states.

    .. math::  \ell = 1 - \frac{\langle sW, t\rangle}{\lVert sW\rVert\,\lVert t\rVert}

    Args:
        student: [..., Ds] float student hidden states.
        teacher: [..., Dt] float teacher hidden states.
        projection: [Ds, Dt] float learned map W, or None when Ds = Dt.

    Returns:
        [...] float in [0, 2]. A zero vector has cosine 0 (loss 1), with a finite gradient
        (norms are floored at 1e-12).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import hidden_cosine_loss
        >>> hidden_cosine_loss(jnp.array([[1.0, 0.0], [1.0, 0.0]]), jnp.array([[2.0, 0.0], [0.0, 1.0]]))
        Array([0., 1.], dtype=float32)

    References:
        He et al, Distiller, SustaiNLP 2021 (arXiv 2109.11105), intermediate cosine objective.
    """
    s, teacher = _project(student, teacher, projection)
    cos = jnp.sum(s * teacher, axis=-1) / (_safe_norm(s)[..., 0] * _safe_norm(teacher)[..., 0])
    return 1.0 - cos


def pkd_loss(student: jax.Array, teacher: jax.Array, projection: jax.Array | None = None) -> jax.Array:
    r"""Patient-KD loss: squared distance between the L2-normalised student and teacher states.

    .. math::  \ell = \Big\lVert \frac{sW}{\lVert sW\rVert} - \frac{t}{\lVert t\rVert}\Big\rVert_2^2
               = 2 - 2\cos(sW, t)

    Args:
        student: [..., Ds] float student hidden states (PKD uses the [CLS] state of each mapped layer).
        teacher: [..., Dt] float teacher hidden states.
        projection: [Ds, Dt] float learned map W, or None when Ds = Dt.

    Returns:
        [...] float in [0, 4]. A zero vector normalises to 0 (norms floored at 1e-12).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import pkd_loss
        >>> pkd_loss(jnp.array([[3.0, 0.0]]), jnp.array([[0.0, 5.0]]))
        Array([2.], dtype=float32)

    References:
        Sun et al, Patient Knowledge Distillation for BERT Model Compression, 2019
        (arXiv 1908.09355), eq. (4); He et al, Distiller (arXiv 2109.11105).
    """
    s, teacher = _project(student, teacher, projection)
    return jnp.sum((s / _safe_norm(s) - teacher / _safe_norm(teacher)) ** 2, axis=-1)


def _tempered_kl(target_logp, student_logits, temperature):
    """tau^2 KL(target || softmax(student / tau)) with 0 log 0 = 0."""
    log_s = jax.nn.log_softmax(student_logits / temperature, axis=-1)
    p = jnp.exp(target_logp)
    pos = (p > 0) | jnp.isnan(p)  # 0 log 0 = 0; a NaN target stays NaN
    terms = jnp.where(pos, p * (jnp.where(pos, target_logp, 0.0) - log_s), 0.0)
    return temperature**2 * jnp.sum(terms, axis=-1)


def kd_kl_loss(student_logits: jax.Array, teacher_logits: jax.Array, *, temperature: float = 1.0) -> jax.Array:
    r"""Hinton's soft-target loss: the temperature-scaled KL from teacher to student.

    .. math::  \ell = \tau^2\, \mathrm{KL}\big(\mathrm{softmax}(z_t/\tau)\,\Vert\,\mathrm{softmax}(z_s/\tau)\big)

    The :math:`\tau^2` keeps gradient magnitudes comparable across temperatures. It differs
    from the soft cross-entropy only by the teacher's entropy (no gradient to the student).

    Args:
        student_logits: [..., V] float.
        teacher_logits: [..., V] float (same shape); ``-inf`` entries are classes the
            teacher rules out (they contribute 0).
        temperature: τ > 0.

    Returns:
        [...] float >= 0, one loss per example.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import kd_kl_loss
        >>> kd_kl_loss(jnp.zeros((1, 3)), jnp.zeros((1, 3)), temperature=2.0)
        Array([0.], dtype=float32)

    References:
        Hinton et al, Distilling the Knowledge in a Neural Network, 2015 (arXiv 1503.02531);
        He et al, Distiller (arXiv 2109.11105), logit objective "soft CE".
    """
    _checks.dims(kind="float", student_logits=(student_logits, "[..., V]"), teacher_logits=(teacher_logits, "[..., V]"))
    _checks.same_shape(student_logits=student_logits, teacher_logits=teacher_logits)
    _checks.in_range("temperature", temperature, low=0.0, low_inclusive=False)
    dt = compute_dtype(student_logits, teacher_logits)  # the dtype policy: half precision computed in float32
    student_logits = student_logits.astype(dt)
    teacher_logits = teacher_logits.astype(dt)
    target = jax.nn.log_softmax(teacher_logits / temperature, axis=-1)
    return _tempered_kl(target, student_logits, temperature)


def logit_mse_loss(student_logits: jax.Array, teacher_logits: jax.Array) -> jax.Array:
    r"""Mean squared error between student and teacher logits (Distiller's "MSE" logit objective).

    .. math::  \ell = \frac1V \lVert z_s - z_t\rVert^2

    Args:
        student_logits: [..., V] float.
        teacher_logits: [..., V] float (same shape).

    Returns:
        [...] float, one loss per example.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.distill import logit_mse_loss
        >>> logit_mse_loss(jnp.array([[1.0, 2.0]]), jnp.array([[1.0, 0.0]]))
        Array([2.], dtype=float32)

    References:
        Ba and Caruana, Do Deep Nets Really Need to be Deep?, 2014 (arXiv 1312.6184);
        He et al, Distiller (arXiv 2109.11105).
    """
    _checks.dims(kind="float", student_logits=(student_logits, "[..., V]"), teacher_logits=(teacher_logits, "[..., V]"))
    _checks.same_shape(student_logits=student_logits, teacher_logits=teacher_logits)
    dt = compute_dtype(student_logits, teacher_logits)  # the dtype policy: half precision computed in float32
    student_logits = student_logits.astype(dt)
    teacher_logits = teacher_logits.astype(dt)
    return jnp.mean((student_logits - teacher_logits) ** 2, axis=-1)


def layer_map(num_student: int, num_teacher: int, *, mode: str = "skip") -> jax.Array:
    r"""Which teacher layer each student layer distils from (Distiller's layer-mapping choices).

    .. math::
        \text{skip: } m(i) = \lceil (i+1) M / N \rceil - 1,\qquad
        \text{last: } m(i) = M - N + i,\qquad i = 0, \dots, N-1

    for N student and M >= N teacher layers (0-based indices): ``"skip"`` spreads the
    student over the teacher (every ⌈M/N⌉-th layer when N divides M, PKD-skip), ``"last"``
    takes the top N teacher layers (PKD-last). Both end at the teacher's last layer.

    Args:
        num_student: static N >= 1.
        num_teacher: static M >= N.
        mode: ``"skip"`` or ``"last"``.

    Returns:
        [N] int32 teacher layer indices, increasing.

    Examples:
        >>> from bvjax.distill import layer_map
        >>> layer_map(3, 12)
        Array([ 3,  7, 11], dtype=int32)
        >>> layer_map(3, 12, mode="last")
        Array([ 9, 10, 11], dtype=int32)

    References:
        He et al, Distiller, SustaiNLP 2021 (arXiv 2109.11105), layer mapping (skip, last;
        EMD many-to-many is not included); Sun et al, Patient Knowledge Distillation for
        BERT Model Compression, 2019 (arXiv 1908.09355).
    """
    _checks.positive_int(num_student=num_student, num_teacher=num_teacher)
    _checks.one_of("mode", mode, LAYER_MAPS)
    if num_teacher < num_student:
        raise ValueError(f"num_teacher: expected a static Python int >= num_student={num_student}, got {num_teacher!r}")
    if mode == "skip":
        idx = [math.ceil((i + 1) * num_teacher / num_student) - 1 for i in range(num_student)]
    else:
        idx = [num_teacher - num_student + i for i in range(num_student)]
    return jnp.asarray(idx, jnp.int32)
