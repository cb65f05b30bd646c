# Two commands matter: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
OPA_VERSION := v1.22.2
VENV := .venv
PY := $(VENV)/bin/python
OPA := tools/bin/opa
# SeaweedFS: the S3-compatible store (object lock included) the shipping tests run against.
WEED_VERSION := v0.0.0-20261109003541-7506e5f91cd6
WEED := tools/bin/weed
DEMO_CONFIG ?= deploy/demo/policy-engine.yaml
export PATH := $(CURDIR)/tools/bin:$(PATH)

.PHONY: demo test setup redis-server chromium policy-test lint typecheck pytest bench bench-setup bench-gateways soak chaos crash clean

setup: $(VENV)/.installed $(VENV)/.native $(OPA) $(WEED) redis-server

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip 'setuptools>=77'
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# The hot modules compiled with mypyc (from the dev extra) and the detector's native scan
# (Rust, crates pinned by native/scan/Cargo.lock), again whenever one changes.
$(VENV)/.native: $(VENV)/.installed tools/native.py $(shell $(PYTHON) tools/native.py --sources)
	$(PY) tools/native.py
	touch $@

# Real OPA, built from the Go module proxy into a project-local folder, reused when present.
$(OPA):
	mkdir -p tools/bin
	GOBIN=$(CURDIR)/tools/bin GOFLAGS=-mod=mod go install github.com/open-policy-agent/opa@$(OPA_VERSION)
	$(OPA) version | grep -q "$(patsubst v%,%,$(OPA_VERSION))"

# Redis for the fleet tests, and for `make demo` when its config sets fleet.redis
# (DEMO_CONFIG=deploy/demo/fleet.yaml): Debian's redis-server, installed when missing.
redis-server:
	@command -v redis-server >/dev/null || { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive \
	       apt-get install -y --no-install-recommends redis-server; }; }

# Debian's Chromium for the console's browser tests (Playwright drives it; no browser is
# ever downloaded), installed when missing; only `make test` needs it, not `make demo`.
chromium:
	@command -v chromium >/dev/null || { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive \
	       apt-get install -y --no-install-recommends chromium; }; }

# SeaweedFS from the Go module proxy, built once into tools/bin and reused. Its go.mod
# has replace directives, which `go install module@version` refuses, so the module's
# source is copied out of the module cache and built as the main module.
$(WEED):
	mkdir -p tools/bin
	src=$$(go mod download -json github.com/seaweedfs/seaweedfs@$(WEED_VERSION) \
	       | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') \
	  && work=$$(mktemp -d) && cp -r "$$src"/. "$$work" && chmod -R u+w "$$work" \
	  && (cd "$$work" && GOFLAGS=-mod=mod go build -o $(CURDIR)/$(WEED) ./weed) \
	  ; status=$$?; rm -rf "$$work"; exit $$status
	$(WEED) version | grep -q "^version "

demo: setup
	$(PY) deploy/demo/run_demo.py $(DEMO_CONFIG)

policy-test: $(OPA)
	$(OPA) check --strict policies/
	$(OPA) fmt --fail --list policies/
	$(OPA) test --fail-on-empty --coverage --threshold 90 policies/ > /dev/null
	$(OPA) test --fail-on-empty -v policies/ | tail -n 1

lint: setup
	$(VENV)/bin/ruff check policy_engine adapters tests bench deploy tools/native.py
	$(VENV)/bin/ruff format --check policy_engine adapters tests bench deploy tools/native.py
	cargo fmt --check --manifest-path native/scan/Cargo.toml
	PYO3_PYTHON=$(CURDIR)/$(PY) cargo clippy --quiet --release --locked --manifest-path native/scan/Cargo.toml -- -D warnings

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup chromium
	$(VENV)/bin/pytest -q

test: setup policy-test lint typecheck pytest

# Benchmarks print numbers and ratios measured in the same run; they never gate `make test`.
bench-setup: setup
	$(VENV)/bin/pip install --quiet -e '.[bench]' py-spy

bench: bench-setup
	$(PY) bench/decision_bench.py
	$(PY) bench/audit_bench.py
	$(PY) bench/redaction_bench.py
	$(PY) bench/gateway/run.py --duration 10 --profile --results bench/.work/RESULTS.md

bench-gateways: bench-setup
	$(PY) bench/gateway/run.py --duration 10 --profile --results bench/.work/RESULTS.md

# Longer fault runs, outside `make test`: steady load with failures, sampling RSS and fds;
# randomised provider, OPA, audit-disk and kill -9 faults, counting invariant breaks;
# and kill -9 of the sidecar or its writer, checking every send and answer has its records.
soak: setup
	$(PY) -m bench.soak --duration 300

chaos: setup $(OPA)
	$(PY) -m bench.chaos --duration 180

# kill -9 of the sidecar and of its audit writer at 100 random moments under load.
crash: setup
	$(PY) -m bench.crash --kills 100

clean:
	rm -rf $(VENV) tools/bin var .pytest_cache .mypy_cache .ruff_cache .hypothesis build/mypyc
	rm -rf native/scan/target
	find adapters policy_engine -name '*.so' -delete
