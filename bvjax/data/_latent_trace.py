"""A tabular reasoning model x -> trace r -> answer y, whose marginal DPO gradient is exact.

The toy behind BVPO's bias–variance claims: a prompt ``x`` in ``X`` prompts, a thinking
trace ``r`` in ``R`` traces (or the empty trace, index ``R``, forced when thinking is
disabled) and an answer ``y`` in ``Y`` answers. Everything is a table of logits, so the
marginal :math:`\\pi(y\\mid x) = \\sum_r \\pi(r\\mid x)\\,\\pi(y\\mid x, r)` and the expected
DPO loss over all preference pairs are sums the computer can do exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.preference._dpo import dpo_loss


def _check_model(trace_logits, answer_logits, name="trace_logits", answer_name="answer_logits"):
    _checks.dims(kind="float", **{name: (trace_logits, "[..., R]")})
    num_traces = trace_logits.shape[-1]
    _checks.dims(kind="float", **{answer_name: (answer_logits, "[..., S, Y]")})
    if answer_logits.shape[-2] != num_traces + 1 or answer_logits.shape[:-2] != trace_logits.shape[:-1]:
        expected = f"{trace_logits.shape[:-1] + (num_traces + 1,)} + (Y,)"
        raise ValueError(f"{answer_name}: expected [..., R+1, Y] float with leading dims and R+1 = {expected} "
                         f"from {name} {trace_logits.shape}, got shape {answer_logits.shape} {answer_logits.dtype}")


def latent_trace_joint_logps(trace_logits: jax.Array, answer_logits: jax.Array) -> jax.Array:
    r"""Log-probabilities of every (trace, answer) pair of a tabular reasoning model.

    Thinking mode samples a trace :math:`r \sim \mathrm{softmax}(t_x)` and then an answer
    :math:`y \sim \mathrm{softmax}(a_{x,r})`; thinking disabled forces the empty trace
    :math:`\varnothing` (row ``R``), so

    .. math::  \log\pi(r, y\mid x) = \log\mathrm{softmax}(t_x)_r + \log\mathrm{softmax}(a_{x,r})_y
               \ (r < R), \qquad \log\pi(\varnothing, y\mid x) = \log\mathrm{softmax}(a_{x,R})_y .

    These are the log-probs BVPO's trace loss (rows ``< R``) and empty-trace loss (row
    ``R``) see.

    Args:
        trace_logits: [..., R] float, :math:`t_x`, the logits of the R thinking traces.
        answer_logits: [..., R+1, Y] float, :math:`a_{x,r}`, answer logits after each
            trace; the last row follows the empty trace.

    Returns:
        [..., R+1, Y] float: rows ``< R`` the joint :math:`\log\pi(r, y\mid x)` in thinking
        mode, row ``R`` the empty-trace :math:`\log\pi(y\mid x, \varnothing)`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import latent_trace_joint_logps
        >>> lp = latent_trace_joint_logps(jnp.zeros(2), jnp.zeros((3, 2)))
        >>> jnp.exp(lp).round(3)  # each thinking (r, y) 1/4; empty-trace answers 1/2
        Array([[0.25, 0.25],
               [0.25, 0.25],
               [0.5 , 0.5 ]], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).

    Departures: the paper's model is an LLM; this tabular model is ours, built so that the
    marginal over traces can be enumerated.
    """
    _check_model(trace_logits, answer_logits)
    dt = compute_dtype(trace_logits, answer_logits)  # the dtype policy: half precision computed in float32
    trace_logits = trace_logits.astype(dt)
    answer_logits = answer_logits.astype(dt)
    answers = jax.nn.log_softmax(answer_logits, axis=-1)
    traces = jax.nn.log_softmax(trace_logits, axis=-1)
    thinking = traces[..., :, None] + answers[..., :-1, :]
    return jnp.concatenate([thinking, answers[..., -1:, :]], axis=-2)


def latent_trace_marginal_logps(trace_logits: jax.Array, answer_logits: jax.Array) -> jax.Array:
    r"""Marginal answer log-probabilities in thinking mode, summing out the trace.

    .. math::  \log\pi(y\mid x) = \log\textstyle\sum_{r<R}\pi(r\mid x)\,\pi(y\mid x, r)

    (a ``logsumexp``; the empty trace is not part of thinking mode).

    Args:
        trace_logits: [..., R] float.
        answer_logits: [..., R+1, Y] float (the empty-trace row is ignored here).

    Returns:
        [..., Y] float, :math:`\log\pi(y\mid x)`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import latent_trace_marginal_logps
        >>> a = jnp.log(jnp.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]]))
        >>> jnp.exp(latent_trace_marginal_logps(jnp.zeros(2), a)).round(3)  # (0.9 + 0.1) / 2
        Array([0.5, 0.5], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).
    """
    dt = compute_dtype(trace_logits, answer_logits)  # the dtype policy: half precision computed in float32
    trace_logits = trace_logits.astype(dt)
    answer_logits = answer_logits.astype(dt)
    joint = latent_trace_joint_logps(trace_logits, answer_logits)
    return jax.nn.logsumexp(joint[..., :-1, :], axis=-2)


def _inverse_cdf(probs, u):
    """Index k with CDF(k-1) <= u < CDF(k), for probs [..., K] and u [...]."""
    cdf = jnp.cumsum(probs, axis=-1)
    return jnp.minimum(jnp.sum(u[..., None] >= cdf, axis=-1), probs.shape[-1] - 1).astype(jnp.int32)


def _pair_probs(answer_logps, rewards):
    """P(chosen = i, rejected = j) for two i.i.d. answers ranked by reward (ties dropped)."""
    probs = jnp.exp(answer_logps)
    both = probs[..., :, None] * probs[..., None, :]
    wins = rewards[..., :, None] > rewards[..., None, :]
    return 2.0 * jnp.where(wins, both, 0.0)  # (i, j) drawn in either order


def latent_trace_marginal_dpo_loss(trace_logits: jax.Array, answer_logits: jax.Array,
                                   reference_trace_logits: jax.Array, reference_answer_logits: jax.Array,
                                   rewards: jax.Array, *, beta: float = 0.1) -> jax.Array:
    r"""Exact expected marginal DPO loss per prompt, over the thinking-mode pair distribution.

    Pairs are made as BVPO's trace dataset makes them: two answers drawn independently from
    the reference in thinking mode, :math:`y_1, y_2 \sim \pi_{ref}(y\mid x)`, the one with the
    higher reward chosen (ties give no pair). The statistically correct loss scores them
    with the *marginal* log-probs:

    .. math::  L(x) = \sum_{y_w, y_l} P_{ref}(y_w, y_l\mid x)\,
               \big[-\log\sigma\big(\beta\,[\Delta(y_w) - \Delta(y_l)]\big)\big],\quad
               \Delta(y) = \log\pi_\theta(y\mid x) - \log\pi_{ref}(y\mid x),

    with :math:`P_{ref}(y_w, y_l\mid x) = 2\,\pi_{ref}(y_w\mid x)\pi_{ref}(y_l\mid x)` when
    :math:`r(y_w) > r(y_l)` and 0 otherwise. ``jax.grad`` of its mean over prompts is the
    exact marginal gradient :math:`\mu` that BVPO's estimators :math:`g_t` (sampled traces)
    and :math:`g_e` (empty trace) approximate, in expectation over a batch of pairs made
    the same way (a tied draw counted as a zero loss).

    Args:
        trace_logits: [X, R] float, the policy's trace logits per prompt.
        answer_logits: [X, R+1, Y] float, the policy's answer logits (row R: empty trace).
        reference_trace_logits: [X, R] float, the frozen reference's.
        reference_answer_logits: [X, R+1, Y] float.
        rewards: [X, Y] float, the known reward of each answer.
        beta: :math:`\beta > 0`.

    Returns:
        [X] float, the expected loss per prompt (average over prompts for a uniform prompt
        distribution).

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import latent_trace_marginal_dpo_loss
        >>> t, a = jnp.zeros((1, 2)), jnp.zeros((1, 3, 2))
        >>> latent_trace_marginal_dpo_loss(t, a, t, a, jnp.array([[1.0, 0.0]]))  # P(pair) = 1/2, log 2
        Array([0.3465736], dtype=float32)

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).
        Rafailov et al, Direct Preference Optimization: Your Language Model is Secretly a
        Reward Model, 2023 (arXiv 2305.18290).

    Departures: deterministic preferences from a known reward stand in for the paper's
    judge; ties are dropped (zero weight).
    """
    _checks.dims(kind="float", trace_logits=(trace_logits, "[X, R]"),
                 answer_logits=(answer_logits, "[X, S, Y]"),
                 reference_trace_logits=(reference_trace_logits, "[X, R]"),
                 reference_answer_logits=(reference_answer_logits, "[X, S, Y]"),
                 rewards=(rewards, "[X, Y]"))
    _check_model(trace_logits, answer_logits)
    _check_model(reference_trace_logits, reference_answer_logits, "reference_trace_logits",
                 "reference_answer_logits")
    _checks.in_range("beta", beta, low=0.0, low_inclusive=False)
    policy = latent_trace_marginal_logps(trace_logits, answer_logits)
    reference = latent_trace_marginal_logps(reference_trace_logits, reference_answer_logits)
    weights = _pair_probs(reference, rewards)
    delta = policy - reference
    num_x, num_y = delta.shape
    chosen = jnp.broadcast_to(delta[:, :, None], (num_x, num_y, num_y)).reshape(-1)
    rejected = jnp.broadcast_to(delta[:, None, :], (num_x, num_y, num_y)).reshape(-1)
    zero = jnp.zeros_like(chosen)
    losses = dpo_loss(chosen, rejected, zero, zero, beta=beta).reshape(num_x, num_y, num_y)
    return jnp.sum(weights * losses, axis=(1, 2))


class LatentTracePairs(NamedTuple):
    """Preference pairs drawn from a tabular reasoning model (`sample_latent_trace_pairs`).

    Attributes:
        prompts: [B] int32, the prompt of each pair.
        traces: [B, 2] int32, the trace behind the (chosen, rejected) answer; ``R`` (the
            empty trace) when sampled with thinking disabled.
        answers: [B, 2] int32, the (chosen, rejected) answers.
        valid: [B] bool, False where the two answers tie on reward (no preference).
    """

    prompts: jax.Array
    traces: jax.Array
    answers: jax.Array
    valid: jax.Array


def sample_latent_trace_pairs(key: jax.Array, trace_logits: jax.Array, answer_logits: jax.Array,
                              rewards: jax.Array, *, num_pairs: int, thinking: bool = True) -> LatentTracePairs:
    r"""Draws preference pairs the way BVPO's two datasets are made.

    For each pair: a prompt :math:`x` uniform over the X prompts; two responses drawn
    independently from the model (thinking mode: :math:`(r, y) \sim \pi(r, y\mid x)`;
    thinking disabled: :math:`r = \varnothing`, :math:`y \sim \pi(y\mid x, \varnothing)`); the
    response whose answer has the higher reward is chosen. Equal rewards leave the pair
    invalid (``valid`` False), to be masked out of the loss.

    Args:
        key: a PRNG key.
        trace_logits: [X, R] float, the sampling model's (usually the reference's).
        answer_logits: [X, R+1, Y] float.
        rewards: [X, Y] float.
        num_pairs: static int B >= 1.
        thinking: static bool, True for the trace dataset :math:`D_t`, False for the
            empty-trace dataset :math:`D_e`.

    Returns:
        A `LatentTracePairs` of [B] / [B, 2] arrays, chosen first.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import sample_latent_trace_pairs
        >>> pairs = sample_latent_trace_pairs(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1, 3, 2)),
        ...                                   jnp.array([[1.0, 0.0]]), num_pairs=4, thinking=False)
        >>> pairs.traces.tolist()  # the empty trace is index R = 2
        [[2, 2], [2, 2], [2, 2], [2, 2]]

    References:
        Zhu et al, From Noisy Traces to Stable Gradients: Bias-Variance Optimized Preference
        Optimization for Aligning Large Reasoning Models, 2025 (arXiv 2510.05095).
    """
    _checks.dims(kind="float", trace_logits=(trace_logits, "[X, R]"),
                 answer_logits=(answer_logits, "[X, S, Y]"), rewards=(rewards, "[X, Y]"))
    _check_model(trace_logits, answer_logits)
    _checks.positive_int(num_pairs=num_pairs)
    num_x, num_r = trace_logits.shape
    # One uniform draw per choice, inverted through the CDFs: a single PRNG call keeps the
    # compiled program small (it is traced many times inside the bias–variance meter).
    u = jax.random.uniform(key, (num_pairs, 5))
    prompts = jnp.minimum((u[:, 0] * num_x).astype(jnp.int32), num_x - 1)
    if thinking:
        traces = _inverse_cdf(jax.nn.softmax(trace_logits[prompts], axis=-1)[:, None, :], u[:, 1:3])
    else:
        traces = jnp.full((num_pairs, 2), num_r)
    answers = _inverse_cdf(jax.nn.softmax(answer_logits[prompts[:, None], traces], axis=-1), u[:, 3:5])
    reward = rewards[prompts[:, None], answers]
    swap = reward[:, 1] > reward[:, 0]
    order = jnp.stack([swap.astype(jnp.int32), 1 - swap.astype(jnp.int32)], axis=1)
    def pick(x):
        return jnp.take_along_axis(x, order, axis=1).astype(jnp.int32)

    return LatentTracePairs(prompts.astype(jnp.int32), pick(traces), pick(answers),
                            reward[:, 0] != reward[:, 1])
