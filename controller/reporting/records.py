"""The records of reporting: absences and their follow-ups, manual readings, warnings, reports and receipts.

Frozen, one type per kind of row; times in Unix seconds (UTC), days as the
school's local date (``YYYY-MM-DD``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import WarningRule

SICK = "sick_with_symptoms"
LEAVE = "leave"
OTHER = "other"
ABSENCE_REASONS = (SICK, LEAVE, OTHER)

# A sick absence's daily follow-up: how the pupil is that day.
STILL_SICK = "still_sick"
RECOVERING = "recovering"
BACK = "back"  # back at school: the follow-up ends
FOLLOWUP_STATUSES = (STILL_SICK, RECOVERING, BACK)

VERDICT_ZERO = "zero"  # 零报告
VERDICT_PENDING = "pending"  # alarms still open: never a zero report
VERDICT_CASES = "cases"  # N confirmed cases
VERDICT_NO_SCREENING = "no_screening"  # nobody screened: not a zero report either


@dataclass(frozen=True)
class Absence:
    """Someone on the roster not screened by a session's end, marked by the class teacher with a reason."""

    id: int
    person_id: str
    day: str
    session: str
    class_name: str
    reason: str
    note: str
    marked_by: str
    marked_at: float
    closed_at: float | None = None  # the follow-up ended (back at school)


@dataclass(frozen=True)
class FollowUp:
    """One day of a sick absence's follow-up."""

    id: int
    absence_id: int
    day: str
    status: str
    note: str
    by_user: str
    at: float


@dataclass(frozen=True)
class ManualReading:
    """A hand-held reading a guard entered for someone a gate could not screen: counts as screened."""

    id: int
    person_id: str | None
    time: float
    value_c: float
    by_user: str
    gate: str = ""
    note: str = ""


@dataclass(frozen=True)
class ReportWarning:
    """A warning rule crossed: the rule, where (class, grade or the school), how many, and the
    urgent-report draft (疫情快报) it made, as a dict."""

    id: int
    day: str
    rule: str
    scope: str
    scope_key: str
    what: str
    count: float
    threshold: float
    raised_at: float
    draft: dict


@dataclass(frozen=True)
class ConsoleRule:
    """A warning rule added in the console (report_rules): the rule (its ``id`` set), whether it is in use,
    who added it and who changed it last."""

    rule: WarningRule
    enabled: bool
    created_by: str
    created_at: float
    updated_by: str
    updated_at: float

    @property
    def id(self) -> int:
        assert self.rule.id is not None
        return self.rule.id


@dataclass(frozen=True)
class ReportRecord:
    """One school's report of one day: when it was built, its verdict and files (name -> sha256), who
    confirmed it, whose name it went out under, and when it was sent."""

    school_code: str
    day: str
    built_at: float
    verdict: str
    files: dict
    reporter: str
    status: str  # built | sent | failed
    confirmed_by: str | None = None
    confirmed_at: float | None = None
    signed_by: str | None = None
    sent_at: float | None = None
    paged_at: float | None = None
    late: bool = False


@dataclass(frozen=True)
class Receipt:
    """One attempt to deliver a report to one recipient: who sent it, when, to which recipient, the
    outcome (and the receiver's answer), and the hashes of the files sent."""

    id: int
    school_code: str
    day: str
    recipient: str
    kind: str
    at: float
    ok: bool
    attempt: int
    detail: str
    files: dict
    sent_by: str
    late: bool


@dataclass(frozen=True)
class AbsenceFile:
    """An absence as a person's file shows it: the mark and, for a sick absence, its daily follow-up."""

    absence: Absence
    followups: tuple[FollowUp, ...] = ()

    def to_json(self) -> dict:
        a = self.absence
        return {"id": a.id, "day": a.day, "session": a.session, "class": a.class_name, "reason": a.reason,
                "note": a.note, "marked_by": a.marked_by, "marked_at": a.marked_at, "closed_at": a.closed_at,
                "followups": [{"day": f.day, "status": f.status, "note": f.note, "by": f.by_user, "at": f.at}
                              for f in self.followups]}
