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

.PHONY: lab test system-packages notebooks outputs figures check-notebooks catalog grade bench clean

$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (found %d.%d); run: make PYTHON=/path/to/python3.11 ..." % sys.version_info[:2])'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/01_data/01_data.ipynb

test: $(INSTALLED)
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

# Debian packages for the grading sandbox (bubblewrap) and the browser tests (chromium). Without them those
# tests skip locally; CI (CI=true) needs them. Runs apt-get with sudo unless you are root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-packages:
	@if command -v bwrap >/dev/null && command -v chromium >/dev/null; then echo "bubblewrap and chromium are installed"; \
	elif command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bubblewrap chromium; \
	else echo "no apt-get: install bubblewrap and chromium with your package manager (see README)"; fi

clean:
	rm -rf $(VENV) .pytest_cache
