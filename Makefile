# OrderHub: two commands set everything up on a fresh machine.
#   make demo   installs, loads the demo company into an embedded SQLite file, serves on :8000
#   make test   installs and runs every test against PostgreSQL (+ a smoke subset on SQLite)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/orderhub
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install assets demo serve test test-pg test-sqlite test-browser lint bench clean

install: $(VENV)/.installed assets

# Front-end assets come from the npm registry at set-up and are served locally (no CDN).
VENDOR := src/orderhub/web/static/vendor
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/@tabler/core/dist/css/tabler.min.css $(VENDOR)/
	cp node_modules/@tabler/core/dist/js/tabler.min.js $(VENDOR)/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	# the CJK font printed documents use (shipping/documents.py @font-face; not a system font)
	mkdir -p $(VENDOR)/fonts
	cp node_modules/@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf $(VENDOR)/fonts/
	cp node_modules/@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf $(VENDOR)/fonts/
	cp node_modules/echarts/dist/echarts.common.min.js $(VENDOR)/echarts.min.js
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/orderhub demo --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/orderhub serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports  # the layers (pyproject.toml [tool.importlinter])
	$(BIN)/mypy          # types (pyproject.toml [tool.mypy])

test: install lint test-pg test-sqlite

test-pg: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest -p no:cacheprovider

test-sqlite: install
	env -u DATABASE_URL ORDERHUB_DATA_DIR=$$(mktemp -d) $(BIN)/python -m pytest -p no:cacheprovider -m smoke

bench: install
	$(BIN)/python bench/bench.py all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var *.egg-info src/*.egg-info
