"""Contract-test cases for bvjax.rl (see tests/api_cases.py)."""

from __future__ import annotations

import jax.numpy as jnp

from tests.api_cases import Case


def _rewards():
    return jnp.array([[0.0, 1.0, 1.0, 0.5], [1.0, 1.0, 1.0, 0.0]])


def _steps():
    states = jnp.array([[1, 2, 3], [1, 2, 4]])
    returns = jnp.array([[1.0, 0.5, 0.0], [0.0, 0.0, 1.0]])
    return states, returns, jnp.ones((2, 3), bool), jnp.array([0, 0])


def _tokens():
    return jnp.log(jnp.linspace(0.1, 0.9, 8).reshape(2, 4))


def _token_mask():
    return jnp.array([[True, False, True, True], [True, True, False, False]])


CASES = {
    "bvjax.rl.group_advantages": Case(
        good=lambda: ((_rewards(),), {"std_ddof": 1}),
        bad=lambda: ((jnp.zeros(4), jnp.zeros((4, 1), jnp.int32)), {}),
        bad_arg="group_ids",
        static=("normalize", "std_ddof", "eps", "singleton", "implementation"),
    ),
    "bvjax.rl.rloo_advantages": Case(
        good=lambda: ((jnp.arange(5.0), jnp.array([0, 0, 1, 1, 1])), {}),
        bad=lambda: ((_rewards(),), {"mask": jnp.ones((2, 3), bool)}),
        bad_arg="mask",
    ),
    "bvjax.rl.dapo_group_filter": Case(
        good=lambda: ((_rewards(),), {}),
        bad=lambda: ((jnp.zeros(4),), {}),
        bad_arg="rewards",
    ),
    "bvjax.rl.overlong_filter": Case(
        good=lambda: ((jnp.ones((2, 3), bool), jnp.array([True, False])), {}),
        bad=lambda: ((jnp.ones((2, 3), bool), jnp.array([True, False, True])), {}),
        bad_arg="truncated",
    ),
    "bvjax.rl.overlong_penalty": Case(
        good=lambda: ((jnp.array([10, 90, 120]),), {"max_length": 100, "cache_length": 20}),
        bad=lambda: ((jnp.array([10, 90, 120]),), {"max_length": 10, "cache_length": 20}),
        bad_arg="cache_length",
        static=("max_length", "cache_length", "penalty_factor"),
    ),
    "bvjax.rl.gigpo_advantages": Case(
        good=lambda: (_steps() + (jnp.array([1.0, 0.0]),), {}),
        bad=lambda: (_steps() + (jnp.array([1.0, 0.0, 1.0]),), {}),
        bad_arg="episode_returns",
        static=("step_weight", "mode", "eps", "implementation"),
    ),
    "bvjax.rl.hgpo_advantages": Case(
        good=lambda: (_steps(), {"history_length": 2}),
        bad=lambda: (_steps()[:3] + (jnp.array([0, 0, 0]),), {"history_length": 2}),
        bad_arg="task_ids",
        static=("history_length", "alpha", "level_offset", "mode", "eps", "implementation"),
    ),
    "bvjax.rl.bucket_pad": Case(
        good=lambda: ((jnp.arange(5.0),), {"mask": jnp.arange(5) < 4, "sizes": (4, 8)}),
        bad=lambda: ((jnp.arange(5.0),), {"mask": jnp.ones(4, bool)}),
        bad_arg="mask",
        static=("sizes", "axis"),
    ),
    "bvjax.rl.v05_baseline": Case(
        good=lambda: ((_rewards(), jnp.array([0.5, 0.9])), {}),
        bad=lambda: ((_rewards(), jnp.array([0.5, 0.9, 0.1])), {}),
        bad_arg="prior",
        static=("variance", "prior_clip", "z_critical"),
    ),
    "bvjax.rl.v05_advantages": Case(
        good=lambda: ((_rewards(), jnp.array([0.5, 0.9])), {}),
        bad=lambda: ((_rewards(), jnp.array([0.5, 0.9])), {"mask": jnp.ones((2, 5), bool)}),
        bad_arg="mask",
        static=("variance", "prior_clip", "z_critical"),
    ),
    "bvjax.rl.osla_continue": Case(
        good=lambda: ((_rewards(), jnp.array([0.5, 0.9])), {"cost": 1e-3}),
        bad=lambda: ((jnp.zeros(4), jnp.array([0.5])), {"cost": 1e-3}),
        bad_arg="rewards",
        static=("cost", "max_rollouts", "variance", "prior_clip"),
    ),
    "bvjax.rl.optimal_baseline_advantages": Case(
        good=lambda: ((_rewards(), jnp.ones((2, 4))), {}),
        bad=lambda: ((_rewards(), jnp.ones((2, 3))), {}),
        bad_arg="weights",
        static=("leave_one_out",),
    ),
    "bvjax.rl.logit_score_sqnorm": Case(
        good=lambda: ((jnp.zeros((2, 3, 5)), jnp.zeros((2, 3), jnp.int32)), {}),
        bad=lambda: ((jnp.zeros((2, 3, 5)), jnp.zeros((2, 4), jnp.int32)), {}),
        bad_arg="tokens",
    ),
    "bvjax.rl.gae_advantages": Case(
        good=lambda: ((_tokens(), _tokens() * 0.5, _token_mask()), {"gamma": 0.9, "lam": 0.95}),
        bad=lambda: ((_tokens(), _tokens()[:, :3], _token_mask()), {}),
        bad_arg="values",
        static=("gamma", "lam"),
    ),
    "bvjax.rl.value_loss": Case(
        good=lambda: ((_tokens(), _tokens() * 0.5, _tokens() + 1.0), {"clip": 0.2}),
        bad=lambda: ((_tokens(), _tokens(), _tokens()[:, :3]), {}),
        bad_arg="returns",
        static=("clip",),
    ),
    "bvjax.rl.masked_whiten": Case(
        good=lambda: ((_tokens(), _token_mask()), {"shift_mean": False}),
        bad=lambda: ((_tokens(), _token_mask()[:, :3]), {}),
        bad_arg="mask",
        static=("shift_mean", "eps"),
    ),
    "bvjax.rl.reinforce_pp_advantages": Case(
        good=lambda: ((_tokens(), _token_mask()), {"gamma": 0.99}),
        bad=lambda: ((_tokens(), _token_mask()[:1]), {}),
        bad_arg="mask",
        static=("gamma", "eps"),
    ),
    "bvjax.rl.reinforce_pp_baseline_advantages": Case(
        good=lambda: ((jnp.array([1.0, 0.0]), jnp.array([3, 3]), _token_mask()), {}),
        bad=lambda: ((jnp.array([1.0, 0.0]), jnp.array([3, 3, 3]), _token_mask()), {}),
        bad_arg="group_ids",
        static=("eps",),
    ),
    "bvjax.rl.rollout_correction_weights": Case(
        good=lambda: ((_tokens(), _tokens() * 0.9, _token_mask()),
                      {"level": "sequence", "mode": "mask", "clip_min": 0.5}),
        bad=lambda: ((_tokens(), _tokens()[:, :3], _token_mask()), {}),
        bad_arg="rollout_logps",
        static=("level", "mode", "clip_max", "clip_min", "log_ratio_clip"),
    ),
}
