# make run: install, index the sample dumps, serve. make test: install, run the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DUMPS  ?= dumps/
INDEX  ?= index/
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Sudachi's synonym dictionary (npm, Apache-2.0), converted for the engine (search/synonyms.py)
SYNONYMS_VERSION := 18.0.0
SYNONYMS := vendor/synonyms.json

.PHONY: install reindex reindex-full run serve test test-deps bench bench-year eval soak whoosh-tests clean

# Bytecode written ahead: where PYTHONDONTWRITEBYTECODE is set (containers
# often set it) every command would compile the package again, ~0.1 s of
# each daily reindex. compileall writes it anyway, and only what changed.
install: $(VENV)/.installed $(SYNONYMS)
	@$(PY) -m compileall -q search web >/dev/null

# Re-installs only when the package's metadata changes; the package itself is
# installed editable, so code changes need no reinstall.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The benchmark's own extras (matplotlib, for the scale plot): `make bench`
# only, so that `make test` installs what the tests need and no more.
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	touch $@

# Without npm, install goes on without Sudachi's synonyms (dictionary/'s abbreviations still work).
$(SYNONYMS): $(VENV)/.installed search/synonyms.py
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p vendor && \
	  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix vendor \
	    sudachi-synonyms-dictionary@$(SYNONYMS_VERSION) && \
	  $(PY) -m search.synonyms build \
	    vendor/node_modules/sudachi-synonyms-dictionary/sudachi-synonyms-dictionary.json $@; \
	else \
	  echo "npm が見つからないため Sudachi の同義語辞書なしで続けます（dictionary/ の略語は使えます）"; \
	fi

reindex: install
	$(PY) -m search reindex --dumps $(DUMPS) --index $(INDEX)

reindex-full: install
	$(PY) -m search reindex --dumps $(DUMPS) --index $(INDEX) --full

run: reindex serve

serve: install
	$(PY) -m search serve --index $(INDEX) --host $(HOST) --port $(PORT)

# Debian's Chromium and its driver, for the browser tests, and curl, which
# runs the docs' examples (as root, or with sudo).
test-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! command -v curl >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver curl; \
	fi

test: install test-deps
	$(PY) -m pytest

bench: install $(VENV)/.installed-bench
	$(PY) -m bench

# A year of daily reindexes (365 incremental reindexes while a server answers;
# ~10 minutes on 2 cores): the "A year of daily reindexes" section of docs/performance.md.
bench-year: install
	$(PY) -m bench.year

eval: install
	$(PY) -m bench.eval

soak: install
	$(PY) -m bench.soak

# Whoosh's own test suite (../shared/peers) with our codec against W3's: ours
# may fail no test that W3 passes.
whoosh-tests: install
	$(PY) -m pytest -q -s tests/test_whoosh_suite.py

clean:
	rm -rf $(VENV) *.egg-info
	find $(INDEX) -mindepth 1 ! -name .gitkeep -delete
