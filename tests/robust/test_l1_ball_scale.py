"""project_l1_ball with a radius far below |v|: the exact projection, not zeros (reference:
Duchi et al.'s algorithm in float64 NumPy, then rounded)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from bvjax.robust import project_l1_ball


def np_l1_ball(v, radius):
    """Duchi et al.'s algorithm in exact rational arithmetic (fractions), then rounded."""
    v = [Fraction(float(x)) for x in v]
    radius = Fraction(radius)
    if sum(abs(x) for x in v) <= radius:
        return np.array([float(x) for x in v])
    u = sorted((abs(x) for x in v), reverse=True)
    css, theta = Fraction(0), Fraction(0)
    for j, uj in enumerate(u, start=1):
        css += uj
        if uj - (css - radius) / j > 0:
            theta = (css - radius) / j  # the last j that passes is rho
    return np.array([float((1 if x > 0 else -1) * max(abs(x) - theta, Fraction(0))) for x in v])


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e7, 1e20])
def test_projection_at_large_magnitudes(scale):
    v = (np.array([0.5, -2.0, 1.0, 0.1]) * scale).astype(np.float32)
    z = np.asarray(project_l1_ball(v[None], radius=1.0))[0]
    ref = np_l1_ball(v, 1.0)
    np.testing.assert_allclose(z, ref, atol=1e-6)
    assert abs(np.abs(z).sum() - 1.0) < 1e-5


def test_projection_two_near_ties():
    v = np.array([[1e7, 1e7 - 1.0, 3.0]], np.float32)
    z = np.asarray(project_l1_ball(v, radius=2.0))[0]
    np.testing.assert_allclose(z, np_l1_ball(v[0], 2.0), atol=1e-6)
