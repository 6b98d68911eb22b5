"""The console's entry point: ``install(app, service)`` adds everything to the controller's app.

| path | who | what |
|---|---|---|
| GET/POST /login, POST /logout | anyone / a session | the login form (rate limited), ending the session |
| GET / | view | the single-page console (live wall, alarms, doors, history, today, settings) |
| GET /report?date= | view | the printable daily / zero report |
| GET /cases | view | the doctor's phone page: fever cases, drills for admins (cases_api.py, drills_api.py) |
| GET /reports | signed_in | the daily report: reports sent, absences, hand-held readings, warnings (report_part.py) |
| GET /visitors/{pass_id}/pass | visitors | a visitor's printable pass (visitors_api.py) |
| GET /static/... | signed_in (app.css: anyone) | the app's own assets, the alarm WAV, the message catalogue |
| WS /ws | view | live frames and events (ws.py) |
| /api/... | per endpoint, see routes() | JSON (the *_api.py modules, on api_part.py and report_part.py) |

The service's own /healthz and /metrics stay outside the console's sessions
(for monitoring; /metrics answers this machine or its token, service/http.py).
Every response gets strict security headers; nothing is loaded from anywhere
but this server. Logins are counted before the password is checked, at most
MAX_PASSWORD_CHECKS at a time (auth.LoginLimiter).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from ..service.events import LiveEvent
from .absences_api import AbsencesApi
from .admin_api import AdminApi
from .alarms_api import AlarmsApi
from .api import ConsoleApi
from .auth import COOKIE, LoginLimiter, Session, SessionBook
from .backend import ConsoleBackend
from .cases_api import CasesApi
from .doors_api import DoorsApi
from .drills_api import DrillsApi
from .history_api import HistoryApi
from .i18n import LANG_COOKIE, LANGUAGES, language
from .manual_readings_api import ManualReadingsApi
from .pages import login_page, report_page, visitor_pass_page
from .people_api import PeopleApi
from .report_rules_api import ReportRulesApi
from .reports_api import ReportsApi
from .sound import alarm_wav
from .visitors_api import VisitorsApi
from .web import Bad, endpoint, error, read_body, same_origin
from .ws import live_socket

log = logging.getLogger("thermogate.console")

STATIC = Path(__file__).with_name("static")
CATALOGUE = Path(__file__).with_name("messages.json")
PUBLIC_STATIC = {"app.css"}
MAX_LOGIN_BODY = 4096
MAX_PASSWORD_CHECKS = 2  # scrypts at once (16 MiB and ~50 ms each): the rest wait their turn
MAX_CHECKS_WAITING = 32  # beyond this many waiting, a login is refused with 503 instead of queued
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".html": "text/html; charset=utf-8", ".json": "application/json; charset=utf-8",
                ".svg": "image/svg+xml"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


class Console:
    """What the console keeps while the controller runs: sessions, the login limiter, live sockets."""

    def __init__(self, service: ConsoleBackend):
        self.service = service
        self.sessions = SessionBook(service.store)
        self.limiter = LoginLimiter()
        self._password_checks = asyncio.Semaphore(MAX_PASSWORD_CHECKS)
        self._checks_waiting = 0
        self.sockets: set = set()
        self.api = ConsoleApi(self)  # the JSON API in five parts (api_part.py)
        self.alarms = AlarmsApi(self)
        self.doors = DoorsApi(self)
        self.history = HistoryApi(self)
        self.admin = AdminApi(self)
        self.people = PeopleApi(self)
        self.visitors = VisitorsApi(self)
        self.cases = CasesApi(self)
        self.drills = DrillsApi(self)
        self.reports = ReportsApi(self)  # the Reports page, in four parts (report_part.py)
        self.report_rules = ReportRulesApi(self)
        self.absences = AbsencesApi(self)
        self.manual_readings = ManualReadingsApi(self)
        self.wav = alarm_wav()
        try:
            restored = self.sessions.restore()
            if restored:
                log.info("console sessions restored", extra={"count": restored})
        except Exception as exc:  # an unreadable audit trail costs the sessions, not the console
            log.error("console sessions not restored", extra={"error": repr(exc)[:200]})

    def threshold_c(self) -> float:
        return self.service.threshold_c()

    def publish(self, event: LiveEvent) -> None:
        """An event for every open tab (an alarm acknowledged or disposed elsewhere)."""
        self.service.live.publish(event)

    # ------------------------------------------------------------ login and logout

    async def login_form(self, request: Request) -> Response:
        lang = request.query_params.get("lang")
        response = HTMLResponse(login_page(lang if lang in LANGUAGES else language(request.cookies)))
        if lang in LANGUAGES:
            response = RedirectResponse("/login", status_code=303)
            _set_lang(response, lang)
        return response

    async def login(self, request: Request) -> Response:
        lang = language(request.cookies)
        if not same_origin(request.headers, request.headers.get("host")):
            return HTMLResponse(login_page(lang, error_key="err_csrf"), status_code=403)
        try:
            body = await read_body(request, MAX_LOGIN_BODY)
        except Bad:
            return HTMLResponse(login_page(lang, error_key="err_login_failed"), status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        name = (form.get("username") or [""])[0].strip()[:64]
        password = (form.get("password") or [""])[0]
        address = request.client.host if request.client else "?"
        # Counted before the scrypt: concurrent guesses cannot all pass the check while the first runs.
        wait, ticket = self.limiter.begin(address, name)
        if wait > 0:
            return HTMLResponse(login_page(lang, error_key="err_rate_limited", name=name, retry_s=wait),
                                status_code=429, headers={"Retry-After": str(int(wait) + 1)})
        if self._checks_waiting >= MAX_CHECKS_WAITING:  # a flood from many addresses: refuse, do not queue
            self.limiter.succeeded(address, name, ticket)  # not the guesser's fault alone: no backoff for it
            return HTMLResponse(login_page(lang, error_key="err_rate_limited", name=name, retry_s=1),
                                status_code=503, headers={"Retry-After": "1"})
        self._checks_waiting += 1
        try:
            async with self._password_checks:  # at most MAX_PASSWORD_CHECKS scrypts at once
                user = await run_in_threadpool(self.service.store.verify_user, name, password)
        finally:
            self._checks_waiting -= 1
        if user is None:
            await run_in_threadpool(self.service.store.record_audit, None, time.time(), "login_failed",
                                    {"name": name, "address": address})
            return HTMLResponse(login_page(lang, error_key="err_login_failed", name=name), status_code=401)
        self.limiter.succeeded(address, name, ticket)
        token = await run_in_threadpool(self.sessions.start, user.name, user.role)
        # a class teacher has no live wall: their page is the Reports page (their classes' absences)
        response = RedirectResponse("/reports" if user.role == "teacher" else "/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        await run_in_threadpool(self.sessions.end, request.cookies[COOKIE])  # its sockets close within 1 s
        response = RedirectResponse("/login", status_code=303) if "text/html" in request.headers.get(
            "accept", "") else Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------ pages and assets

    async def index(self, request: Request, session: Session) -> Response:
        return FileResponse(STATIC / "index.html", media_type=STATIC_TYPES[".html"],
                            headers={"Cache-Control": "no-store"})

    async def cases_page(self, request: Request, session: Session) -> Response:
        return FileResponse(STATIC / "cases.html", media_type=STATIC_TYPES[".html"],
                            headers={"Cache-Control": "no-store"})

    async def reports_page(self, request: Request, session: Session) -> Response:
        return FileResponse(STATIC / "reports.html", media_type=STATIC_TYPES[".html"],
                            headers={"Cache-Control": "no-store"})

    async def report(self, request: Request, session: Session) -> Response:
        report = await run_in_threadpool(self.api.report, request)
        return HTMLResponse(report_page(language(request.cookies), report), headers={"Cache-Control": "no-store"})

    async def visitor_pass(self, request: Request, session: Session) -> Response:
        """The printable pass (name, host, window, QR); a JSON 401 without a session, like the API."""
        visitor, svg = await run_in_threadpool(self.visitors.visitor_pass, request)
        return HTMLResponse(visitor_pass_page(language(request.cookies), visitor, svg),
                            headers={"Cache-Control": "no-store"})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PUBLIC_STATIC:
            return await self._static_private(request)
        return self._asset(name)

    async def _static_private(self, request: Request) -> Response:
        @endpoint(self, "signed_in")
        async def serve(request: Request, session: Session) -> Response:
            return self._asset(request.path_params["name"])

        return await serve(request)

    def _asset(self, name: str) -> Response:
        if name == "alarm.wav":
            return Response(self.wav, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"})
        if name == "messages.json":
            return FileResponse(CATALOGUE, media_type=STATIC_TYPES[".json"], headers={"Cache-Control": "no-cache"})
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in STATIC_TYPES:
            return error(404, "err_not_found")
        return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})

    async def websocket(self, websocket) -> None:
        await live_socket(self, websocket)


def _set_lang(response: Response, lang: str) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", path="/")


class SecurityHeaders:
    """Pure ASGI middleware: CSP and friends on every HTTP response of the app."""

    HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
               (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def routes(console: Console) -> list:
    a, p, v, c, d, r = console.api, console.people, console.visitors, console.cases, console.drills, console.reports
    rules, ab, hand = console.report_rules, console.absences, console.manual_readings
    al, dr, hi, ad = console.alarms, console.doors, console.history, console.admin
    e = lambda permission, handler, page=False: endpoint(console, permission, page=page)(handler)  # noqa: E731
    return [
        Route("/login", console.login_form, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", e("signed_in", console.logout), methods=["POST"]),
        Route("/", e("view", console.index, page=True), methods=["GET"]),
        Route("/report", e("view", console.report, page=True), methods=["GET"]),
        Route("/cases", e("view", console.cases_page, page=True), methods=["GET"]),
        Route("/static/{name}", console.static, methods=["GET"]),
        WebSocketRoute("/ws", console.websocket),
        Route("/api/me", e("signed_in", a.me), methods=["GET"]),
        Route("/api/gates", e("view", a.gates), methods=["GET"]),
        Route("/api/alarms/active", e("view", al.alarms_active), methods=["GET"]),
        Route("/api/alarms.csv", e("view", hi.alarms_csv), methods=["GET"]),
        Route("/api/alarms", e("view", al.alarms), methods=["GET"]),
        Route("/api/alarms/{alarm_id}", e("view", al.alarm), methods=["GET"]),
        Route("/api/alarms/{alarm_id}/ack", e("ack", al.alarm_ack), methods=["POST"]),
        Route("/api/alarms/{alarm_id}/dispose", e("dispose", al.alarm_dispose), methods=["POST"]),
        Route("/api/alerts", e("view", al.alerts), methods=["GET"]),
        Route("/api/alerts/{alert_id}/dismiss", e("ack", al.alert_dismiss), methods=["POST"]),
        Route("/api/doors", e("view", dr.door_actions), methods=["GET"]),
        Route("/api/doors/{gate}/open", e("door", dr.door_open), methods=["POST"]),
        Route("/api/doors/{gate}/lock", e("door", dr.door_lock), methods=["POST"]),
        Route("/api/screenings.csv", e("view", hi.screenings_csv), methods=["GET"]),
        Route("/api/screenings", e("view", hi.screenings), methods=["GET"]),
        Route("/api/screenings/{screening_id}", e("view", hi.screening), methods=["GET"]),
        Route("/api/report", e("view", a.report_json), methods=["GET"]),
        Route("/api/audit", e("admin", hi.audit_trail), methods=["GET"]),
        Route("/api/settings", e("admin", ad.settings), methods=["GET"]),
        Route("/api/settings", e("admin", ad.settings_change), methods=["POST"]),
        Route("/api/users", e("admin", ad.user_add), methods=["POST"]),
        Route("/api/users/{name}/role", e("admin", ad.user_role), methods=["POST"]),
        Route("/api/users/{name}/password", e("admin", ad.user_password), methods=["POST"]),
        Route("/api/users/{name}/remove", e("admin", ad.user_remove), methods=["POST"]),
        Route("/api/people", e("people", p.search), methods=["GET"]),
        Route("/api/people/import", e("admin", p.roster_import), methods=["POST"]),
        Route("/api/people/export", e("admin", p.roster_export), methods=["POST"]),
        Route("/api/people/{person_id}/file", e("person_file", p.person_file), methods=["POST"]),
        Route("/api/visitors", e("visitors", v.visitor_list), methods=["GET"]),
        Route("/api/visitors", e("visitors", v.visitor_add), methods=["POST"]),
        Route("/api/visitors/export", e("visitors", v.visitor_export), methods=["POST"]),
        Route("/api/visitors/{pass_id}/qr.svg", e("visitors", v.visitor_qr), methods=["GET"]),
        Route("/api/visitors/{pass_id}/revoke", e("visitors", v.visitor_revoke), methods=["POST"]),
        Route("/visitors/{pass_id}/pass", e("visitors", console.visitor_pass), methods=["GET"]),
        Route("/api/cases", e("view", c.list), methods=["GET"]),
        Route("/api/cases/{case_id}", e("view", c.one), methods=["GET"]),
        Route("/api/cases/{case_id}/steps", e("ack", c.add_step), methods=["POST"]),
        Route("/api/cases/{case_id}/let_in", e("let_in", c.let_in), methods=["POST"]),
        Route("/api/drills", e("admin", d.drills), methods=["GET"]),
        Route("/api/drills", e("admin", d.drill_start), methods=["POST"]),
        Route("/api/drills/{drill_id}", e("admin", d.drill), methods=["GET"]),
        Route("/api/drills/{drill_id}/end", e("admin", d.drill_end), methods=["POST"]),
        Route("/reports", e("signed_in", console.reports_page, page=True), methods=["GET"]),
        Route("/api/reports", e("view", r.reports), methods=["GET"]),
        Route("/api/reports/status", e("view", r.status), methods=["GET"]),
        Route("/api/reports/warnings", e("view", rules.warnings), methods=["GET"]),
        # the console's warning rules: view + admins, the reporter and the backup (by name, like send); before
        # the {day} routes, which would take "rules" for a day
        Route("/api/reports/rules", e("view", rules.rule_add), methods=["POST"]),
        Route("/api/reports/rules/{rule_id}", e("view", rules.rule_change), methods=["POST"]),
        Route("/api/reports/rules/{rule_id}/enabled", e("view", rules.rule_enable), methods=["POST"]),
        Route("/api/reports/rules/{rule_id}/delete", e("view", rules.rule_delete), methods=["POST"]),
        Route("/api/reports/{day}/send", e("view", r.send), methods=["POST"]),  # may_send: reporter, backup, admin
        Route("/api/reports/{day}/build", e("view", r.build), methods=["POST"]),
        Route("/api/reports/{day}/files/{name}", e("view", r.file), methods=["GET"]),
        Route("/api/absences", e("absences", ab.absences), methods=["GET"]),
        Route("/api/absences", e("absences", ab.mark), methods=["POST"]),
        Route("/api/absences/{absence_id}/followup", e("absences", ab.follow_up), methods=["POST"]),
        Route("/api/notices", e("notices", ab.notices), methods=["GET"]),
        Route("/api/manual_readings", e("manual_reading", hand.manual_list), methods=["GET"]),
        Route("/api/manual_readings", e("manual_reading", hand.manual_add), methods=["POST"]),
    ]


def install(app, service: ConsoleBackend) -> Console:
    """Add the console to the controller's Starlette ``app``; the Console, for tests."""
    console = Console(service)
    app.router.routes.extend(routes(console))
    app.add_middleware(SecurityHeaders)
    app.state.console = console
    return console
