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
NB_ARGS  ?=
FORCE    ?=
TRAIN    ?=
JOBS     ?=
RUN      := $(PY) -m unetcolor notebooks --profile $(PROFILE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(if $(FORCE),--force) $(NB_ARGS)
REPRODUCE := $(PY) -m unetcolor reproduce --profile $(PROFILE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(if $(TRAIN),--train) $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) $(NB_ARGS)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: ALWAYS help setup reproduce plan runs results smoke data train gpu-setup test lint test-unit test-notebooks test-rerun bench lab screenshot candidates choose-models clean clean-runs

help: ## list the targets and variables
	@echo "usage: make TARGET [PROFILE=paper|smoke] [DATA_DIR=folder-of-photos] [TRAIN=1] [JOBS=n] [NB_ARGS='--set name=value'] [FORCE=1]"
	@grep -E '^[a-zA-Z_%-]+:.*?## ' $(MAKEFILE_LIST) | sed 's/^%/<name>/' | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(INSTALLED):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed*
	@touch $@

setup: $(INSTALLED) ## create .venv from the pinned requirements (done automatically by other targets)

# `make reproduce` runs unetcolor.reproduction.reproduce: notebook 01 (data) and 02 (model), the training plan (every run the
# profile needs, finished or missing, with estimates measured here), then the notebooks whose runs are here.
# Missing runs stop it with exit code 2 and the choices; TRAIN=1 trains them first (main run, then the study).
# The README's findings follow an exit 0 or 2 only (a crash rewrites nothing), and `results` itself writes nothing
# when the runs, the notebooks and the prepared photos are not all of one photo set.
# Notebooks re-execute only when what they read changed, by content (reports/<profile>/stamps/), so these targets
# always call it (ALWAYS).
ALWAYS:

reproduce: ALWAYS | $(INSTALLED) ## plan, then the stale notebooks at PROFILE (default: the paper's settings); TRAIN=1 trains what is missing
	@status=0; $(REPRODUCE) || status=$$?; \
	if [ "$(PROFILE)" = paper ] && { [ $$status -eq 0 ] || [ $$status -eq 2 ]; } && [ -f models/paper/main.json ]; then $(PY) -m unetcolor results --profile paper; fi; \
	exit $$status
	@echo "executed notebooks: $(NB_OUT); figures: reports/$(PROFILE)/figures; tables: reports/$(PROFILE)/tables"

plan: ALWAYS | $(INSTALLED) ## the training plan alone: every run PROFILE needs on DATA_DIR's photos, cached or missing, with estimates here
	$(REPRODUCE) --plan

runs: ALWAYS | $(INSTALLED) ## prepare the photos and train every missing run of PROFILE headless, no notebook
	$(PY) -m unetcolor reproduce --profile $(PROFILE) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(if $(JOBS),--jobs $(JOBS)) --runs-only

results: $(INSTALLED) ## rewrite the README's findings and docs/results.md from reports/paper/
	$(PY) -m unetcolor results --profile paper

smoke: ## the whole pipeline at toy scale, training included (minutes on a CPU, no network): reports/smoke/
	$(MAKE) reproduce PROFILE=smoke DATA_DIR= TRAIN=1

data: ALWAYS | $(INSTALLED) ## notebook 01 only: download (or read DATA_DIR), clean, prepare and split the photos
	$(RUN) 01_data_preparation

train: $(INSTALLED) ## train PROFILE's main run headless (no Jupyter), from profiles/$(PROFILE).yaml
	$(PY) -m unetcolor train --profile $(PROFILE)

gpu-setup: $(INSTALLED) ## on a machine with a CUDA GPU: JAX with CUDA into .venv; then run make with KERAS_BACKEND=jax
	$(PY) -m pip install -q "jax[cuda12]==$$($(PY) -c 'import jax; print(jax.__version__)')"
	@echo "GPU backend installed: run e.g. KERAS_BACKEND=jax make reproduce TRAIN=1 JOBS=4"

lint: $(INSTALLED) ## ruff on the package and the tests (rules: pyproject.toml)
	$(VENV)/bin/ruff check lib tests

# on every core (pytest-xdist; TEST_WORKERS=1 for one process): tests/conftest.py starts the long ones first
test-unit: $(INSTALLED)
	$(PY) -m pytest -q -n $(or $(TEST_WORKERS),auto) --dist loadfile tests

# nbval re-executes the committed smoke notebooks (known-good outputs), a notebook per core, and compares the cells
# marked `# NBVAL_CHECK_OUTPUT`, after masking what may differ between machines (tests/nbval_sanitize.cfg).
# `make test` trains the smoke runs headless first (`make runs`, no notebook written), so it compares with the
# committed copies, not with fresh ones.
test-notebooks: $(INSTALLED)
	$(PY) -m pytest -q -p no:cacheprovider -n $(or $(TEST_WORKERS),auto) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg reports/smoke/notebooks/0*.ipynb

# The whole pipeline through papermill, twice (every notebook executed, then none), is tests/test_reproduce.py, on
# photos of a throwaway project; `make smoke test-rerun` does the same on this checkout's smoke profile.
test: ## lint, unit tests (the smoke pipeline through papermill, twice, included); nbval against the committed smoke notebooks
	$(MAKE) lint
	$(MAKE) test-unit
	$(MAKE) runs PROFILE=smoke DATA_DIR=
	$(MAKE) test-notebooks

# right after `make smoke`, a second run must find every notebook current and re-execute none
test-rerun: $(INSTALLED)
	@out=$$($(PY) -m unetcolor reproduce --profile smoke --train 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | tail -8; \
	if echo "$$out" | grep -q " ran: \|s/epoch\|epoch/s"; then echo "test-rerun: a second smoke run re-executed or trained" >&2; exit 1; fi

bench: $(INSTALLED) ## measure speed (data preparation, training, colorizing): reports/bench/
	$(PY) -m unetcolor bench --out reports/bench
	# GPU runs are not measured here: their brought-back records are summarized (reports/bench/gpu-*/summary.json)
	$(PY) -m unetcolor gpu-runs $(wildcard reports/bench/gpu-*)

# JupyterLab refuses root without --allow-root; containers often run as root, and the server listens on localhost only
lab: $(INSTALLED) ## open JupyterLab on the notebooks (notebook 08: the interactive colorizer)
	@if [ "$$(id -u)" = 0 ]; then echo "make lab: running as root (as in most containers), so --allow-root; the server listens on 127.0.0.1 only"; fi
	@echo "make lab: open the http://127.0.0.1:... URL with its token that JupyterLab prints below, then notebooks/08_colorize_interactively.ipynb"
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

# the browser test (tests/test_browser.py) writes the widget's screenshot when UNETCOLOR_SCREENSHOT names a file
screenshot: $(INSTALLED) ## remake docs/figures/interactive.png: the interactive colorizer in headless Chromium
	UNETCOLOR_SCREENSHOT=docs/figures/interactive.png $(PY) -m pytest -q -p no:cacheprovider tests/test_browser.py

# the shipped colorizers are written only from a clean checkout (their provenance names the commit);
# training time and scores: each model's provenance (lib/unetcolor/weights/*.json), speed: reports/bench/
SHIP := --out-dir lib/unetcolor/weights --overwrite $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")
# make default-model, make vivid-model, make gan-model: one target per name of unetcolor.shipped (the
# colorizers CLI refuses any other name for the shipped folder); the recipes are the paper profile's
# (profiles/paper.yaml, section colorizers), trained on its prepared data (data/processed/paper/)
%-model: $(INSTALLED) ## retrain a shipped colorizer into lib/unetcolor/weights/ (names: lib/unetcolor/shipped.py)
	$(PY) -m unetcolor colorizers train --recipe $* $(SHIP)

# the one launcher of parallel runs (unetcolor.training.study.launch) trains them, JOBS at once
candidates: $(INSTALLED) ## train the candidate colorizers without a record in models/paper/colorizers/ (RECIPES="a b": those, retrained; JOBS=n at once)
	$(PY) -m unetcolor colorizers candidates --jobs $(or $(JOBS),1) $(if $(RECIPES),--only $(RECIPES)) $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

choose-models: $(INSTALLED) ## apply the registry's rule to the candidates' records in models/paper/colorizers/ (tuning subset only)
	$(PY) -m unetcolor colorizers choose

clean: ## remove the smoke profile's outputs but its committed notebooks, and Python caches (keeps downloads, paper)
	rm -rf reports/smoke/figures reports/smoke/tables reports/smoke/stamps data/processed/smoke models/smoke .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

clean-runs: ## delete PROFILE's trained runs (they are cached by config, not by code version); keeps models/PROFILE/colorizers/
	if [ -d models/$(PROFILE) ]; then find models/$(PROFILE) -mindepth 1 -maxdepth 1 -not -name colorizers -exec rm -rf {} +; fi
