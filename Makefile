# The two commands a newcomer needs are `make dev` and `make test` (see README.md).
# Everything else here is a step of one of them, or a tool for contributors.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Debian packages the tests need: Chromium renders the job runtime's docs page.
SYSTEM_PACKAGES := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-packages prereqs binaries dev down test lint format typecheck unit integration manifests bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages real nodes need (containerd, runc, CNI plugins, registry, debootstrap,
# iptables); does nothing when they are installed.
prereqs: install
	$(BIN)/racetrack dev prereqs

# The control plane binaries, built from Go modules once and cached outside the repository.
binaries: install prereqs
	$(BIN)/racetrack dev build

# The main job: a local cluster running the racetrack.io CRDs and the operator, with a real
# node where the machine can run containers (simulated nodes otherwise), and the example adder
# Job deployed until Ready; on a real node its image is made here and perform is called.
dev: binaries
	$(BIN)/racetrack dev up --nodes auto
	$(BIN)/racetrack dev example

down: install
	$(BIN)/racetrack dev down

system-packages:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Everything CI runs: lint, types, unit and integration tests against a real control plane.
test: system-packages binaries lint typecheck
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not cluster"

integration: binaries
	$(BIN)/pytest -m cluster

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

# Regenerate crds/ from the pydantic models (a unit test fails when they drift).
manifests: install
	$(BIN)/python -m racetrack_api.crdgen --output crds/

# Every benchmark prints its figures next to a baseline measured in the same run.
bench: binaries
	$(BIN)/python bench/devcluster_start.py
	$(BIN)/python bench/runtime_throughput.py
	$(BIN)/python bench/jobs_convergence.py
	$(BIN)/python bench/chaos_convergence.py
	$(BIN)/python bench/realnode_start.py
	$(BIN)/python bench/build_python3.py
	$(BIN)/python bench/webhooks_admission.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
