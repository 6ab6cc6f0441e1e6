"""Gaussian linear regression with responses revealed only as bag means (Javanmard et al. 2024)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks


class AggregateRegression(NamedTuple):
    """One draw of bagged regression data.

    Attributes:
        x: [N, D] features, rows i.i.d. N(0, I_D).
        responses: [N] the private responses y = x θ₀ + ε.
        bag_ids: [N] int32, a uniformly random partition into N / k bags of size k.
        bag_labels: [N / k] the bag means of ``responses``.
    """

    x: jax.Array
    responses: jax.Array
    bag_ids: jax.Array
    bag_labels: jax.Array


def sample_aggregate_regression(key: jax.Array, theta: jax.Array, *, num_samples: int, bag_size: int,
                                noise_std: float = 1.0) -> AggregateRegression:
    r"""Samples Javanmard et al.'s linear model and a random partition into equal bags.

    .. math::  x_i \sim \mathcal N(0, I_d),\quad y_i = x_i^\top\theta_0 + \varepsilon_i,\quad
               \varepsilon_i \sim \mathcal N(0, \sigma^2),\quad
               \bar y_a = \frac1k\sum_{i\in B_a} y_i

    with the n samples randomly permuted into m = n / k bags of size k.

    Args:
        key: a PRNG key.
        theta: [D] float, the true parameter :math:`\theta_0`.
        num_samples: static n >= 1, a multiple of ``bag_size``.
        bag_size: static k >= 1.
        noise_std: :math:`\sigma \ge 0`.

    Returns:
        An `AggregateRegression`.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import sample_aggregate_regression
        >>> d = sample_aggregate_regression(jax.random.key(0), jnp.ones(3), num_samples=8, bag_size=4)
        >>> d.x.shape, d.bag_labels.shape
        ((8, 3), (2,))

    References:
        Javanmard et al, Learning from Aggregate Responses: Instance Level versus Bag
        Level Loss Functions, 2024 (arXiv 2401.11081), section 3.
    """
    _checks.rank(key=key, expected=("[]", "[2]"))
    _checks.rank(theta=theta, expected="[D]", kind="float")
    _checks.positive_int(num_samples=num_samples, bag_size=bag_size)
    if num_samples % bag_size:
        raise ValueError(f"num_samples: expected a multiple of bag_size={bag_size}, got {num_samples}")
    _checks.in_range("noise_std", noise_std, low=0.0)
    kx, ke, kp = jax.random.split(key, 3)
    x = jax.random.normal(kx, (num_samples, theta.shape[0]), theta.dtype)
    y = x @ theta + noise_std * jax.random.normal(ke, (num_samples,), theta.dtype)
    num_bags = num_samples // bag_size
    bag_ids = jax.random.permutation(kp, jnp.arange(num_samples, dtype=jnp.int32) % num_bags)
    labels = jax.ops.segment_sum(y, bag_ids, num_bags) / bag_size
    return AggregateRegression(x, y, bag_ids, labels)
