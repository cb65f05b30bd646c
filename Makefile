# Two commands matter: `make demo` and `make test`. Both install what they need, and
# each long step prints one line: what it does, how long it took here the first time.
# Only the targets that run OPA build it (`make demo` runs the embedded engine).
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
STEP := tools/step.sh
export PATH := $(CURDIR)/tools/bin:$(PATH)
# Other ports for a second demo beside a running one: make demo DEMO_PORT=8090 DEMO_FAKE_PORT=9201
DEMO_PORT ?=
DEMO_FAKE_PORT ?=

.PHONY: demo serve test e2e setup opa redis-server chromium egress-servers policy-test lint typecheck pytest bench bench-setup bench-gateways soak chaos crash clean

setup: $(VENV)/.installed $(VENV)/.native

opa: $(OPA)

# -qq: pip still prints errors, not setuptools' notice about every editable install.
$(VENV)/.installed: pyproject.toml
	@$(STEP) "Python packages into $(VENV)" "~1.5-2 min" bash -c "\
		$(PYTHON) -m venv $(VENV) && \
		$(VENV)/bin/pip install -qq --upgrade pip 'setuptools>=77' && \
		$(VENV)/bin/pip install -qq -e '.[dev]'"
	@touch $@

# The hot modules compiled with mypyc (from the dev extra) and the detector's native scan
# (Rust, crates pinned by native/scan/Cargo.lock), again whenever one changes.
$(VENV)/.native: $(VENV)/.installed tools/native.py $(shell $(PYTHON) tools/native.py --sources)
	@$(STEP) "compiling the hot modules (mypyc) and the PII scan (Rust)" "~3.5-4.5 min" \
		$(PY) tools/native.py
	@touch $@

# Real OPA, built from the Go module proxy into a project-local folder, reused when present.
$(OPA):
	@mkdir -p tools/bin
	@$(STEP) "building OPA $(OPA_VERSION) from the Go module proxy into tools/bin" "~5 min" \
		env GOBIN=$(CURDIR)/tools/bin GOFLAGS=-mod=mod go install github.com/open-policy-agent/opa@$(OPA_VERSION)
	@$(OPA) version | grep -q "$(patsubst v%,%,$(OPA_VERSION))"

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

# squid and nginx for the egress tests (proxy, TLS): Debian's packages, installed when missing.
egress-servers:
	@$(STEP) "squid and nginx for the egress tests (apt, when missing)" "~30 s" \
		tools/install_egress_servers.sh

# SeaweedFS from the Go module proxy, built once into tools/bin and reused.
$(WEED):
	@mkdir -p tools/bin
	@$(STEP) "building SeaweedFS (the S3 store the shipping tests use) into tools/bin" "~10 min" \
		tools/build_weed.sh $(WEED_VERSION) $(CURDIR)/$(WEED)
	@$(WEED) version | grep -q "^version "

# Redis only when the demo's config asks for it (fleet.redis).
demo: setup $(if $(shell grep -s '^ *redis:' $(DEMO_CONFIG)),redis-server)
	$(PY) deploy/demo/run_demo.py $(DEMO_CONFIG) $(if $(DEMO_PORT),--port $(DEMO_PORT)) $(if $(DEMO_FAKE_PORT),--fake-port $(DEMO_FAKE_PORT))

# The sidecar on real providers: keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY,
# AZURE_OPENAI_API_KEY, MISTRAL_API_KEY (the ones you have); the config is checked first.
PROVIDERS_CONFIG := deploy/providers/policy-engine.yaml
PROVIDERS_KEY := var/providers/keys/audit-signing-key.pem
serve: setup
	@test -f $(PROVIDERS_KEY) || $(VENV)/bin/policy-engine keys generate --out $(dir $(PROVIDERS_KEY)) > /dev/null
	@$(VENV)/bin/policy-engine config check $(PROVIDERS_CONFIG)
	$(VENV)/bin/policy-engine serve --config $(PROVIDERS_CONFIG)

policy-test: $(OPA)
	@echo "==> OPA policy tests: check, fmt, test with coverage (~10 s)"
	$(OPA) check --strict policies/
	$(OPA) fmt --fail --list policies/
	$(OPA) test --fail-on-empty --coverage --threshold 90 policies/ > /dev/null
	$(OPA) test --fail-on-empty -v policies/ | tail -n 1

lint: setup
	@echo "==> lint: ruff, cargo fmt and clippy (~30 s)"
	$(VENV)/bin/ruff check policy_engine adapters tests bench deploy tools/native.py
	$(VENV)/bin/ruff format --check policy_engine adapters tests bench deploy tools/native.py
	cargo fmt --check --manifest-path native/scan/Cargo.toml
	PYO3_PYTHON=$(CURDIR)/$(PY) cargo clippy --quiet --release --locked --manifest-path native/scan/Cargo.toml -- -D warnings

typecheck: setup
	@echo "==> typecheck: mypy --strict (~1 min)"
	$(VENV)/bin/mypy

# Real OPA for the parity, differential, bundle and REST tests; Redis and SeaweedFS for
# the fleet and shipping tests; Debian's Chromium for the console's browser tests; squid and
# nginx for the egress tests.
pytest: setup $(OPA) $(WEED) redis-server chromium egress-servers
	@echo "==> pytest: the whole suite (~11-12 min on 2 cores)"
	$(VENV)/bin/pytest -q

test: setup policy-test lint typecheck pytest

# The self-hosted fallback against a real inference server: llama.cpp's OpenAI-compatible
# server from llama-cpp-python, built from source into its own virtualenv (too long a
# build for `make test`), loading a tiny model the tests write with the gguf package.
E2E_VENV := .venv-e2e
$(E2E_VENV)/.installed: tools/e2e-requirements.txt
	@$(STEP) "llama.cpp's server (llama-cpp-python, compiled from source) into $(E2E_VENV)" "~10-55 min" bash -c "\
		$(PYTHON) -m venv $(E2E_VENV) && \
		$(E2E_VENV)/bin/pip install -qq --upgrade pip && \
		CMAKE_BUILD_PARALLEL_LEVEL=2 $(E2E_VENV)/bin/pip install -qq -r tools/e2e-requirements.txt"
	@touch $@

e2e: setup $(E2E_VENV)/.installed
	$(VENV)/bin/pytest -q -rs tests/e2e

# Benchmarks print numbers and ratios measured in the same run; they never gate `make test`.
bench-setup: setup
	$(VENV)/bin/pip install -qq -e '.[bench]' py-spy

bench: bench-setup $(OPA)
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
	rm -rf $(VENV) $(E2E_VENV) tools/bin var .pytest_cache .mypy_cache .ruff_cache .hypothesis build/mypyc
	rm -rf native/scan/target
	find adapters policy_engine -name '*.so' -delete
