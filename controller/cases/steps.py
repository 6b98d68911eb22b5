"""The steps of a fever case: their kinds, and one frozen, validated type per step's data.

Every step of a case's timeline is a ``StepKind`` and the data that kind
carries. The data types check themselves when made (``CaseError`` with the
field and the rule), turn into JSON (``to_json``) and back
(``step_from_json``), and can be built from the command line's text fields
(``step_from_fields``). Times are Unix seconds (UTC); dates are local calendar
dates written ``YYYY-MM-DD``. docs/cases.md lists every field.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import MISSING, asdict, dataclass, fields
from enum import Enum
from typing import Any, ClassVar

from ..store.records import RECHECK_MAX_C, RECHECK_MIN_C


class CaseError(ValueError):
    """A step, a case or a drill that cannot be recorded; the message says why."""


class StepKind(str, Enum):
    ACKNOWLEDGED = "acknowledged"
    ESCORTED = "escorted"
    RECHECK = "recheck"
    SYMPTOMS = "symptoms"
    DECISION = "decision"
    NOTIFIED = "notified"
    HANDED_OVER = "handed_over"
    DISINFECTED = "disinfected"
    REPORTED_UPWARD = "reported_upward"
    FOLLOW_UP = "follow_up"
    CLEARED_TO_RETURN = "cleared_to_return"  # 复课
    CLOSED = "closed"
    LET_IN = "let_in"  # the door opened for the person from the case (back in), with the door command

    def __str__(self) -> str:
        return self.value


INSTRUMENTS = ("mercury", "electronic", "infrared")
SITES = ("axillary", "oral", "forehead")

# The decision after the re-checks. Every outcome but back_in sends the person away from school
# until the doctor records 复课.
BACK_IN, SENT_HOME, FEVER_CLINIC, AMBULANCE = "back_in", "sent_home", "fever_clinic", "ambulance"
OUTCOMES = (BACK_IN, SENT_HOME, FEVER_CLINIC, AMBULANCE)
AWAY_OUTCOMES = (SENT_HOME, FEVER_CLINIC, AMBULANCE)

# The symptom checklist the doctor ticks in the observation room (no seed list was at hand: this is the
# school doctor's usual list for a febrile pupil; docs/cases.md gives the Chinese names).
SYMPTOMS = ("chills", "fatigue", "cough", "sore_throat", "runny_nose", "headache", "muscle_ache",
            "shortness_of_breath", "loss_of_smell_or_taste", "vomiting", "diarrhoea", "rash")
# The three histories (三史): travel or residence, contact with a case, a cluster around the person.
HISTORIES = ("travel", "contact", "cluster")

RECIPIENTS = ("class_teacher", "parent", "leader")
CHANNELS = ("phone", "sms", "wechat", "dingtalk", "email", "in_person")

MAX_TEXT = 2000
MAX_NAME = 64
# Times a step may name: 2001-09-09 .. 2100-01-01 (a time in milliseconds or a 0 is a mistake).
_MIN_TIME, _MAX_TIME = 1.0e9, 4102444800.0


# ---------------------------------------------------------------- checks

def _fail(kind: StepKind, name: str, message: str) -> CaseError:
    return CaseError(f"{kind.value}: {name} {message}")


def _time(kind: StepKind, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(kind, name, f"must be a time in Unix seconds, not {v!r}")
    t = float(v)
    if not math.isfinite(t) or not _MIN_TIME <= t <= _MAX_TIME:
        raise _fail(kind, name, f"{v!r} is not a plausible time (Unix seconds, 2001-2100)")
    return t


def check_time(what: str, v: Any) -> float:
    """A plausible time in Unix seconds (2001-2100), else ``CaseError`` naming ``what``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or not _MIN_TIME <= float(v) <= _MAX_TIME:
        raise CaseError(f"{what} {v!r} is not a plausible time (Unix seconds, 2001-2100)")
    return float(v)


def _text(kind: StepKind, name: str, v: Any, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str):
        raise _fail(kind, name, f"must be text, not {type(v).__name__}")
    v = v.strip()
    if required and not v:
        raise _fail(kind, name, "is required")
    if len(v) > limit:
        raise _fail(kind, name, f"is longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in v):
        raise _fail(kind, name, "holds control characters")
    return v


def _choice(kind: StepKind, name: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise _fail(kind, name, f"must be one of {'|'.join(choices)}, not {v!r}")
    return v


def _bool(kind: StepKind, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _fail(kind, name, f"must be true or false, not {v!r}")
    return v


def _date(kind: StepKind, name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise _fail(kind, name, f"must be a date YYYY-MM-DD, not {v!r}")
    try:
        return dt.date.fromisoformat(v.strip()).isoformat()
    except ValueError:
        raise _fail(kind, name, f"must be a date YYYY-MM-DD, not {v!r}") from None


def _set(self, name: str, value: Any) -> None:
    object.__setattr__(self, name, value)  # a frozen dataclass normalising its own fields


# ---------------------------------------------------------------- the data of each kind

@dataclass(frozen=True)
class StepData:
    """The data of one step; each kind has its own subclass."""

    kind: ClassVar[StepKind]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Acknowledged(StepData):
    """Somebody at the console has seen the alarm."""

    kind: ClassVar[StepKind] = StepKind.ACKNOWLEDGED


@dataclass(frozen=True)
class Escorted(StepData):
    """The doctor took the person by a separate route to the observation room (临时观察室)."""

    kind: ClassVar[StepKind] = StepKind.ESCORTED
    time_in: float
    room: str = ""
    note: str = ""

    def __post_init__(self):
        _set(self, "time_in", _time(self.kind, "time_in", self.time_in))
        _set(self, "room", _text(self.kind, "room", self.room, limit=MAX_NAME))
        _set(self, "note", _text(self.kind, "note", self.note))


@dataclass(frozen=True)
class Recheck(StepData):
    """Re-check number ``n`` (1, 2, ...) with a clinical thermometer.

    ``instrument`` and ``site`` are None only on a re-check read from an alarm
    disposed before cases existed (its thermometer was not recorded); a new
    re-check must name both."""

    kind: ClassVar[StepKind] = StepKind.RECHECK
    n: int
    instrument: str | None
    site: str | None
    value_c: float
    time: float

    def __post_init__(self):
        k = self.kind
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= 99:
            raise _fail(k, "n", f"must be a whole number from 1, not {self.n!r}")
        if self.instrument is not None:
            _choice(k, "instrument", self.instrument, INSTRUMENTS)
        if self.site is not None:
            _choice(k, "site", self.site, SITES)
        v = self.value_c
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _fail(k, "value_c", f"must be a temperature in degC, not {v!r}")
        if not RECHECK_MIN_C <= v <= RECHECK_MAX_C:
            raise _fail(k, "value_c", f"{v:g} degC is outside {RECHECK_MIN_C:g}-{RECHECK_MAX_C:g} degC")
        _set(self, "value_c", float(v))
        _set(self, "time", _time(k, "time", self.time))

    @property
    def complete(self) -> bool:
        return self.instrument is not None and self.site is not None


@dataclass(frozen=True)
class Symptoms(StepData):
    """The symptom checklist and the three histories (三史), each yes with a detail or no."""

    kind: ClassVar[StepKind] = StepKind.SYMPTOMS
    checklist: tuple[str, ...] = ()
    travel: bool = False  # travel or residence history
    travel_detail: str = ""
    contact: bool = False  # contact with a case
    contact_detail: str = ""
    cluster: bool = False  # others ill around the person (class, dormitory, family)
    cluster_detail: str = ""
    note: str = ""

    def __post_init__(self):
        k = self.kind
        items = self.checklist
        if isinstance(items, str) or not isinstance(items, (tuple, list, frozenset, set)):
            raise _fail(k, "checklist", f"must be a list of symptoms, not {items!r}")
        for item in items:
            _choice(k, "checklist item", item, SYMPTOMS)
        _set(self, "checklist", tuple(s for s in SYMPTOMS if s in set(items)))  # the checklist's order, once each
        for h in HISTORIES:
            yes = _bool(k, h, getattr(self, h))
            detail = _text(k, f"{h}_detail", getattr(self, f"{h}_detail"))
            if yes and not detail:
                raise _fail(k, f"{h}_detail", f"is required when {h} is yes (where, whom, when)")
            _set(self, f"{h}_detail", detail)
        _set(self, "note", _text(k, "note", self.note))

    def to_json(self) -> dict:
        d = asdict(self)
        d["checklist"] = list(self.checklist)
        return d


@dataclass(frozen=True)
class Decision(StepData):
    kind: ClassVar[StepKind] = StepKind.DECISION
    outcome: str
    note: str = ""

    def __post_init__(self):
        _choice(self.kind, "outcome", self.outcome, OUTCOMES)
        _set(self, "note", _text(self.kind, "note", self.note))

    @property
    def away(self) -> bool:
        """The person leaves school and may come back only after 复课."""
        return self.outcome in AWAY_OUTCOMES


@dataclass(frozen=True)
class Notified(StepData):
    """Who was told (class teacher, parent, leader), by whom, how, when."""

    kind: ClassVar[StepKind] = StepKind.NOTIFIED
    recipient: str
    by_whom: str
    how: str
    when: float
    note: str = ""

    def __post_init__(self):
        k = self.kind
        _choice(k, "recipient", self.recipient, RECIPIENTS)
        _set(self, "by_whom", _text(k, "by_whom", self.by_whom, required=True, limit=MAX_NAME))
        _choice(k, "how", self.how, CHANNELS)
        _set(self, "when", _time(k, "when", self.when))
        _set(self, "note", _text(k, "note", self.note))


@dataclass(frozen=True)
class HandedOver(StepData):
    """The person was handed over (to a parent, the ambulance crew, ...)."""

    kind: ClassVar[StepKind] = StepKind.HANDED_OVER
    to_whom: str
    when: float
    note: str = ""

    def __post_init__(self):
        k = self.kind
        _set(self, "to_whom", _text(k, "to_whom", self.to_whom, required=True, limit=MAX_NAME))
        _set(self, "when", _time(k, "when", self.when))
        _set(self, "note", _text(k, "note", self.note))


@dataclass(frozen=True)
class Disinfected(StepData):
    """The route and the room were disinfected."""

    kind: ClassVar[StepKind] = StepKind.DISINFECTED
    areas: str
    note: str = ""

    def __post_init__(self):
        _set(self, "areas", _text(self.kind, "areas", self.areas, required=True, limit=200))
        _set(self, "note", _text(self.kind, "note", self.note))


@dataclass(frozen=True)
class ReportedUpward(StepData):
    """The case was reported to the education bureau, the community health centre, ..."""

    kind: ClassVar[StepKind] = StepKind.REPORTED_UPWARD
    to_whom: str
    how: str
    note: str = ""

    def __post_init__(self):
        _set(self, "to_whom", _text(self.kind, "to_whom", self.to_whom, required=True, limit=MAX_NAME))
        _choice(self.kind, "how", self.how, CHANNELS)
        _set(self, "note", _text(self.kind, "note", self.note))


@dataclass(frozen=True)
class FollowUp(StepData):
    """The class teacher's daily follow-up while the person is away (and the checks after 复课)."""

    kind: ClassVar[StepKind] = StepKind.FOLLOW_UP
    date: str
    note: str

    def __post_init__(self):
        _set(self, "date", _date(self.kind, "date", self.date))
        _set(self, "note", _text(self.kind, "note", self.note, required=True))


@dataclass(frozen=True)
class ClearedToReturn(StepData):
    """复课: the doctor saw the certificate (its issuer and date) and clears the person to come back."""

    kind: ClassVar[StepKind] = StepKind.CLEARED_TO_RETURN
    certificate_seen: bool
    issuer: str
    certificate_date: str
    note: str = ""

    def __post_init__(self):
        k = self.kind
        if _bool(k, "certificate_seen", self.certificate_seen) is not True:
            raise _fail(k, "certificate_seen", "must be yes: 复课 needs the certificate seen")
        _set(self, "issuer", _text(k, "issuer", self.issuer, required=True, limit=200))
        _set(self, "certificate_date", _date(k, "certificate_date", self.certificate_date))
        _set(self, "note", _text(k, "note", self.note))


@dataclass(frozen=True)
class Closed(StepData):
    kind: ClassVar[StepKind] = StepKind.CLOSED
    note: str = ""

    def __post_init__(self):
        _set(self, "note", _text(self.kind, "note", self.note))


@dataclass(frozen=True)
class LetIn(StepData):
    """The door of ``gate`` opened for the person, back in: the signed command's counter (unique per gate) and
    the door action's id in the event store (None if it could not be read back)."""

    kind: ClassVar[StepKind] = StepKind.LET_IN
    gate: str
    counter: int
    door_action_id: int | None = None
    note: str = ""

    def __post_init__(self):
        k = self.kind
        _set(self, "gate", _text(k, "gate", self.gate, required=True, limit=MAX_NAME))
        for name in ("counter", "door_action_id"):
            v = getattr(self, name)
            if v is None and name == "door_action_id":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise _fail(k, name, f"must be a whole number, not {v!r}")
        _set(self, "note", _text(k, "note", self.note))


STEP_TYPES: dict[StepKind, type[StepData]] = {t.kind: t for t in (
    Acknowledged, Escorted, Recheck, Symptoms, Decision, Notified, HandedOver, Disinfected, ReportedUpward,
    FollowUp, ClearedToReturn, Closed, LetIn)}


def step_kind(kind: Any) -> StepKind:
    try:
        return StepKind(kind)
    except ValueError:
        raise CaseError(f"unknown step kind {kind!r}: one of {', '.join(k.value for k in StepKind)}") from None


def step_from_json(kind: Any, data: Any) -> StepData:
    """The typed data of a step from its JSON object (as stored, or as a client sends it)."""
    k = step_kind(kind)
    cls = STEP_TYPES[k]
    if not isinstance(data, dict):
        raise CaseError(f"{k.value}: the data must be an object, not {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CaseError(f"{k.value}: unknown field(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(names)) or 'none'}")
    missing = sorted(f.name for f in fields(cls) if f.name not in data and _required(f))
    if missing:
        raise CaseError(f"{k.value}: missing field(s) {', '.join(missing)}")
    return cls(**data)


def _required(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


# ---------------------------------------------------------------- from text (the command line)

_YES = {"yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否"}


def _parse_field(kind: StepKind, name: str, text: str, ftype: str, *, now: float, tz) -> Any:
    if "bool" in ftype:
        low = text.strip().lower()
        if low in _YES:
            return True
        if low in _NO:
            return False
        raise _fail(kind, name, f"must be yes or no, not {text!r}")
    if name == "checklist":
        return tuple(s.strip() for s in text.replace(";", ",").split(",") if s.strip())
    if name in ("time", "time_in", "when"):
        return parse_time(text, now=now, tz=tz, what=f"{kind.value}: {name}")
    if name in ("n", "counter", "door_action_id"):
        try:
            return int(text)
        except ValueError:
            raise _fail(kind, name, f"must be a whole number, not {text!r}") from None
    if name == "value_c":
        try:
            return float(text)
        except ValueError:
            raise _fail(kind, name, f"must be a temperature in degC, not {text!r}") from None
    return text


def parse_time(text: str, *, now: float, tz, what: str = "time") -> float:
    """``now``, ``HH:MM`` (today, local), ``YYYY-MM-DD HH:MM`` (local), or Unix seconds."""
    t = text.strip()
    if t == "now":
        return now
    try:
        return float(t)
    except ValueError:
        pass
    try:
        if len(t) <= 5 and ":" in t:
            clock = dt.time.fromisoformat(t if len(t) == 5 else "0" + t)
            day = dt.datetime.fromtimestamp(now, tz).date()
            return dt.datetime.combine(day, clock, tz).timestamp()
        return dt.datetime.fromisoformat(t).replace(tzinfo=tz).timestamp()
    except ValueError:
        raise CaseError(f"{what} must be now, HH:MM, YYYY-MM-DD HH:MM or Unix seconds, not {text!r}") from None


def step_from_fields(kind: Any, pairs: dict[str, str], *, now: float, tz, next_recheck: int = 1) -> StepData:
    """The typed data of a step from ``name=value`` text (the CLI's ``--field``). A time field left out is
    ``now``; a re-check's ``n`` left out is ``next_recheck``; a yes/no field is yes, no, 是 or 否."""
    k = step_kind(kind)
    cls = STEP_TYPES[k]
    types = {f.name: str(f.type) for f in fields(cls)}
    unknown = sorted(set(pairs) - set(types))
    if unknown:
        raise CaseError(f"{k.value}: unknown field(s) {', '.join(unknown)}; known: {', '.join(types) or 'none'}")
    data: dict[str, Any] = {name: _parse_field(k, name, text, types[name], now=now, tz=tz)
                            for name, text in pairs.items()}
    for name in ("time", "time_in", "when"):
        if name in types and name not in data:
            data[name] = now
    if k is StepKind.RECHECK and "n" not in data:
        data["n"] = next_recheck
    return step_from_json(k, data)


__all__ = [
    "CaseError", "StepKind", "StepData", "Acknowledged", "Escorted", "Recheck", "Symptoms", "Decision", "Notified",
    "HandedOver", "Disinfected", "ReportedUpward", "FollowUp", "ClearedToReturn", "Closed", "LetIn", "STEP_TYPES",
    "INSTRUMENTS", "SITES", "OUTCOMES", "AWAY_OUTCOMES", "BACK_IN", "SENT_HOME", "FEVER_CLINIC", "AMBULANCE",
    "SYMPTOMS", "HISTORIES", "RECIPIENTS", "CHANNELS", "step_kind", "step_from_json", "step_from_fields",
    "parse_time", "check_time",
]
