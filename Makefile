# One command each: `make demo` runs the main job, `make test` passes the tests. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
EDGE_VENV ?= .venv-edge
PY := $(VENV)/bin/python
EDGE_PY := $(EDGE_VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: demo test venv edge-venv mosquitto clean bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[compress,dev,receiver]'
	touch $@

# The device install: no torch, no nncf; proves the demo runs with edge's dependencies only.
$(EDGE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(EDGE_VENV)
	$(EDGE_PY) -m pip install -q --upgrade pip
	$(EDGE_PY) -m pip install -q -e .
	touch $@

venv: $(VENV)/.installed
edge-venv: $(EDGE_VENV)/.installed

mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || command -v /usr/sbin/mosquitto >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients)

demo: edge-venv
	$(EDGE_PY) -m edge demo

test: venv mosquitto
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/runtime.py
	$(PY) benchmarks/compression.py
	$(PY) benchmarks/sync.py

clean:
	rm -rf $(VENV) $(EDGE_VENV) build *.egg-info
