"""What the notifications are about: one frozen event per thing people must hear of.

The service builds a :class:`NotifyEvent` from what happened (a FEVER alarm, a
pupil sent home, a report) and hands it to ``Notifier.notify``. The event
carries only what the messages need; who hears of it is the route's business
(routing.py), and how much of it each role reads is the message's
(messages.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    """The kinds a ``[[notify.route]]`` names in its ``event`` key."""

    FEVER = "fever"  # a FEVER alarm at a gate
    SENT_HOME = "sent_home"  # a case decided "sent home" (or to a fever clinic)
    REPORT = "report"  # a report is ready for whoever asked for it


@dataclass(frozen=True)
class NotifyEvent:
    """One event to notify about.

    ``key`` names it once (``"alarm-12"``): escalation is stopped by it
    (``Notifier.acknowledge(key)``) and every outcome carries it. ``time`` is
    the wall-clock time it happened (seconds since the epoch). ``drill`` marks
    an event of a drill: every message of it starts with 【演练】."""

    kind: EventKind
    key: str
    time: float
    gate: str = ""  # the gate's display name (FEVER)
    estimate_c: float | None = None  # the screening's estimate (FEVER)
    class_name: str = ""  # the pupil's class (SENT_HOME): whose class teacher hears of it
    person: str = ""  # the pupil's name (SENT_HOME only: the class teacher needs it)
    reporter: str = ""  # the contact id of who asked for the report (REPORT)
    text: str = ""  # the report's summary, or a case's note for the message (REPORT, SENT_HOME)
    drill: bool = False

    @classmethod
    def fever(cls, alarm_id: int, at: float, gate: str, estimate_c: float | None, *,
              drill: bool = False) -> NotifyEvent:
        """The event of a FEVER alarm, keyed ``alarm-<id>`` (what ``alarm_id_of`` reads back)."""
        return cls(EventKind.FEVER, f"alarm-{alarm_id}", time=at, gate=gate, estimate_c=estimate_c, drill=drill)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))  # ValueError names a wrong kind
        if not self.key:
            raise ValueError("a NotifyEvent needs a key")


def alarm_id_of(key: str) -> int | None:
    """The alarm id in a key ``alarm-<id>`` (None for any other key)."""
    prefix, _, number = key.partition("-")
    return int(number) if prefix == "alarm" and number.isdigit() else None
