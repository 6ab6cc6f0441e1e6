"""Test-wide set-up (root conftest, so it runs before doctests under bvjax/ import jax): 8 fake CPU devices for the sharding tests, float32 by default.

XLA_FLAGS must be set before jax is first imported, which is why this lives here.
"""

import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# A persistent compilation cache shared by the xdist workers and the subprocesses the
# launch tests start: identical programs (the same config trained twice, a resumed run)
# compile once per machine. Keys include the program and the devices, so a change in the
# code or in the device count never reuses a stale executable.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "bvjax-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

import gc

import pytest
from hypothesis import HealthCheck, Phase, settings

# Hypothesis profiles. `make test` (and CI) use "suite": derandomized, so every run draws the same
# examples (a submission is never refused by a new random draw), no example database (a clean clone
# and a reused checkout behave alike), and a failing example is printed with its reproduce blob.
# `make fuzz` selects "fuzz": fresh random examples under the seed it passes and prints.
settings.register_profile("suite", derandomize=True, database=None, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow],
                          phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink])
settings.load_profile(os.environ.get("BVJAX_HYPOTHESIS_PROFILE", "suite"))
# Under `make fuzz`, each hypothesis test draws FUZZ_SCALE times its own max_examples (in one process,
# so its programs compile once for all of them), and a test that pins derandomize=True in its own
# settings is explored too.
_FUZZ = os.environ.get("BVJAX_HYPOTHESIS_PROFILE") == "fuzz"
_FUZZ_SCALE = int(os.environ.get("BVJAX_FUZZ_SCALE", "1"))


def pytest_collection_modifyitems(config, items):
    if not _FUZZ:
        return
    for item in items:
        fn = getattr(item, "obj", None)
        own = getattr(fn, "_hypothesis_internal_use_settings", None)
        if own is not None and getattr(fn, "is_hypothesis_test", False):
            fn._hypothesis_internal_use_settings = settings(
                own, max_examples=own.max_examples * max(_FUZZ_SCALE, 1), derandomize=False, database=None)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop jit caches after each test module: an xdist worker that runs ~1,000 tests would otherwise
    keep every compiled executable alive (about 5.6 GB a worker before this). Programs shared across
    modules come back from the persistent compilation cache set above."""
    yield
    import jax

    jax.clear_caches()
    gc.collect()

# The suite uses `jax.enable_x64(...)` as a context manager and `jax.export` without importing
# it; jax releases before those became public attributes (the 0.7 series, setup.cfg's floor,
# run by `make test-min`) have the same manager as `jax.experimental.enable_x64`, and load
# `jax.export` only when it is imported.
import jax
import jax.experimental
import jax.export

if not hasattr(jax, "enable_x64"):
    jax.enable_x64 = jax.experimental.enable_x64
