"""The console's Reports API, hand-held readings: the day's list, and a reading entered for someone a gate could
not screen (through ``reporting.changes.ReportChanges``, with its audit row).
"""

from __future__ import annotations

import datetime as dt
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..reports import day_bounds
from ..store.records import RECHECK_MAX_C, RECHECK_MIN_C
from .auth import Session
from .report_part import ReportsPart
from .web import Bad, day_value, json_body, local_time, number_field, ok, parse_time, text_field


class ManualReadingsApi(ReportsPart):
    """Hand-held readings."""

    async def manual_list(self, request: Request, session: Session):
        """?date=: the day's hand-held readings, newest first, each marked manual (and fever at or above the
        threshold)."""
        day = day_value(request.query_params.get("date"), self.tz)

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


__all__ = ["ManualReadingsApi"]
