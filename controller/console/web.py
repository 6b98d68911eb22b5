"""The console's HTTP plumbing: who is asking, what they may do, and checked input.

Every console endpoint is wrapped by :func:`endpoint`, which answers before the
handler runs:

- no live session: 401 (JSON) for the API, a redirect to /login for pages;
- a role without the permission: 403;
- a state change (POST) without the session's CSRF token in ``X-CSRF-Token``,
  or from another origin: 403.

Handlers raise :class:`Bad` for input they refuse (400 with a message key from
the catalogue and the detail); the store's StoreError/NotFound and the service's
ValueError/KeyError are turned into 400/404 the same way, so nothing a browser
sends can make a handler crash.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..store.errors import NotFound, StoreError
from .auth import COOKIE, Session, csrf_for

log = logging.getLogger("thermogate.console")

MAX_BODY = 16 * 1024
LARGER_BODIES = {"/api/people/import": 2 * 1024 * 1024}  # a roster file (people_api.MAX_ROSTER_BYTES)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


class Bad(Exception):
    """Refused input: ``key`` names a message in the catalogue, ``detail`` says what exactly."""

    def __init__(self, key: str, detail: str = "", status: int = 400):
        super().__init__(detail or key)
        self.key = key
        self.detail = detail
        self.status = status


def error(status: int, key: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"error": key, "detail": detail}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def csv_download(text: str, filename: str) -> Response:
    """A CSV file to save (UTF-8, never cached)."""
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


class BodyLimit:
    """Pure ASGI middleware: no HTTP request body over ``limit`` bytes reaches the app.

    A Content-Length over the limit is answered 413 before a byte of the body is read; a body without
    one (chunked) is cut off as soon as it passes the limit (the handler reading it gets BodyTooLarge,
    which the endpoints answer with 413).
    """

    def __init__(self, app, limit: int = MAX_BODY, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = LARGER_BODIES if larger is None else larger  # path -> its own limit (a roster file)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.larger.get(scope.get("path", ""), self.limit)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        try:
            declared = _declared_length(headers)
        except Bad as exc:
            return await error(400, exc.key, exc.detail)(scope, receive, send)
        if declared is not None and declared > limit:
            return await error(413, "err_invalid", f"request body larger than {limit} bytes")(
                scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return await self.app(scope, counted, send)


def same_origin(request_headers, host: str | None) -> bool:
    """True unless the request says it comes from another origin (Origin, else Referer)."""
    origin = request_headers.get("origin") or request_headers.get("referer")
    if not origin:
        return True  # not a browser sending cross-site: the cookie's SameSite=Strict covers browsers
    if origin == "null":
        return False
    return urlsplit(origin).netloc == (host or "")


def endpoint(console, permission: str, *, page: bool = False):
    """Wrap a handler ``async def h(request, session)``: login, role and CSRF checks, errors to JSON."""

    def wrap(handler: Callable[[Request, Session], Awaitable[Response]]):
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            session = await run_in_threadpool(console.sessions.get, request.cookies.get(COOKIE))
            if session is None:
                if page:
                    return RedirectResponse("/login", status_code=303)
                return error(401, "err_login_required")
            if not session.allows(permission):
                return error(403, "err_forbidden", f"role {session.role} may not do this")
            if request.method in STATE_CHANGING:
                if not same_origin(request.headers, request.headers.get("host")):
                    return error(403, "err_csrf", "cross-origin request")
                sent = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(sent.encode(), csrf_for(request.cookies[COOKIE]).encode()):
                    return error(403, "err_csrf", "missing or wrong X-CSRF-Token")
            try:
                return await handler(request, session)
            except Bad as exc:
                return error(exc.status, exc.key, exc.detail)
            except NotFound as exc:
                return error(404, "err_not_found", str(exc))
            except (StoreError, ValueError) as exc:
                return error(400, "err_invalid", str(exc))
            except KeyError as exc:
                return error(404, "err_not_found", str(exc.args[0]) if exc.args else "")
            except Exception:
                log.exception("console request failed", extra={"path": request.url.path})
                return error(500, "err_server")

        return run

    return wrap


class BodyTooLarge(Bad):
    def __init__(self, limit: int):
        super().__init__("err_invalid", f"request body larger than {limit} bytes", 413)


def _declared_length(headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise Bad("err_invalid", "Content-Length is not a number") from None
    if n < 0:
        raise Bad("err_invalid", "Content-Length is negative")
    return n


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, at most ``limit`` bytes: refused (413) on its Content-Length before a byte is
    read, and while it streams in (chunked bodies have no length), so nobody can make us hold more."""
    declared = _declared_length(request.headers)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # what request.body() would have cached
    return body


async def json_body(request: Request) -> dict:
    body = await read_body(request, MAX_BODY)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: thousands of nested [ or {
        raise Bad("err_invalid", "the body is not JSON (or nested too deeply)") from None
    if not isinstance(data, dict):
        raise Bad("err_invalid", "the body must be a JSON object")
    return data


def text_field(data: dict, key: str, *, required: bool = False, limit: int = 500) -> str:
    v = data.get(key, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise Bad("err_invalid", f"{key} must be text")
    v = v.strip()
    if required and not v:
        raise Bad("err_reason_required" if key == "reason" else "err_invalid", f"{key} is required")
    if len(v) > limit:
        raise Bad("err_invalid", f"{key} is longer than {limit} characters")
    return v


def number_field(data: dict, key: str, *, lo: float, hi: float, required: bool = False) -> float | None:
    v = data.get(key)
    if v is None or v == "":
        if required:
            raise Bad("err_invalid", f"{key} is required")
        return None
    if isinstance(v, bool):
        raise Bad("err_invalid", f"{key} must be a number")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise Bad("err_invalid", f"{key} must be a number") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise Bad("err_invalid", f"{key} must be {lo:g}..{hi:g}")
    return f


def int_param(request: Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(key)
    if raw in (None, ""):
        return default
    try:
        v = int(raw)
    except ValueError:
        raise Bad("err_invalid", f"{key} must be an integer") from None
    if not lo <= v <= hi:
        raise Bad("err_invalid", f"{key} must be {lo}..{hi}")
    return v


def time_param(request: Request, key: str, tz: dt.tzinfo) -> float | None:
    """``since``/``until``: Unix seconds, or a local date/time of the school (2025-03-01 or 2025-03-01T08:00)."""
    raw = request.query_params.get(key)
    if raw in (None, ""):
        return None
    return parse_time(raw, tz, key)


def parse_time(raw: str, tz: dt.tzinfo, key: str = "time") -> float:
    try:
        f = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(f) and 0 <= f < 1e11:
            return f
        raise Bad("err_invalid", f"{key} is out of range")
    try:
        t = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Bad("err_invalid", f"{key} must be Unix seconds or a date/time like 2025-03-01T08:00") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    try:
        f = t.timestamp()
    except (OverflowError, OSError, ValueError):
        raise Bad("err_invalid", f"{key} is out of range") from None
    if not 0 <= f < 1e11:
        raise Bad("err_invalid", f"{key} is out of range")
    return f


DATE_MIN = dt.date(1971, 1, 1)
DATE_MAX = dt.date(2999, 12, 31)


def day_value(raw: object, tz: dt.tzinfo) -> dt.date:
    """A day as sent (``YYYY-MM-DD``, in a query or a JSON body); empty: today in the school's time zone."""
    if raw in (None, ""):
        return dt.datetime.now(tz).date()
    if not isinstance(raw, str):
        raise Bad("err_invalid", "date must look like 2026-03-02")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise Bad("err_invalid", "date must look like 2026-03-02") from None
    if not DATE_MIN <= day <= DATE_MAX:
        raise Bad("err_invalid", f"date must be between {DATE_MIN} and {DATE_MAX}")
    return day


def date_param(request: Request, tz: dt.tzinfo) -> dt.date:
    """The query's ``?date=`` (``day_value``)."""
    return day_value(request.query_params.get("date"), tz)


def local_time(t: float | None, tz: dt.tzinfo) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")
