# Muzhang (牧长) — make help lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PACKAGES := muzhang features training models serving cli
# pytest exits non-zero on any failure and 5 when it collects no test; make passes either on to CI.
PYTEST := OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Muzhang with its dev tools

run: $(STAMP) ## Main job: sample county -> validate -> store -> features -> train + register all -> serve (demo keys printed)
	$(BIN)/muzhang data generate
	$(BIN)/muzhang data validate
	$(BIN)/muzhang data import data_samples/county
	$(BIN)/muzhang features build
	$(BIN)/muzhang train all
	$(BIN)/muzhang keys demo --out state/demo-keys.env
	@echo ""
	@echo "Muzhang is starting on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs)"
	@echo "Use a demo key above as 'Authorization: Bearer <key>', e.g.:"
	@echo "  curl -H \"Authorization: Bearer \$$(awk '/^planner/{print \$$2}' state/demo-keys.txt)\" 'http://$(HOST):$(PORT)/v1/grazing/rotation-plan?season=warm&lang=en'"
	@set -a; . state/demo-keys.env; set +a; exec $(BIN)/muzhang serve --host $(HOST) --port $(PORT)

serve: $(STAMP) ## Serve the registered champions (keys from MUZHANG_API_KEYS)
	$(BIN)/muzhang serve --host $(HOST) --port $(PORT)

mlflow-ui: $(STAMP) ## Open the MLflow UI on the local tracking store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/state/mlflow.db --host 127.0.0.1 --port 5000

benchmark: $(STAMP) ## Run every speed benchmark on the trained store (figures printed, not asserted)
	$(BIN)/python benchmarks/train_all.py
	$(BIN)/python benchmarks/serve_vs_mlflow.py
	$(BIN)/python benchmarks/explain_batch.py
	$(BIN)/python benchmarks/train_scaling.py
	$(BIN)/python benchmarks/county_rescore.py
	$(BIN)/python benchmarks/reports_intake.py

system-deps: ## Debian's Chromium and PostgreSQL for the browser and scale-out tests (root or sudo; no-op when present)
	bash .ci/install-browser.sh
	bash .ci/install-postgres.sh

test: $(STAMP) system-deps ## Run the whole test suite (unit, data, serving, model, pipeline, browser, reliability, PostgreSQL) with coverage
	$(PYTEST) --durations=25 $(addprefix --cov=,$(PACKAGES)) --cov-report=term-missing:skip-covered

test-fast: $(STAMP) ## Inner loop: the code and data tiers only (under a minute, no coverage)
	$(PYTEST) tests/code tests/data

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove local state (state/: MLflow store, artifacts, Optuna DB, audit log)
	rm -rf state

.PHONY: help install system-deps run serve mlflow-ui benchmark test test-fast lint format clean
