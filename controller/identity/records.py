"""The identity records: frozen types for the roster, visitors, reads of a file, and the gate's answer.

Nothing here holds an ID number or a photo: a visitor is kept with the last
4 characters of their ID card only, a person with what the gate and the
school's health office need (docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.records import Alarm, Screening

STUDENT = "student"
STAFF = "staff"
ROLES = (STUDENT, STAFF)

QR = "qr"
CARD = "card"
KINDS = (QR, CARD)

# Why resolve() refused a credential (Resolution.reason).
UNKNOWN = "unknown"  # no person holds it, or not a pass this site issued and still keeps
INACTIVE = "inactive"  # the person left the roster (active = no)
EXPIRED = "expired"  # a visitor pass after its window
OUTSIDE_WINDOW = "outside_window"  # a visitor pass before its window opens
REVOKED = "revoked"  # a visitor pass the guard withdrew
FORGED = "forged"  # looks like a visitor pass but its signature does not verify (altered or made up)
REFUSALS = (UNKNOWN, INACTIVE, EXPIRED, OUTSIDE_WINDOW, REVOKED, FORGED)


@dataclass(frozen=True)
class Credential:
    """What a gate reads: a QR code's text or a card's UID (upper-case hex)."""

    kind: str  # qr | card
    text: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.text}"


@dataclass(frozen=True)
class Person:
    """One student or staff member on the roster."""

    id: str
    name: str
    role: str  # student | staff
    class_name: str  # the class of a student, the department of staff
    boarder: bool
    guardian_phone: str
    active: bool = True
    credentials: tuple[Credential, ...] = ()
    created_at: float | None = None
    updated_at: float | None = None

    def same_as(self, other: Person) -> bool:
        """The same roster entry (ignores the times)."""
        return (self.id, self.name, self.role, self.class_name, self.boarder, self.guardian_phone, self.active,
                frozenset(self.credentials)) == (
            other.id, other.name, other.role, other.class_name, other.boarder, other.guardian_phone, other.active,
            frozenset(other.credentials))


@dataclass(frozen=True)
class Visitor:
    """A visitor by real name and their one-day pass."""

    pass_id: str  # 16 lowercase hex characters, in the signed QR token
    name: str
    id_last4: str  # the last 4 characters of the ID card; never the whole number
    host: str  # whom they visit
    purpose: str
    valid_from: float  # Unix seconds, whole
    valid_until: float
    issued_by: str
    issued_at: float
    revoked_at: float | None = None
    revoked_by: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class FileRead:
    """One read of the identity data: a person's file shown, the roster or the visitor log exported."""

    id: int
    time: float
    reader: str
    action: str  # person_show | people_export | visitor_export | ...
    subject: str  # the person's id, or "*" for a whole export
    reason: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PersonFile:
    """One person's file (一人一档): who they are, their credentials, screenings, alarms and re-checks."""

    person: Person
    screenings: tuple[Screening, ...]  # newest first, without snapshots
    alarms: tuple[Alarm, ...]  # fever alarms on their screenings, newest first
    absences: tuple = ()  # controller.reporting.records.AbsenceFile, newest first: the mark and its follow-up

    @property
    def rechecks(self) -> tuple[Alarm, ...]:
        """The alarms a doctor re-checked or disposed."""
        return tuple(a for a in self.alarms if a.recheck_c is not None or a.outcome is not None)


@dataclass(frozen=True)
class PersonRef:
    """Who a credential names, as the gate rule and the result message need it."""

    id: str
    name: str  # the display name
    role: str
    class_name: str
    active: bool


@dataclass(frozen=True)
class VisitorRef:
    """The visitor a valid (or refused) pass names."""

    id: int
    pass_id: str
    name: str
    host: str
    valid_from: float
    valid_until: float


@dataclass(frozen=True)
class Resolution:
    """What a credential read at a gate means at one moment.

    ``reason`` is None when it is accepted: then exactly one of ``person`` (known
    and active) and ``visitor`` (a valid pass inside its window) is set. A refusal
    gives one of REFUSALS, with the person or visitor when one is known
    (``inactive``, ``expired``, ``outside_window``, ``revoked``).
    """

    kind: str
    reason: str | None
    person: PersonRef | None = None
    visitor: VisitorRef | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None
