"""Every record a drill makes carries drill = true, and no official figure counts it (store migration 7):
the per-gate daily report, the per-session counts, the warnings and their alarm-rate baseline. Rows from
before the migration, marked by the reason "drill" or by their case, are read as drills. SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import tomllib

from controller.cases.case_store import CaseStore
from controller.reporting.config import from_table
from controller.reporting.counts import day_counts
from controller.reporting.report_store import ReportStore
from controller.reporting.warning_rules import evaluate
from controller.reports import daily_report
from controller.store import open_store
from controller.store.backends import backend_for
from controller.store.migrations import LATEST_VERSION, MIGRATIONS
from controller.store.records import Screening
from controller.store.store import Store
from tests import reporting_day as sd
from tests.reporting_day import DAY, TZ, at

RATE_RULE = """
[[report.warning]]
scope = "school"
what = "alarm_rate"
factor = 2.0
min_alarms = 1
baseline_days = 3
"""


def _official(store, config) -> tuple:
    """Every official figure of DAY: the daily report, each session's rows, the warnings crossed."""
    report = dataclasses.asdict(daily_report(store, DAY, TZ, now=at("16:00")))
    report.pop("generated_at")
    rs = ReportStore.beside(store)
    _, sessions = day_counts(rs, config, DAY, TZ, 37.3, now=at("16:00"))
    rows = [(s.session.name, [dataclasses.asdict(r) for r in s.rows],
             {k: [a.person_id for a in v] for k, v in s.absentees.items()}) for s in sessions]
    crossings = [(c.rule.key, c.scope_key, c.count, c.threshold) for c in evaluate(rs, config, DAY, TZ, 37.3,
                                                                                   at("16:00"))]
    return report, rows, crossings


def _drill(store, gate: str, hhmm: str, day: dt.date, decision: str = "FEVER") -> None:
    """A drill's decision as the decision path records it: screening (drill), its alarm and a drill case."""
    sid = sd.screen(store, gate, hhmm, decision, "S4", estimate=39.0, day=day, drill=True)
    if decision == "FEVER":
        alarm = store.open_alarm(sid, gate, at(hhmm, day))
        assert store.alarm(alarm).drill
        CaseStore.beside(store).open_case_for_alarm(alarm, drill=True)


def test_a_drill_leaves_every_official_figure_unchanged(store, tmp_path):
    config = from_table(tomllib.loads(sd.config_toml(tmp_path / "drop", "http://127.0.0.1:9/x", extra=RATE_RULE)),
                        tmp_path)
    sd.whole_day(store)
    for back in (1, 2, 3):  # a baseline: the days before, one screening a day, no alarm
        sd.screen(store, "north-1", "07:00", "PASS", "S1", day=DAY - dt.timedelta(days=back))
    before = _official(store, config)
    assert before[0]["total"]["screened"] > 0 and before[1]

    # Drills today (both session gates, in each session) and on a baseline day; a drill's PASS too.
    CaseStore.beside(store).start_drill("ada", ["north-1", "south-1"], "heated_target",
                                        at=at("07:00", DAY - dt.timedelta(days=2)))
    _drill(store, "north-1", "07:12", DAY)
    _drill(store, "south-1", "12:46", DAY)
    _drill(store, "north-1", "07:15", DAY, decision="PASS")
    _drill(store, "north-1", "07:30", DAY - dt.timedelta(days=2))
    assert _official(store, config) == before

    # The same fever not from a drill changes them (so the comparison above can fail).
    sid = sd.screen(store, "north-1", "07:40", "FEVER", "S5", estimate=39.0)
    store.open_alarm(sid, "north-1", at("07:40"))
    after = _official(store, config)
    assert after[0]["total"]["fevers"] == before[0]["total"]["fevers"] + 1 and after != before


def test_rows_from_before_the_migration_are_read_as_drills(empty_store_url):
    """A version-6 database: a drill's screening marked by the reason "drill", and a heated-target drill's
    alarm marked only by its case. Migration 7 reads both as drills, leaves the rest, and keeps the users."""
    old = Store(backend_for(empty_store_url), migrations=MIGRATIONS[:6])
    old.add_user("doc", "doctor", "pw-doc-123456")

    def insert(uid: str, reason: str) -> int:
        def write(tx) -> int:
            tx.gate("north-1")
            return tx.one("INSERT INTO screenings (uid, gate, time, decision, reason, track, reduced_accuracy, "
                          "boot, sequence) VALUES (?, 'north-1', ?, 'FEVER', ?, 1, FALSE, 1, 1) RETURNING id",
                          (uid, at("07:00"), reason))["id"]
        return old._write(write)

    by_reason, by_case, live = insert("a", "drill"), insert("b", "fever"), insert("c", "fever")
    alarms = {}
    for sid in (by_reason, by_case, live):
        alarms[sid] = old._write(lambda tx, sid=sid: tx.one(
            "INSERT INTO alarms (screening_id, gate, time, status) VALUES (?, 'north-1', ?, 'open') RETURNING id",
            (sid, at("07:00")))["id"])
    old._write(lambda tx: tx.run(
        "INSERT INTO cases (alarm_id, gate, opened_at, state, drill) VALUES (?, 'north-1', ?, 'open', TRUE)",
        (alarms[by_case], at("07:00"))))
    old.close()

    with open_store(empty_store_url) as store:
        assert store.migrations_applied == list(range(7, LATEST_VERSION + 1))
        assert [store.screening(s).drill for s in (by_reason, by_case, live)] == [True, True, False]
        assert [store.alarm(alarms[s]).drill for s in (by_reason, by_case, live)] == [True, True, False]
        assert store.screening_counts(drills=False) == {"north-1": {"FEVER": 1}}
        assert [a.id for a in store.alarms(drills=False)] == [alarms[live]]
        assert [(u.name, u.role) for u in store.users()] == [("doc", "doctor")]
        assert store.verify_user("doc", "pw-doc-123456") is not None
        store.add_user("chen", "teacher", "pw-chen-123456")  # the new role is allowed
        assert {u.name: u.role for u in store.users()}["chen"] == "teacher"


def test_a_screening_record_round_trips_its_drill_flag(store):
    s = Screening(uid="d1", gate="north-1", time=at("07:00"), decision="PASS", reason="ok", track=1,
                  estimate_c=36.5, face_c=35.0, distance_m=0.5, reduced_accuracy=False, boot=1, sequence=1,
                  drill=True)
    sid = store.record_screening(s)
    assert store.screening(sid).drill and store.screenings()[0].drill
    assert store.screening_counts() == {"north-1": {"PASS": 1}} and store.screening_counts(drills=False) == {}
