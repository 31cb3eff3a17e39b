# sagshub: `make run` serves the hub on the embedded SQLite default; `make test` runs
# the suite against SQLite (in one process, then with a writer process) and PostgreSQL. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROTOS := $(wildcard protos/hub/v1/*.proto)
GEN    := hub/v1/.generated
HUB_DATABASE_URL ?= sqlite:///var/hub.db
HUB_CLIENTS_FILE ?= etc/clients.demo.toml
HUB_LISTEN ?= 127.0.0.1:50051
# /metrics and the statistics page (empty or "off": none)
HUB_HTTP_LISTEN ?= 127.0.0.1:8080

.PHONY: all install proto run cluster simulators migrate test test-sqlite test-postgres bench clean

all: proto

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

# The generated stubs live in hub/v1 (package hub.v1, as the contract says).
$(GEN): $(PROTOS) $(STAMP)
	mkdir -p hub/v1
	$(PY) -m grpc_tools.protoc -I protos \
	  -I $$($(PY) -c 'import os, google.type; print(os.path.dirname(os.path.dirname(list(google.type.__path__)[0])))') \
	  --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)
	touch hub/v1/__init__.py $@

proto: $(GEN)

migrate: $(GEN)
	mkdir -p var
	HUB_DATABASE_URL=$(HUB_DATABASE_URL) $(VENV)/bin/hub migrate

# The hub, its dispatcher (delivering to drop folders under ./var) and the register
# simulators (income, CPR, rent, final assessment: one process, adapters/simulators.py), which stop with
# the hub. `make simulators` runs the simulators alone.
HUB_INCOME_REGISTER_PORT ?= 8089
HUB_CPR_REGISTER_PORT ?= 8090
HUB_RENT_REGISTER_PORT ?= 8091
HUB_FINAL_ASSESSMENT_PORT ?= 8092
SIMULATORS = $(PY) -m adapters.simulators --income-port $(HUB_INCOME_REGISTER_PORT) \
  --cpr-port $(HUB_CPR_REGISTER_PORT) --rent-port $(HUB_RENT_REGISTER_PORT) \
  --final-assessment-port $(HUB_FINAL_ASSESSMENT_PORT)
run: migrate
	$(SIMULATORS) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	HUB_DATABASE_URL=$(HUB_DATABASE_URL) HUB_CLIENTS_FILE=$(HUB_CLIENTS_FILE) \
	  HUB_INCOME_REGISTER_URL=http://127.0.0.1:$(HUB_INCOME_REGISTER_PORT) \
	  HUB_CPR_REGISTER_URL=http://127.0.0.1:$(HUB_CPR_REGISTER_PORT) \
	  HUB_RENT_REGISTER_URL=http://127.0.0.1:$(HUB_RENT_REGISTER_PORT) \
	  HUB_FINAL_ASSESSMENT_URL=http://127.0.0.1:$(HUB_FINAL_ASSESSMENT_PORT) \
	  HUB_HTTP_LISTEN=$(HUB_HTTP_LISTEN) \
	  $(VENV)/bin/hub serve --listen $(HUB_LISTEN)

# `make cluster`: HUB_SERVERS `hub serve` sharing HUB_LISTEN (SO_REUSEPORT) and
# HUB_DISPATCHERS `hub dispatch`, on one PostgreSQL database (created if missing), with
# the simulators, as `hub cluster` runs them (docs/production.md).
HUB_CLUSTER_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/sagshub
HUB_SERVERS ?= 3
HUB_DISPATCHERS ?= 2
cluster: $(GEN)
	$(PY) -c "import sys; from hub.store.migrate import create_postgres_database as c; c(sys.argv[1])" \
	  $(HUB_CLUSTER_DATABASE_URL)
	$(VENV)/bin/hub --database $(HUB_CLUSTER_DATABASE_URL) migrate
	$(SIMULATORS) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	HUB_DATABASE_URL=$(HUB_CLUSTER_DATABASE_URL) HUB_CLIENTS_FILE=$(HUB_CLIENTS_FILE) \
	  HUB_INCOME_REGISTER_URL=http://127.0.0.1:$(HUB_INCOME_REGISTER_PORT) \
	  HUB_CPR_REGISTER_URL=http://127.0.0.1:$(HUB_CPR_REGISTER_PORT) \
	  HUB_RENT_REGISTER_URL=http://127.0.0.1:$(HUB_RENT_REGISTER_PORT) \
	  HUB_FINAL_ASSESSMENT_URL=http://127.0.0.1:$(HUB_FINAL_ASSESSMENT_PORT) \
	  $(VENV)/bin/hub cluster --servers $(HUB_SERVERS) --dispatchers $(HUB_DISPATCHERS) --listen $(HUB_LISTEN)

simulators: $(STAMP)
	exec $(SIMULATORS)

# The suite runs twice: on SQLite, then on PostgreSQL (HUB_TEST_POSTGRES_URL).
HUB_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The contract fuzz test (tests/test_contract_fuzz.py) sends 10,000 requests in the first
# pass and HUB_FUZZ_REQUESTS_AGAIN in each of the other two.
HUB_FUZZ_REQUESTS_AGAIN ?= 3000
test: $(GEN)
	HUB_TEST_DATABASE=sqlite $(PY) -m pytest -q
	HUB_TEST_DATABASE=sqlite HUB_TEST_WRITER=process HUB_FUZZ_REQUESTS=$(HUB_FUZZ_REQUESTS_AGAIN) $(PY) -m pytest -q
	HUB_TEST_DATABASE=postgres HUB_TEST_POSTGRES_URL=$(HUB_TEST_POSTGRES_URL) \
	  HUB_FUZZ_REQUESTS=$(HUB_FUZZ_REQUESTS_AGAIN) $(PY) -m pytest -q

bench: $(GEN)
	$(PY) -m bench.create_case
	$(PY) -m bench.dispatch
	$(PY) -m bench.events
	$(PY) -m bench.payments
	$(PY) -m bench.settlement
	$(PY) -m bench.control
	$(PY) -m bench.lifecycle
	$(PY) -m bench.statistics
	$(PY) -m bench.processes

clean:
	rm -rf hub/v1 var .pytest_cache
