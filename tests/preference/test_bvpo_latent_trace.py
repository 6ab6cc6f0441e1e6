"""End to end on a latent-trace toy: BVPO losses -> per-example gradients -> alpha estimate.

A tabular reasoning model x -> r -> y with R thinking traces and one empty trace. The
marginal DPO gradient is exact (enumerate r); the trace-based gradient samples traces and
the empty-trace gradient conditions on the empty trace. The plug-in weight from gradient
draws, measured by the bias-variance meter against the exact marginal gradient, must beat
both pure estimators.
"""

import jax
import jax.numpy as jnp
import numpy as np

from bvjax.diagnostics import bias_variance
from bvjax.preference import bvpo_alpha_estimate, bvpo_empty_trace_loss, bvpo_trace_loss, dpo_loss

R, Y = 3, 4  # thinking traces (the empty trace is index R), answers
BETA = 1.0
WIN, LOSE = 0, 1


def _params(seed):
    rng = np.random.default_rng(seed)
    return {"trace": jnp.asarray(rng.standard_normal(R), jnp.float32),
            "answer": jnp.asarray(1.5 * rng.standard_normal((R + 1, Y)), jnp.float32)}


def _log_joint(p, r, y):  # log pi(r, y | x) for a thinking trace r
    return jax.nn.log_softmax(p["trace"])[r] + jax.nn.log_softmax(p["answer"][r])[y]


def _log_marginal(p, y):  # log sum_r pi(r) pi(y | r)
    return jax.nn.logsumexp(jax.nn.log_softmax(p["trace"]) + jax.nn.log_softmax(p["answer"][:R], axis=1)[:, y])


def _log_empty(p, y):  # log pi(y | x, empty trace)
    return jax.nn.log_softmax(p["answer"][R])[y]


def test_plug_in_alpha_beats_both_estimators_on_the_marginal_gradient():
    ref, theta = _params(0), _params(1)

    def marginal_loss(p):
        def one(v):
            return jnp.reshape(v, (1,))
        return dpo_loss(one(_log_marginal(p, WIN)), one(_log_marginal(p, LOSE)),
                        one(_log_marginal(ref, WIN)), one(_log_marginal(ref, LOSE)), beta=BETA)[0]

    mu = jax.grad(marginal_loss)(theta)

    def g_trace(key):  # one pair, each response with its own trace drawn from the reference
        r_w, r_l = jax.random.categorical(key, ref["trace"], shape=(2,))

        def loss(p):
            lp = [jnp.reshape(_log_joint(q, r, y), (1,)) for q in (p, ref) for r, y in ((r_w, WIN), (r_l, LOSE))]
            return bvpo_trace_loss(lp[0], lp[1], lp[2], lp[3], beta=BETA)[0]
        return jax.grad(loss)(theta)

    def g_empty(key):
        del key  # no trace is sampled: a constant (biased, zero-variance) estimator

        def loss(p):
            lp = [jnp.reshape(_log_empty(q, y), (1,)) for q in (p, ref) for y in (WIN, LOSE)]
            return bvpo_empty_trace_loss(lp[0], lp[1], lp[2], lp[3], beta=BETA)[0]
        return jax.grad(loss)(theta)

    keys = jax.random.split(jax.random.key(0), 2000)
    draws_t, draws_e = jax.jit(lambda k: (jax.vmap(g_trace)(k), jax.vmap(g_empty)(k)))(keys)
    est = bvpo_alpha_estimate(draws_t, draws_e, mu)
    alpha = float(est.alpha)
    assert 0.0 < alpha < 1.0

    @jax.jit
    def meter(a):
        def mixed(key):
            return jax.tree_util.tree_map(lambda t, e: a * t + (1 - a) * e, g_trace(key), g_empty(key))
        return bias_variance(mixed, mu, jax.random.key(1), num_draws=2048)

    r0, r_alpha, r1 = (meter(jnp.float32(a)) for a in (0.0, alpha, 1.0))
    assert float(r_alpha.mse) < min(float(r0.mse), float(r1.mse))
    # The empty-trace estimator has no variance; the trace one has some.
    assert float(r0.variance) < 1e-10 < float(r1.variance)
