# The two commands of the README. Both set up .venv from the project's own files first.
#   make demo  - the quick comparison of all methods -> runs/quick/report.md, plots, best GIF
#   make test  - lint and run the default test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,dev,ray,torchrl,rllib]'
	touch $@

# rerunning reuses finished runs and resumes interrupted ones
demo: $(VENV)/.dev
	$(BIN)/spawnzoo compare --quick --jobs 2 --out runs/quick

# then the learning and determinism checks again on other float kernels (torch's portable ATen
# kernels): a check that holds only on one CPU's last bits fails here, not on the next machine
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)
	$(BIN)/python tests/cpu_profile.py aten-default -- \
		$(BIN)/python -m pytest -n auto -m "numerics and not slow" $(PYTEST_ARGS)

# every env's throughput (and forage's scaling curve), printed; --doc docs/benchmarks.md writes them
bench: $(VENV)/.dev
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/env_throughput.py --env forage-v0
	$(BIN)/python benchmarks/env_throughput.py --env skirmish-v0
	$(BIN)/python benchmarks/env_throughput.py --env forage-v0 --scaling

docs: $(VENV)/.dev
	$(BIN)/python scripts/gen_env_docs.py
	$(BIN)/python scripts/make_screenshots.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
