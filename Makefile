# Quickstart: `make run` (set-up plus the main job), `make test` (set-up plus the suite less the slow sweeps; `make test-all` runs those too).
# A virtual environment is created in .venv unless one is already active.
# `make wheel` builds dist/bvjax-*.whl, `make docs` the documentation site (docs/_build/html,
# warnings are errors), `make test-min` a fast subset against the dependency floors.

ifdef VIRTUAL_ENV
PYTHON := python
STAMP := $(VIRTUAL_ENV)/.bvjax-installed
else
PYTHON := .venv/bin/python
STAMP := .venv/.bvjax-installed
endif

WORKDIR ?= workdir/reinforce_baselines
CONFIG ?= launch/configs/reinforce_baselines.py
PYTEST_WORKERS ?= 2

.PHONY: setup run test test-all test-min fuzz wheel docs bench device-check lint clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
ifndef VIRTUAL_ENV
	test -x .venv/bin/python || python3 -m venv .venv
endif
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[launch,test,colab,docs]'
	touch $(STAMP)

run: setup
	$(PYTHON) -m launch.main --config=$(CONFIG) --workdir=$(WORKDIR)

test: setup
	JAX_PLATFORMS=cpu $(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q -m "not slow"

# Everything, the slow sweeps included.
test-all: setup
	JAX_PLATFORMS=cpu $(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q

# Random exploration of every hypothesis test (the suite itself is derandomized): FUZZ_RUNS passes,
# each under a fresh random seed that is printed first (or FUZZ_SEEDS="s1 s2 ..." to replay), each test
# drawing FUZZ_SCALE times its own max_examples; then a summary of the seeds that failed. A failure
# reproduces with `BVJAX_HYPOTHESIS_PROFILE=fuzz BVJAX_FUZZ_SCALE=N pytest -m hypothesis
# --hypothesis-seed=SEED` (the failing example's blob is printed too).
FUZZ_RUNS ?= 3
FUZZ_SCALE ?= 5
FUZZ_SEEDS ?=
fuzz: setup
	@seeds="$(FUZZ_SEEDS)"; \
	if [ -z "$$seeds" ]; then for i in $$(seq $(FUZZ_RUNS)); do \
	  seeds="$$seeds $$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"; done; fi; \
	failed=""; \
	for seed in $$seeds; do \
	  echo "fuzz: hypothesis seed $$seed, $(FUZZ_SCALE)x each test's examples"; \
	  BVJAX_HYPOTHESIS_PROFILE=fuzz BVJAX_FUZZ_SCALE=$(FUZZ_SCALE) JAX_PLATFORMS=cpu $(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q \
	    -m hypothesis --hypothesis-seed=$$seed \
	    || failed="$$failed $$seed"; \
	done; \
	echo "fuzz: seeds run:$$seeds"; \
	if [ -n "$$failed" ]; then echo "fuzz: seeds that failed:$$failed"; exit 1; fi; \
	echo "fuzz: every seed passed"

# The wheel users install: bvjax and pallas_kernels, LICENSE in its metadata; no network
# (the build backend, setuptools, comes with the test extra).
wheel: setup
	rm -rf dist
	$(PYTHON) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

docs: setup
	$(PYTHON) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# The dependency floors of setup.cfg (pinned in constraints-min.txt, the launch extra's
# included) in their own environment, .venv-min, and a fast subset of the suite against them:
# the argument checks, the core of rl (advantages, aggregation, KL, policy losses), preference
# (DPO), attention (local linear attention), diagnostics (the bias-variance meter), stats
# (significance tests) and the launch configs. About 4 minutes of tests on 2 CPU cores.
MIN_TESTS ?= tests/test_checks.py tests/rl/test_advantages.py tests/rl/test_aggregate.py \
	tests/rl/test_kl.py tests/rl/test_policy_loss.py tests/preference/test_dpo.py \
	tests/attention/test_lla.py tests/diagnostics/test_bias_variance.py \
	tests/stats/test_significance.py tests/launch/test_configs.py
test-min:
	test -x .venv-min/bin/python || python3 -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet -c constraints-min.txt -e '.[launch]' pytest pytest-timeout hypothesis scipy mlxtend statsmodels
	JAX_PLATFORMS=cpu .venv-min/bin/python -m pytest -p no:xdist -q $(MIN_TESTS)

bench: setup
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_meter
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_advantages
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_bootstrap
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_decomp
	$(PYTHON) -m launch.bench_lla  # not forced to CPU: times the Pallas path where an accelerator is present

# On a GPU or TPU host: the kernel tests run natively and the kernel benchmarks (FlashLLA vs chunked
# vs naive LLA at N = 1k-16k, d = 64/128, bf16; grouped advantages Pallas vs XLA), under 8 minutes;
# writes $(DEVICE_CHECK_OUT)/device_check.json and .md. No set-up step (no network needed): run it
# where the environment already exists. On CPU, `python -m launch.device_check --dry_run` checks it.
DEVICE_CHECK_OUT ?= workdir/device_check
device-check:
	$(PYTHON) -m launch.device_check --out=$(DEVICE_CHECK_OUT) $(DEVICE_CHECK_FLAGS)

lint: setup
	$(PYTHON) -m ruff check bvjax pallas_kernels launch tests

clean:
	rm -rf workdir .pytest_cache dist build docs/_build docs/api/generated
