# The two commands a newcomer needs are `make dev` and `make test` (see README.md).
# Everything else here is a step of one of them, or a tool for contributors.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Debian packages the tests and benchmarks need: Chromium renders the job runtime's docs
# page; nginx is the gateway benchmark's floor and wrk its load generator.
SYSTEM_PACKAGES := chromium nginx wrk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-packages prereqs binaries dev down kind-up kind-down kind-image images test lint format typecheck unit integration manifests bench profile clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages the dev cluster needs (containerd, runc, CNI plugins, registry, debootstrap,
# iptables for real nodes; HAProxy for the gateway); does nothing when they are installed.
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

# The platform's images (operator, which also runs the gateway agent and the webhooks;
# builder; HAProxy), made here without a Docker engine on the Debian base, tagged with the
# package version and pushed to the running real-node dev cluster's registry (or
# REGISTRY=host:port). The first run debootstraps the OS layers (cached, a few minutes).
images: prereqs
	$(BIN)/racetrack dev images $(if $(REGISTRY),--registry $(REGISTRY))

# kind, the local cluster Kubernetes users run, on a Docker engine of our own with a node
# image made here from Debian packages and Go modules (docs/kind.md): the cluster, the
# platform installed in it with manifests/kind from the images made here (kind load), and the
# example adder Job deployed and called through the gateway on http://127.0.0.1:8080
# (KIND_GATEWAY_PORT=... for another host port). The first run builds the node image's parts
# (long on 2 cores, see docs/kind.md); later runs reuse them and take about three minutes.
KIND_GATEWAY_PORT ?= 8080
kind-up: binaries
	$(BIN)/racetrack dev kind up --example --gateway-port $(KIND_GATEWAY_PORT)

# The kind node image and the platform's images (cached), made before the tests so the kind
# tier's fixture only finds them; where kind cannot run it says why and the tier is skipped
# with that reason.
kind-image: binaries
	$(BIN)/racetrack dev kind node-image --if-possible

# Deletes the cluster, stops our dockerd; no container, network or mount is left.
kind-down: install
	$(BIN)/racetrack dev kind down

system-packages:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Everything CI runs: lint, types, unit and integration tests against a real control plane.
test: system-packages binaries kind-image lint typecheck
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

# Every benchmark prints its figures next to a baseline measured in the same run
# (valgrind counts the gateway's instructions per call).
bench: SYSTEM_PACKAGES += valgrind
bench: system-packages binaries
	$(BIN)/python bench/devcluster_start.py
	$(BIN)/python bench/runtime_throughput.py
	$(BIN)/python bench/jobs_convergence.py
	$(BIN)/python bench/api_costs.py
	$(BIN)/python bench/api_transport.py
	$(BIN)/python bench/chaos_convergence.py
	$(BIN)/python bench/realnode_start.py
	$(BIN)/python bench/build_python3.py
	$(BIN)/python bench/identity_tokens.py
	$(BIN)/python bench/kind_up.py
	$(BIN)/python bench/gateway_throughput.py
	$(BIN)/python bench/gateway_instructions.py
	$(BIN)/python bench/gateway_propagation.py
	$(BIN)/python bench/platform_scale.py
	$(BIN)/python bench/webhooks_admission.py
	$(BIN)/python bench/purge_timer.py

# Where the operator's CPU goes: py-spy samples it while PROFILE_JOBS Jobs converge (see
# docs/performance.md); the collapsed stacks are kept in PROFILE_OUT for a flame graph.
PROFILE_JOBS ?= 2000
PROFILE_OUT ?= /tmp/racetrack-operator-profile.txt
profile: binaries
	$(BIN)/python bench/jobs_scale.py --skip-floor --jobs $(PROFILE_JOBS) --burst 100 \
		--profile $(PROFILE_OUT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
