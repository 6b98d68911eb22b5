"""The console's JSON API, the history: screenings (a page of them, one with its thermal snapshot, CSV), the
alarms as CSV (spreadsheet-safe cells) and the audit trail for admins.
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
from ..protocol.result import DECISIONS
from .api_part import MAX_ROWS, ApiPart, csv_number, gate_param, path_id, screening_json
from .auth import Session
from .codec import snapshot_json
from .web import Bad, csv_download, int_param, local_time, ok, time_param


class HistoryApi(ApiPart):
    """Screenings, the alarms CSV and the audit trail."""

    def _screening_filter(self, request: Request) -> dict:
        decision = request.query_params.get("decision") or None
        if decision is not None and decision not in DECISIONS:
            raise Bad("err_invalid", f"decision must be one of {', '.join(DECISIONS)}")
        return {"gate": gate_param(self.console, request), "decision": decision,
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
        sid = path_id(request, "screening_id")
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
                            csv_cell(s.reason), csv_number(s.estimate_c), csv_number(s.face_c),
                            csv_number(s.distance_m), int(s.reduced_accuracy), s.track])
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
                            csv_number(s.estimate_c if s else None), csv_cell(a.acknowledged_by or ""),
                            csv_number(a.recheck_c),
                            csv_cell(a.outcome or ""), csv_cell(a.disposed_by or ""),
                            local_time(a.disposed_at, self.tz) or "", csv_cell(a.note)])
            return buf.getvalue()

        return csv_download(await run_in_threadpool(run), "alarms.csv")

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


__all__ = ["HistoryApi"]
