# Two entry points that install what they need by themselves: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup run smoke test test-fast lint params dvc.yaml clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: setup  ## the whole pipeline for params.yaml (default: synthetic data), cached stage by stage
	PATH=$(CURDIR)/$(BIN):$$PATH dvc repro
	$(BIN)/python -m pipeline.resume_state

smoke: setup  ## the whole chain on tiny settings (about a minute), leaving params.yaml as it was
	PATH=$(CURDIR)/$(BIN):$$PATH dvc exp run --temp -S experiment=smoke

# two workers: the machine this is developed on has two cores, and most slow tests wait on
# subprocesses (dvc, the stages); whole files per worker, so a module fixture is built once
test: setup  ## the test suite (what CI runs)
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: setup  ## the tests not marked slow: a few minutes, for the edit-test loop
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

lint: setup  ## ruff's lint rules and its formatting (`ruff format` fixes the latter)
	$(BIN)/ruff check src pipeline tests benchmarks tools hydra_plugins
	$(BIN)/ruff format --check src pipeline tests benchmarks tools hydra_plugins

params: setup  ## recompose params.yaml from conf/ (pass overrides with ARGS="experiment=handout")
	$(BIN)/python tools/compose_params.py $(ARGS)

dvc.yaml: setup  ## rewrite dvc.yaml from the stage table (pipeline/stages.py) and the stages' imports
	$(BIN)/python tools/write_dvc_yaml.py

clean:
	rm -rf data/prepared models metrics predictions plots reports outputs multirun wandb
