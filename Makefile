# sync-workers: `make demo` runs the whole pipeline against the sandbox; `make test` runs
# the suite. Both install what they need first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
ENV    := set -a; [ -f .run/env ] && . ./.run/env; set +a;

.PHONY: install services services-stop test unit imports run demo flower migrate bench bench-faults clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

services: install
	@PYTHON=$(PY) deploy/local/services.sh

services-stop:
	@deploy/local/stop-services.sh

migrate: services
	@$(ENV) $(VENV)/bin/sync-workers migrate

test: imports services
	@$(ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# The layers (contracts in pyproject.toml, see docs/architecture.md).
imports: install
	$(VENV)/bin/lint-imports

unit: install
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

run: migrate
	@$(ENV) deploy/local/run.sh

# DEMO_ARGS passes options, e.g. DEMO_ARGS=--keep-running (see `sync-workers demo --help`).
demo: migrate
	@$(ENV) $(VENV)/bin/sync-workers demo $(DEMO_ARGS)

flower: install
	@$(ENV) $(VENV)/bin/celery -A sync_workers.celery_app flower \
		--basic-auth="$${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH=user:password}" \
		--port="$${FLOWER_PORT:-5555}"

# Each benchmark prints its figures beside a baseline measured in the same run: reconciles
# through real workers vs a no-op task, the receiver vs a bare Flask endpoint, a poll cycle
# vs reading its cursors.
bench: services
	@$(ENV) $(PY) bench/bench_reconcile.py $(BENCH_ARGS)
	@$(ENV) $(PY) bench/bench_receiver.py
	@$(ENV) $(PY) bench/bench_poll.py

# The fault suite: crashes, restarts, rate limits and hostile webhooks against processes and
# servers of its own (own Redis servers and ports; its own database). About 20 minutes, so
# run by hand, not in CI. FAULTS_ARGS picks scenarios and sizes, e.g.
# FAULTS_ARGS="kill-storm --bookings 200"; see `python bench/faults.py --help`.
bench-faults: services
	@$(ENV) $(PY) bench/faults.py $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) .run .pytest_cache .hypothesis *.egg-info
