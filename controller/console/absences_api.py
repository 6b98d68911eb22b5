"""The console's Reports API, the absences: the sessions' absentee lists by class with the class teacher's marks,
sick absences' daily follow-up (marks and follow-ups through ``reporting.changes.ReportChanges``, each with
its audit row), and the sent-home notices. A class teacher sees and marks their own classes only.
"""

from __future__ import annotations

import datetime as dt
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..notify.outbox import StoreOutbox
from ..reporting.counts import absentees
from ..reporting.records import ABSENCE_REASONS, FOLLOWUP_STATUSES, OTHER, SICK
from ..reports import day_bounds
from .auth import Session
from .report_part import ReportsPart
from .web import Bad, day_value, json_body, local_time, ok, text_field


class AbsencesApi(ReportsPart):
    """The absentee lists, marks, follow-ups and sent-home notices."""

    def _session(self, r, name: object):
        if not isinstance(name, str) or not name:
            raise Bad("err_invalid", "name the session")
        s = next((s for s in r.config.sessions if s.name == name), None)
        if s is None:
            raise Bad("err_invalid", f"no session {name!r} in [report.sessions] "
                                     f"(have: {', '.join(x.name for x in r.config.sessions) or 'none'})")
        return s

    def _absence_rows(self, r, day: dt.date, session, class_name: str | None, now: float) -> list[dict]:
        listed = absentees(self.rs, r.config, day, self.tz, session.name, r.threshold_c, class_name=class_name,
                           now=now)
        marks = {a.person_id: a for a in self.rs.absences(day=day.isoformat()) if a.session == session.name}
        out = []
        for a in listed:
            m = marks.get(a.person_id)
            out.append({"person_id": a.person_id, "name": a.name, "class": a.class_name, "role": a.role,
                        "reason": a.reason, "absence_id": a.absence_id, "note": m.note if m else "",
                        "marked_by": m.marked_by if m else None,
                        "marked_local": local_time(m.marked_at, self.tz) if m else None,
                        "followups": [] if m is None or m.reason != SICK else
                        [{"day": f.day, "status": f.status, "note": f.note, "by": f.by_user}
                         for f in self.rs.followups(m.id)]})
        return out

    async def absences(self, request: Request, session: Session):
        """?date=&session=&class=: the sessions of the day (ended or not), and for an ended session its
        absentee list by class with the marks; the sick absences followed up on that day."""
        day = day_value(request.query_params.get("date"), self.tz)
        klass = request.query_params.get("class") or None
        r = self._need_reporter()
        chosen = request.query_params.get("session") or None
        scope = self._scope(session)
        if klass is not None:
            self._in_scope(scope, klass)

        def run():
            now = time.time()
            sessions = []
            for s in r.config.sessions:
                s0, s1 = s.bounds(day, self.tz)
                sessions.append({"name": s.name, "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M"),
                                 "ended": now >= s1, "started": now >= s0})
            out = {"date": day.isoformat(), "sessions": sessions, "reasons": list(ABSENCE_REASONS),
                   "statuses": list(FOLLOWUP_STATUSES), "session": None, "absentees": [], "classes": [],
                   "followups": self._followups(day, scope)}
            if scope is not None:  # a class teacher: their classes and pupils (names and classes only)
                out["my_classes"] = sorted(scope)
                out["pupils"] = [{"id": p["id"], "name": p["name"], "class": p["class_name"]}
                                 for p in self.rs.roster_rows() if p["class_name"] in scope and p["active"]]
            if chosen is not None:
                s = self._session(r, chosen)
                ended = now >= s.bounds(day, self.tz)[1]
                out["session"] = {"name": s.name, "ended": ended}
                if ended:  # the list is made when the session is over: before, "not screened" means "not yet"
                    rows = [x for x in self._absence_rows(r, day, s, None, now)
                            if scope is None or x["class"] in scope]
                    out["classes"] = sorted({x["class"] for x in rows})
                    out["absentees"] = [x for x in rows if klass is None or x["class"] == klass]
            return out

        return ok(await run_in_threadpool(run))

    def _followups(self, day: dt.date, scope: set[str] | None = None) -> list[dict]:
        """Sick absences followed on ``day``: not back before it, each with its records and whether today's
        record is still due (of ``scope``'s classes only, when given)."""
        key = day.isoformat()
        due = {a.id for a in self.rs.followups_due(key)}
        out = []
        for a in self.rs.absences(until_day=key):
            if a.reason != SICK or (scope is not None and a.class_name not in scope):
                continue
            records = self.rs.followups(a.id)
            if any(f.status == "back" and f.day < key for f in records):
                continue
            p = self.people.person(a.person_id)
            out.append({"absence_id": a.id, "person_id": a.person_id, "name": p.name if p else a.person_id,
                        "class": a.class_name, "day": a.day, "session": a.session, "note": a.note,
                        "due": a.id in due,
                        "followups": [{"day": f.day, "status": f.status, "note": f.note, "by": f.by_user}
                                      for f in records]})
        return out

    async def mark(self, request: Request, session: Session):
        """{person_id, date, session, reason, note}: the class teacher's mark on someone on the session's
        absentee list (409 for someone who was screened, or a session not over yet)."""
        data = await json_body(request)
        r = self._need_reporter()
        day = day_value(data.get("date"), self.tz)
        s = self._session(r, data.get("session"))
        pid = text_field(data, "person_id", required=True, limit=64)
        reason = data.get("reason")
        if reason not in ABSENCE_REASONS:
            raise Bad("err_absence_reason", f"reason must be one of {', '.join(ABSENCE_REASONS)}")
        note = text_field(data, "note", limit=500)
        if reason == OTHER and not note:
            raise Bad("err_absence_note", "a reason 'other' needs a note")
        scope = self._scope(session)

        def run():
            now = time.time()
            if scope is not None:  # a teacher marks their own pupils only (asked first: says nothing of others)
                p = self.people.person(pid)
                self._in_scope(scope, p.class_name if p is not None else "")
            if now < s.bounds(day, self.tz)[1]:
                raise Bad("err_session_open", f"{s.name} of {day} is not over yet", 409)
            listed = {a.person_id: a for a in absentees(self.rs, r.config, day, self.tz, s.name, r.threshold_c,
                                                        now=now)}
            if pid not in listed:
                raise Bad("err_not_absent", f"{pid} is not on the absentee list of {s.name} {day}", 409)
            self._in_scope(scope, listed[pid].class_name)
            a = self.changes.mark_absence(pid, day.isoformat(), s.name, reason, session.user, note=note)
            return {"absence_id": a.id, "person_id": pid, "reason": a.reason, "note": a.note,
                    "marked_by": a.marked_by, "followups": [{"day": f.day, "status": f.status, "note": f.note,
                                                             "by": f.by_user} for f in self.rs.followups(a.id)]}

        return ok(await run_in_threadpool(run))

    async def follow_up(self, request: Request, session: Session):
        """{date, status, note}: one day's follow-up of a sick absence (``back`` ends it)."""
        raw = request.path_params["absence_id"]
        if not raw.isdigit() or len(raw) > 12:
            raise Bad("err_invalid", "an absence id is a number")
        data = await json_body(request)
        day = day_value(data.get("date"), self.tz)
        status = data.get("status")
        if status not in FOLLOWUP_STATUSES:
            raise Bad("err_invalid", f"status must be one of {', '.join(FOLLOWUP_STATUSES)}")
        note = text_field(data, "note", limit=500)
        scope = self._scope(session)

        def run():
            if scope is not None:
                a = self.rs.absence(int(raw))
                self._in_scope(scope, a.class_name if a is not None else "")
            # no such absence: 404 (NotFound); not a sick absence: 400 (StoreError), from the store
            f = self.changes.follow_up(int(raw), day.isoformat(), status, session.user, note=note)
            return {"id": f.id, "absence_id": f.absence_id, "day": f.day, "status": f.status, "note": f.note,
                    "by": f.by_user}

        return ok(await run_in_threadpool(run))

    # ------------------------------------------------------------ sent-home notices

    async def notices(self, request: Request, session: Session):
        """?date=: the sent-home notices of the day (a case decided sent home, fever clinic or ambulance): the
        pupil's name and class, the decision, when, over which channel and whether it went; a teacher's only
        for their classes. Nothing more of the case (its readings and symptoms are the doctor's)."""
        day = day_value(request.query_params.get("date"), self.tz)
        scope = self._scope(session)

        def run():
            lo, hi = day_bounds(day, self.tz)
            out = []
            for n in StoreOutbox.beside(self.service.store).by_kind("sent_home", lo, hi):
                ev = n["event"]
                klass = str(ev.get("class_name") or "")
                if scope is not None and klass not in scope:
                    continue
                out.append({"id": n["id"], "case": n["key"], "name": ev.get("person") or "", "class": klass,
                            "decision": ev.get("text") or "", "channel": n["channel"], "status": n["status"],
                            "drill": n["drill"], "time_local": local_time(n["created_at"], self.tz),
                            "done_local": local_time(n["done_at"], self.tz) if n["done_at"] else None})
            return {"date": day.isoformat(), "notices": out}

        return ok(await run_in_threadpool(run))


__all__ = ["AbsencesApi"]
