"""A K-armed Gaussian bandit with a softmax policy: the policy-gradient toy whose
exact gradient is known in closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks
from bvjax._numerics import compute_dtype
from bvjax.rl import group_advantages, rloo_advantages


def bandit_expected_return(logits: jax.Array, means: jax.Array) -> jax.Array:
    r"""Expected reward of a softmax policy on a K-armed bandit.

    .. math::  J(\theta) = \textstyle\sum_k \pi_k(\theta)\, \mu_k,\quad \pi = \mathrm{softmax}(\theta)

    Args:
        logits: [..., K] float, the policy's logits :math:`\theta`.
        means: [K] float, each arm's mean reward :math:`\mu_k`.

    Returns:
        [...] float, :math:`J(\theta)` per leading index.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import bandit_expected_return
        >>> bandit_expected_return(jnp.zeros(2), jnp.array([0.0, 1.0]))
        Array(0.5, dtype=float32)

    References:
        Sutton and Barto, Reinforcement Learning: An Introduction, 2nd ed., 2018 (ch. 2.8).
    """
    _checks.dims(logits=(logits, "[..., K]", "float"), means=(means, "[K]", "float"))
    dt = compute_dtype(logits, means)  # the dtype policy: half precision computed in float32
    logits = logits.astype(dt)
    means = means.astype(dt)
    return jax.nn.softmax(logits, axis=-1) @ means


def bandit_policy_gradient(logits: jax.Array, means: jax.Array) -> jax.Array:
    r"""Exact gradient of a softmax policy's expected reward with respect to its logits.

    .. math::  \nabla_\theta J = \pi \odot (\mu - J(\theta))

    This is the reference a score-function (REINFORCE) estimator is measured against.

    Args:
        logits: [..., K] float.
        means: [K] float, each arm's mean reward.

    Returns:
        [..., K] float, the exact gradient.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import bandit_policy_gradient
        >>> bandit_policy_gradient(jnp.zeros(2), jnp.array([0.0, 1.0]))
        Array([-0.25,  0.25], dtype=float32)

    References:
        Williams, Simple Statistical Gradient-Following Algorithms for Connectionist
        Reinforcement Learning, 1992.
    """
    _checks.dims(logits=(logits, "[..., K]", "float"), means=(means, "[K]", "float"))
    dt = compute_dtype(logits, means)  # the dtype policy: half precision computed in float32
    logits = logits.astype(dt)
    means = means.astype(dt)
    probs = jax.nn.softmax(logits, axis=-1)
    return probs * (means - (probs @ means)[..., None])


def sample_bandit(key: jax.Array, logits: jax.Array, means: jax.Array, *,
                  num_samples: int, noise_std: float = 1.0) -> tuple[jax.Array, jax.Array]:
    r"""Samples arms from a softmax policy and their noisy Gaussian rewards.

    .. math::  a_i \sim \mathrm{softmax}(\theta),\quad r_i = \mu_{a_i} + \sigma\,\varepsilon_i,
               \quad \varepsilon_i \sim \mathcal N(0, 1)

    Args:
        key: a PRNG key.
        logits: [K] float, the policy's logits.
        means: [K] float, each arm's mean reward.
        num_samples: static int G >= 1, the group size.
        noise_std: reward noise :math:`\sigma \ge 0`.

    Returns:
        ``(actions, rewards)``: [G] int32 arm indices and [G] float rewards.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import sample_bandit
        >>> a, r = sample_bandit(jax.random.key(0), jnp.zeros(3), jnp.arange(3.0), num_samples=5)
        >>> a.shape, r.shape
        ((5,), (5,))

    References:
        Sutton and Barto, Reinforcement Learning: An Introduction, 2nd ed., 2018 (ch. 2).
    """
    _checks.dims(logits=(logits, "[K]", "float"), means=(means, "[K]", "float"))
    _checks.positive_int(num_samples=num_samples)
    _checks.in_range("noise_std", noise_std, low=0.0)
    action_key, noise_key = jax.random.split(key)
    actions = jax.random.categorical(action_key, logits, shape=(num_samples,))
    rewards = means[actions] + noise_std * jax.random.normal(noise_key, (num_samples,), means.dtype)
    return actions.astype(jnp.int32), rewards


BASELINES = ("none", "mean", "leave_one_out")


def bandit_reinforce_gradient(logits: jax.Array, actions: jax.Array, rewards: jax.Array, *,
                              baseline: str = "leave_one_out") -> jax.Array:
    r"""Score-function (REINFORCE) estimate of a softmax bandit policy's gradient.

    For one group of G samples :math:`(a_i, r_i)` drawn from :math:`\pi = \mathrm{softmax}(\theta)`,

    .. math::  \hat g = \frac1G \sum_{i=1}^G (r_i - b_i)\,\nabla_\theta \log \pi(a_i),
               \qquad \nabla_\theta \log \pi(a) = e_a - \pi

    with the baseline :math:`b_i` one of

    - ``"none"``: :math:`b_i = 0`; unbiased, highest variance.
    - ``"mean"``: :math:`b_i = \frac1G\sum_j r_j`, which includes :math:`r_i` itself and
      so shrinks the estimate: :math:`E[\hat g] = \frac{G-1}{G}\nabla J` (biased, lower
      variance). This is GRPO's and Dr.GRPO's centring.
    - ``"leave_one_out"``: :math:`b_i = \frac1{G-1}\sum_{j\ne i} r_j`; unbiased (RLOO).
      Needs G >= 2.

    The centring comes from `bvjax.rl.group_advantages` (``normalize=False``, Dr.GRPO)
    and `bvjax.rl.rloo_advantages`; as there, advantages carry no gradient.

    Args:
        logits: [..., K] float, the policy's logits.
        actions: [..., G] int, the sampled arms.
        rewards: [..., G] float, their rewards.
        baseline: ``"none"``, ``"mean"`` or ``"leave_one_out"``.

    Returns:
        [..., K] float, one gradient estimate per group.

    Raises:
        ValueError: mismatched shapes, an unknown baseline, or ``"leave_one_out"`` with G = 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from bvjax.data import bandit_reinforce_gradient
        >>> g = bandit_reinforce_gradient(jnp.zeros(2), jnp.array([0, 1]), jnp.array([0.0, 1.0]),
        ...                               baseline="none")
        >>> g  # (0 * (e_0 - pi) + 1 * (e_1 - pi)) / 2 with pi = (0.5, 0.5)
        Array([-0.25,  0.25], dtype=float32)

    References:
        Williams, Simple Statistical Gradient-Following Algorithms for Connectionist
        Reinforcement Learning, 1992.
        Kool et al, Buy 4 REINFORCE Samples, Get a Baseline for Free!, 2019.
    """
    shape = _checks.dims(logits=(logits, "[..., K]", "float"), actions=(actions, "[..., G]", "int"),
                         rewards=(rewards, "[..., G]", "float"))
    _checks.same_shape(actions=actions, rewards=rewards)
    if logits.shape[:-1] != actions.shape[:-1]:
        raise ValueError(f"actions: expected leading dims {logits.shape[:-1]} as in logits, "
                         f"got shape {actions.shape} {actions.dtype}")
    _checks.one_of("baseline", baseline, BASELINES)
    group = shape["G"]
    if baseline == "leave_one_out" and group < 2:
        raise ValueError(f"rewards: baseline='leave_one_out' needs G >= 2, got shape {rewards.shape}")
    flat = rewards.reshape(-1, group)  # one group per row, as bvjax.rl takes them
    if baseline == "none":
        advantages = flat
    elif baseline == "mean":
        advantages = group_advantages(flat, normalize=False, singleton="zero")
    else:
        advantages = rloo_advantages(flat)
    advantages = advantages.reshape(rewards.shape)
    probs = jax.nn.softmax(logits, axis=-1)
    onehot = jax.nn.one_hot(actions, shape["K"], dtype=probs.dtype)  # [..., G, K]
    score = onehot - probs[..., None, :]
    return jnp.einsum("...g,...gk->...k", advantages, score) / group
