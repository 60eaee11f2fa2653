# The two commands a newcomer types: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
CONSTRAINTS := requirements/constraints.txt
PIP    := $(BIN)/pip install -q -c $(CONSTRAINTS)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The settings are production's unless the environment says development: these
# targets say it (DJANGO_DEBUG=0 in the environment still wins).
run demo migrate messages test: export DJANGO_DEBUG ?= 1

.PHONY: run demo test install dev migrate messages lint format bench bench-multi bench-writes bench-retention bench-capacity bench-quick constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The standalone server: the apps plus its own settings' libraries ("server").
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(PIP) -e '.[server]'
	touch $@

# The dev extras include mysqlclient (the suite also runs on MariaDB), which
# builds against MariaDB Connector/C: say so plainly instead of a compiler trace.
NEED_MYSQL_HEADERS := mysqlclient (dev extras) needs pkg-config and MariaDB Connector/C; \
  on Debian: apt-get install pkg-config libmariadb-dev

$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) $(VENV)/.installed
	@$(BIN)/python -c 'import MySQLdb' 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null \
	  || pkg-config --exists mariadb 2>/dev/null || { echo '$(NEED_MYSQL_HEADERS)' >&2; exit 1; }
	$(PIP) -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0

## run: SQLite + in-memory layer, one daphne process on http://$(HOST):$(PORT)
run: migrate
	$(BIN)/python manage.py demo_users
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop). Log in as one of the users above."
	@echo "For news every few seconds (toasts on the page), in another terminal: make demo"
	$(BIN)/daphne -b $(HOST) -p $(PORT) asgi:application

## demo: next to `make run`, in another terminal: a news item every few seconds (Ctrl-C stops)
demo: migrate
	$(BIN)/python manage.py demo $(DEMO_ARGS)

## test: the whole suite (set DATABASE_URL for PostgreSQL or MariaDB)
test: dev
	$(BIN)/pytest $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) -e '.[bench]'
	touch $@

## bench: ours vs the Channels tutorial pattern vs a bare websockets server, one run,
## then the multi-process plan (bench-multi)
## (needs Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 and nginx; ~15 minutes)
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench --png docs/img/perf-latency.png --out bench/out $(BENCH_ARGS)
	$(BIN)/python -m bench.multiprocess --out bench/out $(BENCH_MULTI_ARGS)

## bench-multi: the multi-process plan alone (issue 15): 2 and 4 daphne processes, then as
## many bare websockets servers, behind docs/nginx.conf, 20,000 clients in all (~5 min);
## BENCH_MULTI_ARGS=--quick for 400 clients (under a minute)
bench-multi: $(VENV)/.installed-bench
	$(BIN)/python -m bench.multiprocess --out bench/out $(BENCH_MULTI_ARGS)

## bench-writes: the write plan alone (issue 14): notes/s at 1, 4, 16 writers against the
## driver, a note to 10,000 recipients, other senders while a transaction stays open (~3 min)
bench-writes: $(VENV)/.installed-bench
	$(BIN)/python -m bench.writes --out bench/out $(BENCH_ARGS)

## bench-retention: prune a large table (1,000,000 notes by default) by age and by count
## while a sender and a resuming client run; BENCH_ARGS="--database-url URL" for a
## private PostgreSQL or MariaDB database (it is emptied), SQLite by default (~15 min)
bench-retention: $(VENV)/.installed-bench
	$(BIN)/python -m bench.retention $(BENCH_ARGS)

## bench-capacity: the unit costs of docs/capacity.md (database statements per connect,
## resume and note; Redis commands per note with 1 and 2 processes; CPU of a private note
## whose recipient is elsewhere) on a private redis-server; bench/out/capacity.json (~6 min)
bench-capacity: $(VENV)/.installed-bench
	$(BIN)/python -m bench.capacity --out bench/out $(BENCH_ARGS)

## bench-quick: the same, smaller (under two minutes): a smoke run
bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m bench --quick --png bench/out/quick.png --out bench/out $(BENCH_ARGS)

## messages: gather translatable strings into each app's locale/ and compile them
messages: dev
	for dir in config frontend news note; do \
	  (cd $$dir && DJANGO_SETTINGS_MODULE=config.settings PYTHONPATH=$(CURDIR) \
	    $(CURDIR)/$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete && \
	   DJANGO_SETTINGS_MODULE=config.settings PYTHONPATH=$(CURDIR) \
	    $(CURDIR)/$(BIN)/django-admin compilemessages) || exit 1; \
	done

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## constraints: re-resolve every dependency (all extras) in a fresh venv into $(CONSTRAINTS)
constraints:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip
	.venv-lock/bin/pip install -q '.[dev,bench]'
	{ sed -n '/^#/p' $(CONSTRAINTS); .venv-lock/bin/pip freeze --exclude django-realtime-notes; } \
	  > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) db.sqlite3 .test-db.sqlite3* staticfiles .pytest_cache bench/out
