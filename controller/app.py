"""``thermogate controller --config controller.toml``: the service, with the guards' console on its HTTP side.

The one place that puts the two together: ``controller/service`` knows nothing of
the console, and the console knows the service only through
``console/backend.py``. The command runs what ``build_controller`` builds
until SIGINT/SIGTERM; the tests and the demo build it the same way.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: `thermogate --help` stays quick
    from starlette.applications import Starlette

    from .service.config import ControllerConfig
    from .service.service import ControllerService


def install_console(app: Starlette, service: ControllerService) -> None:
    """The console's routes, sessions and security headers on the service's app; request bodies capped."""
    from .console import routes
    from .console.web import BodyLimit

    routes.install(app, service)
    app.add_middleware(BodyLimit)


def build_controller(config: ControllerConfig, **kwargs) -> ControllerService:
    """A ControllerService whose HTTP side serves the console (``kwargs``: ``store``, ``gates``, ``http``)."""
    from .service.service import ControllerService

    return ControllerService(config, http_extensions=(install_console,), **kwargs)


def _run(args) -> int:
    from .service import logs
    from .service.config import ConfigError, load_config

    logs.setup(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"thermogate controller: configuration error: {exc}", file=sys.stderr)
        return 2
    from .store.errors import StoreError

    try:
        service = build_controller(config)
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
        # Written whole or not at all: whoever waits for the file reads it as soon as it exists.
        ready = Path(args.ready_file)
        partial = ready.with_name(ready.name + ".partial")
        partial.write_text(f"{port}\n")
        partial.replace(ready)
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
