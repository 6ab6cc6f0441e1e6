"""Test-wide set-up (root conftest, so it runs before doctests under bvjax/ import jax): 8 fake CPU devices for the sharding tests, float32 by default.

XLA_FLAGS must be set before jax is first imported, which is why this lives here.
"""

import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("BVJAX_PALLAS_INTERPRET", "1")
# A persistent compilation cache shared by the xdist workers and the subprocesses the
# launch tests start: identical programs (the same config trained twice, a resumed run)
# compile once per machine. Keys include the program and the devices, so a change in the
# code or in the device count never reuses a stale executable.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "bvjax-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

# The suite uses `jax.enable_x64(...)` as a context manager and `jax.export` without importing
# it; jax releases before those became public attributes (the 0.7 series, setup.cfg's floor,
# run by `make test-min`) have the same manager as `jax.experimental.enable_x64`, and load
# `jax.export` only when it is imported.
import jax
import jax.experimental
import jax.export

if not hasattr(jax, "enable_x64"):
    jax.enable_x64 = jax.experimental.enable_x64
