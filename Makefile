# The two commands a new user needs: `make run` and `make test`. Everything else is reachable from them.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint schemas bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## The main job: validate the example specs (the engine extends this with plan, apply and drift).
run: install
	$(BIN)/reconciler validate specs/

## Lint, then the whole test suite.
test: install
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/reconciler schema --check

## Regenerate the committed JSON Schemas from the models.
schemas: install
	$(BIN)/reconciler schema --out schemas

## Figures: validation speed and CLI start-up (printed, never asserted by a timed test).
bench: install
	$(BIN)/python bench/validate_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
