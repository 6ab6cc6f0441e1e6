"""Masked positions of token_logps / sequence_logps: -inf or NaN logits there reach neither
the value nor the gradient (reference: float64 NumPy softmax minus one-hot)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.preference import sequence_logps, token_logps


@pytest.mark.parametrize("fill", [-np.inf, np.nan])
@pytest.mark.parametrize("how", ["mask", "label"])
def test_gradient_at_masked_position_is_zero(fill, how):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 3))
    mask = np.ones((2, 3), bool)
    logits[0, 1] = fill
    if how == "mask":
        mask[0, 1] = False
    else:
        labels[0, 1] = -100
    for fn in (lambda z: jnp.sum(sequence_logps(z, labels, mask)),
               lambda z: jnp.sum(token_logps(z, labels, mask=jnp.asarray(mask)))):
        g = np.asarray(jax.jit(jax.grad(fn))(jnp.asarray(logits)))
        assert np.all(g[0, 1] == 0.0)
        z = logits.astype(np.float64)
        with np.errstate(invalid="ignore"):  # an all -inf masked row is NaN here and not compared
            p = np.exp(z - z.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
        ref = np.eye(5)[np.clip(labels, 0, 4)] - p  # the masked position is not compared
        ok = np.ones((2, 3), bool)
        ok[0, 1] = False
        np.testing.assert_allclose(g[ok], ref[ok], atol=1e-6)
    assert np.isfinite(float(jnp.sum(sequence_logps(logits, labels, mask))))
