"""Counts per session and category (students by class, staff, visitors, unidentified), and absentee lists.

For one session of one local day, at the session's gates and inside its window:

- **expected**: people on the roster then (added before the session ended, and active, or made inactive
  only after it ended), all of them or the boarders only (``who``); visitors whose pass window overlaps it;
- **screened**: people with a PASS or FEVER decision, or a manual (hand-held) reading; unidentified
  screenings (no credential matched) are counted as decisions, with no expected figure;
- **not screened**: expected people with neither: the absentee list of their class;
- **fevers raised**: FEVER alarms, plus manual readings at or above the threshold;
- **fevers confirmed**: disposed alarms confirmed by the re-check rule (``controller.reports``), cases
  decided sent home / fever clinic / ambulance, and manual readings at or above the threshold;
- **fevers open**: alarms not disposed yet.

Nothing from a drill is counted: its screenings and alarms carry drill = true (store migration 7).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..protocol.result import FEVER, PASS
from ..store.records import ALARM_DISPOSED, OBSERVATION_ROOM, SENT_HOME
from .config import ReportConfig, Session
from .records import ABSENCE_REASONS, LEAVE, OTHER, SICK, Absence
from .report_store import ReportStore

STUDENT, STAFF, VISITOR, UNIDENTIFIED = "student", "staff", "visitor", "unidentified"
CATEGORIES = (STUDENT, STAFF, VISITOR, UNIDENTIFIED)
CATEGORY_ZH = {STUDENT: "学生", STAFF: "教职工", VISITOR: "访客", UNIDENTIFIED: "未识别", "all": "合计"}
CONFIRMING_DECISIONS = ("sent_home", "fever_clinic", "ambulance")


@dataclass(frozen=True)
class GroupCount:
    """One row: a session's figures for one class of students, the staff, the visitors, the unidentified,
    or all (``category == "all"``). ``expected`` is None where there is no roster (unidentified)."""

    session: str
    category: str
    group: str
    expected: int | None
    screened: int
    not_screened: int
    manual: int = 0
    fevers_raised: int = 0
    fevers_confirmed: int = 0
    fevers_open: int = 0
    absent_sick: int = 0
    absent_leave: int = 0
    absent_other: int = 0
    absent_unmarked: int = 0


@dataclass(frozen=True)
class Absentee:
    """Someone expected at a session and not screened by its end, with the teacher's mark if any."""

    person_id: str
    name: str
    class_name: str
    role: str
    reason: str | None = None
    absence_id: int | None = None


@dataclass(frozen=True)
class SessionCounts:
    session: Session
    start: float
    end: float
    rows: tuple[GroupCount, ...]
    absentees: dict[str, tuple[Absentee, ...]] = field(default_factory=dict)  # class -> not screened

    @property
    def total(self) -> GroupCount:
        return next(r for r in self.rows if r.category == "all")


@dataclass(frozen=True)
class AlarmInfo:
    """A day's alarm as the report needs it (never a drill's)."""

    id: int
    gate: str
    time: float
    status: str
    confirmed: bool
    open: bool
    person_id: str | None
    visitor_id: int | None
    case_id: int | None
    case_state: str | None
    outcome: str | None


def is_confirmed(row, threshold_c: float) -> bool:
    """The daily report's confirmed-fever rule, and a case decided sent home / clinic / ambulance."""
    if row["case_decision"] in CONFIRMING_DECISIONS:
        return True
    if row["status"] != ALARM_DISPOSED:
        return False
    if row["recheck_c"] is not None:
        return row["recheck_c"] >= threshold_c
    return row["outcome"] in (OBSERVATION_ROOM, SENT_HOME)


class DayData:
    """Everything one day's counts read, loaded once: the roster, screenings, alarms, manual readings,
    visitors and marked absences of ``[start, until)`` (``until``: the day's end, or now)."""

    def __init__(self, rs: ReportStore, day: dt.date, tz: dt.tzinfo, threshold_c: float,
                 until: float | None = None):
        from ..reports import day_bounds

        self.day, self.tz, self.threshold_c = day, tz, threshold_c
        self.start, self.end = day_bounds(day, tz)
        self.until = self.end if until is None else min(until, self.end)
        self.roster = {r["id"]: r for r in rs.roster_rows()}
        self.screenings = rs.screening_rows(self.start, self.until)  # never a drill's
        self.alarms = [self._alarm(r) for r in rs.alarm_rows(self.start, self.until)]
        self.manual = rs.manual_readings(self.start, self.until)
        self.visitors = rs.visitor_rows(self.start, self.until)
        self.absences = rs.absences(day=day.isoformat())

    def _alarm(self, r) -> AlarmInfo:
        confirmed = is_confirmed(r, self.threshold_c)
        return AlarmInfo(id=r["id"], gate=r["gate"], time=r["time"], status=r["status"], confirmed=confirmed,
                         open=r["status"] != ALARM_DISPOSED and not confirmed, person_id=r["person_id"],
                         visitor_id=r["visitor_id"], case_id=r["case_id"], case_state=r["case_state"],
                         outcome=r["outcome"])

    def category_of(self, person_id: str | None, visitor_id: int | None) -> tuple[str, str]:
        if person_id is not None and person_id in self.roster:
            p = self.roster[person_id]
            return (STUDENT, p["class_name"]) if p["role"] == STUDENT else (STAFF, "")
        if visitor_id is not None:
            return VISITOR, ""
        return UNIDENTIFIED, ""

    def manual_fever(self, value_c: float) -> bool:
        return value_c >= self.threshold_c


def _expected(p, session: Session, end: float) -> bool:
    created = p["created_at"] if p["created_at"] is not None else 0.0
    on_roster = created < end and (bool(p["active"]) or (p["updated_at"] or 0.0) >= end)
    return on_roster and (session.who == "all" or bool(p["boarder"]))


def session_counts(data: DayData, session: Session) -> SessionCounts:
    """One session's rows (classes in order, then staff, visitors, unidentified, all) and absentee lists."""
    s0, s1 = session.bounds(data.day, data.tz)
    hi = min(s1, data.until)
    screened_people: set[str] = set()
    visitors_seen: set[int] = set()
    unidentified = 0
    for r in data.screenings:
        if r["decision"] not in (PASS, FEVER) or not (s0 <= r["time"] < hi) or not session.covers_gate(r["gate"]):
            continue
        if r["person_id"] is not None:
            screened_people.add(r["person_id"])
        elif r["visitor_id"] is not None:
            visitors_seen.add(r["visitor_id"])
        else:
            unidentified += 1
    manual_people = {m.person_id for m in data.manual
                     if m.person_id and s0 <= m.time < hi and (not m.gate or session.covers_gate(m.gate))}
    screened_people |= manual_people

    # group key -> figures
    groups: dict[tuple[str, str], dict] = {}

    def g(cat: str, grp: str) -> dict:
        return groups.setdefault((cat, grp), {"expected": 0, "screened": 0, "not_screened": 0, "manual": 0,
                                              "raised": 0, "confirmed": 0, "open": 0,
                                              **{f"absent_{k}": 0 for k in ("sick", "leave", "other", "unmarked")}})

    marks: dict[str, Absence] = {a.person_id: a for a in data.absences if a.session == session.name}
    absentees: dict[str, list[Absentee]] = {}
    for pid, p in data.roster.items():
        cat, grp = data.category_of(pid, None)
        expected = _expected(p, session, s1)
        if not expected and pid not in screened_people:
            continue
        row = g(cat, grp)
        if expected:
            row["expected"] += 1
        if pid in screened_people:
            row["screened"] += 1
            if pid in manual_people:
                row["manual"] += 1
        elif expected:
            row["not_screened"] += 1
            mark = marks.get(pid)
            key = {SICK: "absent_sick", LEAVE: "absent_leave", OTHER: "absent_other"}.get(
                mark.reason if mark else "", "absent_unmarked")
            row[key] += 1
            absentees.setdefault(p["class_name"] or CATEGORY_ZH[cat], []).append(Absentee(
                pid, p["name"], p["class_name"], p["role"], mark.reason if mark else None, mark.id if mark else None))
    vis = g(VISITOR, "")
    vis["expected"] = sum(1 for v in data.visitors if v["revoked_at"] is None and v["valid_from"] < s1
                          and v["valid_until"] > s0)
    vis["screened"] = len(visitors_seen)
    vis["not_screened"] = max(0, vis["expected"] - len(visitors_seen))
    g(UNIDENTIFIED, "")["screened"] = unidentified

    for a in data.alarms:
        if not (s0 <= a.time < hi) or not session.covers_gate(a.gate):
            continue
        row = g(*data.category_of(a.person_id, a.visitor_id))
        row["raised"] += 1
        row["confirmed"] += a.confirmed
        row["open"] += a.open
    for m in data.manual:
        if m.person_id and s0 <= m.time < hi and (not m.gate or session.covers_gate(m.gate)) \
                and data.manual_fever(m.value_c):
            row = g(*data.category_of(m.person_id, None))
            row["raised"] += 1
            row["confirmed"] += 1

    order = {STUDENT: 0, STAFF: 1, VISITOR: 2, UNIDENTIFIED: 3}
    rows = [_row(session.name, cat, grp, v) for (cat, grp), v in sorted(groups.items(),
                                                                        key=lambda kv: (order[kv[0][0]], kv[0][1]))]
    total = {k: sum(v[k] for v in groups.values()) for k in g(UNIDENTIFIED, "")}
    rows.append(_row(session.name, "all", "", total))
    return SessionCounts(session=session, start=s0, end=s1, rows=tuple(rows),
                         absentees={k: tuple(v) for k, v in sorted(absentees.items())})


def _row(session: str, cat: str, grp: str, v: dict) -> GroupCount:
    return GroupCount(session=session, category=cat, group=grp,
                      expected=None if cat == UNIDENTIFIED else v["expected"], screened=v["screened"],
                      not_screened=v["not_screened"], manual=v["manual"], fevers_raised=v["raised"],
                      fevers_confirmed=v["confirmed"], fevers_open=v["open"], absent_sick=v["absent_sick"],
                      absent_leave=v["absent_leave"], absent_other=v["absent_other"],
                      absent_unmarked=v["absent_unmarked"])


def day_counts(rs: ReportStore, config: ReportConfig, day: dt.date, tz: dt.tzinfo, threshold_c: float,
               now: float | None = None) -> tuple[DayData, tuple[SessionCounts, ...]]:
    """Every configured session's counts for ``day`` (as things stand at ``now``)."""
    data = DayData(rs, day, tz, threshold_c, until=now)
    return data, tuple(session_counts(data, s) for s in config.sessions)


def absentees(rs: ReportStore, config: ReportConfig, day: dt.date, tz: dt.tzinfo, session_name: str,
              threshold_c: float, class_name: str | None = None, now: float | None = None) -> list[Absentee]:
    """The absentee list of one session (of one class when given): for the class teacher to mark."""
    session = next((s for s in config.sessions if s.name == session_name), None)
    if session is None:
        raise ValueError(f"no session {session_name!r} in [report.sessions] "
                         f"(have: {', '.join(s.name for s in config.sessions) or 'none'})")
    counts = session_counts(DayData(rs, day, tz, threshold_c, until=now), session)
    out = [a for lst in counts.absentees.values() for a in lst]
    return [a for a in out if class_name is None or a.class_name == class_name]


__all__ = ["ABSENCE_REASONS", "Absentee", "AlarmInfo", "CATEGORIES", "DayData", "GroupCount", "SessionCounts",
           "absentees", "day_counts", "session_counts"]
