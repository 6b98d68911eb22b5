"""What a FEVER alarm sets in motion after the banner: its fever case and its notifications.

``DecisionHandler`` calls ``open_case`` as soon as the alarm is stored, so the
live ``AlarmEvent`` carries the case's id, and ``notify_fever`` once the
console has the alarm. Notifications go through controller/notify's
``Notifier`` when ``[notify]`` has routes: every attempt is kept in the store's
outbox (the case page lists them, ``outcomes``), and a message that reaches
nobody on a channel raises a console alert saying whom to call. An alarm
acknowledged on the console stops its escalation (``still_open``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from ..cases.case_store import CaseStore
from ..notify import NotificationFailure, NotificationOutcome, Notifier, NotifyEvent
from ..notify.events import alarm_id_of
from ..notify.outbox import StoreOutbox
from ..store.records import ALARM_OPEN
from .events import AlertKind

log = logging.getLogger("thermogate.service")


def alarm_key(alarm_id: int) -> str:
    """The notification key of an alarm (``NotifyEvent.fever``'s)."""
    return f"alarm-{alarm_id}"


class AlarmCases:
    """The cases of FEVER alarms and their notifications, for one controller."""

    def __init__(self, store, config, alerts, *, gate_names: Mapping[str, str], notifier: Notifier | None = None):
        """``config``: the ControllerConfig ([notify], tz); ``alerts``: the AlertBook; ``gate_names``: gate id ->
        display name for the messages; ``notifier``: one built elsewhere (tests), else from ``[notify]``."""
        self.store = store
        self.cases = CaseStore.beside(store)
        self.outbox = StoreOutbox.beside(store)
        self.alerts = alerts
        self.gate_names = gate_names
        self._gate_of: dict[str, str] = {}  # notification key -> gate id, for the failure's alert
        self._lock = threading.Lock()
        if notifier is None and config.notify.enabled:
            notifier = Notifier(config.notify, on_failure=self._failed, outbox=self.outbox, tz=config.tz,
                                still_open=self._still_open)
        self.notifier = notifier

    def start(self) -> None:
        if self.notifier is not None:
            self.notifier.start()

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close(timeout=2.0)

    def open_case(self, alarm_id: int, *, drill: bool = False) -> int | None:
        """The case of a new alarm, linked to the person its screening names; None if it could not be opened
        (the alarm stands: the case is opened when someone first touches it)."""
        try:
            return self.cases.open_case_for_alarm(alarm_id, drill=drill).id
        except Exception as exc:
            log.error("case not opened", extra={"alarm": alarm_id, "drill": drill, "error": repr(exc)[:200]})
            return None

    def notify_fever(self, alarm_id: int, at: float, gate: str, estimate_c: float | None, *,
                     drill: bool = False) -> int:
        """Tell the people on call of a FEVER alarm (never waits on the network); how many messages went out."""
        if self.notifier is None:
            return 0
        event = NotifyEvent.fever(alarm_id, at, self.gate_names.get(gate) or gate, estimate_c, drill=drill)
        with self._lock:
            self._gate_of[event.key] = gate
        try:
            return self.notifier.notify(event)
        except Exception as exc:  # the alarm is on the console already; a person must call
            log.error("notification not queued", extra={"alarm": alarm_id, "error": repr(exc)[:200]})
            self.alerts.raise_(gate, AlertKind.NOTIFY_FAILED, f"{'【演练】' if drill else ''}call the doctor on duty "
                               f"and the leader in charge: notification failed (fever {event.key}: {exc})"[:300])
            return 0

    def notify_decision(self, case_id: int) -> int:
        """A case decided sent home, fever clinic or ambulance: its person's class teacher hears of it
        (``sent_home``, keyed ``case-<id>``, with the class and the name the teacher needs). Nothing for a case
        whose person is not known (no class to route by) or decided back in."""
        if self.notifier is None:
            return 0
        from ..cases.steps import AWAY_OUTCOMES, Decision
        from ..identity.people_store import PeopleStore
        from ..notify import EventKind

        case = self.cases.case(case_id)
        if case is None or case.decision not in AWAY_OUTCOMES or case.person_id is None:
            return 0
        person = PeopleStore.beside(self.store).person(case.person_id)
        if person is None:
            return 0
        note = next((s.data.note for s in reversed(case.steps or ()) if isinstance(s.data, Decision)), "")
        event = NotifyEvent(EventKind.SENT_HOME, f"case-{case.id}", time=case.decided_at or case.opened_at,
                            class_name=person.class_name, person=person.name,
                            text=f"{case.decision}" + (f": {note}" if note else ""), drill=case.drill)
        with self._lock:
            self._gate_of[event.key] = case.gate
        try:
            return self.notifier.notify(event)
        except Exception as exc:
            log.error("notification not queued", extra={"case": case.id, "error": repr(exc)[:200]})
            return 0

    def acknowledged(self, alarm_id: int, user: str, at: float) -> None:
        """Someone acknowledged the alarm on the console's wall: its case, still open, is acknowledged too (by
        them, then), and the alarm escalates no further."""
        from ..cases.machine import OPEN, Refused
        from ..cases.steps import Acknowledged

        if self.notifier is not None:
            self.notifier.acknowledge(alarm_key(alarm_id))
        try:
            case = self.cases.case_for_alarm(alarm_id)
            if case is not None and case.id is not None and case.state == OPEN:
                self.cases.add_step(case.id, Acknowledged(), user, at)
        except Refused:  # acknowledged on the case meanwhile
            pass
        except Exception as exc:
            log.error("case not acknowledged", extra={"alarm": alarm_id, "error": repr(exc)[:200]})

    def outcomes(self, alarm_id: int | None, case_id: int | None = None) -> list[NotificationOutcome]:
        """Every attempt to notify of the alarm, then of its case's decision, in order (the store's outbox)."""
        found = self.outbox.history(alarm_key(alarm_id)) if alarm_id is not None else []
        if case_id is not None:
            found += self.outbox.history(f"case-{case_id}")
        return sorted(found, key=lambda o: o.sent_at)

    def _failed(self, failure: NotificationFailure) -> None:
        with self._lock:
            gate = self._gate_of.get(failure.key)
        self.alerts.raise_(gate, AlertKind.NOTIFY_FAILED, failure.detail[:300])

    def _still_open(self, event: NotifyEvent) -> bool:
        alarm_id = alarm_id_of(event.key)
        if alarm_id is None:
            return True
        alarm = self.store.alarm(alarm_id)
        return alarm is not None and alarm.status == ALARM_OPEN
