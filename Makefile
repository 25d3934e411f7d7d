# Reproduce "Coloring of Gray Scale Image using U-net Architecture" (Acharya & Pokhrel).
# `make help` lists the targets. Everything runs inside .venv, created on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON   ?= python3
PROFILE  ?= paper
DATA_DIR ?=
VENV     := .venv
PY       := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
LIB      := $(wildcard lib/unetcolor/*.py)
NB_OUT   := reports/$(PROFILE)/notebooks
NOTEBOOKS := 01_data_preparation 02_model 03_training 04_hyperparameter_study 05_psnr_evaluation 06_pokhara_test_images 07_beyond_the_paper
NB_ARGS  ?=
RUN      := $(PY) -m unetcolor.runner --profile $(PROFILE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(NB_ARGS)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help setup reproduce results smoke data train test test-unit test-notebooks bench lab default-model vivid-model gan-model clean clean-runs

help: ## list the targets and variables
	@echo "usage: make TARGET [PROFILE=paper|smoke] [DATA_DIR=folder-of-photos] [NB_ARGS='--set name=value']"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

setup: $(INSTALLED) ## create .venv from the pinned requirements (done automatically by other targets)

# Each executed notebook depends on its source, the package, the profile and the notebook before it,
# so `make reproduce` reruns only what is stale. Training runs are cached by config besides.
define NOTEBOOK_RULE
$(NB_OUT)/$(1).ipynb: notebooks/$(1).ipynb $(2) $(LIB) profiles/$(PROFILE).yaml | $(INSTALLED)
	$(RUN) $(1)
endef
$(eval $(call NOTEBOOK_RULE,01_data_preparation,))
$(eval $(call NOTEBOOK_RULE,02_model,$(NB_OUT)/01_data_preparation.ipynb))
$(eval $(call NOTEBOOK_RULE,03_training,$(NB_OUT)/02_model.ipynb))
$(eval $(call NOTEBOOK_RULE,04_hyperparameter_study,$(NB_OUT)/03_training.ipynb))
$(eval $(call NOTEBOOK_RULE,05_psnr_evaluation,$(NB_OUT)/04_hyperparameter_study.ipynb))
$(eval $(call NOTEBOOK_RULE,06_pokhara_test_images,$(NB_OUT)/05_psnr_evaluation.ipynb))
$(eval $(call NOTEBOOK_RULE,07_beyond_the_paper,$(NB_OUT)/06_pokhara_test_images.ipynb $(wildcard lib/unetcolor/weights/*)))

reproduce: $(NB_OUT)/07_beyond_the_paper.ipynb ## run the notebooks at PROFILE (default: the paper's settings)
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

test-notebooks: $(INSTALLED)
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax $(addprefix reports/smoke/notebooks/,$(addsuffix .ipynb,$(NOTEBOOKS)))

test: ## unit tests, then the smoke profile through papermill, then nbval re-executing the smoke notebooks
	$(MAKE) test-unit
	$(MAKE) smoke
	$(MAKE) test-notebooks

bench: $(INSTALLED) ## measure speed (data preparation, training, colorizing): reports/bench/
	$(PY) -m unetcolor.bench --out reports/bench

lab: $(INSTALLED) ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks/

default-model: $(INSTALLED) ## train the shipped accurate colorizer (~35 min on 2 CPU cores): lib/unetcolor/weights/default.*
	$(PY) -m unetcolor.default_model --recipe default $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

vivid-model: $(INSTALLED) ## train the shipped vivid colorizer (a*, b* bins; ~40 min on 2 CPU cores): weights/vivid.*
	$(PY) -m unetcolor.default_model --recipe vivid $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

gan-model: $(INSTALLED) ## train the shipped adversarial colorizer (pix2pix-style; ~40 min on 2 CPU cores): weights/gan.*
	$(PY) -m unetcolor.default_model --recipe gan $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

clean: ## remove the smoke profile's outputs and Python caches (keeps downloads and the paper profile)
	rm -rf reports/smoke data/processed/smoke models/smoke .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

clean-runs: ## delete PROFILE's trained runs (they are cached by config, not by code version)
	rm -rf models/$(PROFILE)
