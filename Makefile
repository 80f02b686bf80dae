# Two commands on a fresh machine with only Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo demo-orders test bench conformance clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools announces every editable install of a flat-layout project ("Editable installation. Please be
# careful with folders ... with the same name as your package"): true here by design, so not shown.
QUIET_BUILD := PYTHONWARNINGS="ignore:Editable installation"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(QUIET_BUILD) $(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(QUIET_BUILD) $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The flagship: EMR (local Spark) jobs → Glue crawler → Athena (DuckDB); the run prints the query's
# answer as a table (`sfn-local query "..." --database car_rental` asks the same catalog anything else).
demo: $(VENV)/.installed
	$(BIN)/sfn-local run definitions/car_rental_pipeline.asl.json

demo-orders: $(VENV)/.installed
	$(BIN)/sfn-local run definitions/demo_orders.asl.json --input @sample_data/demo_orders.json

test: $(VENV)/.installed-dev
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py --peers

conformance: $(VENV)/.installed
	$(BIN)/python ../shared/tools/conformance.py ../shared/conformance/aws-recorded/cases.jsonl --deterministic-only

clean:
	rm -rf $(VENV) .sfn-local .pytest_cache .ruff_cache
