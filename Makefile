# The two set-up commands of the README:
#   make demo   install into .venv and serve the demo shop on http://127.0.0.1:8000
#   make test   install the test dependencies into .venv and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The benchmark's peer shop runs django-oscar, which cannot share the bench's
# settings or (for the tests' sake) .venv: its own venv, pinned as tox.ini's
# py311-django52-oscar env, which bench/run.py also finds and uses.
VENV_OSCAR ?= .venv-oscar
# The suite runs on SQLite, then on this PostgreSQL (pytest-django creates and
# drops its own test_… database there).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
DEMO_HOST ?= 127.0.0.1:8000
# Each suite runs in this many pytest processes (pytest-xdist; each process has
# its own test database). Most of the slow tests wait on worker processes,
# brokers and a browser, so two halve the wall time on two cores.
TEST_PROCESSES ?= 2
PYTEST := $(BIN)/pytest -q -n $(TEST_PROCESSES)

.PHONY: demo test test-sqlite test-postgres test-browser lint docs messages bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: $(BIN)/python setup.cfg
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg
	$(BIN)/pip install --quiet -e ".[test,docs]"
	touch $@

$(VENV_OSCAR)/.installed: setup.cfg
	$(PYTHON) -m venv $(VENV_OSCAR)
	$(VENV_OSCAR)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_OSCAR)/bin/pip install --quiet -e ".[test,oscar]" "Django>=5.2,<5.3" "django-oscar>=4.0,<5"
	touch $@

# Refresh the compiled translations, order_updates/locale/*/LC_MESSAGES/django.mo,
# after editing a .po file (GNU gettext's msgfmt, with its format checks), then
# commit both: the .mo files ship in git (tests/test_translations.py compares them
# with their .po files).
messages: $(VENV)/.installed-demo
	cd order_updates && ../$(BIN)/django-admin compilemessages --ignore "$(VENV)" >/dev/null

# runserver in the foreground and a Celery worker (with beat) beside it, over a
# broker that needs no server; Ctrl-C stops both (see scripts/run-demo).
demo: $(VENV)/.installed-demo
	cd example_project && ../$(BIN)/python manage.py migrate --noinput -v 0
	cd example_project && ../$(BIN)/python manage.py seed_demo
	DEMO_PYTHON=$(abspath $(BIN)/python) scripts/run-demo $(DEMO_HOST)

test: $(VENV)/.installed-test
	$(MAKE) test-sqlite test-postgres test-browser

# Both order-model shapes, on SQLite then on PostgreSQL (see tests/settings.py).
test-sqlite: $(VENV)/.installed-test
	env -u DATABASE_URL ORDER_UPDATES_TEST_SHOP=plainshop $(PYTEST)
	env -u DATABASE_URL ORDER_UPDATES_TEST_SHOP=customershop $(PYTEST)

test-postgres: $(VENV)/.installed-test
	@scripts/require-postgres "$(TEST_DATABASE_URL)"
	DATABASE_URL=$(TEST_DATABASE_URL) ORDER_UPDATES_TEST_SHOP=plainshop $(PYTEST)
	DATABASE_URL=$(TEST_DATABASE_URL) ORDER_UPDATES_TEST_SHOP=customershop $(PYTEST)

# axe-core, which the browser tests inject into each customer page
# (example_project/package.json, from the npm registry).
AXE := example_project/node_modules/axe-core/axe.min.js
$(AXE): example_project/package.json example_project/package-lock.json
	cd example_project && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo shop in headless Chromium with its own Celery worker, on SQLite (as the
# demo runs) and on PostgreSQL.
test-browser: $(VENV)/.installed-test $(AXE)
	@scripts/require-chromium
	cd example_project && env -u DATABASE_URL ../$(PYTEST)
	cd example_project && DATABASE_URL=$(TEST_DATABASE_URL) ../$(PYTEST)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -q -W -b html docs docs/_build/html

# Speed figures against a same-run baseline (bench/README.md), on this machine's
# PostgreSQL and Redis; the report goes to bench/results.json. BENCH_ARGS passes
# options, e.g. make bench BENCH_ARGS="--orders 500 --profile". The peer shop
# needs $(VENV_OSCAR); if it cannot be built, the bench says so and skips the
# peer alone (hence the "-").
bench: $(VENV)/.installed-test
	-$(MAKE) $(VENV_OSCAR)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/template_render.py
	$(BIN)/python bench/pages.py

# Every scenario once on a few dozen orders: CI runs it so the benchmark cannot rot.
bench-smoke: $(VENV)/.installed-test
	-$(MAKE) $(VENV_OSCAR)/.installed
	$(BIN)/python bench/run.py --smoke
	$(BIN)/python bench/pages.py --smoke
	BENCH_ROUNDS=1 BENCH_REPEAT=1 $(BIN)/python bench/template_render.py

clean:
	rm -rf $(VENV) $(VENV_OSCAR) docs/_build example_project/var
