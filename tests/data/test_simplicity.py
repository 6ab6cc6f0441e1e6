"""Shah et al.'s LMS-k and MS-(5,7) generators: slab geometry, margins, class-conditional slab frequencies, probe."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.data import (
    linear_coordinate,
    lms_data,
    ms57_data,
    randomize_coordinates,
    slab_coordinate,
)
from bvjax.data._simplicity import slab_bounds


def _which_slab(v, bounds):
    """Index of the slab holding each value, -1 if in a gap (float64 NumPy)."""
    inside = (v[:, None] >= bounds[None, :, 0] - 1e-6) & (v[:, None] <= bounds[None, :, 1] + 1e-6)
    return np.where(inside.any(1), inside.argmax(1), -1)


def test_slab_geometry_matches_the_spec():
    # The official generator's values, B = 1, gamma = 0.1.
    b5 = slab_bounds(5)
    np.testing.assert_allclose(b5[2], [-0.12, 0.12])
    np.testing.assert_allclose(b5[3], [0.32, 0.56])
    np.testing.assert_allclose(b5[4], [0.76, 1.0])
    b7 = slab_bounds(7)
    w = 0.8 / 7
    np.testing.assert_allclose(b7[3], [-w / 2, w / 2])
    np.testing.assert_allclose(b7[4, 0], 0.2571428571, atol=1e-9)
    np.testing.assert_allclose(b7[5, 0], 0.5714285714, atol=1e-9)
    np.testing.assert_allclose(b7[6], [0.8857142857, 1.0], atol=1e-9)
    for k in (3, 5, 7):
        b = slab_bounds(k)
        np.testing.assert_allclose(b[1:, 0] - b[:-1, 1], 0.2)  # gaps of 2 gamma
        np.testing.assert_allclose(b[:, 1] - b[:, 0], b[0, 1] - b[0, 0])
    with pytest.raises(ValueError, match="margin"):
        slab_bounds(7, margin=0.2)


# Class-conditional slab frequencies [y=0 row, y=1 row] of the official generator (¾/¼, ⅞/⅛, ½/½).
EXPECTED = {
    3: [[0, 1, 0], [0.5, 0, 0.5]],
    5: [[0.125, 0, 0.75, 0, 0.125], [0, 0.5, 0, 0.5, 0]],
    7: [[0, 0.25, 0, 0.5, 0, 0.25, 0], [0.0625, 0, 0.4375, 0, 0.4375, 0, 0.0625]],
}


@pytest.mark.parametrize("k", [3, 5, 7])
def test_slab_frequencies(k):
    n = 40_000
    y = jnp.arange(n, dtype=jnp.int32) % 2
    v = np.asarray(jax.jit(slab_coordinate, static_argnames="num_slabs")(jax.random.key(k), y, num_slabs=k),
                   np.float64)
    idx = _which_slab(v, slab_bounds(k))
    assert (idx >= 0).all()  # every value inside a slab: the margins are respected
    yn = np.asarray(y)
    for cls in (0, 1):
        freq = np.bincount(idx[yn == cls], minlength=k) / (n / 2)
        np.testing.assert_allclose(freq, EXPECTED[k][cls], atol=4 * np.sqrt(0.25 / (n / 2)))
    # Uniform inside a slab: the centre slab's mean is ~0 and its spread is w^2 / 12.
    b = slab_bounds(k)[k // 2]
    centre = v[idx == k // 2]
    np.testing.assert_allclose(centre.var(), (b[1] - b[0]) ** 2 / 12, rtol=0.05)


def test_linear_coordinate():
    y = jnp.arange(20_000, dtype=jnp.int32) % 2
    v = np.asarray(linear_coordinate(jax.random.key(0), y, margin=0.1))
    pos, neg = v[np.asarray(y) == 1], v[np.asarray(y) == 0]
    assert pos.min() >= 0.1 and pos.max() <= 1.0 and neg.max() <= -0.1 and neg.min() >= -1.0
    np.testing.assert_allclose(pos.mean(), 0.55, atol=0.01)
    with pytest.raises(ValueError, match="margin"):
        linear_coordinate(jax.random.key(0), y, margin=1.0)
    with pytest.raises(TypeError, match="y"):
        linear_coordinate(jax.random.key(0), y.astype(jnp.float32))


@pytest.mark.parametrize("rotate", [False, True])
def test_datasets(rotate):
    lms = jax.jit(lms_data, static_argnames=("num_samples", "dim", "num_slabs", "rotate"))(
        jax.random.key(1), num_samples=1000, dim=6, rotate=rotate)
    ms = ms57_data(jax.random.key(2), num_samples=1000, dim=6, rotate=rotate)
    for d, first, rest in ((lms, None, 5), (ms, 5, 7)):
        assert d.x.shape == (1000, 6) and int(d.y.sum()) == 500
        w = np.asarray(d.rotation, np.float64)
        np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)
        z = np.asarray(d.x, np.float64) @ w.T
        y = np.asarray(d.y)
        if first is None:
            assert np.all(np.sign(z[:, 0]) == 2 * y - 1)
        else:
            assert (_which_slab(z[:, 0], slab_bounds(first)) >= 0).all()
        for j in range(1, 6):
            idx = _which_slab(z[:, j], slab_bounds(rest))
            assert (idx >= 0).all()
            # Each slab holds one class only: the coordinate separates the data.
            for s in range(rest):
                assert len(set(y[idx == s].tolist())) <= 1
    assert not np.allclose(np.asarray(lms.x[:, 1]), np.asarray(lms.x[:, 2]))  # independent coordinates


def test_randomize_coordinates_in_the_rotated_basis():
    d = lms_data(jax.random.key(3), num_samples=200, dim=4, rotate=True)
    coords = jnp.array([False, True, True, False])
    out = randomize_coordinates(jax.random.key(4), d.x, coords, rotation=d.rotation)
    z, z_out = np.asarray(d.x @ d.rotation.T), np.asarray(out @ d.rotation.T)
    np.testing.assert_allclose(z_out[:, [0, 3]], z[:, [0, 3]], atol=1e-5)
    # One shared permutation: rows of the chosen block move together.
    rows = {tuple(np.round(r, 4)) for r in z[:, 1:3]}
    assert {tuple(np.round(r, 4)) for r in z_out[:, 1:3]} == rows
    assert not np.allclose(z_out[:, 1], z[:, 1])
    with pytest.raises(ValueError, match="coords"):
        randomize_coordinates(jax.random.key(4), d.x, jnp.ones(3, bool))


@settings(max_examples=8, deadline=None)
@given(margin=st.floats(0.0, 0.16), k=st.sampled_from([3, 5, 7]), seed=st.integers(0, 100))
def test_any_valid_margin_stays_in_slabs(margin, k, seed):
    if 2 * (k - 1) * margin >= 2.0:
        return
    y = jnp.arange(64, dtype=jnp.int32) % 2
    fn = jax.jit(slab_coordinate, static_argnames=("num_slabs", "margin"))
    v = np.asarray(fn(jax.random.key(seed), y, num_slabs=k, margin=margin), np.float64)
    assert (_which_slab(v, slab_bounds(k, margin)) >= 0).all() and np.isfinite(v).all()
