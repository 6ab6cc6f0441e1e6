"""Size-0 and degenerate shapes: a defined result or a ValueError naming the argument."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import attention, finance, rl


@pytest.mark.parametrize("fn", [rl.group_advantages, rl.rloo_advantages])
@pytest.mark.parametrize("shape", [(2, 0), (0, 3)])
def test_group_functions_on_empty_groups(fn, shape):
    out = fn(jnp.zeros(shape))
    assert out.shape == shape and out.dtype == jnp.float32


@pytest.mark.parametrize("fn", [
    lambda q, k, v: attention.local_linear_attention(q, k, v, implementation="xla"),
    lambda q, k, v: attention.local_linear_attention(q, k, v, implementation="pallas"),
    attention.local_linear_attention_chunked, attention.softmax_attention])
def test_attention_on_an_empty_sequence(fn):
    q = jnp.zeros((2, 0, 3, 4))
    v = jnp.zeros((2, 0, 3, 5))
    out = fn(q, q, v)
    assert out.shape == (2, 0, 3, 5)


@pytest.mark.parametrize("fn", [attention.local_linear_attention, attention.local_linear_attention_chunked,
                                attention.softmax_attention])
def test_attention_with_no_head_dimension_raises(fn):
    q = jnp.zeros((1, 3, 1, 0))
    with pytest.raises(ValueError, match=r"q: expected \[B, N, H, D\] with D >= 1"):
        fn(q, q, jnp.zeros((1, 3, 1, 2)))


def test_max_drawdown_of_an_empty_series_is_zero():
    np.testing.assert_array_equal(finance.max_drawdown(jnp.zeros(0)), 0.0)
    np.testing.assert_array_equal(finance.max_drawdown(jnp.zeros((3, 0))), np.zeros(3))
