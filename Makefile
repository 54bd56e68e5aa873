# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates the virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skysift-installed

.PHONY: demo test lint bench clean

# The spark extra is installed too, so that `make test` runs the Spark
# engine's tests on a local master (they skip, saying why, without Java).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/skysift demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/synth_spectra.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
