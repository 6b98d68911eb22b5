"""The console's JSON API, the wall's basics: who is signed in (with the session's CSRF token and what the role
may do), the gates' summaries and today's report. The other parts: alarms_api.py, doors_api.py,
history_api.py, admin_api.py; what they share: api_part.py; routes.py has the table of paths and
permissions.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..reports import daily_report, report_dict
from .api_part import ApiPart
from .auth import COOKIE, PERMISSIONS, Session, csrf_for
from .web import date_param, ok


class ConsoleApi(ApiPart):
    """Who am I, the gates, today's report."""

    async def me(self, request: Request, session: Session):
        return ok({"user": session.user, "role": session.role, "csrf": csrf_for(request.cookies[COOKIE]),
                   "can": sorted(p for p, roles in PERMISSIONS.items() if session.role in roles),
                   "timezone": self.service.config.timezone, "threshold_c": self.console.threshold_c(),
                   "now": time.time()})

    async def gates(self, request: Request, session: Session):
        summaries = await run_in_threadpool(self.service.gate_summaries)
        return ok({"now": time.time(), "gates": [s.to_dict() for s in summaries]})


    def report(self, request: Request) -> dict:
        date = date_param(request, self.tz)
        report = daily_report(self.store, date, self.tz, threshold_c=self.console.threshold_c())
        out = report_dict(report)
        out["alarms"] = self._alarms_with_screenings(self.store.alarms(since=report.start, until=report.end,
                                                                       drills=False))  # as the figures
        return out

    async def report_json(self, request: Request, session: Session):
        return ok(await run_in_threadpool(self.report, request))


__all__ = ["ConsoleApi"]
