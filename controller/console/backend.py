"""``ConsoleBackend``: exactly what the console may use of the controller service.

The console (routes, api, ws) is typed against this Protocol, not against
``ControllerService``: nothing else of the service is within its reach, and a
change on the service's side that breaks the console shows here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ..service.manual_doors import DoorHeld  # what manual_open raises on a door held locked

if TYPE_CHECKING:
    from ..cases.records import CaseStep
    from ..reporting.scheduler import ReportThread
    from ..service.alarm_cases import AlarmCases
    from ..service.config import ControllerConfig
    from ..service.drills import DrillDesk
    from ..service.events import GateSummary
    from ..service.live import LiveHub
    from ..service.registry import GateInfo
    from ..store.records import DoorAction
    from ..store.store import Store

__all__ = ["ConsoleBackend", "DoorHeld"]


class ConsoleBackend(Protocol):
    @property
    def config(self) -> ControllerConfig:
        """Read: tz, timezone, retention_days, path; site_dir (the visitor pass key, visitors_api.py)."""
        ...

    @property
    def store(self) -> Store:
        """Users, sessions, screenings, alarms, door actions, the audit trail; the identity tables through
        ``PeopleStore.beside(store)`` (people_api.py, visitors_api.py)."""
        ...

    @property
    def live(self) -> LiveHub:
        """subscribe / next_event / unsubscribe for the live socket; publish for alarm updates."""
        ...

    @property
    def gates(self) -> Mapping[str, GateInfo]:
        """The gates served, by id."""
        ...

    def gate_summaries(self) -> list[GateSummary]: ...

    def open_alerts(self) -> list[dict]: ...

    def dismiss_alert(self, alert_id: int, user: str) -> bool: ...

    def manual_open(self, gate_id: str, user: str, reason: str, ms: int | None = None) -> DoorAction: ...

    def set_lock(self, gate_id: str, locked: bool, user: str, reason: str) -> DoorAction | None: ...

    def threshold_c(self) -> float: ...

    def apply_settings(self, user: str, *, threshold_c: float | None = None,
                       retention_days: int | None = None) -> dict: ...

    @property
    def alarm_cases(self) -> AlarmCases:
        """The fever cases (``.cases``, a CaseStore) and each alarm's notification attempts (``outcomes``)."""
        ...

    @property
    def drills(self) -> DrillDesk:
        """start / end drills on the live gates."""
        ...

    def let_in(self, case_id: int, gate_id: str, user: str, reason: str = "") -> tuple[DoorAction, CaseStep]: ...

    @property
    def reports(self) -> ReportThread | None:
        """The daily report's scheduler (``[report]``; None without it): its ``reporter`` builds, confirms and
        sends (the Reports page's API, report_part.py)."""
        ...
