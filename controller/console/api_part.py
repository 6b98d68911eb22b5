"""What the parts of the console's JSON API share (``ApiPart``): the store, the people store, the school's
time zone, the audit trail, the fever cases, a gate's display name, the JSON of a screening and an alarm with
who it names, and the checks of a gate, an id and an alarm filter in a request. The parts: api.py (who am I,
the gates, today's report), alarms_api.py, doors_api.py, history_api.py, admin_api.py, people_api.py, visitors_api.py,
cases_api.py, drills_api.py; routes.py registers each handler with the permission it needs.

Each handler is ``async def h(request, session)``. Store and service calls run in the thread pool so a slow
disk never stalls the live WebSocket.
"""

from __future__ import annotations

import time

from starlette.requests import Request

from ..identity.people_store import PeopleStore
from ..store.records import ALARM_STATUSES, Alarm, Screening
from .backend import ConsoleBackend
from .web import Bad, local_time, time_param

MAX_ROWS = 1000


def gate_param(console, request: Request) -> str | None:
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


def path_id(request: Request, key: str) -> int:
    try:
        v = int(request.path_params[key])
    except (KeyError, ValueError):
        raise Bad("err_invalid", f"{key} must be an integer") from None
    if not 0 < v < 2**62:
        raise Bad("err_invalid", f"{key} is out of range")
    return v


def csv_number(v) -> str:
    return "" if v is None else f"{v:.2f}"


class ApiPart:
    """The console, its service and store, for each part of the JSON API."""

    def __init__(self, console):
        self.console = console
        self.service: ConsoleBackend = console.service
        self.store = console.service.store
        self.people = PeopleStore.beside(console.service.store)

    @property
    def tz(self):
        return self.service.config.tz

    @property
    def cases(self):
        """The fever cases and drills (controller/cases' CaseStore)."""
        return self.service.alarm_cases.cases

    def audit(self, user: str, action: str, detail: dict) -> None:
        self.store.record_audit(user, time.time(), action, detail)

    def gate_name(self, gate: str) -> str:
        """The gate's display name, as on the wall (its id when it has none or is not registered)."""
        info = self.service.gates.get(gate)
        return (info.name if info is not None else "") or gate

    def gate_choices(self) -> list[dict]:
        """Every registered gate as a page's choice: ``{id, name}``."""
        return [{"id": g, "name": self.gate_name(g)} for g in self.service.gates]

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

    def _alarm_filter(self, request: Request) -> dict:
        status = request.query_params.get("status") or None
        if status is not None and status not in ALARM_STATUSES:
            raise Bad("err_invalid", f"status must be one of {', '.join(ALARM_STATUSES)}")
        return {"status": status, "gate": gate_param(self.console, request),
                "since": time_param(request, "since", self.tz), "until": time_param(request, "until", self.tz)}
