# Two commands do all the set-up on a fresh machine:
#   make lab    create .venv, install the pinned requirements, open JupyterLab on the course
#   make test   the same set-up, then the whole test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed-requirements
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# nbgrader runs `alembic` when it creates a gradebook: the venv's bin/ must be on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: lab test system-packages notebooks outputs figures check-notebooks catalog grade bench clean hub hub-install

$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (found %d.%d); run: make PYTHON=/path/to/python3.11 ..." % sys.version_info[:2])'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/01_data/01_data.ipynb

test: $(INSTALLED)
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory hub-install; \
	else echo "not root: the class hub test skips (it needs \`sudo make hub-install\`)"; fi
	$(VENV)/bin/python -m pytest

# Instructor: rebuild notebooks/ from solutions/ (after editing a solution notebook or a figure).
notebooks: $(INSTALLED)
	$(VENV)/bin/python -m autograder release

# Instructor: re-run the solutions, store their outputs (what nbval compares), then rebuild notebooks/.
outputs: $(INSTALLED)
	$(VENV)/bin/python -m autograder release --execute

# Instructor: after editing Grafiken/*.svg, render the PNGs the notebooks embed (needs rsvg-convert:
# sudo apt-get install -y librsvg2-bin), then `make notebooks`.
figures: $(INSTALLED)
	$(VENV)/bin/python -m autograder figures

check-notebooks: $(INSTALLED)
	$(VENV)/bin/python -m autograder release --check

# Grade the catalog of student mistakes and correct variants (tests/catalog) and print its table.
catalog: $(INSTALLED)
	$(VENV)/bin/python -m tests.catalog --jobs 2

# Instructor quick start: grade the bundled example class (examples/submissions/) into grading-output/.
grade: $(INSTALLED)
	$(VENV)/bin/python -m autograder grade examples/submissions --out grading-output

# Benchmark: the grader against serial nbgrader on a synthetic class (same scores?), then every solution
# notebook's time and the training's accuracy; writes bench/RESULTS.md. Slow: run on a quiet machine.
bench: $(INSTALLED)
	$(VENV)/bin/python -m bench

# The class on JupyterHub (deploy/jupyterhub/, README "A class on JupyterHub"). Every student's server runs
# from one environment that all accounts can read: Debian's python3.11 in HUB_PREFIX, the pins of
# deploy/jupyterhub/requirements.txt, the role configurations, and configurable-http-proxy from npm.
HUB_PREFIX ?= /opt/qkv-class
HUB_PYTHON ?= /usr/bin/python3.11
HUB_PORT ?= 8000
HUB_VENV := $(HUB_PREFIX)/venv
HUB_INSTALLED := $(HUB_VENV)/.installed-requirements
HUB_ROLES := $(HUB_VENV)/etc/qkv-class
CHP := deploy/jupyterhub/node_modules/.bin/configurable-http-proxy

$(HUB_INSTALLED): deploy/jupyterhub/requirements.txt
	@test -x $(HUB_PYTHON) || { echo "$(HUB_PYTHON) is missing: run make system-packages"; exit 1; }
	@test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --disable-pip-version-check -q -r deploy/jupyterhub/requirements.txt
	@touch $@

$(CHP): deploy/jupyterhub/package.json deploy/jupyterhub/package-lock.json
	cd deploy/jupyterhub && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

hub-install: $(HUB_INSTALLED) $(CHP)
	@rm -rf $(HUB_ROLES) && mkdir -p $(HUB_ROLES) $(HUB_VENV)/share/jupyter/lab/settings
	cp -r deploy/jupyterhub/roles/student deploy/jupyterhub/roles/instructor $(HUB_ROLES)/
	cp deploy/jupyterhub/roles/overrides.json $(HUB_VENV)/share/jupyter/lab/settings/overrides.json
	@chmod -R a+rX $(HUB_PREFIX)

# The demo class: an instructor and three students on http://127.0.0.1:$(HUB_PORT)/; Ctrl-C stops it.
hub: hub-install
	$(HUB_VENV)/bin/python deploy/jupyterhub/hubclass.py demo --port $(HUB_PORT)

# Debian packages for the grading sandbox (bubblewrap), the browser tests (chromium) and the class hub
# (python3.11-venv, nodejs, npm). Without them those tests skip locally; CI (CI=true) needs them. Runs
# apt-get with sudo unless you are root. A Node.js installed another way (node and npm on PATH) is kept.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-packages:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	test -x /usr/bin/python3.11 && /usr/bin/python3.11 -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3.11-venv"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then echo "bubblewrap, chromium, python3.11-venv, nodejs and npm are installed"; \
	elif command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "no apt-get: install$$missing with your package manager (see README)"; fi

clean:
	rm -rf $(VENV) .pytest_cache
