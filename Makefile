# Quickstart: `make run` (set-up plus the main job), `make test` (set-up plus every test).
# A virtual environment is created in .venv unless one is already active.

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

.PHONY: setup run test bench lint clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
ifndef VIRTUAL_ENV
	test -x .venv/bin/python || python3 -m venv .venv
endif
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test,colab]'
	touch $(STAMP)

run: setup
	$(PYTHON) -m launch.main --config=$(CONFIG) --workdir=$(WORKDIR)

test: setup
	JAX_PLATFORMS=cpu $(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q

bench: setup
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_meter
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_advantages
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_bootstrap
	JAX_PLATFORMS=cpu $(PYTHON) -m launch.bench_decomp
	$(PYTHON) -m launch.bench_lla  # not forced to CPU: times the Pallas path where an accelerator is present

lint: setup
	$(PYTHON) -m ruff check bvjax pallas_kernels launch tests

clean:
	rm -rf workdir .pytest_cache
