# The two commands a newcomer runs: `make demo` and `make test` (both set everything up first).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0 -e '.[demo]'

setup-test: $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt

demo: setup
	$(BIN)/gapwatch demo

test: setup-test
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

typecheck: setup-test
	$(BIN)/python -m mypy src/gapwatch

clean:
	rm -rf $(VENV) gapwatch-demo build dist *.egg-info
