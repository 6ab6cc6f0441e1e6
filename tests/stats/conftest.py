"""Fixtures for the bvjax.stats tests."""

import jax
import pytest


@pytest.fixture
def x64():
    """Runs one test with 64-bit JAX types, leaving the global setting untouched."""
    with jax.enable_x64(True):
        yield
