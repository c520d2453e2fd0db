# The two commands a newcomer needs are `make dev` and `make test` (see README.md).
# Everything else here is a step of one of them, or a tool for contributors.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install binaries dev down test lint format typecheck unit integration manifests bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The control plane binaries, built from Go modules once and cached outside the repository.
binaries: install
	$(BIN)/racetrack dev build

# The main job: a local cluster with the racetrack.io API and an example Job.
dev: binaries
	$(BIN)/racetrack dev up
	$(BIN)/racetrack dev kubectl apply -k crds/
	$(BIN)/racetrack dev kubectl get crds -l app.kubernetes.io/part-of=racetrack-operator

down: install
	$(BIN)/racetrack dev down

# Everything CI runs: lint, types, unit and integration tests against a real control plane.
test: binaries lint typecheck
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not cluster"

integration: binaries
	$(BIN)/pytest -m cluster

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

# Regenerate crds/ from the pydantic models (a unit test fails when they drift).
manifests: install
	$(BIN)/python -m racetrack_operator.crdgen --output crds/

bench: binaries
	$(BIN)/python bench/devcluster_start.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
