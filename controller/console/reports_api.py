"""The console's Reports API: the daily report (status, send, the reports sent with their receipts and
files), the absentee lists and their marks, sick absences' follow-up, hand-held readings, and the warnings
with their urgent-report drafts (docs/reports.md, docs/console.md).

It works through the controller's own ``Reporter`` (``service.reports.reporter``, made from ``[report]``)
and ``ReportStore.beside(service.store)``; without ``[report]`` the lists are empty and ``configured`` is
false, and what needs the table (send, build, absentees) is a 409 ``err_no_report``.

Who may do what (auth.PERMISSIONS, and one rule by name):

- ``view`` (every role): the reports sent with their receipts and files, any day's status, the warnings and
  their drafts, the rules (controller.toml's and the console's). The report names classes, never pupils.
- send now / resend and build: the reporter and the backup reporter named in ``[report]`` (console users of
  any role) and admins (``may_send``). The reporter or backup who sends confirms it: it goes out under
  their name; an admin's send goes under the name the scheduler would use.
- the console's warning rules (add, change, enable or disable, delete): the same people as send, those who
  manage the report. controller.toml's ``[[report.warning]]`` rules are read-only here. A rule is checked
  by the loader's own ``config.parse_warning_rule`` (400 ``err_warning_rule`` with its words); one that
  counts what another rule counts is a 409 ``err_rule_exists``.
- ``absences`` (doctor, admin, teacher): the absentee lists with names, the marks (sick with symptoms, leave,
  other with a note) and the sick absences' daily follow-up. A ``teacher`` (a class teacher) gets only the
  classes the store gives them (``Store.user_classes``): another class's list, mark or follow-up is a 403
  ``err_not_your_class`` (docs/console.md).
- ``notices`` (doctor, admin, teacher): the sent-home notices (a case decided sent home: the pupil's name,
  class, the decision and whether the message went); a teacher's only for their classes.
- ``manual_reading`` (guard, doctor, admin): enter a hand-held reading for someone a gate could not screen,
  and the day's list of them.

Every change is in the audit trail. The rules, absences, follow-ups and hand-held readings go through
``reporting.changes.ReportChanges``, which writes each with its audit row in one transaction (absence_marked,
absence_followup, manual_reading, warning_rule_added, warning_rule_changed, warning_rule_enabled,
warning_rule_disabled, warning_rule_deleted). Sending and building write their files and receipts as they
go (a delivery is not held inside a transaction); their row (report_sent, report_built) follows them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..config_fields import ConfigError
from ..identity.people_store import PeopleStore
from ..notify.outbox import StoreOutbox
from ..reporting.changes import ReportChanges
from ..reporting.config import WarningRule, parse_warning_rule
from ..reporting.counts import absentees
from ..reporting.document import build_content
from ..reporting.records import ABSENCE_REASONS, FOLLOWUP_STATUSES, OTHER, SICK, ConsoleRule
from ..reporting.report_store import ReportStore, RuleExists
from ..reporting.warning_rules import rules_in_force
from ..reports import day_bounds
from ..store.records import RECHECK_MAX_C, RECHECK_MIN_C
from .auth import Session
from .web import DATE_MAX, DATE_MIN, Bad, json_body, local_time, number_field, ok, parse_time, text_field

FILE_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8",
              ".json": "application/json; charset=utf-8"}
MAX_REPORTS = 400


def _date(raw: object, tz) -> dt.date:
    """A day as sent (``YYYY-MM-DD``); empty: today in the school's time zone."""
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


class ReportsApi:
    def __init__(self, console):
        self.console = console
        self.service = console.service
        self.rs = ReportStore.beside(console.service.store)
        self.changes = ReportChanges(console.service.store)  # each change with its audit row, in one transaction
        self.people = PeopleStore.beside(console.service.store)

    @property
    def tz(self):
        return self.service.config.tz

    @property
    def reporter(self):
        """The controller's Reporter, or None without [report]."""
        thread = self.service.reports
        return None if thread is None else thread.reporter

    def _need_reporter(self):
        r = self.reporter
        if r is None:
            raise Bad("err_no_report", "controller.toml has no [report] table (docs/reports.md)", 409)
        return r

    def may_send(self, session: Session) -> bool:
        """Send now / resend: the reporter and the backup named in [report], and admins."""
        r = self.reporter
        if r is None:
            return False
        return session.role == "admin" or session.user in (r.config.reporter, r.config.backup_reporter)

    def _audit(self, user: str, action: str, detail: dict) -> None:
        self.service.store.record_audit(user, time.time(), action, detail)

    def _threshold(self) -> float:
        r = self.reporter
        return r.threshold_c if r is not None else self.service.threshold_c()

    # ------------------------------------------------------------ the reports sent

    def _report_json(self, rec) -> dict:
        tz = self.tz
        receipts = self.rs.receipts(rec.school_code, rec.day)
        return {"day": rec.day, "school_code": rec.school_code, "verdict": rec.verdict, "status": rec.status,
                "built_local": local_time(rec.built_at, tz), "sent_local": local_time(rec.sent_at, tz),
                "paged_local": local_time(rec.paged_at, tz), "reporter": rec.reporter, "signed_by": rec.signed_by,
                "confirmed_by": rec.confirmed_by, "confirmed_local": local_time(rec.confirmed_at, tz),
                "late": rec.late,
                "files": [{"name": n, "sha256": h, "url": f"/api/reports/{rec.day}/files/{n}"}
                          for n, h in sorted(rec.files.items())],
                "receipts": [{"id": x.id, "recipient": x.recipient, "kind": x.kind, "at": x.at,
                              "at_local": local_time(x.at, tz), "ok": x.ok, "attempt": x.attempt,
                              "detail": x.detail, "files": x.files, "sent_by": x.sent_by, "late": x.late}
                             for x in receipts]}

    def _config_json(self, session: Session) -> dict:
        r = self.reporter
        if r is None:
            return {"configured": False, "can_send": False}
        c = r.config
        return {"configured": True, "school": c.school, "school_code": c.school_code, "reporter": c.reporter,
                "backup_reporter": c.backup_reporter, "deadline": c.deadline.strftime("%H:%M"),
                "build_before_min": c.build_before_min, "recipients": [{"name": x.name, "type": x.type}
                                                                       for x in c.recipients],
                "sessions": [{"name": s.name, "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M"),
                              "gates": list(s.gates), "who": s.who} for s in c.sessions],
                "can_send": self.may_send(session)}

    async def reports(self, request: Request, session: Session):
        """Every report of the school, newest day first, each with its receipts and files."""
        def run():
            out = self._config_json(session)
            r = self.reporter
            out["reports"] = [] if r is None else [self._report_json(rec) for rec in
                                                   self.rs.reports(r.config.school_code)[:MAX_REPORTS]]
            return out

        return ok(await run_in_threadpool(run))

    async def status(self, request: Request, session: Session):
        """The day's report as it stands now (?date=, default today): the live verdict and open alarms, the
        deadline and build time, the stored report if built, and whether this user may send it."""
        day = _date(request.query_params.get("date"), self.tz)

        def run():
            out = self._config_json(session)
            r = self.reporter
            if r is None:
                return out
            now = time.time()
            content = build_content(self.rs, r.config, day, self.tz, r.threshold_c, now)
            rec = self.rs.report(r.config.school_code, day.isoformat())
            deadline, build_at = r.config.deadline_at(day, self.tz), r.config.build_at(day, self.tz)
            totals = [{"session": s["name"], "start": s["start"], "end": s["end"],
                       **next(row for row in s["rows"] if row["category"] == "all")} for s in content["sessions"]]
            signer, confirmed = r.signer(rec)
            out.update(date=day.isoformat(), school_day=r.config.is_school_day(day), now_local=local_time(now, self.tz),
                       deadline_local=local_time(deadline, self.tz), build_local=local_time(build_at, self.tz),
                       past_deadline=now >= deadline, built=rec is not None,
                       verdict=content["verdict"], open_alarms=sum(1 for c in content["cases"] if c["open"]),
                       cases=content["cases"], sessions_today=totals, signer=signer, confirmed=confirmed,
                       report=None if rec is None else self._report_json(rec))
            return out

        return ok(await run_in_threadpool(run))

    def _path_day(self, request: Request) -> dt.date:
        return _date(request.path_params["day"], self.tz)

    async def send(self, request: Request, session: Session):
        """Send now / resend the day's report to every recipient; the reporter or backup confirms it first."""
        day = self._path_day(request)
        await json_body(request)  # nothing to read, but a body must be JSON if there is one
        r = self._need_reporter()
        if not self.may_send(session):
            raise Bad("err_forbidden", f"only the reporter ({r.config.reporter}), the backup reporter and admins "
                                       "may send the report", 403)

        def run():
            receipts = r.send_now(day, time.time(), user=session.user)
            rec = self.rs.report(r.config.school_code, day.isoformat())
            assert rec is not None  # send stores the report before delivering it
            self._audit(session.user, "report_sent", {"day": day.isoformat(), "verdict": rec.verdict,
                                                      "status": rec.status, "signed_by": rec.signed_by,
                                                      "ok": sum(x.ok for x in receipts), "failed":
                                                      sum(not x.ok for x in receipts)})
            return {"report": self._report_json(rec), "sent": [x.id for x in receipts]}

        return ok(await run_in_threadpool(run))

    async def build(self, request: Request, session: Session):
        """Build the day's files now, without sending them (the reporter looks before the deadline)."""
        day = self._path_day(request)
        await json_body(request)
        r = self._need_reporter()
        if not self.may_send(session):
            raise Bad("err_forbidden", "only the reporter, the backup reporter and admins may build the report", 403)

        def run():
            rec = r.build_now(day, time.time())
            self._audit(session.user, "report_built", {"day": day.isoformat(), "verdict": rec.verdict})
            return {"report": self._report_json(rec)}

        return ok(await run_in_threadpool(run))

    async def file(self, request: Request, session: Session):
        """One of a report's files (PDF, CSV, JSON), only a name the stored report lists, checked against its
        stored SHA-256 (a file changed on disk is refused, not served)."""
        day = self._path_day(request)
        name = request.path_params["name"]
        r = self._need_reporter()

        def run() -> bytes:
            rec = self.rs.report(r.config.school_code, day.isoformat())
            if rec is None or name not in rec.files:
                raise Bad("err_not_found", f"no file {name!r} in the report of {day}", 404)
            path = r.out_dir(day) / Path(name).name
            try:
                data = path.read_bytes()
            except OSError:
                raise Bad("err_not_found", f"{name} is no longer in {r.out_dir(day)}", 404) from None
            if hashlib.sha256(data).hexdigest() != rec.files[name]:
                raise Bad("err_report_file_changed", f"{name} differs from the SHA-256 stored with the report", 409)
            return data

        data = await run_in_threadpool(run)
        media = FILE_TYPES.get(Path(name).suffix, "application/octet-stream")
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "Cache-Control": "no-store"})

    # ------------------------------------------------------------ warnings and rules

    def _rule_json(self, rule: WarningRule, in_force: set[str], stored: ConsoleRule | None = None) -> dict:
        out = {"key": rule.key, "spec": rule.spec, "source": rule.source, "id": rule.id, "scope": rule.scope,
               "what": rule.what, "threshold": rule.threshold, "days": rule.days, "factor": rule.factor,
               "min_alarms": rule.min_alarms, "baseline_days": rule.baseline_days,
               "enabled": True if stored is None else stored.enabled, "in_force": rule.key in in_force}
        if stored is not None:
            out.update(created_by=stored.created_by, created_local=local_time(stored.created_at, self.tz),
                       updated_by=stored.updated_by, updated_local=local_time(stored.updated_at, self.tz))
        return out

    def _rules(self, r) -> list[dict]:
        """controller.toml's rules (read-only here), then the console's, each with whether it is in force."""
        in_force = {w.key for w in rules_in_force(self.rs, r.config)}
        return ([self._rule_json(w, in_force) for w in r.config.warnings]
                + [self._rule_json(c.rule, in_force, c) for c in self.rs.warning_rules()])

    async def warnings(self, request: Request, session: Session):
        """The day's warnings with their urgent-report drafts (疫情快报), and the rules: controller.toml's
        (read-only) and the console's (``can_edit_rules``: admins, the reporter and the backup reporter)."""
        day = _date(request.query_params.get("date"), self.tz)

        def run():
            r = self.reporter
            ws = [{"id": w.id, "day": w.day, "rule": w.rule, "rule_spec": w.draft.get("rule_spec", w.rule),
                   "scope": w.scope, "scope_key": w.scope_key, "what": w.what, "count": w.count,
                   "threshold": w.threshold, "raised_local": local_time(w.raised_at, self.tz), "draft": w.draft}
                  for w in self.rs.warnings(day.isoformat())]
            return {"configured": r is not None, "date": day.isoformat(), "rules": [] if r is None else self._rules(r),
                    "can_edit_rules": self.may_send(session), "warnings": ws}

        return ok(await run_in_threadpool(run))

    def _rule_editor(self, session: Session):
        """The Reporter, when this user may change the console's rules (the same people as send: admins, the
        reporter and the backup reporter named in [report]); 409 without [report], 403 for anyone else."""
        r = self._need_reporter()
        if not self.may_send(session):
            raise Bad("err_forbidden", "only admins, the reporter and the backup reporter may change the warning "
                                       "rules", 403)
        return r

    @staticmethod
    def _rule_id(request: Request) -> int:
        raw = request.path_params["rule_id"]
        if not raw.isdigit() or len(raw) > 12:
            raise Bad("err_invalid", "a rule's id is a number")
        return int(raw)

    @staticmethod
    def _parsed_rule(data: dict, rule_id: int | None = None) -> WarningRule:
        """The form's rule through the loader's own check (config.parse_warning_rule): what controller.toml
        refuses, the console refuses, with the same words."""
        try:
            return parse_warning_rule({k: v for k, v in data.items() if k != "enabled"}, "rule", rule_id=rule_id)
        except ConfigError as exc:
            raise Bad("err_warning_rule", str(exc)) from None

    @staticmethod
    def _taken(r) -> tuple[str, ...]:
        return tuple(w.spec for w in r.config.warnings)

    async def rule_add(self, request: Request, session: Session):
        """{scope, what, threshold, days, factor, min_alarms, baseline_days, enabled}: a console rule (201)."""
        r = self._rule_editor(session)
        data = await json_body(request)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise Bad("err_invalid", "enabled must be true or false")
        rule = self._parsed_rule(data)

        def run():
            try:
                c = self.changes.add_rule(rule, session.user, enabled=enabled, taken=self._taken(r))
            except RuleExists as exc:
                raise Bad("err_rule_exists", str(exc), 409) from None
            return {"rule": self._rule_json(c.rule, {w.key for w in rules_in_force(self.rs, r.config)}, c)}

        return ok(await run_in_threadpool(run), 201)

    async def rule_change(self, request: Request, session: Session):
        """The same fields: what a console rule counts. It keeps its number, so a warning it raised today is
        not raised again."""
        r = self._rule_editor(session)
        rule_id = self._rule_id(request)
        data = await json_body(request)
        rule = self._parsed_rule(data, rule_id)

        def run():
            try:
                _, after = self.changes.change_rule(rule_id, rule, session.user, taken=self._taken(r))
            except RuleExists as exc:
                raise Bad("err_rule_exists", str(exc), 409) from None
            return {"rule": self._rule_json(after.rule, {w.key for w in rules_in_force(self.rs, r.config)}, after)}

        return ok(await run_in_threadpool(run))

    async def rule_enable(self, request: Request, session: Session):
        """{enabled: true|false}: a console rule put to use, or set aside (kept, to be enabled again)."""
        r = self._rule_editor(session)
        rule_id = self._rule_id(request)
        data = await json_body(request)
        enabled = data.get("enabled")
        if not isinstance(enabled, bool):
            raise Bad("err_invalid", "enabled must be true or false")

        def run():
            c = self.changes.enable_rule(rule_id, enabled, session.user)
            return {"rule": self._rule_json(c.rule, {w.key for w in rules_in_force(self.rs, r.config)}, c)}

        return ok(await run_in_threadpool(run))

    async def rule_delete(self, request: Request, session: Session):
        """A console rule removed (its warnings already stored stay)."""
        self._rule_editor(session)
        rule_id = self._rule_id(request)
        await json_body(request)

        def run():
            c = self.changes.delete_rule(rule_id, session.user)
            return {"deleted": c.rule.key}

        return ok(await run_in_threadpool(run))

    # ------------------------------------------------------------ absences

    def _scope(self, session: Session) -> set[str] | None:
        """The classes a session may see: None (every class) but for a teacher, their classes only."""
        if session.role != "teacher":
            return None
        return set(self.service.store.user_classes(session.user))

    @staticmethod
    def _in_scope(scope: set[str] | None, class_name: str) -> None:
        if scope is not None and class_name not in scope:
            raise Bad("err_not_your_class", f"{class_name or 'that person'} is not one of your classes", 403)

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
        day = _date(request.query_params.get("date"), self.tz)
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
        day = _date(data.get("date"), self.tz)
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
        day = _date(data.get("date"), self.tz)
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
        day = _date(request.query_params.get("date"), self.tz)
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

    # ------------------------------------------------------------ hand-held readings

    async def manual_list(self, request: Request, session: Session):
        """?date=: the day's hand-held readings, newest first, each marked manual (and fever at or above the
        threshold)."""
        day = _date(request.query_params.get("date"), self.tz)

        def run():
            lo, hi = day_bounds(day, self.tz)
            threshold = self._threshold()
            out = []
            for m in self.rs.manual_readings(lo, hi):
                p = self.people.person(m.person_id) if m.person_id else None
                out.append({"id": m.id, "person_id": m.person_id, "name": p.name if p else None,
                            "class": p.class_name if p else None, "value_c": m.value_c, "by": m.by_user,
                            "gate": m.gate, "note": m.note, "time_local": local_time(m.time, self.tz),
                            "fever": m.value_c >= threshold, "manual": True})
            return {"date": day.isoformat(), "threshold_c": threshold, "readings": out[::-1]}

        return ok(await run_in_threadpool(run))

    async def manual_add(self, request: Request, session: Session):
        """{person_id, value_c, gate, note, at}: a hand-held reading, by the console user who enters it; ``at``
        a local time (``07:40`` today, or ``2026-03-02T07:40``), default now; never in the future."""
        data = await json_body(request)
        pid = text_field(data, "person_id", required=True, limit=64)
        value = number_field(data, "value_c", lo=RECHECK_MIN_C, hi=RECHECK_MAX_C, required=True)
        gate = text_field(data, "gate", limit=64)
        if gate and gate not in self.service.gates:
            raise Bad("err_invalid", f"no gate {gate!r}")
        note = text_field(data, "note", limit=500)
        now = time.time()
        at = now
        raw_at = text_field(data, "at", limit=32)
        if raw_at:
            if len(raw_at) <= 5 and ":" in raw_at:
                raw_at = f"{dt.datetime.now(self.tz).date().isoformat()}T{raw_at}"
            at = parse_time(raw_at, self.tz, "at")
            if at > now + 60:
                raise Bad("err_invalid", "a reading cannot be taken in the future")

        def run():
            assert value is not None
            m = self.changes.add_manual_reading(pid, value, session.user, at, gate=gate, note=note)  # NotFound: 404
            fever = value >= self._threshold()
            return {"id": m.id, "person_id": pid, "value_c": m.value_c, "by": m.by_user, "gate": m.gate,
                    "time_local": local_time(m.time, self.tz), "fever": fever, "manual": True}

        return ok(await run_in_threadpool(run), 201)


__all__ = ["ReportsApi"]
