# One command each: `make demo` runs the main job, `make test` passes the tests. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
EDGE_VENV ?= .venv-edge
PY := $(VENV)/bin/python
EDGE_PY := $(EDGE_VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: demo test test-device venv edge-venv mosquitto chromium shellcheck clean bench

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

# The dashboard's browser test drives Debian's Chromium through chromedriver (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# The Jetson image's shell scripts are linted in the tests (tests/test_jetson_image.py).
shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck)

demo: edge-venv
	$(EDGE_PY) -m edge demo

test: venv mosquitto chromium shellcheck
	$(PY) -m pytest -q
	$(MAKE) test-device

# The device tests (every test module that needs only edge/'s dependencies, tests/device_selection.py) under
# the Pythons the supported JetPacks ship: 3.8 (JetPack 5.1) and 3.10 (JetPack 6), pinned in .ci/constraints-*.
PY38 ?= $(HOME)/.pyenv/versions/3.8.18/bin/python3.8
PY310 ?= $(HOME)/.pyenv/versions/3.10.13/bin/python3.10
DEVICE_PYS ?= 38 310

.venv-py%/.installed: pyproject.toml .ci/constraints-py%.txt
	$(PY$*) -m venv .venv-py$*
	.venv-py$*/bin/python -m pip install -q --upgrade "pip<25"
	.venv-py$*/bin/python -m pip install -q -c .ci/constraints-py$*.txt -e '.[dicom]' pytest pytest-timeout onnx
	touch $@

test-device: mosquitto
	@for v in $(DEVICE_PYS); do \
	  py=$$($(MAKE) -s --no-print-directory print-py$$v); \
	  if [ ! -x "$$py" ]; then echo "test-device: SKIPPED Python py$$v: $$py not found (set PY$$v=/path/to/python)"; continue; fi; \
	  $(MAKE) -s .venv-py$$v/.installed || exit 1; \
	  echo "device tests, $$(.venv-py$$v/bin/python --version)"; \
	  FETAL_EDGE_DEVICE_TESTS=1 .venv-py$$v/bin/python -m pytest -q -p no:cacheprovider || exit 1; \
	done

print-py%:
	@echo $(PY$*)

bench: venv
	$(PY) benchmarks/runtime.py
	$(PY) benchmarks/compression.py
	$(PY) benchmarks/sync.py

clean:
	rm -rf $(VENV) $(EDGE_VENV) .venv-py38 .venv-py310 build *.egg-info
