"""Test-wide set-up (root conftest, so it runs before doctests under bvjax/ import jax): 8 fake CPU devices for the sharding tests, float32 by default.

XLA_FLAGS must be set before jax is first imported, which is why this lives here.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("BVJAX_PALLAS_INTERPRET", "1")
