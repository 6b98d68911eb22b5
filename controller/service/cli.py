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
    p = commands.add_parser("controller", help="run the controller service (MQTT in, doors, records, console)")
    p.add_argument("--config", required=True, help="controller.toml (docs/operations.md)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--ready-file", help="write the HTTP port here once the service is up (for scripts)")
    p.set_defaults(run=_run)
