"""Contract-test cases for the policy losses, routing and scale_by_snr (see tests/api_cases.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case


def _lp(b=2, t=3):
    return jnp.log(jnp.linspace(0.1, 0.9, b * t).reshape(b, t))


def _adv():
    return jnp.array([1.0, -1.0])


def _mask():
    return jnp.array([[True, True, False], [True, False, False]])


def _route():
    from bvjax.rl import dypo_route
    return dypo_route(jnp.array([[0.0, 0.0], [1.0, 0.0]]))


_CLIP = ("clip_low", "clip_high", "dual_clip", "log_ratio_clip")

CASES = {
    "bvjax.rl.upge_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.1, _adv()), {"stable_mask": jnp.ones((2, 3))}),
        bad=lambda: ((_lp(), _lp(), _adv()), {"stable_mask": jnp.ones((2, 4))}),
        bad_arg="stable_mask",
        static=("shaping_gamma", "log_ratio_clip"),
    ),
    "bvjax.rl.upge_stable_mask": Case(
        good=lambda: ((_lp() - _lp().T.mean(), _adv()), {"dual_clip": 3.0}),
        bad=lambda: ((_lp(), jnp.ones(3)), {}),
        bad_arg="advantages",
        static=("method", "clip_low", "clip_high", "dual_clip"),
    ),
    "bvjax.rl.reinforce_loss": Case(
        good=lambda: ((_lp(), _adv()), {}),
        bad=lambda: ((_lp()[0], _adv()), {}),
        bad_arg="logps",
    ),
    "bvjax.rl.ppo_clip_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.3, _adv()), {"dual_clip": 3.0}),
        bad=lambda: ((_lp(), _lp(2, 4), _adv()), {}),
        bad_arg="old_logps",
        static=_CLIP,
    ),
    "bvjax.rl.grpo_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.3, _adv(), _lp() + 0.1), {}),
        bad=lambda: ((_lp(), _lp(), _adv(), _lp(2, 4)), {}),
        bad_arg="reference_logps",
        static=_CLIP + ("kl_coef", "kl_estimator"),
    ),
    "bvjax.rl.cispo_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.3, _adv()), {}),
        bad=lambda: ((_lp(), _lp(), jnp.ones((2, 4))), {}),
        bad_arg="advantages",
        static=("clip_low", "clip_high", "log_ratio_clip"),
    ),
    "bvjax.rl.gspo_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.3, _adv(), _mask()), {}),
        bad=lambda: ((_lp(), _lp(), _adv(), jnp.ones((2, 4), bool)), {}),
        bad_arg="mask",
        static=("clip_low", "clip_high", "log_ratio_clip"),
    ),
    "bvjax.rl.off_policy_loss": Case(
        good=lambda: ((_lp(), _adv()), {}),
        bad=lambda: ((_lp(), jnp.ones(3)), {}),
        bad_arg="advantages",
        static=("shaping_gamma",),
    ),
    "bvjax.rl.sapo_loss": Case(
        good=lambda: ((_lp(), _lp() - 0.3, _adv()), {"tau_neg": 2.0}),
        bad=lambda: ((_lp(), _lp(2, 4), _adv()), {}),
        bad_arg="old_logps",
        static=("tau_pos", "tau_neg", "log_ratio_clip"),
    ),
    "bvjax.rl.token_entropy": Case(
        good=lambda: ((jnp.stack([_lp(), _lp() + 1.0], axis=-1),), {"mask": _mask()}),
        bad=lambda: ((jnp.stack([_lp(), _lp()], axis=-1),), {"mask": jnp.ones((2, 4), bool)}),
        bad_arg="mask",
    ),
    "bvjax.rl.kl_penalty": Case(
        good=lambda: ((_lp(), _lp() + 0.2), {"straight_through": True}),
        bad=lambda: ((_lp(), _lp(2, 4)), {}),
        bad_arg="reference_logps",
        static=("estimator", "straight_through", "log_ratio_clip", "value_clip"),
    ),
    "bvjax.rl.aggregate_loss": Case(
        good=lambda: ((_lp(), _mask()), {"mode": "seq-mean-token-sum-norm"}),
        bad=lambda: ((_lp(), jnp.ones((2, 4), bool)), {}),
        bad_arg="mask",
        static=("mode", "norm_constant"),
    ),
    "bvjax.rl.hpt_gate": Case(
        good=lambda: ((jnp.array([0, 1, 5]),), {"off_policy_gate": 2}),
        bad=lambda: ((jnp.zeros((2, 3), jnp.int32),), {}),
        bad_arg="num_correct",
        static=("sft_gate", "off_policy_gate", "strategy"),
    ),
    "bvjax.rl.dypo_route": Case(
        good=lambda: ((jnp.array([[0.0, 1.0], [1.0, 1.0]]),), {}),
        bad=lambda: ((jnp.array([[0.0, 1.0]]),), {"mask": jnp.ones((2, 2), bool)}),
        bad_arg="mask",
        static=("success_threshold",),
    ),
    "bvjax.rl.dypo_loss": Case(
        good=lambda: ((jnp.ones(2), jnp.ones(2), jnp.ones((2, 3)), _route()), {}),
        bad=lambda: ((jnp.ones(2), jnp.ones(3), jnp.ones((2, 3)), _route()), {}),
        bad_arg="alignment_losses",
        static=("alpha", "sft_coef"),
    ),
    "bvjax.rl.dcpo_temperature": Case(
        good=lambda: ((jnp.array(0.2),), {}),
        bad=lambda: ((jnp.ones(2),), {}),
        bad_arg="entropy",
        static=("entropy_base", "hot", "cold"),
    ),
    "bvjax.rl.dcpo_advantages": Case(
        good=lambda: ((_adv(), jnp.array([1.0, 0.0]), _lp() * 0.1, _mask(), jnp.array(0.3)), {}),
        bad=lambda: ((_adv(), jnp.array([1.0, 0.0, 1.0]), _lp(), _mask(), jnp.array(0.3)), {}),
        bad_arg="scores",
        static=("entropy_base", "correct_threshold", "max_gap", "alpha_if_no_correct", "log_ratio_clip"),
    ),
    "bvjax.transforms.scale_by_snr": Case(
        good=lambda: ((), {"decay": 0.5}),
        bad=lambda: ((), {"min_scale": 2.0}),
        bad_arg="min_scale",
        static=("min_scale", "decay"),
        update_kwargs=lambda params: {"micro_grads": jax.tree.map(
            lambda p: jnp.stack([0.1 * p, 0.3 * p, -0.1 * p]), params)},
    ),
}
