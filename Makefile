# Paperpost entry points: make install | run | test | bench  (see README.md)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
# Exported so that every step of `make run` (and SITE_URL's default) sees the port served.
export PORT
# Empty: the demo data of scripts/sample-data.sh; or files to ingest instead (SAMPLE=feed.xml).
SAMPLE ?=
PYTEST_ARGS ?=

.PHONY: install model run lint test test-fast bench system-deps clean

# `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv): installed first.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || PYTHON=$(PYTHON) VENV=$(VENV) scripts/system-deps.sh venv
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

# The dense encoder's weights (all-MiniLM-L6-v2, 90 MB) in models/, checked against the
# official SHA-256; once. Ranking uses them when they are there (MATCH_EMBEDDING_MODEL).
MODEL_DIR ?= models/all-MiniLM-L6-v2
model: install
	$(PY) scripts/embedding_model.py $(MODEL_DIR)

# Embedded defaults: SQLite in var/, tasks in-process, emails as .eml files in var/outbox/,
# static files served by whitenoise (DEBUG is off, as in production: mistyped links get the
# site's own 404 page; `DEBUG=1 make run` shows Django's debug pages instead).
# With REDIS_URL set, scripts/run.sh also starts a Celery worker and beat.
run: install model
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	PY=$(PY) scripts/sample-data.sh $(SAMPLE)
	PORT=$(PORT) PY=$(PY) scripts/run.sh

# redis-server, chromium, PostgreSQL, GNU time (and python3-venv before the venv is made).
system-deps:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/system-deps.sh

# ruff (pyflakes and pycodestyle's error rules) and the import contracts in pyproject.toml
# (layers point down: web, subscribers, digest, paperpost; see docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The whole suite, real services included (they are started by the tests themselves). The
# system programs come first: making the venv (lint needs it) may need one of them. Tests
# keep their database, cache and outbox in a var/ of their own, apart from a `make run` in
# the same checkout (paperpost/testing.py).
test: system-deps lint model
	$(PY) -m pytest $(PYTEST_ARGS)

# Unit tests only: no Redis, worker, SMTP server or browser.
test-fast: lint model
	$(PY) -m pytest -m "not integration and not browser and not faults" $(PYTEST_ARGS)

bench:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/system-deps.sh bench
	$(MAKE) install
	@for script in benchmarks/[a-z]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf var/outbox var/cache var/static var/*.sqlite3* var/test-*.sqlite3* var/test
