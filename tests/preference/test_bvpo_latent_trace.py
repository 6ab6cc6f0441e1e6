"""End to end on a latent-trace toy: BVPO losses -> per-example gradients -> alpha estimate.

A tabular reasoning model x -> r -> y with R thinking traces and one empty trace. The
marginal DPO gradient is exact (enumerate r); the trace-based gradient samples traces and
the empty-trace gradient conditions on the empty trace. The plug-in weight from gradient
draws, scored against the exact marginal gradient on fresh draws, must beat both pure
estimators.
"""

import jax
import jax.numpy as jnp
import numpy as np

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

    @jax.jit
    def draw(key):
        keys = jax.random.split(key, 2000)
        return jax.vmap(g_trace)(keys), jax.vmap(g_empty)(keys)

    draws_t, draws_e = draw(jax.random.key(0))
    est = bvpo_alpha_estimate(draws_t, draws_e, mu)
    alpha = float(est.alpha)
    assert 0.0 < alpha < 1.0

    # Fresh draws (independent of the estimate) for the MSE of each mixture.
    test_t, test_e = draw(jax.random.key(1))

    def mse(a):
        err = jax.tree_util.tree_map(lambda t, e, m: a * t + (1 - a) * e - m, test_t, test_e, mu)
        return float(sum(jnp.mean(jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1))
                         for x in jax.tree_util.tree_leaves(err)))

    assert mse(alpha) < min(mse(0.0), mse(1.0))
    # The empty-trace estimator has no variance; the trace one has some.
    spread = [float(jnp.max(jnp.std(x, axis=0))) for x in jax.tree_util.tree_leaves((test_e, test_t))]
    assert max(spread[:2]) < 1e-6 < max(spread[2:])
