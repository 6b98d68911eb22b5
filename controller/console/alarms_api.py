"""The console's JSON API, the alarms and alerts: the active alarms (the wall's banner, kept through reloads and
restarts), the list and one alarm, acknowledging and disposing of one (with the re-check reading), and the
gates' alerts dismissed. Each action is audited and announced to every open tab.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..service.events import AlarmUpdateEvent
from ..store.records import OUTCOMES, RECHECK_MAX_C, RECHECK_MIN_C, Alarm
from .api_part import MAX_ROWS, ApiPart, alarm_json, path_id, screening_json
from .auth import Session
from .codec import snapshot_json
from .web import Bad, json_body, number_field, ok, text_field


class AlarmsApi(ApiPart):
    """The alarms and alerts."""

    def _alarm(self, aid: int) -> Alarm:
        """The alarm, or a 404."""
        a = self.store.alarm(aid)
        if a is None:
            raise Bad("err_not_found", f"no alarm {aid}", 404)
        return a

    def active_alarms(self) -> list[dict]:
        """Alarms not disposed yet (open or acknowledged), oldest first: they survive reloads and restarts."""
        alarms = self.store.alarms(status="open") + self.store.alarms(status="acknowledged")
        alarms.sort(key=lambda a: (a.time, a.id))
        out = self._alarms_with_screenings(alarms)
        for a in out:  # the case each alarm opened (controller/cases): the banner links to it, a drill says so
            c = self.cases.case_for_alarm(a["id"])
            a["case_id"], a["drill"] = (c.id, c.drill) if c is not None else (None, False)
        return out

    async def alarms_active(self, request: Request, session: Session):
        return ok({"alarms": await run_in_threadpool(self.active_alarms)})

    async def alarms(self, request: Request, session: Session):
        f = self._alarm_filter(request)

        def run():
            found = self.store.alarms(**f)
            return self._alarms_with_screenings(found[-MAX_ROWS:][::-1])

        return ok({"alarms": await run_in_threadpool(run)})

    async def alarm(self, request: Request, session: Session):
        aid = path_id(request, "alarm_id")

        def run():
            a = self._alarm(aid)
            s = self.store.screening(a.screening_id)
            return {**alarm_json(a, self.tz, s), "screening": None if s is None else screening_json(s, self.tz),
                    "snapshot": None if s is None else snapshot_json(s.snapshot)}

        return ok(await run_in_threadpool(run))

    async def alerts(self, request: Request, session: Session):
        return ok({"alerts": self.service.open_alerts()})

    async def alert_dismiss(self, request: Request, session: Session):
        alert_id = path_id(request, "alert_id")
        if not await run_in_threadpool(self.service.dismiss_alert, alert_id, session.user):
            raise Bad("err_not_found", f"no open alert {alert_id}", 404)
        return ok({"id": alert_id, "open": False})

    async def alarm_ack(self, request: Request, session: Session):
        aid = path_id(request, "alarm_id")

        def run():
            before = self._alarm(aid)
            a = self.store.acknowledge_alarm(aid, session.user, time.time())
            if before.status == "open":
                self.audit(session.user, "alarm_acknowledged", {"alarm": aid, "gate": a.gate})
                self.service.alarm_cases.acknowledged(aid, session.user, a.acknowledged_at or time.time())  # its case
            return alarm_json(a, self.tz)

        a = await run_in_threadpool(run)
        self.console.publish(AlarmUpdateEvent(a))
        return ok(a)

    async def alarm_dispose(self, request: Request, session: Session):
        aid = path_id(request, "alarm_id")
        data = await json_body(request)
        outcome = data.get("outcome")
        if outcome not in OUTCOMES:
            raise Bad("err_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        recheck = number_field(data, "recheck_c", lo=RECHECK_MIN_C, hi=RECHECK_MAX_C)
        note = text_field(data, "note", limit=2000)

        def run():
            with self.store.atomic():  # the disposition and its audit row: both or neither
                a = self.store.dispose_alarm(aid, recheck_c=recheck, outcome=outcome, user=session.user,
                                             time=time.time(), note=note)
                self.audit(session.user, "alarm_disposed", {"alarm": aid, "gate": a.gate, "outcome": outcome,
                                                            "recheck_c": recheck})
            return alarm_json(a, self.tz)

        a = await run_in_threadpool(run)
        self.console.publish(AlarmUpdateEvent(a))
        return ok(a)


__all__ = ["AlarmsApi"]
