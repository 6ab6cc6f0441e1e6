"""Contract-test cases for bvjax.stats' evaluation statistics: benchmark variance (Madaan et al.),
agreement bounds (Pieper and Voran) and idealized runtime (Narayanan et al.); see tests/api_cases.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tests.api_cases import Case

_S = jnp.array([0.50, 0.52, 0.55, 0.51])
_X = (jnp.arange(16).reshape(2, 8) % 3 == 0).astype(jnp.float32)
_R = (jax.random.uniform(jax.random.key(0), (12, 5)) < 0.5).astype(jnp.float32)
_VOTES = jnp.array([[1.0, 2.0, 1.0, 2.0], [4.0, 5.0, 5.0, 4.0], [3.0, 3.0, 2.0, 4.0]])
_Q = jnp.array([1.5, 3.0, 4.2])
_O = jnp.array([[1.0, 5.0, 9.0], [1.0, 4.0, 8.0]])
_T = jnp.array([[0.1, 0.5, 0.9], [0.3, 0.6, 1.0]])
_KEYS = jnp.array([1.0, 128.0, 512.0])
_F = jnp.array([0.08, 0.09, 0.18])


def _idx(m=8):
    return jax.random.randint(jax.random.key(1), (6, m), 0, 8)


_SCALE = ("low", "high", "num_levels")

CASES: dict[str, Case] = {
    "bvjax.stats.seed_stats": Case(good=lambda: ((_S,), {"ddof": 1}), bad=lambda: ((jnp.ones((2, 2, 2, 2)),), {}),
                                   bad_arg="scores", static=("ddof",)),
    "bvjax.stats.signal_to_noise": Case(good=lambda: ((_S,), {"baseline": 0.25}), bad=lambda: ((jnp.ones(1),), {}),
                                        bad_arg="scores", static=("ddof",)),
    "bvjax.stats.bootstrap_score_ci": Case(good=lambda: ((_X, _idx()), {}), bad=lambda: ((_X, _idx(7)), {}),
                                           bad_arg="indices", static=("confidence", "quantile_rule", "ddof")),
    "bvjax.stats.normal_score_ci": Case(good=lambda: ((_X,), {}), bad=lambda: ((jnp.array(0.5),), {}),
                                        bad_arg="item_scores", static=("confidence", "ddof")),
    "bvjax.stats.kendall_tau": Case(good=lambda: ((jnp.arange(5), jnp.array([1, 3, 2, 4, 4])), {}),
                                    bad=lambda: ((jnp.arange(5), jnp.arange(4)), {}), bad_arg="y",
                                    static=("variant",)),
    "bvjax.stats.monotonicity": Case(good=lambda: ((jnp.cumsum(_X, axis=1),), {}),
                                     bad=lambda: ((jnp.ones((2, 2, 3)),), {}), bad_arg="scores", static=("variant",)),
    "bvjax.stats.item_difficulty": Case(good=lambda: ((_R,), {}), bad=lambda: ((_R[0],), {}), bad_arg="responses"),
    "bvjax.stats.item_discrimination": Case(good=lambda: ((_R,), {"rest": True}), bad=lambda: ((_R[0],), {}),
                                            bad_arg="responses", static=("rest",)),
    "bvjax.stats.irt2pl_logits": Case(good=lambda: ((jnp.zeros(3), jnp.ones(2), jnp.zeros(2)), {}),
                                      bad=lambda: ((jnp.zeros(3), jnp.ones((2, 1)), jnp.zeros(2)), {}),
                                      bad_arg="a"),
    "bvjax.stats.fit_irt2pl": Case(good=lambda: ((_R,), {"num_steps": 20}),
                                   bad=lambda: ((_R,), {"mask": jnp.ones((12, 4), bool), "num_steps": 20}),
                                   bad_arg="mask", static=("num_steps",)),
    "bvjax.stats.mos_bounds": Case(good=lambda: ((jnp.array([0.8, 1.0]), 0.9, jnp.array([24, 12])), {}),
                                   bad=lambda: ((jnp.array([0.8, 1.0]), 0.9, jnp.array([24, 12, 6])), {}),
                                   bad_arg="num_votes"),
    "bvjax.stats.mos_bounds_from_votes": Case(good=lambda: ((_VOTES,), {}),
                                              bad=lambda: ((_VOTES,), {"mask": jnp.ones((3, 5), bool)}),
                                              bad_arg="mask", static=("vote_ddof", "mos_ddof")),
    "bvjax.stats.binovotes_variance": Case(good=lambda: ((_Q,), {}), bad=lambda: ((_Q,), {"num_levels": 1}),
                                           bad_arg="num_levels", static=_SCALE),
    "bvjax.stats.binovotes_avg_vote_var": Case(good=lambda: ((jnp.array(3.2), 0.8, 24), {}),
                                               bad=lambda: ((jnp.array([3.2, 3.0]), jnp.ones(3), 24), {}),
                                               bad_arg="mos_var", static=_SCALE),
    "bvjax.stats.binovotes_quality_bounds": Case(good=lambda: ((jnp.array(3.0), 0.5, 16), {}),
                                                 bad=lambda: ((jnp.array([3.0, 2.0]), jnp.ones(3), 16), {}),
                                                 bad_arg="var_quality", static=_SCALE),
    "bvjax.stats.binovotes_sample": Case(good=lambda: ((jax.random.key(0), _Q), {"num_votes": 4}),
                                         bad=lambda: ((jax.random.key(0), _Q[:, None]), {"num_votes": 4}),
                                         bad_arg="quality", static=("num_votes", *_SCALE)),
    "bvjax.stats.binomos_sample": Case(good=lambda: ((jax.random.key(0), _Q), {"num_votes": 4}),
                                       bad=lambda: ((jax.random.key(0), _Q[:, None]), {"num_votes": 4}),
                                       bad_arg="quality", static=("num_votes", *_SCALE)),
    "bvjax.stats.effective_votes": Case(good=lambda: ((jnp.array([24, 12]), 16), {}),
                                        bad=lambda: ((jnp.array([24, 12]), jnp.ones(3)), {}), bad_arg="num_mos",
                                        static=("num_levels",)),
    "bvjax.stats.fit_runtime_model": Case(good=lambda: ((_O, _T), {}), bad=lambda: ((_O, _T[:, :2]), {}),
                                          bad_arg="runtimes", static=("method", "denoised")),
    "bvjax.stats.idealized_runtime": Case(
        good=lambda: ((jnp.array([100, 600]), jnp.array([10, 0]), _KEYS, _F, jnp.array(0.081)), {}),
        bad=lambda: ((jnp.array([100, 600]), jnp.array([10, 0]), _KEYS, _F[:2], jnp.array(0.081)), {}),
        bad_arg="prompt_times"),
    "bvjax.stats.accelerator_cost": Case(good=lambda: ((jnp.array([0.5, 2.0]), jnp.array([8, 1])), {}),
                                         bad=lambda: ((jnp.array([0.5, 2.0]), jnp.array([8, 1, 2])), {}),
                                         bad_arg="num_accelerators", static=("unit",)),
}
