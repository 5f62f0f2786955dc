# The README's two commands: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast stop lint venv worker web

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

venv: $(STAMP)

## 1. Set up and run the demo: install, embedded Postgres, real data, embed, build, serve on :8000.
demo: $(STAMP)
	bash scripts/demo.sh

## 2. Run the test suite (what CI runs).
test: $(STAMP)
	bash scripts/test.sh

## Stop everything the demo started: gunicorn, worker, beat and the embedded PostgreSQL.
stop:
	bash scripts/stop.sh

## The quick loop while developing: no slow tests (real workers, large data), no browser tests.
test-fast: $(STAMP)
	bash scripts/test.sh -m "not slow" --ignore-glob='*_browser.py'

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

worker: $(STAMP)
	$(VENV)/bin/celery -A recsite worker -Q default,gpu --concurrency 2 -l info

web: $(STAMP)
	$(VENV)/bin/gunicorn recsite.wsgi -c deploy/gunicorn.conf.py
