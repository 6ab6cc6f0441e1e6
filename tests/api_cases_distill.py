"""Contract-test cases for bvjax.distill and CHIPS in bvjax.selection (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

K, V = 4, 5


def _scores(k=K):
    return jnp.sin(jnp.arange(k * k, dtype=jnp.float32)).reshape(k, k) + 2 * jnp.eye(k)


def _probs(*shape):
    return jax.nn.softmax(jnp.cos(jnp.arange(int(jnp.prod(jnp.array(shape))), dtype=jnp.float32)).reshape(shape))


def _h(*shape):
    return jnp.cos(jnp.arange(int(jnp.prod(jnp.array(shape))), dtype=jnp.float32)).reshape(shape)


CASES = {
    "bvjax.distill.bilinear_critic": Case(
        good=lambda: ((_h(K, 3), _h(K, 2), _h(3, 2)), {}),
        bad=lambda: ((_h(K, 3), _h(K, 2), _h(2, 2)), {}),
        bad_arg="weight",
    ),
    "bvjax.distill.infonce_bound": Case(
        good=lambda: ((_scores(),), {}),
        bad=lambda: ((_h(K, K + 1),), {}),
        bad_arg="scores",
    ),
    "bvjax.distill.nwj_bound": Case(
        good=lambda: ((_scores(),), {}),
        bad=lambda: ((_h(K),), {}),
        bad_arg="scores",
    ),
    "bvjax.distill.mi_alpha_bound": Case(
        good=lambda: ((_scores(), _h(K)), {"alpha": 0.5}),
        bad=lambda: ((_scores(), _h(K + 1)), {"alpha": 0.5}),
        bad_arg="log_baseline",
    ),
    "bvjax.distill.hidden_mse_loss": Case(
        good=lambda: ((_h(2, 3, 4), _h(2, 3, 5), _h(4, 5)), {}),
        bad=lambda: ((_h(2, 3, 4), _h(2, 3, 5), _h(5, 5)), {}),
        bad_arg="projection",
    ),
    "bvjax.distill.hidden_cosine_loss": Case(
        good=lambda: ((_h(2, 4), _h(2, 4)), {}),
        bad=lambda: ((_h(2, 4), _h(2, 5)), {}),
        bad_arg="teacher",
    ),
    "bvjax.distill.pkd_loss": Case(
        good=lambda: ((_h(2, 4), _h(2, 5), _h(4, 5)), {}),
        bad=lambda: ((_h(2, 4), _h(3, 5), _h(4, 5)), {}),
        bad_arg="teacher",
    ),
    "bvjax.distill.kd_kl_loss": Case(
        good=lambda: ((_h(3, V), _h(3, V) * 2), {"temperature": 2.0}),
        bad=lambda: ((_h(3, V), _h(3, V + 1)), {}),
        bad_arg="teacher_logits",
    ),
    "bvjax.distill.logit_mse_loss": Case(
        good=lambda: ((_h(3, V), _h(3, V) * 2), {}),
        bad=lambda: ((_h(3, V), _h(3, V + 1)), {}),
        bad_arg="teacher_logits",
    ),
    "bvjax.distill.layer_map": Case(
        good=lambda: ((4, 12), {"mode": "skip"}),
        bad=lambda: ((4, 3), {}),
        bad_arg="num_teacher",
        static=("num_student", "num_teacher", "mode"),
    ),
    "bvjax.distill.temperature_scale_probs": Case(
        good=lambda: ((_probs(3, V),), {"temperature": 2.0}),
        bad=lambda: ((jnp.float32(0.5),), {"temperature": 2.0}),
        bad_arg="probs",
    ),
    "bvjax.distill.aggregate_teachers": Case(
        good=lambda: ((_probs(2, 3, V), jnp.array([0.3, 0.7])), {"temperature": 2.0}),
        bad=lambda: ((_probs(2, 3, V), jnp.array([0.3, 0.3, 0.4])), {}),
        bad_arg="weights",
    ),
    "bvjax.distill.sample_teacher_targets": Case(
        good=lambda: ((jax.random.key(0), _probs(2, 3, V), jnp.array([0.3, 0.7])), {"temperature": 2.0}),
        bad=lambda: ((jax.random.key(0), _probs(2, 3, V), jnp.array([0.3, 0.3, 0.4])), {}),
        bad_arg="weights",
    ),
    "bvjax.distill.anchored_target": Case(
        good=lambda: ((_probs(3, V), _probs(3, V)[::-1]), {"anchor_weight": 0.3}),
        bad=lambda: ((_probs(3, V), _probs(3, V + 1)), {"anchor_weight": 0.3}),
        bad_arg="anchor_probs",
    ),
    "bvjax.distill.categorical_kl": Case(
        good=lambda: ((_probs(3, V), _probs(3, V)[::-1]), {}),
        bad=lambda: ((_probs(3, V), _probs(3, V + 1)), {}),
        bad_arg="q",
    ),
    "bvjax.distill.soft_target_kl_loss": Case(
        good=lambda: ((_h(3, V), _probs(3, V)), {"temperature": 2.0}),
        bad=lambda: ((_h(3, V), _probs(3, V + 1)), {}),
        bad_arg="target_probs",
    ),
    "bvjax.distill.transition_counts": Case(
        good=lambda: ((jnp.array([[0, 1, 2, 3], [2, 1, 0, 4]]),), {"num_items": 4}),
        bad=lambda: ((jnp.array([0, 1, 2, 3]),), {"num_items": 4}),
        bad_arg="sequences",
        static=("num_items",),
    ),
    "bvjax.distill.ted_loss": Case(
        good=lambda: ((_h(6, 3), jnp.array([0, 2]), jnp.abs(_h(2, 6))), {"empty_rows": "zero"}),
        bad=lambda: ((_h(6, 3), jnp.array([0, 2]), jnp.abs(_h(2, 5))), {}),
        bad_arg="transition_rows",
        static=("empty_rows",),
    ),
    "bvjax.selection.jl_projection": Case(
        good=lambda: ((jax.random.key(0),), {"sketch_dim": 3, "num_params": 5}),
        bad=lambda: ((jax.random.key(0),), {"sketch_dim": 0, "num_params": 5}),
        bad_arg="sketch_dim",
        static=("sketch_dim", "num_params", "dtype"),
    ),
    "bvjax.selection.infonce_curvature": Case(
        good=lambda: ((_h(3, 3, 4), _probs(3, 3)), {"alpha": 0.7, "damping": 0.1}),
        bad=lambda: ((_h(3, 3, 4), _probs(3, 2)), {}),
        bad_arg="probs",
    ),
    "bvjax.selection.newton_alignment": Case(
        good=lambda: ((_h(5, 3), jnp.eye(3) * 2, _h(3)), {}),
        bad=lambda: ((_h(5, 3), jnp.eye(3), _h(4)), {}),
        bad_arg="target_grad",
    ),
    "bvjax.selection.learnability_weight": Case(
        good=lambda: ((_h(4, 4),), {"logit_scale": 10.0}),
        bad=lambda: ((_h(4, 3),), {}),
        bad_arg="similarity",
    ),
    "bvjax.selection.relevance_weight": Case(
        good=lambda: ((_h(4, 3), _h(4, 2), _h(3), _h(2)), {"beta": 0.5}),
        bad=lambda: ((_h(4, 3), _h(4, 2), _h(3), _h(3)), {}),
        bad_arg="text_center",
    ),
    "bvjax.selection.chips_scores": Case(
        good=lambda: ((_h(5, 4), _h(4), _h(3, 3, 4), _probs(3, 3)),
                      {"projection": _h(2, 4), "learnability": _h(5), "relevance": _h(5)}),
        bad=lambda: ((_h(5, 4), _h(4), _h(3, 3, 4), _probs(3, 3)), {"projection": _h(2, 5)}),
        bad_arg="projection",
    ),
}
