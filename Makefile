# modelloop: the two commands a newcomer runs are `make demo` and `make test`.
# Both create .venv and install the project into it first (once; again when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/modelloop demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

# The store tests also run against PostgreSQL: scripts/postgres-up.sh installs Debian's
# postgresql when missing (as root), starts it and prints the URL (nothing if it cannot).
test: setup lint
	MODELLOOP_TEST_POSTGRES_URL="$$(scripts/postgres-up.sh)" $(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) .modelloop .pytest_cache .ruff_cache build dist src/*.egg-info
