# The index of commands. Each target that needs the environment runs the set-up first,
# which is quick when nothing has changed (see scripts/setup.sh).

PYTHON := .venv/bin/python
# Extra arguments for pytest, as in: make test PYTEST_ARGS="-k healthz -x"
PYTEST_ARGS ?=

.PHONY: help run test setup setup-dev lint bench clean

help:
	@echo "make run        set up, then serve the app on http://127.0.0.1:8000"
	@echo "make test       set up with development tools, then ruff, mypy and the test suite"
	@echo "make setup      create .venv, install requirements, fetch weights, build ONNX, migrate"
	@echo "make setup-dev  the same, plus the development requirements"
	@echo "make lint       ruff check, ruff format --check and mypy"
	@echo "make bench      run the model benchmark (python -m benchmarks.model)"
	@echo "make clean      remove caches (keeps .venv, var/ and downloaded weights)"

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

# The Celery workers run in the background and stop with the server; by default their
# broker is a folder in var/, so no server is needed. One worker (with beat, which
# re-queues stuck work) takes crops, encodings and the rest; mask proposals, which take
# many seconds an image on a CPU, have a second worker at the lowest CPU priority, so an
# upload is encoded at once even while a run is under way.
run: setup
	@$(PYTHON) manage.py ensure_admin
	@.venv/bin/celery -A webapp worker -B -Q crops,encode,celery -n main@%h --concurrency 1 \
		--loglevel INFO --schedule var/celerybeat-schedule & worker=$$!; \
	nice -n 19 .venv/bin/celery -A webapp worker -Q proposals -n proposals@%h --concurrency 1 \
		--loglevel INFO & proposals=$$!; \
	trap 'kill $$worker $$proposals 2>/dev/null; wait $$worker $$proposals' EXIT INT TERM; \
	$(PYTHON) manage.py runserver 127.0.0.1:8000

# pytest exits with 5 when it collects no tests. This suite is never empty, so that
# means tests went missing (a bad path or pattern) and it must fail loudly.
# The web application's tests run a second time on PostgreSQL (pytest-django creates and
# drops the database test_test there).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
test: setup-dev
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	cd frontend && npx tsc --noEmit && npx vitest run
	@status=0; $(PYTHON) -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make test: pytest collected no tests; the suite must never be empty" >&2; \
	fi; \
	exit $$status
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTHON) -m pytest tests/webapp $(PYTEST_ARGS)

lint: setup-dev
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

bench: setup-dev
	$(PYTHON) -m benchmarks.model

clean:
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .mypy_cache .ruff_cache
