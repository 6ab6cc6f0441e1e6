"""Array-valued hyperparameters are checked in eager mode as scalars are (item: checks that
array arguments skipped)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _checks, attention
from bvjax.preference import dpo_loss


def test_in_range_checks_every_entry():
    _checks.in_range("x", np.array([0.1, 0.2]), low=0.0)
    with pytest.raises(ValueError, match=r"x: expected a value in \(0.0, inf\], got an array of shape \(2,\)"):
        _checks.in_range("x", jnp.array([0.1, -0.2]), low=0.0, low_inclusive=False)
    with pytest.raises(ValueError, match="x"):
        _checks.in_range("x", np.array([np.nan]), low=0.0)
    _checks.in_range("x", np.zeros((0,)), low=1.0)  # nothing to check
    _checks.in_range("x", None, low=1.0)  # an unset optional hyperparameter


def test_lla_array_ridge_negative_raises():
    x = jnp.ones((2, 5, 1, 4))
    with pytest.raises(ValueError, match="ridge"):
        attention.local_linear_attention(x, x, x, ridge=jnp.full((2, 5), -1.0))
    with pytest.raises(ValueError, match="ridge"):
        attention.local_linear_attention_chunked(x, x, x, ridge=jnp.full((2, 5), -1.0))


def test_dpo_array_label_smoothing_out_of_range_raises():
    z = jnp.zeros(2)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(z, z, z, z, label_smoothing=jnp.array([1.5, -0.2]))
    # In range: accepted, and equal under jit (where it cannot be checked).
    ok = jnp.array([0.1, 0.3])
    np.testing.assert_allclose(dpo_loss(z, z, z, z, label_smoothing=ok),
                               jax.jit(lambda s: dpo_loss(z, z, z, z, label_smoothing=s))(ok))
