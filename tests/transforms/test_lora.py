"""LoRA adapters against a float64 NumPy W + s A B, their zero start, and fine-tuning through them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bvjax.transforms import lora_init, lora_merge


def _params():
    rng = np.random.default_rng(0)
    return {"dense": {"kernel": jnp.asarray(rng.standard_normal((5, 3)), jnp.float32),
                      "bias": jnp.asarray(rng.standard_normal(3), jnp.float32)},
            "embed": jnp.asarray(rng.standard_normal((7, 5)), jnp.float32), "scale": jnp.float32(2.0)}


def test_init_shapes_and_zero_start():
    params = _params()
    adapters = lora_init(jax.random.key(1), params, rank=2)
    assert adapters["dense"]["bias"] is None and adapters["scale"] is None
    assert adapters["dense"]["kernel"]["a"].shape == (5, 2) and adapters["embed"]["b"].shape == (2, 5)
    merged = lora_merge(params, adapters)  # B = 0: the adapted model is the base model
    for x, y in zip(jax.tree.leaves(merged), jax.tree.leaves(params)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("jit", [False, True])
def test_merge_matches_numpy(jit):
    params = _params()
    rng = np.random.default_rng(1)
    adapters = jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(a.shape), jnp.float32),
                            lora_init(jax.random.key(0), params, rank=3))
    fn = jax.jit(lora_merge) if jit else lora_merge
    merged = fn(params, adapters, scale=0.7)
    for name in ("embed",):
        a, b = (np.asarray(adapters[name][k], np.float64) for k in ("a", "b"))
        np.testing.assert_allclose(merged[name], np.asarray(params[name], np.float64) + 0.7 * a @ b, rtol=1e-5)
    k = adapters["dense"]["kernel"]
    expected = np.asarray(params["dense"]["kernel"], np.float64) + 0.7 * np.asarray(k["a"], np.float64) @ k["b"]
    np.testing.assert_allclose(merged["dense"]["kernel"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(merged["dense"]["bias"], params["dense"]["bias"])


def test_training_the_adapters_fits_a_low_rank_target():
    params = {"w": jnp.zeros((6, 4))}
    target = jnp.outer(jnp.arange(6.0), jnp.ones(4)) / 6.0  # rank 1
    adapters = lora_init(jax.random.key(2), params, rank=1)
    opt = optax.adam(0.05)
    state = opt.init(adapters)

    def loss(ad):
        return jnp.sum((lora_merge(params, ad)["w"] - target) ** 2)

    first = loss(adapters)
    for _ in range(300):
        grads = jax.grad(loss)(adapters)
        updates, state = opt.update(grads, state, adapters)
        adapters = optax.apply_updates(adapters, updates)
    assert loss(adapters) < 1e-3 * first


def test_wrong_adapters_raise():
    params = _params()
    adapters = lora_init(jax.random.key(0), params, rank=2)
    adapters["embed"] = {"a": jnp.ones((7, 2)), "b": jnp.ones((3, 5))}
    with pytest.raises(ValueError, match="adapters"):
        lora_merge(params, adapters)
    with pytest.raises(ValueError, match="adapters"):
        lora_merge(params, {"dense": None})
    with pytest.raises(ValueError, match="rank"):
        lora_init(jax.random.key(0), params, rank=0)
