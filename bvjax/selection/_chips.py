r"""CHIPS: curvature-aware hybrid influence in the projection subspace, for selecting contrastive pairs.

CHIPS scores each candidate image–text pair z of a pool for continued pre-training of a
CLIP-style model towards a target domain:

.. math::  I_{\mathrm{CHIPS}}(z) = \hat A_\alpha(z)\, w_L(z)\, w_R(z)

* :math:`\hat A_\alpha(z) = \tilde g(z)^\top \tilde M^{-1} \tilde u`: a Newton-style alignment of
  the candidate's InfoNCE gradient g with the target-set gradient u, both taken only in
  the endpoint subspace (projection heads and temperature) and sketched with a
  Johnson–Lindenstrauss matrix R (:math:`\tilde g = Rg`);
* :math:`M = (1-\alpha)\Phi_{pos} + \alpha\Phi_{neg} + \lambda I`, the InfoNCE-aware
  curvature (`infonce_curvature`);
* :math:`w_L` (`learnability_weight`) and :math:`w_R` (`relevance_weight`).

The functions work on gradients the caller computed (``jax.vmap(jax.grad(...))`` over
the endpoint parameters), so they do not depend on a model class.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype

_NORM_EPS = 1e-12


def jl_projection(key: jax.Array, *, sketch_dim: int, num_params: int, dtype=jnp.float32) -> jax.Array:
    r"""A Johnson–Lindenstrauss sketch matrix with i.i.d. N(0, 1/k) entries.

    .. math::  R \in \mathbb R^{k\times P},\quad R_{ab} \sim \mathcal N(0, 1/k),
               \qquad \mathbb E[R^\top R] = I_P

    Args:
        key: a PRNG key (the matrix is a pure function of it).
        sketch_dim: static k >= 1.
        num_params: static P >= 1, the number of endpoint parameters.
        dtype: float dtype of the matrix.

    Returns:
        [k, P] float.

    Examples:
        >>> import jax
        >>> from bvjax.selection import jl_projection
        >>> jl_projection(jax.random.key(0), sketch_dim=4, num_params=10).shape
        (4, 10)

    References:
        Johnson and Lindenstrauss, 1984; Zhuang et al, CHIPS: Curvature-aware Hybrid
        Influence in Projection Subspace, CVPR 2026 (arXiv 2511.18519).
    """
    _checks.positive_int(sketch_dim=sketch_dim, num_params=num_params)
    return jax.random.normal(key, (sketch_dim, num_params), dtype) / jnp.sqrt(jnp.asarray(sketch_dim, dtype))


def infonce_curvature(logit_grads: jax.Array, probs: jax.Array, positives: jax.Array | None = None, *,
                      alpha: float = 0.7, damping: float = 1e-3) -> jax.Array:
    r"""CHIPS's InfoNCE-aware curvature in the (sketched) endpoint subspace.

    For softmax rows r (one per anchor and direction) over candidates c with logits
    :math:`\ell_{rc}`, probabilities :math:`p_{rc}` and positive :math:`c_r`, and
    :math:`g_{rc} = \nabla_\vartheta \ell_{rc}`,

    .. math::
        \Phi_{pos} = \operatorname{mean}_r\, g_{r c_r} g_{r c_r}^\top,\qquad
        \Phi_{neg} = \operatorname{mean}_r \Big[\sum_c p_{rc}\, g_{rc} g_{rc}^\top
                     - \bar g_r \bar g_r^\top\Big],\ \ \bar g_r = \sum_c p_{rc} g_{rc},

        M = (1-\alpha)\,\Phi_{pos} + \alpha\,\Phi_{neg} + \lambda I .

    :math:`\Phi_{neg}` is the softmax covariance of the logit gradients, i.e. the
    Gauss–Newton curvature of the InfoNCE loss; :math:`\Phi_{pos}` the positive-pair
    self-curvature. For CLIP's symmetric loss stack the image→text rows and the
    text→image rows (``positives`` then names each row's positive column).

    Args:
        logit_grads: [R, C, P] float, :math:`g_{rc}` (P endpoint parameters, or k after
            sketching: pass ``logit_grads @ projection.T``).
        probs: [R, C] float, each row a softmax over its candidates.
        positives: [R] int, the positive column of each row (default: the diagonal, R = C).
        alpha: α in [0, 1], the weight of the negative curvature (paper: 0.6–0.8 best).
        damping: λ >= 0.

    Returns:
        [P, P] float, symmetric positive semi-definite (definite when λ > 0).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import infonce_curvature
        >>> g = jnp.eye(2)[:, None, :] * jnp.ones((2, 2, 1))  # row r's logits move with parameter r
        >>> infonce_curvature(g, jnp.full((2, 2), 0.5), alpha=0.0, damping=0.0)
        Array([[0.5, 0. ],
               [0. , 0.5]], dtype=float32)

    References:
        Zhuang et al, CHIPS: Curvature-aware Hybrid Influence in Projection Subspace, CVPR
        2026 (arXiv 2511.18519). The structure of M is the paper's; the exact forms of
        :math:`\Phi_{pos}` and :math:`\Phi_{neg}` are bvjax's reconstruction [derived] (the
        official code was not available).
    """
    sizes = _checks.dims(kind="float", logit_grads=(logit_grads, "[R, C, P]"), probs=(probs, "[R, C]"))
    _checks.dims(probs=(probs, "[R, C]"), positives=(positives, "[R]", "int"))
    _checks.in_range("alpha", alpha, low=0.0, high=1.0)
    _checks.in_range("damping", damping, low=0.0)
    r, c, p = sizes["R"], sizes["C"], sizes["P"]
    if positives is None:
        if r != c:
            raise ValueError(f"positives: expected [R] int when probs is not square, got None with probs "
                             f"shape {tuple(probs.shape)}")
        positives = jnp.arange(r)
    dtype = logit_grads.dtype
    probs = probs.astype(dtype)
    g_pos = jnp.take_along_axis(logit_grads, positives[:, None, None], axis=1)[:, 0]  # [R, P]
    phi_pos = g_pos.T @ g_pos / r
    mean_g = jnp.einsum("rc,rcp->rp", probs, logit_grads)
    phi_neg = (jnp.einsum("rc,rcp,rcq->pq", probs, logit_grads, logit_grads) - mean_g.T @ mean_g) / r
    m = (1.0 - alpha) * phi_pos + alpha * phi_neg
    m = 0.5 * (m + m.T)
    return m + damping * jnp.eye(p, dtype=dtype)


def newton_alignment(sample_grads: jax.Array, curvature: jax.Array, target_grad: jax.Array) -> jax.Array:
    r"""Newton-style alignment of each candidate's gradient with the target gradient.

    .. math::  A(z_n) = g_n^\top M^{-1} u

    computed with one linear solve :math:`M^{-1}u` (never an explicit inverse). It is the
    first-order decrease of the target loss after a Newton step on candidate n.

    Args:
        sample_grads: [N, P] float, per-candidate gradients g (sketched or exact).
        curvature: [P, P] float, symmetric positive definite M (see `infonce_curvature`).
        target_grad: [P] float, the target-set gradient u.

    Returns:
        [N] float alignments. A singular M gives non-finite values: use ``damping > 0``.
        A non-finite entry of ``curvature`` or ``target_grad`` makes every alignment NaN;
        one of ``sample_grads`` makes its own row NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import newton_alignment
        >>> newton_alignment(jnp.array([[1.0, 0.0], [0.0, 1.0]]), 2 * jnp.eye(2), jnp.array([1.0, -1.0]))
        Array([ 0.5, -0.5], dtype=float32)

    References:
        Zhuang et al, CHIPS, CVPR 2026 (arXiv 2511.18519); Koh and Liang, Understanding
        Black-box Predictions via Influence Functions, 2017 (arXiv 1703.04730).
    """
    _checks.dims(kind="float", sample_grads=(sample_grads, "[N, P]"), curvature=(curvature, "[P, P]"),
                 target_grad=(target_grad, "[P]"))
    # A non-finite entry of M or u reaches every alignment; one of g_i only its own row. They are
    # selected out before the solve and the product, so no inf - inf decides the sign of a result.
    dtype = compute_dtype(sample_grads, curvature, target_grad)
    sample_grads, curvature, target_grad = (x.astype(dtype) for x in (sample_grads, curvature, target_grad))
    everywhere = ~(jnp.all(jnp.isfinite(curvature)) & jnp.all(jnp.isfinite(target_grad)))
    row = ~jnp.all(jnp.isfinite(sample_grads), axis=1)
    m = jnp.where(everywhere, jnp.eye(curvature.shape[0], dtype=curvature.dtype), curvature)
    u = jnp.where(jnp.isfinite(target_grad), target_grad, 0).astype(curvature.dtype)
    v = jnp.linalg.solve(m, u)
    out = jnp.where(jnp.isfinite(sample_grads), sample_grads, 0) @ v
    return jnp.where(everywhere | row, jnp.nan, out)


def learnability_weight(similarity: jax.Array, *, logit_scale: float = 1.0) -> jax.Array:
    r"""CHIPS's learnability weight: favour pairs the model does not match yet, and hard ones.

    .. math::
        p^{corr}_i = \tfrac12\big(\mathrm{softmax}_j(sS_{i\cdot})_i + \mathrm{softmax}_j(sS_{\cdot i})_i\big),\quad
        m_i = S_{ii} - \max_{j\ne i}\max(S_{ij}, S_{ji}),

        w_L(i) = (1 - p^{corr}_i)\,\big(1 + \sigma(-m_i)\big),

    with s the logit scale (CLIP's inverse temperature) and S the cosine similarities of
    a batch of pairs (positives on the diagonal).

    Args:
        similarity: [B, B] float, image–text similarities, pair i on the diagonal.
        logit_scale: s > 0 for the match probabilities; the margin is in similarity units.

    Returns:
        [B] float in [0, 2]. A batch of one pair (no negatives) has :math:`p^{corr} = 1`
        and gets weight 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import learnability_weight
        >>> learnability_weight(jnp.zeros((2, 2)))  # p_corr = 1/2, margin 0: 0.5 * 1.5
        Array([0.75, 0.75], dtype=float32)

    References:
        Zhuang et al, CHIPS, CVPR 2026 (arXiv 2511.18519). The formula is from paper notes;
        which scale the margin uses (similarity, not logits) is bvjax's choice [derived].
    """
    sizes = _checks.dims(kind="float", similarity=(similarity, "[B, B]"))
    _checks.in_range("logit_scale", logit_scale, low=0.0, low_inclusive=False)
    b = sizes["B"]
    logits = logit_scale * similarity
    diag = jnp.arange(b)
    p_row = jax.nn.softmax(logits, axis=1)[diag, diag]
    p_col = jax.nn.softmax(logits, axis=0)[diag, diag]
    p_corr = 0.5 * (p_row + p_col)
    off = ~jnp.eye(b, dtype=bool)
    hardest = jnp.max(jnp.where(off, jnp.maximum(similarity, similarity.T), -jnp.inf), axis=1)
    margin = jnp.diagonal(similarity) - hardest
    return (1.0 - p_corr) * (1.0 + jax.nn.sigmoid(-margin))


def _cos(x, mu):
    nx = jnp.sqrt(jnp.maximum(jnp.sum(x * x, -1), _NORM_EPS**2))
    nm = jnp.sqrt(jnp.maximum(jnp.sum(mu * mu), _NORM_EPS**2))
    return (x @ mu) / (nx * nm)


def relevance_weight(image_embeddings: jax.Array, text_embeddings: jax.Array, image_center: jax.Array,
                     text_center: jax.Array, *, beta: float = 0.5) -> jax.Array:
    r"""CHIPS's relevance weight: closeness of a pair to the target domain's mean embeddings.

    .. math::  w_R(z) = \sigma\big((1-\beta)\cos(\hat x, \mu_x) + \beta\cos(\hat y, \mu_y)\big)

    with :math:`\mu_x, \mu_y` the mean image and text embeddings of the target (eval) set.
    Its range is :math:`[\sigma(-1), \sigma(1)] \approx [0.27, 0.73]`: a soft reweighting.

    Args:
        image_embeddings: [N, D] float, candidate image embeddings :math:`\hat x`.
        text_embeddings: [N, D] float, candidate text embeddings :math:`\hat y`.
        image_center: [D] float, :math:`\mu_x`.
        text_center: [D] float, :math:`\mu_y`.
        beta: β in [0, 1] (paper: 0.5).

    Returns:
        [N] float. A zero vector has cosine 0 (weight 0.5 from that side), never NaN.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.selection import relevance_weight
        >>> relevance_weight(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([1.0, 0.0]),
        ...                  jnp.array([1.0, 0.0]))  # sigmoid(0.5 * 1 + 0.5 * 0)
        Array([0.62245935], dtype=float32)

    References:
        Zhuang et al, CHIPS, CVPR 2026 (arXiv 2511.18519).
    """
    _checks.dims(kind="float", image_embeddings=(image_embeddings, "[N, D]"),
                 text_embeddings=(text_embeddings, "[N, E]"), image_center=(image_center, "[D]"),
                 text_center=(text_center, "[E]"))
    _checks.in_range("beta", beta, low=0.0, high=1.0)
    dt = compute_dtype(image_embeddings, text_embeddings, image_center, text_center)  # the dtype policy: half precision computed in float32
    image_embeddings = image_embeddings.astype(dt)
    text_embeddings = text_embeddings.astype(dt)
    image_center = image_center.astype(dt)
    text_center = text_center.astype(dt)
    return jax.nn.sigmoid((1.0 - beta) * _cos(image_embeddings, image_center)
                          + beta * _cos(text_embeddings, text_center))


class ChipsScores(NamedTuple):
    """What `chips_scores` returns.

    Attributes:
        utility: [N] float, :math:`I_{CHIPS} = \\hat A_\\alpha \\cdot w_L \\cdot w_R` (select the top n).
        alignment: [N] float, the Newton alignment :math:`\\hat A_\\alpha` alone.
    """

    utility: jax.Array
    alignment: jax.Array


def chips_scores(sample_grads: jax.Array, target_grad: jax.Array, logit_grads: jax.Array, probs: jax.Array,
                 positives: jax.Array | None = None, *, projection: jax.Array | None = None,
                 learnability: jax.Array | None = None, relevance: jax.Array | None = None,
                 alpha: float = 0.7, damping: float = 1e-3) -> ChipsScores:
    r"""CHIPS utility of every candidate: sketched Newton alignment times learnability and relevance.

    .. math::
        \hat A_\alpha(z) = (R g_z)^\top \tilde M^{-1} (R u),\qquad
        \tilde M = (1-\alpha)\tilde\Phi_{pos} + \alpha\tilde\Phi_{neg} + \lambda I
        \ \text{(from the sketched logit gradients } R g_{rc}\text{)},

        I_{\mathrm{CHIPS}}(z) = \hat A_\alpha(z)\, w_L(z)\, w_R(z).

    Without ``projection`` the alignment is exact in the P-dimensional endpoint space.
    With R ~ `jl_projection`, :math:`R^\top R \to I` as k grows, so the sketched score
    tends to the exact one (JL error O(1/√k)); for k < P it is a randomized
    approximation at O(k²) memory instead of O(P²).

    Args:
        sample_grads: [N, P] float, each candidate's InfoNCE gradient in the endpoint subspace.
        target_grad: [P] float, the target-set loss gradient u.
        logit_grads: [R, C, P] float, logit gradients of a curvature batch (see `infonce_curvature`).
        probs: [R, C] float, that batch's softmax rows.
        positives: [R] int, the positive column per row (default: the diagonal).
        projection: [k, P] float sketch R (see `jl_projection`), or None for the exact score.
        learnability: [N] float :math:`w_L` (`learnability_weight`), or None for 1.
        relevance: [N] float :math:`w_R` (`relevance_weight`), or None for 1.
        alpha: α in [0, 1], curvature mix (paper: 0.6–0.8 best).
        damping: λ > 0 (keeps M invertible).

    Returns:
        A `ChipsScores` with ``utility`` and ``alignment``, each [N] float.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.selection import chips_scores
        >>> g = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> lg = jnp.eye(2)[:, None, :] * jnp.ones((2, 2, 1))
        >>> r = chips_scores(g, jnp.array([1.0, 0.0]), lg, jnp.full((2, 2), 0.5), alpha=0.0, damping=0.5)
        >>> r.utility  # M = 0.5 I + 0.5 I: alignment g_0 = 1, g_2 = -1
        Array([ 1.,  0., -1.], dtype=float32)

    References:
        Zhuang et al, CHIPS: Curvature-aware Hybrid Influence in Projection Subspace, CVPR
        2026 (arXiv 2511.18519). Utility structure, α and β from paper notes; the Φ
        forms and the sketch details are bvjax's reconstruction [derived].
    """
    sizes = _checks.dims(kind="float", sample_grads=(sample_grads, "[N, P]"), target_grad=(target_grad, "[P]"),
                         logit_grads=(logit_grads, "[R, C, P]"), probs=(probs, "[R, C]"),
                         projection=(projection, "[K, P]"), learnability=(learnability, "[N]"),
                         relevance=(relevance, "[N]"))
    _checks.in_range("damping", damping, low=0.0, low_inclusive=False)
    del sizes
    if projection is not None:
        sample_grads = sample_grads @ projection.T
        target_grad = projection @ target_grad
        logit_grads = logit_grads @ projection.T
    m = infonce_curvature(logit_grads, probs, positives, alpha=alpha, damping=damping)
    alignment = newton_alignment(sample_grads, m, target_grad)
    utility = alignment
    if learnability is not None:
        utility = utility * learnability
    if relevance is not None:
        utility = utility * relevance
    return ChipsScores(utility=utility, alignment=alignment)
