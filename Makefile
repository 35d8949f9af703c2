# Linli: `make run` serves the bot on the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint typecheck pytest browser-test bench faults bench-faults clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian's Chromium, a CJK font and PgBouncer for the tests (apt-get, only when missing).
system-deps:
	bash .ci/system-deps

run: install
	$(BIN)/linli serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot tests bench

typecheck: install
	$(BIN)/mypy

# Two pytest-xdist workers (this machine has two cores; tests/conftest.py gives each its own
# Redis database); PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2

# The NLU models are trained once before the run (tests/pretrain.py), not inside a test's
# timeout; a folder that matches intents/ is reused. It is named models/: apps given its
# parent as their data folder (tests/nlu/test_nlu_cli.py) find it there.
TEST_MODELS ?= $(CURDIR)/var/test/models

pytest: install system-deps
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tests/pretrain.py $(TEST_MODELS)
	LINLI_TEST_MODELS=$(TEST_MODELS) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=25

test: lint typecheck pytest

# Only the browser tests (Debian's Chromium; screenshots under var/screenshots/).
browser-test: install system-deps
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/pytest -q -m browser

# Only the fault suite (own PostgreSQL + Redis + two workers, faults injected mid-load).
faults: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/pytest -q -rA tests/faults

# The same scenarios longer (>= 500 messages each), JSON figures.
bench-faults: install
	OMP_NUM_THREADS=1 $(BIN)/python bench/faults.py --json

bench: install
	OMP_NUM_THREADS=1 $(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
