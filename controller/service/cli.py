"""``thermogate controller --config controller.toml``: run the controller service until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading


def _run(args) -> int:
    from . import logs
    from .config import ConfigError, load_config

    logs.setup(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"thermogate controller: configuration error: {exc}", file=sys.stderr)
        return 2
    from ..store.errors import StoreError
    from .service import ControllerService

    try:
        service = ControllerService(config)
    except (ConfigError, StoreError) as exc:
        print(f"thermogate controller: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        service.start()
    except (OSError, RuntimeError) as exc:
        print(f"thermogate controller: {exc}", file=sys.stderr)
        service.stop()
        return 1
    if args.ready_file:
        from pathlib import Path

        port = service.http.port if service.http else 0
        Path(args.ready_file).write_text(f"{port}\n")
    while not stop.wait(0.5):
        pass
    service.stop()
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser(
        "controller", help="run the controller service (MQTT in, doors, records, console)",
        description="Run the controller: read every gate's frames from the MQTT broker, screen each person, "
                    "command the doors, record every decision, alarm and door action in the store, and serve the "
                    "guards' console, /healthz and /metrics over HTTP. Runs until SIGTERM or Ctrl-C, then stops "
                    "cleanly; a crash loses no record. The file is checked at start and every mistake is named "
                    "(docs/operations.md lists the keys; a systemd unit is there too).")
    p.add_argument("--config", required=True, metavar="FILE",
                   help="controller.toml: broker, site registry, store, doors, HTTP and screening settings "
                        "(docs/operations.md)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                   help="the least important log lines shown, one JSON object per line on stderr (default info)")
    p.add_argument("--ready-file", metavar="FILE",
                   help="write the HTTP port here once the service is up (for scripts and tests)")
    p.set_defaults(run=_run)
