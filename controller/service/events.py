"""What the service tells whoever watches live: one frozen type per event, and the alert kinds.

The service publishes these on its ``LiveHub`` (live.py); the console sends each
to the browser tabs, a ``FrameEvent`` as one binary message (console/codec.py),
every other event as the JSON of ``to_dict()``, whose ``kind`` names it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, ClassVar


class AlertKind(enum.StrEnum):
    """What an alert is about: something a person has to look at (docs/operations.md, "Alerts")."""

    STORE_FAILED = "store_failed"  # a write to the store failed; the decisions wait in memory
    HOLDS_UNKNOWN = "holds_unknown"  # the door holds from before a restart could not be read
    HOLD_RESTORED = "hold_restored"  # a door is still held locked after a restart
    RESUME_HOLD = "resume_hold"  # a PASS just after a restart did not open the door by itself
    GATE_OFFLINE = "gate_offline"  # the gate's connection to the broker was lost
    SENSOR_FAULT = "sensor_fault"  # the gate reports its thermal sensor failing
    NO_FRAMES = "no_frames"  # a gate online but silent
    COMMAND_REFUSED = "command_refused"  # the gate refused one of our door commands
    FOREIGN_COMMAND_REFUSED = "foreign_command_refused"  # ... one this controller never sent
    COUNTER_RESYNC = "counter_resync"  # the gate had accepted counters beyond ours: its key is in other hands
    MISSING_ACK = "missing_ack"  # a door command not acknowledged in time
    UNAUTHENTICATED_SENSOR_DATA = "unauthenticated_sensor_data"  # version-1 messages read (upgrade window)
    SENSOR_RECALIBRATED = "sensor_recalibrated"  # the gate sent a different EEPROM
    NOTIFY_FAILED = "notify_failed"  # a notification of an alarm reached nobody on a channel: call them
    REPORT_LATE = "report_late"  # the daily report not delivered by its deadline, or a recipient failed for good


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


class LiveEvent:
    """The common face of the live events: ``kind`` and ``to_dict()``."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The event as the browser gets it: ``kind`` first, then the fields."""
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name))
                                       for f in dataclasses.fields(self)}}  # type: ignore[arg-type]


@dataclass(frozen=True)
class FrameEvent(LiveEvent):
    """The latest image of a gate, only while someone watches; sent as binary (console/codec.py)."""

    kind: ClassVar[str] = "frame"
    gate: str
    image: Any  # 24 x 32 degC, the pipeline's latest (a copy)
    state: str
    sequence: int
    time: float | None
    fresh: Any = None  # the pixels of the latest subpage (24 x 32 bool), or None
    face_box: list[int] | None = None
    distance_m: float | None = None
    reference_ok: bool | None = None
    ambient_c: float | None = None


@dataclass(frozen=True)
class DecisionEvent(LiveEvent):
    kind: ClassVar[str] = "decision"
    gate: str
    decision: str
    reason: str
    estimate_c: float | None
    track: int
    time: float
    screening_id: int | None
    reduced_accuracy: bool
    person: dict | None = None  # who the gate's credential named: {id, name[, visitor]} (docs/identity.md)


@dataclass(frozen=True)
class AlarmEvent(DecisionEvent):
    """A FEVER decision, with the alarm opened for it (None if the store refused it). ``person`` adds, when the
    roster knows them, ``class`` and ``teacher`` ({name, phone} from [classes], or None)."""

    kind: ClassVar[str] = "alarm"
    alarm_id: int | None = None
    case_id: int | None = None  # the fever case the alarm opened (controller/cases), None if it could not be
    drill: bool = False  # raised in a drill (演练): shown and handled as live, counted nowhere


@dataclass(frozen=True)
class IdentityEvent(LiveEvent):
    """A gate kept its door shut for who was (or was not) there: a PASS turned into RETRY ``reason``
    (``register_at_gatehouse``, ``see_school_doctor``). ``credential``: ``none`` (nobody scanned), ``store``
    (it could not be checked) or the refusal (``unknown``, ``expired``, ...), ``ok`` when it was accepted;
    ``name``: whom it named, if anyone."""

    kind: ClassVar[str] = "identity"
    gate: str
    time: float
    reason: str
    credential: str
    name: str | None
    screening_id: int | None


@dataclass(frozen=True)
class GateSummary:
    """One gate as the console shows it (``GateWorker.summary()``)."""

    gate: str
    name: str
    location: str
    variant: str
    online: bool
    state: str
    boot: int | None
    frames: int
    lost_frames: int
    dropped_frames: int
    errors: dict[str, int]
    recalibrations: int
    last_frame_at: float | None
    protocol: int | None
    unauthenticated: int
    manual_lock: dict | None  # {user, reason, time[, restored]} while held locked from the console
    reduced_accuracy: bool
    sensor_ok: bool | None
    fps: float | None
    refresh_hz: float | None  # the sensor's subpages a second, as the gate's status says
    slow_refresh: bool  # online and frame_rate.too_slow_to_screen(refresh_hz): few people are decided
    sensor_netd_c: float | None  # the sensor's noise as the gate's pipeline measures it, at 1 Hz (None: not yet)
    noisy_sensor: bool  # online and sensor.noise.too_noisy_to_screen: fewer people are decided, and later
    relay: Any
    firmware: str | None
    rssi: int | None
    last_decision: dict | None  # {decision, reason, estimate_c, track[, person, credential]} (credentials.py)
    identity: dict | None = None  # credentials read at the gate: counts, refusals, the one waiting (credentials.py)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class GateEvent(LiveEvent):
    """A gate's status, online/offline or door hold changed."""

    kind: ClassVar[str] = "gate"
    summary: GateSummary

    @property
    def gate(self) -> str:
        return self.summary.gate

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.summary.to_dict()}


@dataclass(frozen=True)
class AlertEvent(LiveEvent):
    """An alert raised (``open``, with its ``detail``) or resolved."""

    kind: ClassVar[str] = "alert"
    gate: str | None
    alert: AlertKind | str
    id: int | None
    open: bool
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "gate": self.gate, "alert": _plain(self.alert), "id": self.id, "open": self.open}
        if self.open:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class DoorEvent(LiveEvent):
    """A gate's acknowledgement of a door command."""

    kind: ClassVar[str] = "door"
    gate: str
    action: str
    ok: bool
    reason: str
    applied_ms: int | None
    cause: str


@dataclass(frozen=True)
class AlarmUpdateEvent(LiveEvent):
    """A fever alarm acknowledged or disposed at the console: every other tab updates it."""

    kind: ClassVar[str] = "alarm_update"
    alarm: dict  # the alarm as the console's API returns it

    @property
    def gate(self) -> str | None:
        return self.alarm.get("gate")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.alarm}
