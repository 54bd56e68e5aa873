# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates the virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make demo` installs skysift alone; `make test` adds the dev and spark
# extras (pyspark builds from a ~430 MB sdist, minutes: the demo does not
# need it), so that the Spark engine's tests run on a local master (they
# skip, saying why, without Java).
STAMP := $(VENV)/.skysift-installed
TEST_STAMP := $(VENV)/.skysift-test-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/skysift demo

test: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/synth_spectra.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
