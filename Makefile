# Entry points for a new machine: only python3 (3.11) and make are assumed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DAGSTER_HOME := $(CURDIR)/.dagster
# The instance config linked into DAGSTER_HOME: the local one (SQLite under .dagster/), or
# deploy/dagster.yaml for production (PostgreSQL storage; settings from DAGSTER_PG_* variables).
INSTANCE_CONFIG ?= dagster.yaml
# The UI's port on 127.0.0.1 (`make dev`).
DEV_PORT ?= 3000
# A single-run backfill records one "planned" event per asset for its partition range instead of
# one per asset per partition (3,650 events for the year, each written to two SQLite files).
# Dagster's trade-off: partitions of a failed range run show as missing, not failed.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS := 1
# A step hands each output's per-partition materializations to the event log in batches, which the
# PostgreSQL storage and ours for SQLite (dagster.yaml) write at once: ~0.5 and ~0.4 ms per
# partition instead of ~14 and ~7. Both values are lakehouse.deploy.instance.INSTANCE_ENV.
export DAGSTER_EVENT_BATCH_SIZE := 1000
# Install packages with their bytecode compiled: where PYTHONDONTWRITEBYTECODE is set (as on
# this project's machines) every process otherwise compiles Dagster, SQLAlchemy and pandas from
# source again, ~2.5 s before a run's first step.
export UV_COMPILE_BYTECODE := 1
# Trust the system's certificate store (registries behind a TLS-inspecting proxy need it).
export UV_SYSTEM_CERTS := 1
# uv from the PATH, else bootstrapped from PyPI into .tools/.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen --no-sync

.PHONY: help install run dev test fuzz lint typecheck defs crash bench bench-latency bench-soak clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(UV)  ## Install the locked environment into .venv and set up .dagster/
	$(UV) sync --frozen
	mkdir -p .dagster
	ln -sf $(CURDIR)/$(INSTANCE_CONFIG) .dagster/dagster.yaml

run: install  ## Land the samples, materialize everything (one run per source calendar), print a summary
	$(RUN) lakehouse land
	$(RUN) lakehouse land --from vega:seattle-weather.csv --source seattle_weather
	$(RUN) lakehouse land --from vega:stocks.csv --source stocks
	$(RUN) lakehouse materialize

dev: install  ## Dagster UI and daemon on http://127.0.0.1:3000 (DEV_PORT); Ctrl-C or SIGTERM stop it all
	# A service that is down or misconfigured (PostgreSQL, Redis, the object store) is reported
	# in plain words, naming the setting, before Dagster starts and fails with a traceback.
	$(RUN) lakehouse doctor
	# `lakehouse dev` runs `dagster dev` from inside DAGSTER_HOME and, on Ctrl-C or SIGTERM (make
	# and uv pass SIGTERM on), stops every process it started, killing what is left after 30 s.
	exec $(RUN) lakehouse dev --workspace workspace.yaml --port $(DEV_PORT)

lint: install  ## ruff
	$(RUN) ruff check platform platform_tests bench
	$(RUN) ruff format --check platform platform_tests bench

typecheck: install  ## mypy on the lakehouse package
	$(RUN) mypy

defs: install  ## dg check defs: every declared source and mart loads
	$(RUN) dg check defs

test: lint typecheck defs  ## Lint, type-check, check the definitions and run the whole test suite
	$(RUN) pytest

crash: install  ## 20 runs killed at random moments: nothing lost, mixed or partial (#17)
	LAKEHOUSE_CRASH_TRIALS=20 $(RUN) pytest platform_tests/test_crash.py

fuzz: install  ## Fuzz real deliveries long (2,000 examples; make test runs 150): FUZZ_ARGS for more
	$(RUN) pytest platform_tests/test_fuzz_deliveries.py --hypothesis-profile=fuzz --hypothesis-show-statistics $(FUZZ_ARGS)

bench: install  ## Benchmarks (#7) at BENCH_SCALES (default 1,10,50): bench/results.{json,md}; then bench-latency
	$(RUN) python -m bench
	$(MAKE) bench-latency

bench-latency: install  ## Landing -> marts latency under `lakehouse dev` (#18): bench/latency.{json,md}
	$(RUN) python -m bench.latency

# Not part of `make bench`: about half an hour on 2 cores.
bench-soak: install  ## Three simulated years under `lakehouse dev`: state, storage, page loads (#18): bench/soak.{json,md}
	$(RUN) python -m bench.soak

clean:  ## Remove data and instance state (keeps the environment)
	rm -rf data .dagster
