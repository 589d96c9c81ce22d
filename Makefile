# Khiên — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KHIEN := $(VENV)/bin/khien
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench setup setup-dev assets messages clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Installs the platform; re-runs only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Front-end assets (chart library) come from the npm registry, never from a CDN at run time.
assets: $(VENV)/.installed
	$(PY) scripts/vendor_assets.py

setup: $(VENV)/.installed assets
	$(KHIEN) migrate --no-input
	$(KHIEN) collectstatic --no-input -v0
	$(KHIEN) load_content
	$(KHIEN) demo --if-empty --no-accounts

setup-dev: $(VENV)/.installed-dev assets
	$(PY) scripts/vendor_assets.py --dev

# The web server, plus in the background the worker (deadlines, digests, federation, correlation)
# and the SOC simulator that keeps the national dashboard alive (its log: .simulate.log), at about the rate of
# the demo's 48 hours of history (720 records an hour), so the live hour does not dwarf the chart.
# E-mails of the demo are written to ./outbox/ (one file per message) instead of the terminal.
run: export KHIEN_EMAIL_BACKEND ?= django.core.mail.backends.filebased.EmailBackend
# Links in e-mails (sent by the worker, outside any request) point where this server listens.
run: export KHIEN_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: setup
	$(KHIEN) demo --accounts
	@echo "E-mail notifications are written to ./outbox/ (set KHIEN_EMAIL_BACKEND to send them)."
	$(KHIEN) worker & WORKER=$$!; \
	$(KHIEN) simulate --rate 0.2 --interval 10 > .simulate.log 2>&1 & SIMULATOR=$$!; \
	trap 'kill $$WORKER $$SIMULATOR 2>/dev/null' EXIT INT TERM; \
	$(KHIEN) runserver $(HOST):$(PORT)

test: setup-dev
	$(PY) scripts/run_tests.py

bench: setup
	$(PY) bench/run.py

# Re-extract and compile the Vietnamese catalogue (needs GNU gettext).
messages: $(VENV)/.installed
	cd khien && ../$(KHIEN) makemessages -l vi --no-location --no-obsolete && ../$(KHIEN) compilemessages -l vi

clean:
	rm -rf $(VENV) db.sqlite3 media khien/static/vendor .vendor-dev
