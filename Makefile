# The two commands a newcomer runs: `make demo` and `make test` (both set everything up first).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-test lint typecheck check bench fuzz clean

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

# ruff (rules in pyproject.toml: E, F, W, B, SIM, UP, RET, I) on the package, the tests and the benchmarks
lint: setup-test
	$(BIN)/ruff check src tests bench tools

typecheck: setup-test
	$(BIN)/python -m mypy src/gapwatch

# what CI runs: lint, types, tests
check: lint typecheck test

# the long robustness profile (issue 16; ~10 min on 2 cores): ~5,500 mutated reader inputs, 50 SIGKILLs of a real
# training loop under the guard, the path-safety tests; the counts go to BENCHMARKS.md
fuzz: setup-test
	GAPWATCH_FUZZ_LONG=1 GAPWATCH_KILLS=50 $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/test_fuzz_readers.py tests/test_io_destinations.py \
		"tests/test_guard_torch.py::test_killed_training_loop_resumes_and_restores_the_best_it_chose"

# the quick benchmarks (minutes on 2 cores); their results go to bench/results/*.md, then BENCHMARKS.md
bench: setup-test
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_detectors.py --seeds 5 --delay-seeds 2 --out bench/_work/detectors.md --overwrite
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_report.py
	$(BIN)/python bench/assemble.py

clean:
	rm -rf $(VENV) gapwatch-demo build dist *.egg-info
