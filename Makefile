# thermogate: the verbs users type. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv test bench bench-accuracy demo clean mosquitto-installed

help: ## list the verbs
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10-3.13" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(STAMP) ## create .venv and install the project with its test tools

# The firmware tests' node packages (MicroPython's WebAssembly port, pyright), pinned in
# tests/micropython/package-lock.json. Without node or npm, root on Debian gets them from apt.
NODE_DIR := tests/micropython
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "node or npm not found: installing Debian's nodejs and npm" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  fi; \
	fi
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "error: node and npm not found;" \
	  "install Node.js 18 or newer with npm (Debian: sudo apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund
	@touch $@

# The tests start their own mosquitto on a free port; root on Debian gets it from apt if missing.
mosquitto-installed:
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "mosquitto not found: installing Debian's mosquitto" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	  else \
	    echo "error: mosquitto not found; install it (Debian: sudo apt-get install mosquitto)" >&2; exit 1; \
	  fi; \
	fi

test: $(STAMP) $(NODE_STAMP) mosquitto-installed ## run the whole test suite (installs .venv, the node test tools and mosquitto on first use)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) mosquitto-installed ## print the benchmarks: sensor maths, screening throughput, virtual gates per process
	$(PY) bench/bench_sensor.py
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_sim.py

bench-accuracy: $(STAMP) ## screening accuracy against the simulator's ground truth, both lenses
	$(PY) bench/bench_accuracy.py

demo: ## run the demo (broker, simulated gates, controller, console): not built yet
	@echo "The demo is not built yet: it needs the controller service and the guards' console," >&2
	@echo "which are still to come. Meanwhile: .venv/bin/thermogate sim run --gates 4 --scenario fever" >&2
	@echo "--broker localhost:1883 runs simulated gates; 'make test' runs the tests." >&2
	@exit 2

clean: ## remove .venv, the node test tools, build output and caches
	rm -rf $(VENV) $(NODE_DIR)/node_modules build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The installer's verbs (thermogate gate / flash). GATE_ARGS passes more options,
# e.g. GATE_ARGS='--name "North entrance" --relay-active-low' or GATE_ARGS=--no-tail.
.PHONY: gate-add gate-config flash
THERMOGATE := $(VENV)/bin/thermogate
GATE_ARGS ?=

gate-add: $(STAMP) ## register a gate, make its secrets: make gate-add ID=north-1
	@test -n "$(ID)" || { echo "usage: make gate-add ID=north-1 [GATE_ARGS=...]" >&2; exit 2; }
	$(THERMOGATE) gate add '$(ID)' $(GATE_ARGS)

gate-config: $(STAMP) ## write build/firmware/ID/config.json: make gate-config ID=north-1
	@test -n "$(ID)" || { echo "usage: make gate-config ID=north-1 [GATE_ARGS=...]" >&2; exit 2; }
	$(THERMOGATE) gate config '$(ID)' -o 'build/firmware/$(ID)/config.json' $(GATE_ARGS)

flash: $(STAMP) ## flash a gate: make flash ID=north-1 PORT=/dev/ttyUSB0 [DRY_RUN=1]
	@test -n "$(ID)" && test -n "$(PORT)" || { echo "usage: make flash ID=north-1 PORT=/dev/ttyUSB0 [DRY_RUN=1] [GATE_ARGS=...]" >&2; exit 2; }
	$(THERMOGATE) flash '$(ID)' --port '$(PORT)' $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run) $(GATE_ARGS)
