# One command to install and test, one to install and run. See README.md.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: test test-fast demo app install install-dev browser postgres lint

test: install-dev browser postgres  ## install everything, then run the whole test suite
	$(PYTHON) -m pytest

test-fast:  ## the quick tests: no slow ones (training runs, browsers, servers), none that need ../shared/data
	$(PYTHON) -m pytest -q -m "not slow and not data"

demo:  ## install the inference package and estimate ages on a sample photo
	$(PIP) install -q -e .
	howold predict tests/fixtures/faces --annotate out/annotated --json out/results.json
	@echo "note: wrote the annotated photos to out/annotated/ and every result to out/results.json"

app:  ## install the web app and open it
	$(PIP) install -q -e ".[app]"
	howold app

install:
	$(PIP) install -q -e .

install-dev:
	@echo "note: installing howold with every extra and the test tools (pip install -e '.[all,test]')"
	$(PIP) install -q -e ".[all,test]"

browser:  ## Debian's Chromium for the browser test (skipped with a reason when absent)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "note: installing Debian's chromium with apt-get, for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "note: chromium not installed; the browser test will be skipped"; fi; }

postgres:  ## Debian's PostgreSQL for howold tune's shared-study test (skipped with a reason when absent)
	@{ command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "note: installing Debian's postgresql with apt-get, for howold tune's shared-study test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the shared-study test will be skipped"; \
	  else echo "note: postgresql not installed; the shared-study test will be skipped"; fi; }

LINTED := howold tests benchmarks scripts experiments

lint:  ## ruff's lint and format checks and mypy on the core package (howold/train/ excluded)
	$(PYTHON) -m ruff check $(LINTED)
	$(PYTHON) -m ruff format --check $(LINTED)
	$(PYTHON) -m mypy howold
