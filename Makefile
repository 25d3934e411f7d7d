# Reproduce "Coloring of Gray Scale Image using U-net Architecture" (Acharya & Pokhrel).
# `make help` lists the targets. Everything runs inside .venv, created on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON   ?= python3
PROFILE  ?= paper
DATA_DIR ?=
VENV     := .venv
PY       := $(VENV)/bin/python
# the environment is reinstalled when requirements.txt or pyproject.toml change in content, not in file time
INSTALLED := $(VENV)/.installed-$(firstword $(shell cat requirements.txt pyproject.toml | cksum))
NB_OUT   := reports/$(PROFILE)/notebooks
NOTEBOOKS := 01_data_preparation 02_model 03_training 04_hyperparameter_study 05_psnr_evaluation 06_pokhara_test_images 07_beyond_the_paper
NB_ARGS  ?=
FORCE    ?=
RUN      := $(PY) -m unetcolor.runner --profile $(PROFILE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(if $(FORCE),--force) $(NB_ARGS)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: ALWAYS help setup reproduce results smoke data train test test-unit test-notebooks test-rerun bench lab default-model vivid-model gan-model candidate choose-models clean clean-runs

help: ## list the targets and variables
	@echo "usage: make TARGET [PROFILE=paper|smoke] [DATA_DIR=folder-of-photos] [NB_ARGS='--set name=value'] [FORCE=1]"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(INSTALLED):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed*
	@touch $@

setup: $(INSTALLED) ## create .venv from the pinned requirements (done automatically by other targets)

# Make names the notebooks; the runner decides which of them to re-execute, by content: a notebook re-runs when
# its source, the package code, its parameters (profile, DATA_DIR, NB_ARGS), the files they name, the prepared data
# or a notebook before it changed since its last successful run, and says why (reports/<profile>/stamps/).
# So these targets always call the runner (ALWAYS), and `make data DATA_DIR=X` always looks at X.
# A notebook's target brings the notebooks up to and including it up to date: `make $(NB_OUT)/05_psnr_evaluation.ipynb`
# runs the runner on 01..05 (a notebook's number is its place in NOTEBOOKS).
through = $(wordlist 1,$(patsubst 0%,%,$(firstword $(subst _, ,$(1)))),$(NOTEBOOKS))
$(NB_OUT)/%.ipynb: ALWAYS | $(INSTALLED)
	$(RUN) $(call through,$*)

ALWAYS:

reproduce: $(NB_OUT)/07_beyond_the_paper.ipynb ## run the stale notebooks at PROFILE (default: the paper's settings); FORCE=1: all
	$(if $(filter paper,$(PROFILE)),$(PY) -m unetcolor.results --profile paper)
	@echo "executed notebooks: $(NB_OUT); figures: reports/$(PROFILE)/figures; tables: reports/$(PROFILE)/tables"

results: $(INSTALLED) ## rewrite README.md's results section from reports/paper/tables
	$(PY) -m unetcolor.results --profile paper

smoke: ## the whole pipeline at toy scale (minutes on a CPU, no network): reports/smoke/
	$(MAKE) reproduce PROFILE=smoke DATA_DIR=

data: $(NB_OUT)/01_data_preparation.ipynb ## download (or read DATA_DIR), clean, prepare and split the photos

train: $(INSTALLED) ## train the paper's main run headless (no Jupyter): configs/paper_main.yaml
	$(PY) -m unetcolor.train --config configs/paper_main.yaml --profile $(PROFILE)

test-unit: $(INSTALLED)
	$(PY) -m pytest -q tests

# nbval re-executes the committed smoke notebooks (known-good outputs) and compares the cells marked
# `# NBVAL_CHECK_OUTPUT`, after masking what may differ between machines (tests/nbval_sanitize.cfg).
# `make test` runs it before `make smoke`, so it compares with the committed copies, not with fresh ones.
test-notebooks: $(INSTALLED)
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		$(addprefix reports/smoke/notebooks/,$(addsuffix .ipynb,$(NOTEBOOKS)))

# On a fresh clone `make smoke` re-executes every notebook through papermill (the smoke profile's stamps are not
# committed); on a checkout that ran it before, only what changed since.
test: ## unit tests; nbval against the committed smoke notebooks; the smoke profile through papermill, twice
	$(MAKE) test-unit
	$(MAKE) test-notebooks
	$(MAKE) smoke
	$(MAKE) test-rerun

# right after `make smoke`, a second run must find every notebook current and re-execute none
test-rerun: $(INSTALLED)
	@out=$$($(PY) -m unetcolor.runner --profile smoke 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | tail -8; \
	if echo "$$out" | grep -q " ran: "; then echo "test-rerun: a second smoke run re-executed notebooks" >&2; exit 1; fi

bench: $(INSTALLED) ## measure speed (data preparation, training, colorizing): reports/bench/
	$(PY) -m unetcolor.bench --out reports/bench
	# GPU runs are not measured here: their brought-back records are summarized (reports/bench/gpu-*/summary.json)
	$(PY) -m unetcolor.gpu_runs $(wildcard reports/bench/gpu-*)

lab: $(INSTALLED) ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks/

# the shipped colorizers are written only from a clean checkout (their provenance names the commit);
# training time and scores: each model's provenance (lib/unetcolor/weights/*.json), speed: reports/bench/
SHIP := --out-dir lib/unetcolor/weights --overwrite $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")
default-model: $(INSTALLED) ## train the shipped accurate colorizer (what colorize uses): lib/unetcolor/weights/default.*
	$(PY) -m unetcolor.colorizers train --recipe default $(SHIP)

vivid-model: $(INSTALLED) ## train the shipped vivid colorizer (rebalanced a*, b* bins): lib/unetcolor/weights/vivid.*
	$(PY) -m unetcolor.colorizers train --recipe vivid $(SHIP)

gan-model: $(INSTALLED) ## train the shipped adversarial colorizer (pix2pix-style): lib/unetcolor/weights/gan.*
	$(PY) -m unetcolor.colorizers train --recipe gan $(SHIP)

candidate: $(INSTALLED) ## train a candidate colorizer RECIPE=name into models/default-model/ (list: unetcolor.colorizers.registry)
	$(if $(RECIPE),,$(error RECIPE=name is required: a candidate of lib/unetcolor/colorizers/registry.py))
	$(PY) -m unetcolor.colorizers train --recipe $(RECIPE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

choose-models: $(INSTALLED) ## apply the registry's rule to the candidates' records (tuning subset only)
	$(PY) -m unetcolor.colorizers choose

clean: ## remove the smoke profile's outputs but its committed notebooks, and Python caches (keeps downloads, paper)
	rm -rf reports/smoke/figures reports/smoke/tables reports/smoke/stamps data/processed/smoke models/smoke .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

clean-runs: ## delete PROFILE's trained runs (they are cached by config, not by code version)
	rm -rf models/$(PROFILE)
