"""Contract-test cases for bvjax.robust, bvjax.multimodal and bvjax.continual (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax.continual import HDRBox
from tests.api_cases import Case

B, D, V = 4, 6, 3


def _x(b=B):
    return jnp.linspace(0.1, 0.9, b * D).reshape(b, D)


def _y(b=B):
    return jnp.arange(b, dtype=jnp.int32) % V


_W = jnp.cos(jnp.arange(D * V, dtype=jnp.float32)).reshape(D, V)


def _xent(x, y):
    logits = x @ _W
    return jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0]


def _logits(b=B, shift=0.0):
    return jnp.sin(jnp.arange(b * V, dtype=jnp.float32) + shift).reshape(b, V)


_ATTACK_STATIC = ("loss_fn", "steps", "random_start", "clip_min", "clip_max")


def _attack_case(eps):
    return Case(
        good=lambda: ((_xent, _x(), _y(), jax.random.key(0)), {"eps": eps, "steps": 3}),
        bad=lambda: ((_xent, _x(), _y(B + 1), jax.random.key(0)), {"eps": eps, "steps": 3}),
        bad_arg="y",
        static=_ATTACK_STATIC,
    )


def _feats(b=B, d=D, shift=0.0):
    return jnp.cos(jnp.arange(b * d, dtype=jnp.float32) * 0.7 + shift).reshape(b, d)


CASES = {
    "bvjax.robust.project_l1_ball": Case(
        good=lambda: ((_x() - 0.5,), {"radius": 0.5, "lower": -_x(), "upper": 1.0 - _x()}),
        bad=lambda: ((_x() - 0.5,), {"radius": 0.5, "upper": jnp.ones((B, D + 1))}),
        bad_arg="upper",
    ),
    "bvjax.robust.pgd_linf": _attack_case(0.1),
    "bvjax.robust.pgd_l2": _attack_case(0.5),
    "bvjax.robust.pgd_l1": Case(
        good=lambda: ((_xent, _x(), _y(), jax.random.key(0)), {"eps": 1.0, "steps": 3, "sparsity": 0.2}),
        bad=lambda: ((_xent, _x(), _y(B + 1), jax.random.key(0)), {"eps": 1.0, "steps": 3}),
        bad_arg="y",
        static=(*_ATTACK_STATIC, "sparsity"),
    ),
    "bvjax.robust.logit_pairing_loss": Case(
        good=lambda: ((_logits(), _logits(shift=1.0), _y()), {"kind": "kl"}),
        bad=lambda: ((_logits(), _logits(B + 1), _y()), {}),
        bad_arg="logits_tgt",
        static=("kind",),
    ),
    "bvjax.robust.ramp_loss": Case(
        good=lambda: ((_logits(shift=2.0), _y(), _logits(), _logits(shift=1.0)), {"lam": 1.5}),
        bad=lambda: ((_logits(shift=2.0), _y(B + 1), _logits(), _logits(shift=1.0)), {"lam": 1.5}),
        bad_arg="labels",
        static=("kind",),
    ),
    "bvjax.robust.select_max_adv": Case(
        good=lambda: ((_x(), 1.0 - _x(), jnp.arange(B, dtype=jnp.float32), jnp.ones(B)), {}),
        bad=lambda: ((_x(), 1.0 - _x(), jnp.arange(B, dtype=jnp.float32), jnp.ones(B + 1)), {}),
        bad_arg="loss_b",
    ),
    "bvjax.robust.gp_merge": Case(
        good=lambda: (({"w": jnp.zeros(3)}, {"w": jnp.ones(3)}, {"w": jnp.arange(3.0)}), {"beta": 0.5}),
        bad=lambda: (({"w": jnp.zeros(3)}, {"w": jnp.ones(3)}, {"w": jnp.arange(4.0)}), {"beta": 0.5}),
        bad_arg="theta_nt",
    ),
    "bvjax.robust.union_accuracy": Case(
        good=lambda: ((jnp.array([[True, False, True], [True, True, False]]),), {}),
        bad=lambda: ((jnp.array([True, False]),), {}),
        bad_arg="correct",
    ),
    "bvjax.multimodal.shared_head_logits": Case(
        good=lambda: ((_feats(d=2), _feats(d=3), _feats(b=5, d=V), jnp.zeros(V)), {}),
        bad=lambda: ((_feats(d=2), _feats(d=3), _feats(b=6, d=V), jnp.zeros(V)), {}),
        bad_arg="kernel",
    ),
    "bvjax.multimodal.prediction_entropy": Case(
        good=lambda: ((_logits(),), {}),
        bad=lambda: ((jnp.zeros(V),), {}),
        bad_arg="logits",
    ),
    "bvjax.multimodal.arl_coefficients": Case(
        good=lambda: ((_logits(), _logits(shift=1.0)), {"temperature": 4.0, "mode": "paper"}),
        bad=lambda: ((_logits(), _logits(B + 1)), {}),
        bad_arg="logits_v",
        static=("mode",),
    ),
    "bvjax.multimodal.arl_gradient_scale": Case(
        good=lambda: ((_feats(), jnp.array(0.3)), {}),
        bad=lambda: ((_feats(), jnp.ones(2)), {}),
        bad_arg="coefficient",
    ),
    "bvjax.multimodal.arl_loss": Case(
        good=lambda: ((_logits(), _logits(shift=1.0), _logits(shift=2.0), _y()), {"gamma": 4.0}),
        bad=lambda: ((_logits(), _logits(shift=1.0), _logits(B + 1), _y()), {}),
        bad_arg="logits_v",
    ),
    "bvjax.multimodal.mix_prompts": Case(
        good=lambda: ((_feats(), _feats(shift=1.0)), {"omega": 0.5}),
        bad=lambda: ((_feats(), _feats(d=D + 1)), {"omega": 0.5}),
        bad_arg="parallel",
    ),
    "bvjax.multimodal.hard_negative_classes": Case(
        good=lambda: ((_feats(b=2), _feats(b=8, shift=0.3), jnp.array([0, 5]), jax.random.key(0)),
                      {"k": 4, "min_negatives": 2}),
        bad=lambda: ((_feats(b=2), _feats(b=8, shift=0.3), jnp.array([0, 5, 1]), jax.random.key(0)), {"k": 4}),
        bad_arg="labels",
        static=("k", "min_negatives"),
    ),
    "bvjax.multimodal.dual_prompt_contrastive_loss": Case(
        good=lambda: ((_feats(), _feats(shift=1.0)), {"logit_scale": 100.0, "mask": jnp.array([1, 1, 0, 1], bool)}),
        bad=lambda: ((_feats(), _feats(b=B + 1)), {}),
        bad_arg="text_features",
    ),
    "bvjax.continual.diag_gaussian_kl": Case(
        good=lambda: ((_feats(), jnp.ones((B, D)), jnp.zeros(D), jnp.full(D, 2.0)), {}),
        bad=lambda: ((_feats(), jnp.ones((B, D + 1)), jnp.zeros(D), jnp.full(D, 2.0)), {}),
        bad_arg="sigma_q",
    ),
    "bvjax.continual.fgcs_distance": Case(
        good=lambda: ((_feats(), jnp.ones((B, D)), _feats(shift=1.0), jnp.full((B, D), 2.0)), {}),
        bad=lambda: ((_feats(), jnp.ones((B, D)), _feats(d=D + 1), jnp.full((B, D), 2.0)), {}),
        bad_arg="mean2",
    ),
    "bvjax.continual.fgcs_match": Case(
        good=lambda: ((_feats(b=1)[0], jnp.ones(D), _feats(), jnp.ones((B, D))), {"threshold": 0.01}),
        bad=lambda: ((_feats(b=1)[0], jnp.ones(D), _feats(), jnp.ones((B + 1, D))), {}),
        bad_arg="sigmas",
    ),
    "bvjax.continual.preference_weights": Case(
        good=lambda: ((jnp.array([0.3, 0.7]), jnp.array([0, 0, 1])), {"num_tasks": 2}),
        bad=lambda: ((jnp.array([0.3, 0.7, 0.0]), jnp.array([0, 0, 1])), {"num_tasks": 2}),
        bad_arg="preference",
        static=("num_tasks",),
    ),
    "bvjax.continual.combine_gaussians": Case(
        good=lambda: ((_feats(), jnp.ones((B, D)), jnp.full(B, 1.0 / B)), {}),
        bad=lambda: ((_feats(), jnp.ones((B, D)), jnp.full(B + 1, 1.0 / B)), {}),
        bad_arg="weights",
    ),
    "bvjax.continual.gaussian_hdr_box": Case(
        good=lambda: ((_feats(b=1)[0], jnp.ones(D)), {"alpha": 0.05, "mass": "joint"}),
        bad=lambda: ((_feats(b=1)[0], jnp.ones(D + 1)), {"alpha": 0.05}),
        bad_arg="sigma",
        static=("mass",),
    ),
    "bvjax.continual.in_gaussian_hdr": Case(
        good=lambda: ((_feats(), jnp.zeros(D), jnp.ones(D)), {"alpha": 0.05}),
        bad=lambda: ((_feats(d=D + 1), jnp.zeros(D), jnp.ones(D)), {"alpha": 0.05}),
        bad_arg="theta",
    ),
    "bvjax.continual.sample_hdr_box": Case(
        good=lambda: ((HDRBox(jnp.zeros(D), jnp.ones(D)), jax.random.key(0)), {"num_samples": 3, "mode": "diagonal"}),
        bad=lambda: ((HDRBox(jnp.zeros(D), jnp.ones(D + 1)), jax.random.key(0)), {"num_samples": 3}),
        bad_arg="upper",
        static=("num_samples", "mode"),
    ),
}
