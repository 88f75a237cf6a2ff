# avsal: `make repro` runs the whole pipeline, `make test` the tests; both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DVC_NO_ANALYTICS := 1
export PYTHONUNBUFFERED := 1

.PHONY: help setup data repro repro-paper paper-smoke replicates exps plots test test-fast lint ui real-data clean tune dashboard

help: ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $@

setup: $(STAMP) ## create .venv and install the pinned dependencies


data: setup ## get data/: dvc pull if a remote exists, else generate the synthetic world
	avsal data

repro: data ## run the whole pipeline (dvc repro)
	dvc repro

repro-paper: data ## the paper's profile as a DVC experiment (VGG16, 256/356 px, SGD lr 1e-3)
	avsal exp-run --profile profiles/paper.yaml

paper-smoke: setup ## the paper profile end to end on CPU, small, in a sandbox (.sandbox/paper-smoke; ~80 min on 2 cores)
	avsal sandbox --profile profiles/paper.yaml --profile profiles/scale.yaml --profile profiles/paper_smoke.yaml \
	    --out .sandbox/paper-smoke --report reports/bench/paper_smoke_cpu.json

N ?= 5
JOBS ?= 1
replicates: data ## N more seeds as DVC experiments, folded into the claims: make replicates [N=5 JOBS=1]
	avsal replicates --n $(N) --jobs $(JOBS)

exps: setup ## the experiments side by side: headline metrics and the params that differ
	dvc exp show --only-changed --drop 'stanet_sets|centre_bias|pseudo_gt|Created' --no-pager

plots: setup ## dvc plots show: training curves and per-set bars, an offline page in dvc_plots/
	dvc plots show

STUDY ?= stanet
TRIALS ?= 20
WORKERS ?= 2
tune: data ## Optuna campaign over params.yaml's tune.space: make tune [STUDY=stanet TRIALS=20 WORKERS=2 STORAGE=url]
	avsal tune --study "$(STUDY)" --trials $(TRIALS) --workers $(WORKERS) $(if $(STORAGE),--storage "$(STORAGE)")

PORT ?= 8080
dashboard: setup ## optuna-dashboard of a campaign on 127.0.0.1: make dashboard [STUDY=stanet STORAGE=url PORT=8080]
	avsal dashboard --port $(PORT) $(if $(STUDY),--study "$(STUDY)") $(if $(STORAGE),--storage "$(STORAGE)")

test: setup ## run the test suite (CPU; GPU tests skip without CUDA)
	pytest

test-fast: setup ## tests without the slow ones
	pytest -m "not slow"

lint: setup ## ruff lint + format check (the same as tests/test_style.py); `ruff format src tests pipelines benchmarks` fixes layout
	ruff check src tests pipelines benchmarks
	ruff format --check src tests pipelines benchmarks

ui: setup ## MLflow UI on http://127.0.0.1:5000
	@mkdir -p mlflow/artifacts
	@echo "training runs: http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning (MLflow 3 opens on its GenAI view otherwise; the 'Model training' switch top left does the same)"
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow/mlflow.db --default-artifact-root $(CURDIR)/mlflow/artifacts --host 127.0.0.1 --port 5000

real-data: setup ## swap in real data: make real-data AVE=/path/AVE_Dataset FIX=/path/stavis_root [REMOTE=s3://bucket/avsal]
	@test -n "$(AVE)" -a -n "$(FIX)" || { echo "usage: make real-data AVE=/path/AVE_Dataset FIX=/path/fixations [REMOTE=url]"; exit 2; }
	avsal use-real-data --ave "$(AVE)" --fixations "$(FIX)" $(if $(REMOTE),--remote "$(REMOTE)")

clean: ## remove pipeline outputs (not data/, not the venv)
	rm -rf artifacts/* .pytest_cache
