# Linli: `make run` serves the embedded default; `make test` runs the suite. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help run test test-fast lint fmt migrate worker relay fuzz bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP) ## Set up and serve the API on the embedded PostgreSQL and Redis (http://127.0.0.1:5000/docs)
	$(BIN)/flask --app wsgi serve

test: $(STAMP) ## Set up and run the whole suite (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded servers)
	$(BIN)/pytest -n auto --dist loadfile --durations=20 $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the suite without the slow fault and schema-fuzz tests
	$(BIN)/pytest -n auto --dist loadfile -m "not serial" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP) ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(STAMP) ## Apply migrations to DATABASE_URL (or the embedded database)
	$(BIN)/flask --app wsgi db upgrade

relay: $(STAMP) ## Run the outbox relay (production: beside the web processes)
	$(BIN)/flask --app wsgi relay

worker: $(STAMP) ## Run an RQ worker on every queue
	$(BIN)/flask --app wsgi worker

fuzz: $(STAMP) ## A wider schemathesis run against /openapi.json (FUZZ_EXAMPLES=500)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_LINK_EXAMPLES=$${FUZZ_LINK_EXAMPLES:-100} $(BIN)/pytest -q -n auto --dist loadfile tests/fuzz

bench: $(STAMP) ## Benchmarks: installs wrk + bench/requirements.txt, writes BENCHMARKS.md (~20 min)
	command -v wrk >/dev/null || apt-get install -y -q wrk || sudo apt-get install -y -q wrk
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL-postgresql+psycopg://postgres@127.0.0.1:5432/postgres} \
	BENCH_REDIS_URL=$${BENCH_REDIS_URL-redis://127.0.0.1:6379/15} $(BIN)/python -m bench
