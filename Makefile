# utilhub: `make run` starts the hub on this machine; `make test` checks everything CI checks.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.13 where present (PATH, then pyenv's versions), else the first python3 (which must be 3.13).
PYTHON ?= $(shell for p in python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
UV := .tools/uv/bin/uv
SAM := .tools/sam/bin/sam
CHECKOV := .tools/checkov/bin/checkov
# SAM's python3.13 build method looks for python3.13 on PATH.
export PATH := $(dir $(PYTHON)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export UV_PROJECT_ENVIRONMENT := $(VENV)
# The common layer is importable as on Lambda (where it is mounted at /opt/python).
LAYER_PATH := PYTHONPATH=layers/common:.

.PHONY: help install templates-fresh chromium console-screenshots console-publish lint typecheck template-check requirements-check moto-conformance unit integration e2e test run demo chaos schemathesis mutation build bench lock openapi templates clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	@test -n "$(PYTHON)" || { echo "Python 3.13 is required (python3.13 on PATH or under pyenv)"; exit 1; }
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install -q uv==$(UV_VERSION)

$(BIN)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

$(SAM): tools/sam.lock.txt | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) .tools/sam
	$(UV) pip install -q --python .tools/sam/bin/python --require-hashes -r tools/sam.lock.txt
	@touch $@

$(CHECKOV): tools/checkov.lock.txt | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) .tools/checkov
	$(UV) pip install -q --python .tools/checkov/bin/python --require-hashes -r tools/checkov.lock.txt
	@touch $@

# Debian's Chromium, which the web console's browser test drives (tests/e2e/test_console.py); root installs it.
# Elsewhere, CHROMIUM=<path of a Chromium or Chrome> names one already there (the test is given it too).
CHROMIUM ?= /usr/bin/chromium
export UTILHUB_CHROMIUM ?= $(CHROMIUM)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the console's browser test needs Chromium at $(CHROMIUM) (on Debian: apt-get install chromium)"; exit 1; }
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

chromium: $(CHROMIUM) ## Debian's Chromium for the console's browser test, installed when missing (as root)

install: $(BIN)/.synced $(SAM) $(CHECKOV) $(CHROMIUM) ## create or reuse the virtualenv and tools from the lock files (and Chromium)

lint: $(BIN)/.synced ## ruff (lint and format)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.synced ## mypy, strict
	$(BIN)/mypy .

requirements-check: $(BIN)/.synced ## the layer's requirements.txt matches uv.lock
	@$(UV) export --quiet --locked --no-dev --no-emit-project --format requirements-txt --no-header --no-annotate \
		| diff -u layers/common/requirements.txt - \
		|| { echo "layers/common/requirements.txt is stale: run make lock"; exit 1; }

templates-fresh: $(BIN)/.synced ## fail when template.yaml or packs/*.yaml is not what templates/ makes (run make templates)
	@$(LAYER_PATH) $(BIN)/python -m tools.templates --check

template-check: templates-fresh $(SAM) $(CHECKOV) ## sam validate --lint, cfn-lint with the serverless rules (root and packs/*.yaml), checkov (the composition as one)
	for t in template.yaml packs/*.yaml; do $(SAM) validate --lint --region eu-west-1 -t $$t || exit 1; done
	$(BIN)/cfn-lint --append-rules cfn_lint_serverless.rules --regions eu-west-1 -- template.yaml packs/*.yaml
	@mkdir -p .aws-sam/checkov
	$(LAYER_PATH) $(BIN)/python -m localhub.template template.yaml > .aws-sam/checkov/template.json
	$(CHECKOV) --config-file .checkov.yaml -f .aws-sam/checkov/template.json

moto-conformance: $(BIN)/.synced ## moto's own DynamoDB and SQS tests (from its locked sdist) with localhub's changes to moto applied
	$(LAYER_PATH) $(BIN)/python -m localhub.aws.patches.conformance

unit: $(BIN)/.synced ## unit tests only (no sockets)
	$(BIN)/pytest tests/unit

integration: $(BIN)/.synced ## integration tests (moto server, resources from template.yaml)
	$(BIN)/pytest tests/integration

e2e: $(BIN)/.synced $(CHROMIUM) ## end-to-end tests against the local hub over HTTP (the console's in headless Chromium)
	$(BIN)/pytest tests/e2e

test: install lint typecheck requirements-check template-check moto-conformance ## everything CI runs (tests on every core, a file per worker)
	$(BIN)/pytest -n auto --dist loadfile --durations=15

run: templates-fresh ## the whole hub on this machine (embedded AWS, HTTP API, simulators); ARGS="--parameter-overrides MetersManagedIn=MDM"
	$(LAYER_PATH) $(BIN)/python -m localhub $(ARGS)

demo: templates-fresh ## the hub, a scripted scenario per pack, a table of what happened
	$(LAYER_PATH) $(BIN)/python -m localhub --demo

chaos: templates-fresh ## one fault run over the asynchronous integration points, every message accounted for; N=5000 messages
	$(LAYER_PATH) $(BIN)/python -m localhub.chaos -n $(or $(N),5000)

schemathesis: $(BIN)/.synced ## schemathesis over every operation of docs/openapi.json on a local hub; N=50 cases per operation, SEED=22
	$(LAYER_PATH) $(BIN)/python -m localhub.spec_check -n $(or $(N),50) --seed $(or $(SEED),22) $(ARGS)

mutation: $(BIN)/.synced ## mutmut over the business-rule modules, one after the other (~30 min; not in make test); MODULE=utilhub.platform.dvm for one
	$(BIN)/python tools/mutation.py $(if $(MODULE),--module $(MODULE)) $(ARGS)

console-screenshots: $(BIN)/.synced $(CHROMIUM) ## docs/images/console-*.png, taken by the console's browser test on its pages
	UTILHUB_CONSOLE_SCREENSHOTS=docs/images $(BIN)/pytest tests/e2e/test_console.py -q -p no:randomly

console-publish: $(BIN)/.synced ## the web console's files and config.json to a deployed stack: STACK=name [REGION=eu-west-1]
	@test -n "$(STACK)" || { echo "STACK=<the deployed stack's name> is required"; exit 1; }
	$(BIN)/utilhub console publish --stack $(STACK) $(if $(REGION),--region $(REGION))

templates: $(BIN)/.synced ## regenerate template.yaml and packs/*.yaml from their sources, templates/ (a unit test fails when they are stale)
	$(LAYER_PATH) $(BIN)/python -m tools.templates

openapi: $(BIN)/.synced ## regenerate docs/openapi.json from the routes' declarations and the template (a unit test fails when it is stale)
	$(LAYER_PATH) $(BIN)/python -m localhub.openapi > docs/openapi.json

build: templates-fresh $(SAM) ## sam build (arm64 layer and functions into .aws-sam/; the template's Fn::ForEach loops expanded)
	$(SAM) build --language-extensions

bench: $(BIN)/.synced ## benchmarks (ratios, not timed tests); ARGS=--quick for a short run
	$(LAYER_PATH) $(BIN)/python -m benchmarks $(ARGS)

lock: | $(UV) ## re-lock after changing pyproject.toml; exports the layer's requirements.txt
	$(UV) lock --python $(PYTHON)
	$(UV) export --quiet --locked --no-dev --no-emit-project --format requirements-txt --no-header --no-annotate -o layers/common/requirements.txt

clean: ## remove build output and caches (keeps the virtualenv)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .benchmarks
