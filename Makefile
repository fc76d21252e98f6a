# Quickstart: `make demo` then `make test`. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
PEERS := $(VENV)/.installed-peers

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(PEERS): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,peers]'
	touch $(PEERS)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/linkage demo --out demo-out --force

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(PEERS)
	$(PY) -m pytest benchmarks -q -p no:randomly --benchmark-only --benchmark-columns=min,mean,max,rounds -s

clean:
	rm -rf $(VENV) demo-out .pytest_cache .benchmarks
