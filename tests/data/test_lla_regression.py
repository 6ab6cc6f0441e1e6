"""piecewise_linear_stream against a float64 NumPy reference of its regions and maps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.data import piecewise_linear_stream


def _maps(e=2, d=3):
    return jax.random.normal(jax.random.key(7), (4, e, d))


def _reference_targets(keys, maps, drift):
    """Float64 loop: rotate the first two coordinates, pick the quadrant's map, apply it."""
    keys, maps = np.asarray(keys, np.float64), np.asarray(maps, np.float64)
    b, n, _ = keys.shape
    out = np.zeros((b, n, maps.shape[1]))
    for t in range(n):
        theta = drift * t / max(n - 1, 1)
        for i in range(b):
            x1, x2 = keys[i, t, 0], keys[i, t, 1]
            u = np.cos(theta) * x1 + np.sin(theta) * x2
            w = -np.sin(theta) * x1 + np.cos(theta) * x2
            region = 2 * int(u >= 0) + int(w >= 0)
            out[i, t] = maps[region] @ keys[i, t]
    return out


@pytest.mark.parametrize("drift", [0.0, 1.3])
@pytest.mark.parametrize("jit", [False, True])
def test_targets_match_reference(drift, jit):
    fn = piecewise_linear_stream
    if jit:
        fn = jax.jit(fn, static_argnames=("batch_size", "seq_len"))
    maps = _maps()
    keys, values, targets = fn(jax.random.key(0), maps, batch_size=3, seq_len=40, noise_std=0.1, drift=drift)
    assert keys.shape == (3, 40, 3) and values.shape == targets.shape == (3, 40, 2)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(keys, np.float64), axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(targets, _reference_targets(keys, maps, drift), atol=1e-5)
    noise = np.asarray(values - targets, np.float64)
    assert 0.07 < noise.std() < 0.13  # sigma = 0.1 over 240 draws


def test_drift_changes_regions_late_not_early():
    maps = jnp.stack([s * jnp.eye(3) for s in (1.0, 2.0, 3.0, 4.0)])
    k0, _, y0 = piecewise_linear_stream(jax.random.key(1), maps, batch_size=4, seq_len=64, noise_std=0.0)
    k1, _, y1 = piecewise_linear_stream(jax.random.key(1), maps, batch_size=4, seq_len=64, noise_std=0.0,
                                        drift=np.pi)
    np.testing.assert_array_equal(k0, k1)
    np.testing.assert_allclose(y0[:, 0], y1[:, 0])  # theta_0 = 0
    assert not np.allclose(y0[:, -1], y1[:, -1])    # a half turn swaps every quadrant


def test_vmap_over_keys():
    keys = jax.random.split(jax.random.key(2), 3)
    fn = jax.vmap(lambda k: piecewise_linear_stream(k, _maps(), batch_size=2, seq_len=5)[1])
    assert fn(keys).shape == (3, 2, 5, 2)


def test_contract_errors():
    with pytest.raises(ValueError, match=r"maps.*\[4, E, D\]"):
        piecewise_linear_stream(jax.random.key(0), jnp.zeros((3, 2, 2)), batch_size=1, seq_len=4)
    with pytest.raises(ValueError, match="D >= 2"):
        piecewise_linear_stream(jax.random.key(0), jnp.zeros((4, 2, 1)), batch_size=1, seq_len=4)
    with pytest.raises(ValueError, match="noise_std"):
        piecewise_linear_stream(jax.random.key(0), _maps(), batch_size=1, seq_len=4, noise_std=-1.0)
