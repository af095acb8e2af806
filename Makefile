# modelloop: the two commands a newcomer runs are `make demo` and `make test`.
# Both create .venv and install the project into it first (once; again when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast lint docs bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,docs,deep,text,image]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/modelloop demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# The documentation site (mkdocs.yml) into site/. --strict: a broken link or anchor, a page
# left out of the navigation, an API page naming a missing object or a public function without
# a docstring (scripts/mkdocs_hooks.py) fails the build. Nothing is fetched from the network.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The store tests also run against PostgreSQL: scripts/postgres-up.sh installs Debian's
# postgresql when missing (as root), starts it and prints the URL (nothing if it cannot).
# The dashboard's browser tests drive Chromium: scripts/browser-up.sh installs Debian's
# chromium and chromium-driver when missing and prints the chromium path.
test: setup lint docs deploy-env
	MODELLOOP_TEST_POSTGRES_URL="$$(scripts/postgres-up.sh)" \
	MODELLOOP_TEST_CHROMIUM="$$(scripts/browser-up.sh)" $(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) site .modelloop .pytest_cache .ruff_cache build dist src/*.egg-info

# Peers for bench/automl.py (FLAML, AutoGluon) live in their own virtualenv, so the project's
# dependencies stay lean. torch first, pinned, so pip takes the CPU build from local disk.
BENCH_VENV := .bench-venv
.PHONY: bench-env
bench-env:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(BENCH_VENV)/bin/python -m pip install --quiet "pandas<3" "flaml[automl]==2.7.0" pyarrow
	$(BENCH_VENV)/bin/python -m pip install --quiet "autogluon.tabular[all]==1.6.3" "torch==2.13.0" \
		|| echo "AutoGluon could not be installed: bench/automl.py will run FLAML only."

# MLflow for bench/scale.py's store comparison, in the same bench virtualenv (never in .venv).
.PHONY: bench-env-mlflow bench-scale
bench-env-mlflow:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet "mlflow-skinny>=2.10" "sqlalchemy>=2" alembic

bench-scale: setup bench-env-mlflow
	$(BIN)/python bench/scale.py

# Evidently for bench/drift.py lives in its own virtualenv (it needs pandas < 3).
.PHONY: bench-env-drift
bench-env-drift:
	@test -x .venv-bench-drift/bin/python || $(PYTHON) -m venv .venv-bench-drift
	.venv-bench-drift/bin/python -m pip install --quiet "pandas<3" pyarrow "evidently==0.7.23"

# The load generator of bench/serving.py: Debian's wrk, installed by scripts/wrk-up.sh when
# missing (as root or with passwordless sudo). Without it the bench uses an asyncio client.
.PHONY: bench-env-serving
bench-env-serving:
	@scripts/wrk-up.sh

# The tools that consume `modelloop export`'s output, in their own virtualenv (never .venv):
# MLflow (mlflow.pyfunc.load_model of --format mlflow) and the kfp SDK (it compiles the
# --format kfp pipeline). tests/export skips those checks, saying why, until it exists.
# Not made by `make test`: it installs a second copy of modelloop's dependencies (minutes),
# more than the suite's time budget allows; `make test-deploy` makes it and runs them.
DEPLOY_VENV := .venv-deploy
.PHONY: deploy-env test-deploy
deploy-env: $(DEPLOY_VENV)/.installed

$(DEPLOY_VENV)/.installed: pyproject.toml
	@test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEPLOY_VENV)/bin/python -m pip install --quiet "mlflow-skinny>=2.10" "kfp>=2.7" -e .
	@touch $@

test-deploy: setup deploy-env
	$(BIN)/python -m pytest tests/export -q
