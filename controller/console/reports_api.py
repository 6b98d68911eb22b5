"""The console's Reports API, the daily report: the reports sent with their receipts and files, a day's status
(the live verdict, open alarms, the deadline), send now / resend and build for the reporter, the backup
reporter and admins (``may_send``). The other parts of the Reports page: report_rules_api.py,
absences_api.py, manual_readings_api.py; what they share and who may do what: report_part.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..reporting.document import build_content
from .auth import Session
from .report_part import ReportsPart
from .web import Bad, day_value, json_body, local_time, ok

FILE_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8",
              ".json": "application/json; charset=utf-8"}
MAX_REPORTS = 400


class ReportsApi(ReportsPart):
    """The daily report: the reports sent, a day's status, send now and build."""

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
        day = day_value(request.query_params.get("date"), self.tz)

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
        return day_value(request.path_params["day"], self.tz)

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


__all__ = ["ReportsApi"]
