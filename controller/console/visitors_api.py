"""The console's Visitors API: register a visitor, show and print the pass, the day's list, revoke, and the
visitor log export (a reason, audited); ``visitors`` permission (guard, admin, auth.PERMISSIONS).

The pass is signed with the site's pass key (``identity.passes``, under the site directory), created on the
first visitor registered; the visitor rows are read through ``PeopleStore.beside(service.store)``.
"""

from __future__ import annotations

import datetime as dt
import io
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..identity import checks, passes, qr, visitors
from ..identity.checks import IdentityError
from ..identity.records import Visitor
from ..reports import day_bounds
from .api_part import ApiPart
from .auth import Session
from .web import Bad, csv_download, day_value, json_body, local_time, ok, parse_time, text_field

_PASS_ID = frozenset("0123456789abcdef")


def visitor_json(v: Visitor, tz) -> dict:
    return {"pass_id": v.pass_id, "name": v.name, "id_last4": v.id_last4, "host": v.host, "purpose": v.purpose,
            "valid_from": v.valid_from, "valid_until": v.valid_until, "from_local": local_time(v.valid_from, tz),
            "until_local": local_time(v.valid_until, tz), "issued_by": v.issued_by,
            "issued_local": local_time(v.issued_at, tz), "revoked": v.revoked_at is not None,
            "revoked_by": v.revoked_by, "revoked_local": local_time(v.revoked_at, tz)}


def _moment(v) -> str:
    """A window's end as sent: a local time like 2026-03-02T14:00, Unix seconds, or nothing ("")."""
    if v is None or v == "":
        return ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(float(v))
    if not isinstance(v, str):
        raise Bad("err_invalid", "valid_from and valid_until are local times like 2026-03-02T14:00")
    return v


def _pass_id(request: Request) -> str:
    pid = request.path_params["pass_id"]
    if len(pid) != 16 or not set(pid) <= _PASS_ID:
        raise Bad("err_invalid", "a pass id is 16 lowercase hex characters")
    return pid


class VisitorsApi(ApiPart):
    """Visitors and their passes (the console, its store and ``PeopleStore``: ApiPart's)."""

    def _key(self, *, create: bool = False) -> bytes:
        try:
            return passes.load_pass_key(self.service.config.site_dir, create=create)
        except IdentityError as exc:
            raise Bad("err_pass_key", str(exc), 409) from None

    def _token(self, v: Visitor) -> str:
        return passes.issue(self._key(), v.pass_id, int(v.valid_from), int(v.valid_until))

    def _visitor(self, pass_id: str) -> Visitor:
        v = self.people.visitor(pass_id)
        if v is None:
            raise Bad("err_not_found", f"no visitor pass {pass_id}", 404)
        return v

    async def visitor_list(self, request: Request, session: Session):
        day = day_value(request.query_params.get("date"), self.tz)

        def run():
            return [visitor_json(v, self.tz) for v in self.people.visitors(*day_bounds(day, self.tz))]

        return ok({"date": day.isoformat(), "visitors": await run_in_threadpool(run)})

    async def visitor_add(self, request: Request, session: Session):
        data = await json_body(request)
        tz = self.tz
        now = time.time()
        fields = {k: text_field(data, k, required=True, limit=200) for k in ("name", "id_last4", "host", "purpose")}
        try:
            fields["id_last4"] = checks.id_last4(fields["id_last4"])  # a whole ID number is refused here
        except IdentityError as exc:
            raise Bad("err_id_last4", str(exc)) from None
        raw_from, raw_until = (_moment(data.get(k)) for k in ("valid_from", "valid_until"))
        start = parse_time(raw_from, tz, "valid_from") if raw_from else now
        start_day = dt.datetime.fromtimestamp(start, tz).date()
        end = parse_time(raw_until, tz, "valid_until") if raw_until else day_bounds(start_day, tz)[1]

        def run():
            key = self._key(create=True)
            with self.store.atomic():  # the pass and its audit row: both or neither
                try:
                    v, token = visitors.register(self.people, key, valid_from=start, valid_until=end,
                                                 issued_by=session.user, now=now, **fields)
                except IdentityError as exc:
                    raise Bad("err_visitor", str(exc)) from None
                self.audit(session.user, "visitor_added", {"pass": v.pass_id, "host": v.host})
            return {**visitor_json(v, tz), "token": token, "svg": qr.svg(token).decode("utf-8")}

        return ok(await run_in_threadpool(run), 201)

    async def visitor_qr(self, request: Request, session: Session):
        pid = _pass_id(request)

        def run() -> bytes:
            return qr.svg(self._token(self._visitor(pid)))

        return Response(await run_in_threadpool(run), media_type="image/svg+xml",
                        headers={"Cache-Control": "no-store"})

    def visitor_pass(self, request: Request) -> tuple[dict, str]:
        """A pass for the printable page: (the visitor, the QR as inline SVG without its XML declaration)."""
        v = self._visitor(_pass_id(request))
        svg = qr.svg(self._token(v)).decode("utf-8")
        return visitor_json(v, self.tz), svg[svg.index("<svg"):]

    async def visitor_revoke(self, request: Request, session: Session):
        pid = _pass_id(request)

        def run():
            self._visitor(pid)
            with self.store.atomic():  # the revocation and its audit row: both or neither
                v = self.people.revoke_visitor(pid, session.user, time.time())
                self.audit(session.user, "visitor_revoked", {"pass": pid})
            return visitor_json(v, self.tz)

        return ok(await run_in_threadpool(run))

    async def visitor_export(self, request: Request, session: Session):
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        day = day_value(data.get("date"), self.tz)

        def run() -> str:
            vs = self.people.visitors(*day_bounds(day, self.tz))
            out = io.StringIO(newline="")
            visitors.write_log(vs, self.tz, out)
            self.people.record_read(session.user, "visitor_export", "*", reason, time.time(),
                                    {"via": "console", "rows": len(vs), "date": day.isoformat()})
            return out.getvalue()

        return csv_download(await run_in_threadpool(run), f"visitors-{day.isoformat()}.csv")
