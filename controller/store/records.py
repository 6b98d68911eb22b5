"""The store's records: one frozen dataclass per kind of row.

Times are Unix seconds (UTC) as floats throughout; a report turns them into
local days. ``id`` is the database's row id, ``None`` on a record not stored yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What a doctor can decide about an alarm after the re-check.
ADMITTED = "admitted"  # re-checked, let into school
OBSERVATION_ROOM = "observation_room"  # kept in the observation room
SENT_HOME = "sent_home"
FALSE_ALARM = "false_alarm"  # not a person's fever at all (hot drink, sensor artefact, ...)
OUTCOMES = (ADMITTED, OBSERVATION_ROOM, SENT_HOME, FALSE_ALARM)

ALARM_OPEN = "open"
ALARM_ACKNOWLEDGED = "acknowledged"
ALARM_DISPOSED = "disposed"
ALARM_STATUSES = (ALARM_OPEN, ALARM_ACKNOWLEDGED, ALARM_DISPOSED)

# The plausible range of a doctor's re-check reading, degC.
RECHECK_MIN_C = 30.0
RECHECK_MAX_C = 45.0

CAUSE_DECISION = "decision"  # the controller acting on a screening decision
CAUSE_MANUAL = "manual"  # a person at the console, with a reason
CAUSE_MEASURING = "measuring"  # the measuring light for the person at the mark (no screening yet; moves no door)
CAUSES = (CAUSE_DECISION, CAUSE_MANUAL, CAUSE_MEASURING)

ROLES = ("guard", "doctor", "admin", "teacher")  # teacher: a class teacher, limited to their classes


@dataclass(frozen=True)
class Screening:
    """One screening decision, as the controller made it.

    ``uid`` is the caller's unique key for the decision (e.g. gate, boot and
    frame sequence): recording the same uid twice stores it once.
    """

    uid: str
    gate: str
    time: float
    decision: str  # PASS | FEVER | RETRY | BLOCKED
    reason: str
    track: int
    estimate_c: float | None
    face_c: float | None
    distance_m: float | None
    reduced_accuracy: bool
    boot: int
    sequence: int
    snapshot: bytes | None = field(default=None, repr=False)  # encode_snapshot() of the deciding frame
    id: int | None = None
    drill: bool = False  # a drill's (演练): never in an official figure


@dataclass(frozen=True)
class Alarm:
    """A fever alarm and what was done about it."""

    id: int
    screening_id: int
    gate: str
    time: float
    status: str  # open | acknowledged | disposed
    acknowledged_by: str | None
    acknowledged_at: float | None
    recheck_c: float | None
    outcome: str | None  # one of OUTCOMES once disposed
    disposed_by: str | None
    disposed_at: float | None
    note: str
    drill: bool = False  # raised by a drill's screening


@dataclass(frozen=True)
class DoorAction:
    """A command sent to a gate (open, lock, indicate, ...), why, and the gate's answer."""

    gate: str
    time: float  # when it was sent
    action: str
    arg: int
    counter: int  # the command counter it was signed with (unique per gate)
    cause: str  # decision | manual
    screening_id: int | None
    user: str | None  # who, for a manual action
    reason: str | None  # why, for a manual action (required then)
    id: int | None = None
    ack_ok: bool | None = None
    ack_reason: str | None = None
    applied_ms: int | None = None
    acked_at: float | None = None


@dataclass(frozen=True)
class Alert:
    """Something a person must act on: a missing ack, a gate offline, the store full, ..."""

    id: int
    gate: str | None  # None for site-wide alerts
    time: float
    kind: str
    detail: str
    resolved_at: float | None


@dataclass(frozen=True)
class Gate:
    id: str
    name: str
    location: str


@dataclass(frozen=True)
class GateStatusRecord:
    """One entry of a gate's status history."""

    gate: str
    time: float
    online: bool
    status: dict


@dataclass(frozen=True)
class Calibration:
    """A site calibration of a gate (the offset added to its estimates)."""

    id: int
    gate: str
    time: float
    offset_c: float
    residual_sd_c: float
    samples: int
    details: dict


@dataclass(frozen=True)
class User:
    """A console user; the password hash never leaves the store."""

    name: str
    role: str  # guard | doctor | admin
    created_at: float


@dataclass(frozen=True)
class DoorHold:
    """A gate's door held locked from the console until released: who, why, since when."""

    gate: str
    user: str
    reason: str
    time: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    user: str | None
    time: float
    action: str
    detail: dict
