"""The controller's HTTP side: health, Prometheus metrics and the read-only gate list.

Served by uvicorn in a thread of the controller process. Whoever composes the
controller adds to the same app (``extensions``): controller/app.py puts the
guards' console (``controller/console``) on it; this module knows nothing of it.

What guards it, before any route runs (docs/operations.md, "HTTP"):

- ``HostCheck``: a Host header that is not this machine, an IP address or one
  of ``[http] allowed_hosts`` is refused (400; a WebSocket 403). A web page
  on another site whose name the attacker re-points at the gatehouse's
  address (DNS rebinding) therefore gets nothing.
- with the console, its ``BodyLimit`` (console/web.py): no request body over
  16 kB is read, by its Content-Length or while it streams.
- uvicorn: at most ``[http] max_connections`` open connections (503 beyond),
  TLS when ``tls_cert``/``tls_key`` are set, and X-Forwarded-For/-Proto only
  from ``trusted_proxies`` (none by default: the client is the socket's peer).
- ``/metrics``: with ``metrics_token`` it needs ``Authorization: Bearer``;
  without one it answers loopback clients only (a Prometheus on this machine).
"""

from __future__ import annotations

import fnmatch
import hmac
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .config import HttpConfig
from .metrics import CONTENT_TYPE

log = logging.getLogger("thermogate.http")


def _is_loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def build_app(service, extensions: Sequence[Callable[[Starlette, Any], None]] = ()) -> Starlette:
    """The service's app: /healthz and /metrics, then each of ``extensions`` (``extend(app, service)``:
    routes, middleware), all behind ``HostCheck``."""
    http = getattr(service.config, "http", None) or HttpConfig()

    async def health(_request):
        report = service.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    async def metrics(request):
        if http.metrics_token:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {http.metrics_token}".encode()):
                return JSONResponse({"error": "err_forbidden", "detail": "/metrics needs its bearer token"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        elif not _is_loopback(request.client.host if request.client else None):
            return JSONResponse({"error": "err_forbidden", "detail": "/metrics answers this machine only, "
                                 "unless [http] metrics_token is set"}, status_code=403)
        service.refresh_gauges()
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    app = Starlette(routes=[Route("/healthz", health), Route("/metrics", metrics)])
    for extend in extensions:
        extend(app, service)
    app.add_middleware(HostCheck, allowed=allowed_hosts(http))
    return app


def allowed_hosts(http: HttpConfig) -> tuple[str, ...]:
    """Host names (lower case, ``*.`` patterns allowed) the app answers to, besides any IP address."""
    names = {"localhost", *(h.lower() for h in http.allowed_hosts)}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower())
            names.add(name.lower().split(".")[0] + ".local")
    if http.bind not in ("0.0.0.0", "::", ""):
        names.add(http.bind.lower())
    return tuple(sorted(names))


def host_allowed(header: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header (``name``, ``name:port``, ``[v6]:port``) names this server."""
    if not header:
        return False
    header = header.strip().lower()
    if header.startswith("["):
        name = header[1:].split("]", 1)[0]
    else:
        name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True  # an address is not a name an attacker can re-point
    except ValueError:
        pass
    return any(name == a or (a.startswith("*.") and fnmatch.fnmatchcase(name, a)) for a in allowed)


class HostCheck:
    """Pure ASGI middleware: refuse requests whose Host is not this server (DNS rebinding)."""

    def __init__(self, app, allowed: tuple[str, ...]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = None
        for k, v in scope.get("headers", ()):
            if k == b"host":
                host = v.decode("latin-1")
                break
        if host_allowed(host, self.allowed):
            return await self.app(scope, receive, send)
        log.warning("request for an unknown Host refused", extra={"host": (host or "")[:100]})
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        response = JSONResponse({"error": "err_invalid", "detail": "unknown Host: add it to [http] allowed_hosts"},
                                status_code=400)
        return await response(scope, receive, send)


class HttpServer:
    """uvicorn on its own thread and event loop."""

    def __init__(self, app, host: str, port: int, http: HttpConfig | None = None):
        http = http or HttpConfig(bind=host, port=port)
        proxies = list(http.trusted_proxies)
        self.config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
            ssl_certfile=http.tls_cert or None, ssl_keyfile=http.tls_key or None,
            proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [],
            limit_concurrency=http.max_connections, server_header=False)
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
