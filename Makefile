# Two commands a newcomer needs: `make demo` and `make test`. Both start from nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
DAGSTER_VENV := .venv-dagster
DAGSTER := $(DAGSTER_VENV)/bin/dagster
SANDBOX_PORT ?= 8765

.PHONY: demo test lint bench install clean about sandbox dagster sql

$(BIN)/tap-retail-reports: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/tap-retail-reports

# Meltano lives in its own virtualenv: its dependencies are not the tap's.
$(MELTANO): 
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/pip install --quiet 'meltano~=4.4'

# Dagster (orchestration/: Meltano jobs sharded per vendor and store group) has a virtualenv of its own too.
$(DAGSTER): orchestration/requirements.txt
	$(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_VENV)/bin/pip install --quiet --upgrade pip
	$(DAGSTER_VENV)/bin/pip install --quiet -r orchestration/requirements.txt
	@touch $@

dagster: $(DAGSTER) $(MELTANO)

# Seconds, before the minutes of tests: ruff (lint rules) and mypy (types), configured in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy tap_retail_reports

# The virtualenvs the tests run Meltano and Dagster from are built first, once; pytest-xdist then runs
# the tests in four processes (most wait on the sandbox or a tap), and tests/test_any_date.py runs the
# date-sensitive ones again on each weekday, a month end and DST changes. docs/developing.md: the tests.
test: lint $(MELTANO) $(DAGSTER)
	$(BIN)/python -m pytest -n 4 --dist loadgroup

demo: install $(MELTANO)
	$(BIN)/python scripts/demo.py --meltano $(MELTANO) --port $(SANDBOX_PORT)

# The demo's warehouse in DuckDB's SQL shell, read-only (docs/warehouses.md has queries to start with).
sql: install
	@test -f output/warehouse.duckdb || { echo "sql: no output/warehouse.duckdb yet: run make demo first" >&2; exit 1; }
	@$(BIN)/duckdb -readonly output/warehouse.duckdb

bench: install
	$(BIN)/python scripts/bench.py

sandbox: install
	$(BIN)/tap-retail-reports-sandbox --port $(SANDBOX_PORT)

about: install
	$(BIN)/python scripts/sync_about.py

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(DAGSTER_VENV) .meltano .mypy_cache .ruff_cache output/*  # output/.gitkeep stays: target-duckdb needs the folder
