"""The console's JSON API: gates, alarms, doors, history, reports, settings and users.

Each handler is ``async def h(request, session)`` and is registered through
``web.endpoint`` with the permission it needs (routes.py has the table). Store
and service calls run in the thread pool so a slow disk never stalls the live
WebSocket.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from ..csv_safe import csv_cell
from ..identity.people_store import PeopleStore
from ..protocol.result import DECISIONS
from ..reports import daily_report, report_dict
from ..service.events import AlarmUpdateEvent
from ..store.passwords import weakness
from ..store.records import ALARM_STATUSES, OUTCOMES, RECHECK_MAX_C, RECHECK_MIN_C, ROLES, Alarm, Screening
from .auth import COOKIE, PERMISSIONS, Session, csrf_for
from .backend import ConsoleBackend, DoorHeld
from .codec import snapshot_json
from .web import Bad, date_param, int_param, json_body, local_time, number_field, ok, text_field, time_param

MAX_ROWS = 1000
MAX_DOOR_MS = 30000


def _gate_param(console, request: Request) -> str | None:
    gate = request.query_params.get("gate") or None
    if gate is not None and gate not in console.service.gates:
        raise Bad("err_invalid", f"no gate {gate!r}")
    return gate


def screening_json(s: Screening, tz, has_snapshot: bool | None = None) -> dict:
    """A screening for the browser; ``has_snapshot`` for rows loaded without their image."""
    return {"id": s.id, "gate": s.gate, "time": s.time, "time_local": local_time(s.time, tz), "decision": s.decision,
            "reason": s.reason, "track": s.track, "estimate_c": s.estimate_c, "face_c": s.face_c,
            "distance_m": s.distance_m, "reduced_accuracy": s.reduced_accuracy,
            "has_snapshot": s.snapshot is not None if has_snapshot is None else has_snapshot}


def alarm_json(a: Alarm, tz, screening: Screening | None = None) -> dict:
    out = {"id": a.id, "screening_id": a.screening_id, "gate": a.gate, "time": a.time,
           "time_local": local_time(a.time, tz), "status": a.status, "acknowledged_by": a.acknowledged_by,
           "acknowledged_at": a.acknowledged_at, "recheck_c": a.recheck_c, "outcome": a.outcome,
           "disposed_by": a.disposed_by, "disposed_at": a.disposed_at,
           "disposed_local": local_time(a.disposed_at, tz), "note": a.note}
    if screening is not None:
        out.update(estimate_c=screening.estimate_c, reduced_accuracy=screening.reduced_accuracy,
                   distance_m=screening.distance_m)
    return out


class ConsoleApi:
    def __init__(self, console):
        self.console = console
        self.service: ConsoleBackend = console.service
        self.store = console.service.store
        self.people = PeopleStore.beside(console.service.store)

    @property
    def tz(self):
        return self.service.config.tz

    def audit(self, user: str, action: str, detail: dict) -> None:
        self.store.record_audit(user, time.time(), action, detail)

    # ------------------------------------------------------------ who am I, gates

    async def me(self, request: Request, session: Session):
        return ok({"user": session.user, "role": session.role, "csrf": csrf_for(request.cookies[COOKIE]),
                   "can": sorted(p for p, roles in PERMISSIONS.items() if session.role in roles),
                   "timezone": self.service.config.timezone, "threshold_c": self.console.threshold_c(),
                   "now": time.time()})

    async def gates(self, request: Request, session: Session):
        summaries = await run_in_threadpool(self.service.gate_summaries)
        return ok({"now": time.time(), "gates": [s.to_dict() for s in summaries]})

    # ------------------------------------------------------------ alarms

    def _alarms_with_screenings(self, alarms: list[Alarm]) -> list[dict]:
        return [{**alarm_json(a, self.tz, self.store.screening(a.screening_id)), "person": self._person(a)}
                for a in alarms]

    def _person(self, a: Alarm) -> dict | None:
        """Who the alarm's screening names, as the live alarm does (docs/identity.md): name, class and class
        teacher ({name, phone} from [classes], or None), or a visitor; None when nobody was named."""
        person = self.people.screening_person(a.screening_id)
        if person is not None and not person.get("visitor"):
            teacher = getattr(self.service.config, "classes", {}).get(person["class"])
            person["teacher"] = None if teacher is None else teacher.to_dict()
        return person

    def active_alarms(self) -> list[dict]:
        """Alarms not disposed yet (open or acknowledged), oldest first: they survive reloads and restarts."""
        alarms = self.store.alarms(status="open") + self.store.alarms(status="acknowledged")
        alarms.sort(key=lambda a: (a.time, a.id))
        out = self._alarms_with_screenings(alarms)
        for a in out:  # the case each alarm opened (controller/cases): the banner links to it, a drill says so
            c = self.service.alarm_cases.cases.case_for_alarm(a["id"])
            a["case_id"], a["drill"] = (c.id, c.drill) if c is not None else (None, False)
        return out

    async def alarms_active(self, request: Request, session: Session):
        return ok({"alarms": await run_in_threadpool(self.active_alarms)})

    def _alarm_filter(self, request: Request) -> dict:
        status = request.query_params.get("status") or None
        if status is not None and status not in ALARM_STATUSES:
            raise Bad("err_invalid", f"status must be one of {', '.join(ALARM_STATUSES)}")
        return {"status": status, "gate": _gate_param(self.console, request),
                "since": time_param(request, "since", self.tz), "until": time_param(request, "until", self.tz)}

    async def alarms(self, request: Request, session: Session):
        f = self._alarm_filter(request)

        def run():
            found = self.store.alarms(**f)
            return self._alarms_with_screenings(found[-MAX_ROWS:][::-1])

        return ok({"alarms": await run_in_threadpool(run)})

    async def alarm(self, request: Request, session: Session):
        aid = _id(request, "alarm_id")

        def run():
            a = self.store.alarm(aid)
            if a is None:
                raise Bad("err_not_found", f"no alarm {aid}", 404)
            s = self.store.screening(a.screening_id)
            return {**alarm_json(a, self.tz, s), "screening": None if s is None else screening_json(s, self.tz),
                    "snapshot": None if s is None else snapshot_json(s.snapshot)}

        return ok(await run_in_threadpool(run))

    async def alerts(self, request: Request, session: Session):
        return ok({"alerts": self.service.open_alerts()})

    async def alert_dismiss(self, request: Request, session: Session):
        alert_id = _id(request, "alert_id")
        if not await run_in_threadpool(self.service.dismiss_alert, alert_id, session.user):
            raise Bad("err_not_found", f"no open alert {alert_id}", 404)
        return ok({"id": alert_id, "open": False})

    async def alarm_ack(self, request: Request, session: Session):
        aid = _id(request, "alarm_id")

        def run():
            before = self.store.alarm(aid)
            if before is None:
                raise Bad("err_not_found", f"no alarm {aid}", 404)
            a = self.store.acknowledge_alarm(aid, session.user, time.time())
            if before.status == "open":
                self.audit(session.user, "alarm_acknowledged", {"alarm": aid, "gate": a.gate})
                self.service.alarm_cases.acknowledged(aid, session.user, a.acknowledged_at or time.time())  # its case
            return alarm_json(a, self.tz)

        a = await run_in_threadpool(run)
        self.console.publish(AlarmUpdateEvent(a))
        return ok(a)

    async def alarm_dispose(self, request: Request, session: Session):
        aid = _id(request, "alarm_id")
        data = await json_body(request)
        outcome = data.get("outcome")
        if outcome not in OUTCOMES:
            raise Bad("err_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        recheck = number_field(data, "recheck_c", lo=RECHECK_MIN_C, hi=RECHECK_MAX_C)
        note = text_field(data, "note", limit=2000)

        def run():
            a = self.store.dispose_alarm(aid, recheck_c=recheck, outcome=outcome, user=session.user,
                                         time=time.time(), note=note)
            self.audit(session.user, "alarm_disposed", {"alarm": aid, "gate": a.gate, "outcome": outcome,
                                                        "recheck_c": recheck})
            return alarm_json(a, self.tz)

        a = await run_in_threadpool(run)
        self.console.publish(AlarmUpdateEvent(a))
        return ok(a)

    # ------------------------------------------------------------ doors

    async def door_open(self, request: Request, session: Session):
        gate = request.path_params["gate"]
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        ms = number_field(data, "ms", lo=100, hi=MAX_DOOR_MS)
        try:
            action = await run_in_threadpool(self.service.manual_open, gate, session.user, reason,
                                             None if ms is None else int(ms))
        except DoorHeld as exc:  # "open once" does not override a hold: release it first
            raise Bad("err_door_held", str(exc), 409) from None
        return ok({"gate": gate, "action": "open", "ms": action.arg, "counter": action.counter})

    async def door_lock(self, request: Request, session: Session):
        gate = request.path_params["gate"]
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        locked = data.get("locked")
        if not isinstance(locked, bool):
            raise Bad("err_invalid", "locked must be true or false")
        await run_in_threadpool(self.service.set_lock, gate, locked, session.user, reason)
        return ok({"gate": gate, "locked": locked})

    async def door_actions(self, request: Request, session: Session):
        gate = _gate_param(self.console, request)
        since = time_param(request, "since", self.tz)
        until = time_param(request, "until", self.tz)
        if since is None:
            since = time.time() - 86400

        def run():
            rows = self.store.door_actions(gate=gate, since=since, until=until)[-MAX_ROWS:][::-1]
            return [{"gate": a.gate, "time": a.time, "time_local": local_time(a.time, self.tz), "action": a.action,
                     "arg": a.arg, "cause": a.cause, "user": a.user, "reason": a.reason, "ack_ok": a.ack_ok,
                     "ack_reason": a.ack_reason, "screening_id": a.screening_id} for a in rows]

        return ok({"actions": await run_in_threadpool(run)})

    # ------------------------------------------------------------ history

    def _screening_filter(self, request: Request) -> dict:
        decision = request.query_params.get("decision") or None
        if decision is not None and decision not in DECISIONS:
            raise Bad("err_invalid", f"decision must be one of {', '.join(DECISIONS)}")
        return {"gate": _gate_param(self.console, request), "decision": decision,
                "since": time_param(request, "since", self.tz), "until": time_param(request, "until", self.tz)}

    async def screenings(self, request: Request, session: Session):
        f = self._screening_filter(request)
        limit = int_param(request, "limit", 200, 1, MAX_ROWS)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        def load():  # the rows without their images, and which of them have one
            rows = self.store.screenings(**f, limit=limit, offset=offset, snapshots=False, newest_first=True)
            return rows, self.store.with_snapshot([s.id for s in rows])

        rows, snapped = await run_in_threadpool(load)
        return ok({"screenings": [screening_json(s, self.tz, s.id in snapped) for s in rows], "limit": limit,
                   "offset": offset})

    async def screening(self, request: Request, session: Session):
        sid = _id(request, "screening_id")
        s = await run_in_threadpool(self.store.screening, sid)
        if s is None:
            raise Bad("err_not_found", f"no screening {sid}", 404)
        return ok({**screening_json(s, self.tz), "snapshot": snapshot_json(s.snapshot)})

    async def screenings_csv(self, request: Request, session: Session):
        f = self._screening_filter(request)
        tz = self.tz
        columns = ("id", "gate", "local_time", "time", "decision", "reason", "estimate_c", "face_c", "distance_m",
                   "reduced_accuracy", "track")
        self.audit(session.user, "export_screenings", {k: v for k, v in f.items() if v is not None})

        def rows() -> Iterator[str]:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(columns)
            for s in self.store.iter_screenings(f["since"], f["until"], gate=f["gate"]):
                if f["decision"] is not None and s.decision != f["decision"]:
                    continue
                w.writerow([s.id, csv_cell(s.gate), local_time(s.time, tz), f"{s.time:.3f}", s.decision,
                            csv_cell(s.reason), _n(s.estimate_c), _n(s.face_c), _n(s.distance_m),
                            int(s.reduced_accuracy), s.track])
                if buf.tell() > 32768:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="screenings.csv"', "Cache-Control": "no-store"})

    async def alarms_csv(self, request: Request, session: Session):
        f = self._alarm_filter(request)
        columns = ("id", "gate", "local_time", "status", "estimate_c", "acknowledged_by", "recheck_c", "outcome",
                   "disposed_by", "disposed_time", "note")

        def run() -> str:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(columns)
            for a in self.store.alarms(**f):
                s = self.store.screening(a.screening_id)
                w.writerow([a.id, csv_cell(a.gate), local_time(a.time, self.tz), a.status,
                            _n(s.estimate_c if s else None), csv_cell(a.acknowledged_by or ""), _n(a.recheck_c),
                            csv_cell(a.outcome or ""), csv_cell(a.disposed_by or ""),
                            local_time(a.disposed_at, self.tz) or "", csv_cell(a.note)])
            return buf.getvalue()

        from starlette.responses import Response

        return Response(await run_in_threadpool(run), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="alarms.csv"', "Cache-Control": "no-store"})

    async def audit_trail(self, request: Request, session: Session):
        since = time_param(request, "since", self.tz)
        until = time_param(request, "until", self.tz)
        if since is None:
            since = time.time() - 7 * 86400
        entries = await run_in_threadpool(self.store.audit, since, until)
        entries = [e for e in entries if e.action not in ("login", "logout")] \
            if request.query_params.get("sessions") != "1" else entries
        return ok({"audit": [{"id": e.id, "user": e.user, "time": e.time, "time_local": local_time(e.time, self.tz),
                              "action": e.action, "detail": {k: v for k, v in e.detail.items() if k != "session"}}
                             for e in entries[-MAX_ROWS:][::-1]]})

    # ------------------------------------------------------------ today and reports

    def report(self, request: Request) -> dict:
        date = date_param(request, self.tz)
        report = daily_report(self.store, date, self.tz, threshold_c=self.console.threshold_c())
        out = report_dict(report)
        out["alarms"] = self._alarms_with_screenings(self.store.alarms(since=report.start, until=report.end,
                                                                       drills=False))  # as the figures
        return out

    async def report_json(self, request: Request, session: Session):
        return ok(await run_in_threadpool(self.report, request))

    # ------------------------------------------------------------ settings and users (admin)

    async def settings(self, request: Request, session: Session):
        def run():
            return {"threshold_c": self.console.threshold_c(), "retention_days": self.service.config.retention_days,
                    "timezone": self.service.config.timezone, "config_file": str(self.service.config.path or ""),
                    "gates": [{"id": g.id, "name": g.name, "location": g.location, "variant": g.variant,
                               "simulated": g.simulated} for g in self.service.gates.values()],
                    "users": [{"name": u.name, "role": u.role, "created_at": u.created_at}
                              for u in self.store.users()]}

        return ok(await run_in_threadpool(run))

    async def settings_change(self, request: Request, session: Session):
        data = await json_body(request)
        threshold = number_field(data, "threshold_c", lo=34.0, hi=39.0)
        if threshold is not None:
            threshold = round(threshold, 1)
        retention = number_field(data, "retention_days", lo=1, hi=3650)
        if retention is not None and retention != int(retention):
            raise Bad("err_invalid", "retention_days must be a whole number of days")
        if threshold is None and retention is None:
            raise Bad("err_invalid", "nothing to change")
        changed = await run_in_threadpool(self.service.apply_settings, session.user, threshold_c=threshold,
                                          retention_days=None if retention is None else int(retention))
        return ok({"changed": changed, "threshold_c": self.console.threshold_c(),
                   "retention_days": self.service.config.retention_days})

    async def user_add(self, request: Request, session: Session):
        data = await json_body(request)
        name = text_field(data, "name", required=True, limit=64)
        role = data.get("role")
        if role not in ROLES:
            raise Bad("err_invalid", f"role must be one of {', '.join(ROLES)}")
        classes = data.get("classes")
        if role == "teacher":  # a class teacher sees their classes only (docs/console.md)
            if not (isinstance(classes, list) and classes and all(isinstance(c, str) and c.strip() for c in classes)):
                raise Bad("err_invalid", "a teacher needs classes: a list of class names as on the roster")
        elif classes:
            raise Bad("err_invalid", f"classes are for a teacher, not a {role}")
        password = _password(data, name)

        def run():
            self.store.add_user(name, role, password)
            out = self.store.set_user_classes(name, classes) if role == "teacher" else []
            self.audit(session.user, "user_added", {"name": name, "role": role, **({"classes": out} if out else {})})
            return out

        got = await run_in_threadpool(run)
        return ok({"name": name, "role": role, **({"classes": got} if got else {})}, 201)

    async def user_role(self, request: Request, session: Session):
        name = request.path_params["name"]
        data = await json_body(request)
        role = data.get("role")
        if role not in ROLES:
            raise Bad("err_invalid", f"role must be one of {', '.join(ROLES)}")

        def run():
            if role != "admin":
                self._keep_an_admin(name)
            self.store.set_role(name, role)
            self.audit(session.user, "user_role", {"name": name, "role": role})

        await run_in_threadpool(run)
        return ok({"name": name, "role": role})

    async def user_password(self, request: Request, session: Session):
        """A new password for a user. It needs the current password of whoever makes the change (the
        user's own, or the admin's), and it ends every other session of that user (the store's epoch)."""
        name = request.path_params["name"]
        data = await json_body(request)
        current = data.get("current_password")
        password = _password(data, name)

        def run():
            if not isinstance(current, str) or not current or len(current) > 256 or \
                    self.store.verify_user(session.user, current) is None:
                raise Bad("err_current_password", "your current password is needed for a password change", 403)
            self.store.set_password(name, password)  # moves the user's epoch on: their sessions end
            self.audit(session.user, "password_set", {"name": name})
            if name == session.user:  # this session goes on, the user's others end
                self.console.sessions.renew(request.cookies[COOKIE])
            else:
                self.console.sessions.end_user(name)

        await run_in_threadpool(run)
        return ok({"name": name})

    async def user_remove(self, request: Request, session: Session):
        name = request.path_params["name"]
        if name == session.user:
            raise Bad("err_self", "you cannot remove yourself")

        def run():
            self._keep_an_admin(name)
            self.store.remove_user(name)
            self.audit(session.user, "user_removed", {"name": name})
            self.console.sessions.end_user(name)

        await run_in_threadpool(run)
        return ok({"removed": name})

    def _keep_an_admin(self, name: str) -> None:
        admins = [u.name for u in self.store.users() if u.role == "admin"]
        if admins == [name]:
            raise Bad("err_last_admin", "the last admin cannot be removed or demoted")


def _id(request: Request, key: str) -> int:
    try:
        v = int(request.path_params[key])
    except (KeyError, ValueError):
        raise Bad("err_invalid", f"{key} must be an integer") from None
    if not 0 < v < 2**62:
        raise Bad("err_invalid", f"{key} is out of range")
    return v


def _password(data: dict, name: str = "") -> str:
    password = data.get("password")
    if not isinstance(password, str) or len(password) < 8:
        raise Bad("err_password_short", "a password needs at least 8 characters")
    if len(password) > 256:
        raise Bad("err_invalid", "a password must be at most 256 characters")
    problem = weakness(password, name)
    if problem is not None:
        raise Bad("err_password_weak", problem)
    return password


def _n(v) -> str:
    return "" if v is None else f"{v:.2f}"
