"""The controller's HTTP side: health, Prometheus metrics and the read-only gate list.

Served by uvicorn in a thread of the controller process. The guards' console
(``controller/console``), when present, adds its routes to the same app.
"""

from __future__ import annotations

import logging
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .metrics import CONTENT_TYPE

log = logging.getLogger("thermogate.http")


def build_app(service) -> Starlette:
    async def health(_request):
        report = service.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    async def metrics(_request):
        service.refresh_gauges()
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    routes = [Route("/healthz", health), Route("/metrics", metrics)]
    try:
        from ..console import routes as console_routes
    except ImportError:
        console_routes = None
    app = Starlette(routes=routes)
    if console_routes is not None:
        console_routes.install(app, service)
    return app


class HttpServer:
    """uvicorn on its own thread and event loop."""

    def __init__(self, app, host: str, port: int):
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="thermogate-http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        for _ in range(int(timeout / 0.02)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.02)
        if not self.server.started:
            raise RuntimeError(f"the HTTP server did not start on {self.config.host}:{self.config.port}")

    @property
    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return sock.getsockname()[1]
        return self.config.port

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

