"""A simulated school day in the store, for the reporting tests and the docs' sample page.

Two classes and two staff on the roster; the morning session (晨检, 06:30-09:00 at north-1) and the noon
session (午检, 12:30-14:30, every gate); one fever (S2, sent home, confirmed by a 38.2 re-check), two
absences (S3 sick, S6 on leave), a manual reading for T2, an unidentified passer-by, a visitor at noon, and a
drill at east-1 whose fever must not count.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from controller.identity.people_store import PeopleStore
from controller.identity.records import Person, Visitor
from controller.reporting.config import from_table
from controller.reporting.report_store import ReportStore
from controller.store import Screening

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 2)
_uid = itertools.count(1)


def at(hhmm: str, day: dt.date = DAY) -> float:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=TZ).timestamp()


ROSTER = [
    ("S1", "张一", "student", "初一(1)班"), ("S2", "张二", "student", "初一(1)班"),
    ("S3", "张三", "student", "初一(1)班"), ("S4", "张四", "student", "初一(1)班"),
    ("S5", "李五", "student", "初一(2)班"), ("S6", "李六", "student", "初一(2)班"),
    ("S7", "李七", "student", "初一(2)班"),
    ("T1", "王老师", "staff", "数学组"), ("T2", "赵老师", "staff", "语文组"),
]


def toml_value(v) -> str:
    """One TOML value: a string (JSON's escapes are TOML's), a number, a bool or a list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def report_toml(report: dict, sessions: dict[str, dict], *, warnings: Iterable[dict] = (),
                recipients: Iterable[dict] = (), columns: dict | None = None, extra: str = "") -> str:
    """A [report] table as controller.toml has it: ``report``'s keys, a [report.sessions."NAME"] per session,
    a [[report.warning]] per rule, a [[report.recipient]] each, [report.columns]; ``extra`` after them."""
    def table(header: str, keys: dict) -> str:
        return header + "\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())

    parts = [table("[report]", report)]
    parts += [table(f'[report.sessions."{name}"]', keys) for name, keys in sessions.items()]
    parts += [table("[[report.warning]]", w) for w in warnings]
    parts += [table("[[report.recipient]]", r) for r in recipients]
    if columns:
        parts.append(table("[report.columns]", columns))
    return "\n" + "\n".join(parts) + extra + "\n"


def config_toml(drop: Path, webhook_url: str, *, extra: str = "") -> str:
    return report_toml(
        {"school": "示范中学", "school_code": "4401060001", "reporter": "li", "backup_reporter": "zhao",
         "deadline": "15:00", "dir": str(drop.parent / "archive"), "attempts": 2, "retry_s": 60},
        {"晨检": {"start": "06:30", "end": "09:00", "gates": ["north-1"]}, "午检": {"start": "12:30", "end": "14:30"}},
        warnings=[{"scope": "class", "what": "fevers_confirmed", "threshold": 1, "days": 1},
                  {"scope": "grade", "what": "sick_absences", "threshold": 2, "days": 3}],
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(drop)},
                    {"type": "webhook", "name": "bureau-api", "url": webhook_url}],
        columns={"expected": "应到人数", "screened": "实到人数"}, extra=extra)


def load_config(drop: Path, webhook_url: str, **kw):
    return from_table(tomllib.loads(config_toml(drop, webhook_url, **kw)), drop.parent)


def screen(store, gate: str, hhmm: str, decision: str, person: str | None = None, visitor: int | None = None,
           estimate: float = 36.5, day: dt.date = DAY, drill: bool = False) -> int:
    n = next(_uid)
    sid = store.record_screening(Screening(uid=f"t-{n}", gate=gate, time=at(hhmm, day), decision=decision,
                                           reason="ok" if decision == "PASS" else "fever", track=n,
                                           estimate_c=estimate, face_c=35.0, distance_m=0.5, reduced_accuracy=False,
                                           boot=1, sequence=n, drill=drill))
    if person or visitor:
        PeopleStore.beside(store).link_screening(sid, person_id=person, visitor_id=visitor)
    return sid


def roster(store) -> None:
    people = PeopleStore.beside(store)
    for pid, name, role, cls in ROSTER:
        people.put_person(Person(pid, name, role, cls, boarder=False, guardian_phone=""), at("18:00", DAY
                                                                                              - dt.timedelta(days=1)))
    store.add_user("li", "doctor", "pw-li-123456")
    store.add_user("zhao", "admin", "pw-zhao-123456")


def morning(store) -> int:
    """The morning session; the id of S2's fever alarm (disposed sent home with 38.2 at 07:30)."""
    rs = ReportStore.beside(store)
    for pid, hhmm in (("S1", "07:01"), ("S4", "07:03"), ("S5", "07:05"), ("S7", "07:06"), ("T1", "07:20")):
        screen(store, "north-1", hhmm, "PASS", pid)
    fever = screen(store, "north-1", "07:10", "FEVER", "S2", estimate=38.4)
    alarm = store.open_alarm(fever, "north-1", at("07:10"))
    screen(store, "north-1", "07:50", "PASS")  # nobody known: unidentified
    screen(store, "north-1", "07:55", "RETRY", "S3")  # a RETRY is not a screening
    screen(store, "south-1", "08:00", "PASS", "S6")  # not a 晨检 gate: does not count for 晨检
    rs.add_manual_reading("T2", 36.6, "guard-wu", at("07:40"), gate="north-1")
    store.dispose_alarm(alarm, recheck_c=38.2, outcome="sent_home", user="li", time=at("07:30"))
    return alarm


def absences(store) -> None:
    rs = ReportStore.beside(store)
    rs.mark_absence("S3", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-chen", at("09:10"), note="发热咳嗽")
    rs.mark_absence("S6", DAY.isoformat(), "晨检", "leave", "teacher-zhou", at("09:12"))


def noon(store) -> None:
    people = PeopleStore.beside(store)
    v = people.add_visitor(Visitor(pass_id="a1b2c3d4e5f60708", name="王芳", id_last4="123X", host="李老师",
                                   purpose="家长会", valid_from=at("12:00"), valid_until=at("14:00"), issued_by="guard",
                                   issued_at=at("11:50")))
    for pid, hhmm in (("S1", "12:40"), ("S4", "12:41"), ("S5", "12:42"), ("S6", "12:43"), ("S7", "12:44"),
                      ("T1", "12:50"), ("T2", "12:51")):
        screen(store, "south-1", hhmm, "PASS", pid)
    screen(store, "south-1", "12:55", "PASS", visitor=v.id)
    # A drill at east-1, 12:45-12:58: its fever (recorded drill, as the drill path does) counts nowhere.
    drill_start, drill_end = at("12:45"), at("12:58")
    with store._lock, store._db.transaction() as run:
        run("INSERT INTO gates (id, name, location, created_at) VALUES ('east-1', '', '', ?)", (drill_start,))
        run("INSERT INTO drills (started_by, gates, scenario, started_at, ended_at) VALUES ('li', ?, "
            "'heated_target', ?, ?)", ('["east-1"]', drill_start, drill_end))
    sid = screen(store, "east-1", "12:50", "FEVER", "S1", estimate=39.0, drill=True)
    store.open_alarm(sid, "east-1", at("12:50"))


def whole_day(store) -> None:
    roster(store)
    morning(store)
    absences(store)
    noon(store)
