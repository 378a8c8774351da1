# The documented interface. `make run` and `make test` do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROTO_SRC := protos/identity_api/v1/identity.proto
PROTO_OUT := identity_api/v1/identity_pb2.py

.PHONY: install protos run test mutants lint fmt check bench deploy-check clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3

# Reinstall whenever the dependency pins change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed $(PROTO_OUT)

$(PROTO_OUT): $(PROTO_SRC) $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -Iprotos \
		--python_out=. --grpc_python_out=. --mypy_out=. --mypy_grpc_out=. \
		$(PROTO_SRC)
	touch identity_api/v1/__init__.py

protos: $(PROTO_OUT)

run: install
	$(BIN)/graphos-scim-dev

# The console's browser tests drive Debian's chromium through Playwright
# (executable_path; `playwright install` never runs). As root, install it from
# the distribution's packages when missing; otherwise say how.
CHROMIUM := /usr/bin/chromium

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "make: the browser tests need $(CHROMIUM): sudo apt-get install chromium" >&2; \
			exit 1; \
		fi; \
	fi

test: install chromium
	$(BIN)/pytest --cov --cov-report=term

# Break SPEC's promises on purpose (mutation/catalog.py): every mutant must be caught.
mutants: install
	$(BIN)/python -m mutation

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A benchmark, not a test: figures vary with the machine (see bench/README.md).
bench: install
	$(BIN)/python -m bench

# Kubernetes manifests, offline (deploy/README.md): render every overlay with the
# project's pinned kubectl (kustomize built in), validate strictly, lint the YAML.
K8S_VERSION := 1.35.0
DEPLOY_TARGETS := base overlays/dev overlays/prod overlays/prod-mtls

deploy-check: $(VENV)/.installed
	$(BIN)/python deploy/tools/fetch_kubectl.py
	$(BIN)/yamllint --strict -c deploy/.yamllint.yaml deploy
	@mkdir -p build/deploy
	@set -e; for t in $(DEPLOY_TARGETS); do \
		out=build/deploy/$$(echo $$t | tr / -).yaml; \
		echo "deploy-check: deploy/$$t -> $$out"; \
		$(BIN)/kubectl kustomize deploy/$$t > $$out; \
		$(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) $$out; \
	done

# Exactly what CI runs.
check:
	bash .ci/run

clean:
	rm -rf $(VENV) identity_api/v1 .pytest_cache .mypy_cache .ruff_cache
