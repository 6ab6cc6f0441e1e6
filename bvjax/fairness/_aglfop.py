"""Hamman & Dutta's AGLFOP: the accuracy–global–local fairness optimality problem, as a convex program.

Formulation followed (the official FairFL-PID code's, written here from its description,
not copied): the data fix the joint P(s, z, y) of client s, sensitive group z
and true label y; a (randomised) classifier is the table q(s, z, y, ŷ) with
Σ_ŷ q(s, z, y, ŷ) = P(s, z, y). The free variables are t = q(s, z, y, ŷ = 1) in the box
0 <= t <= P(s, z, y), and

    minimise  error(t) = Σ_{s,z} [Σ_{y=0} t + Σ_{y=1} (P − t)]
    subject to  I_q(Z; Ŷ) <= ε_g,  I_q(Z; Ŷ | S) <= ε_l.

Both mutual informations are convex in the channel q(ŷ | s, z) for the fixed P(s, z), and
the error is linear, so the program is convex; sweeping (ε_g, ε_l) traces the
accuracy–fairness Pareto frontier. This module solves it with a log-barrier interior-point
method (damped Newton steps on the 2·S·K box variables, a grid line search that keeps the
iterate strictly feasible, the barrier weight halved per stage), inside `jax.jit` with
fixed iteration counts. The reference code uses scipy's SLSQP from a random start; cvxpy
(a convex solver) is not a dependency, and the tests use SLSQP from several
starts as the oracle instead.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks
from bvjax.fairness._pid import _cmi_nats, _mi_nats

_LN2 = math.log(2.0)
_STEPS = 2.0 ** -np.arange(40.0)  # line-search step sizes (NumPy: no device array at import)


class AGLFOPResult(NamedTuple):
    """Solution of `aglfop` (disparities in bits).

    Attributes:
        classifier: [S, K, 2] P(ŷ = 1 | s, z, y), the optimal randomised classifier.
        joint: [S, K, 2, 2] q(s, z, y, ŷ), the optimal joint table.
        error: [] the misclassification probability Σ (FN + FP).
        global_disparity: [] I_q(Z; Ŷ) in bits, <= eps_global up to solver tolerance.
        local_disparity: [] I_q(Z; Ŷ | S) in bits, <= eps_local up to solver tolerance.
    """

    classifier: jax.Array
    joint: jax.Array
    error: jax.Array
    global_disparity: jax.Array
    local_disparity: jax.Array


def _parts(r, p):
    """(error, I_g nats, I_l nats) for the classifier r = P(ŷ=1 | s, z, y) on data p[s, z, y]."""
    t = r * p
    err = jnp.sum(t[..., 0]) + jnp.sum(p[..., 1] - t[..., 1])
    q1 = jnp.sum(t, axis=-1)                      # q(s, z, ŷ=1)
    q_szh = jnp.stack([jnp.sum(p, axis=-1) - q1, q1], axis=-1)
    return err, _mi_nats(jnp.sum(q_szh, axis=0)), _cmi_nats(q_szh)


def aglfop(p_szy: jax.Array, *, eps_global: float, eps_local: float, num_stages: int = 40,
           newton_steps: int = 12) -> AGLFOPResult:
    r"""Solves Hamman and Dutta's AGLFOP convex program for one pair of disparity budgets.

    .. math::  \min_{q}\ \Pr_q(\hat Y \ne Y)\quad \text{s.t.}\quad I_q(Z;\hat Y) \le \epsilon_g,
               \ \ I_q(Z;\hat Y \mid S) \le \epsilon_l,\ \ \sum_{\hat y} q(s,z,y,\hat y) = P(s,z,y).

    The program ranges over every confusion table consistent with P(s, z, y), i.e. over
    classifiers that may depend on Y itself (the paper's information-theoretic limit, not
    a model family): without binding budgets :math:`\hat Y = Y` is optimal with error 0,
    and the frontier's cost comes from the label's own dependence on Z
    (:math:`I(Z;Y)` globally, :math:`I(Z;Y\mid S)` locally).

    Solver: log-barrier interior point on :math:`r = P(\hat y{=}1 \mid s, z, y) \in (0, 1)`
    from the strictly feasible start :math:`r = 1/2` (where :math:`\hat Y` is independent
    of everything, so both disparities are 0): ``num_stages`` barrier weights
    :math:`\mu = 2^{-k}` with ``newton_steps`` damped Newton steps each, and a line search
    over 40 halvings that rejects infeasible points. The duality gap at the last stage is
    at most :math:`(4SK + 2)\,2^{-\text{num\_stages}}`; with the defaults the float64
    optimum agrees with SLSQP to ~1e-7 (float32: ~1e-4). Cells with
    :math:`P(s,z,y) = 0` carry no mass and get :math:`r = 1/2`. Sweep the budgets with
    `jax.vmap` to trace the Pareto frontier.

    Args:
        p_szy: [S, K, 2] float, the data's joint P(client s, group z, true label y) (or
            counts, normalised by the sum).
        eps_global: budget on the global disparity I(Z; Ŷ), in bits, > 0 (a budget of 0
            has no strictly feasible point: values below 1e-9 are raised to 1e-9).
        eps_local: budget on the local disparity I(Z; Ŷ | S), in bits, > 0 (as above).
        num_stages: static number of barrier stages (the barrier weight halves per stage).
        newton_steps: static Newton steps per stage.

    Returns:
        `AGLFOPResult`. An all-zero ``p_szy`` gives error 0 and disparities 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.fairness import aglfop
        >>> p = jnp.array([[[.2, .1], [.1, .2]], [[.1, .1], [.05, .15]]])
        >>> r = aglfop(p, eps_global=10.0, eps_local=10.0)  # no budget binds: Ŷ = Y is feasible
        >>> round(float(r.error), 4)
        0.0

    References:
        Hamman and Dutta, Demystifying Local and Global Fairness Trade-offs in Federated
        Learning Using Partial Information Decomposition, ICLR 2024 (arXiv 2307.11333),
        the AGLFOP (Accuracy and Global-Local Fairness Optimality Problem).
        Boyd and Vandenberghe, Convex Optimization, 2004, §11.3 (barrier method).

    Departure: the official code runs SLSQP from a random start with dit's MIs and two
    clients; this solver is deterministic, jit-able, any number of clients and groups.
    """
    _checks.dims(p_szy=(p_szy, "[S, K, 2]", "float"))
    _checks.positive_int(num_stages=num_stages, newton_steps=newton_steps)
    _checks.in_range("eps_global", eps_global, low=0.0, low_inclusive=False)
    _checks.in_range("eps_local", eps_local, low=0.0, low_inclusive=False)
    total = jnp.sum(p_szy)
    p = p_szy / jnp.where(total > 0, total, 1.0)
    dtype = p.dtype
    live = p > 0
    eg = jnp.maximum(jnp.asarray(eps_global, dtype), 1e-9) * _LN2
    el = jnp.maximum(jnp.asarray(eps_local, dtype), 1e-9) * _LN2
    n = p.size

    def barrier(x, mu):
        r = jnp.where(live, x.reshape(p.shape), 0.5)
        err, ig, il = _parts(r, p)
        feasible = jnp.all((r > 0) & (r < 1)) & (ig < eg) & (il < el)
        logs = jnp.sum(jnp.where(live, jnp.log(jnp.clip(r, 1e-300)) + jnp.log(jnp.clip(1 - r, 1e-300)), 0.0))
        logs = logs + jnp.log(jnp.clip(eg - ig, 1e-300)) + jnp.log(jnp.clip(el - il, 1e-300))
        return jnp.where(feasible, err - mu * logs, jnp.inf)

    grad = jax.grad(barrier)
    hess = jax.hessian(barrier)
    mask = live.reshape(-1)

    def newton(_, carry):
        x, mu = carry
        g = jnp.where(mask, grad(x, mu), 0.0)
        h = hess(x, mu)
        h = jnp.where(mask[:, None] & mask[None, :], h, 0.0) + jnp.diag(jnp.where(mask, 0.0, 1.0))
        h = h + 1e-12 * jnp.trace(jnp.abs(h)) / n * jnp.eye(n, dtype=dtype)
        d = -jnp.linalg.solve(h, g)
        d = jnp.where(jnp.all(jnp.isfinite(d)), d, -g)
        steps = jnp.asarray(_STEPS, dtype)
        values = jax.vmap(lambda a: barrier(x + a * d, mu))(steps)
        best = jnp.argmin(values)
        better = values[best] < barrier(x, mu)
        return jnp.where(better, x + steps[best] * d, x), mu

    def stage(k, x):
        mu = jnp.asarray(2.0, dtype) ** (-k.astype(dtype))
        x, _ = jax.lax.fori_loop(0, newton_steps, newton, (x, mu))
        return x

    x = jax.lax.fori_loop(0, num_stages, stage, jnp.full((n,), 0.5, dtype))
    r = jnp.where(live, x.reshape(p.shape), 0.5)
    err, ig, il = _parts(r, p)
    t = r * p
    joint = jnp.stack([p - t, t], axis=-1)
    return AGLFOPResult(r, joint, err, ig / _LN2, il / _LN2)
