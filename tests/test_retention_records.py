"""Retention of the fever cases, the notifications, the absences and the hand-held readings ([retention] cases,
notifications, absences, manual_readings), applied by the controller's hourly purge, on SQLite and PostgreSQL.
Never purged: a case not closed, a notification not delivered, a sick absence still followed."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from controller.cases.case_store import CaseStore
from controller.cases.steps import Acknowledged, Closed, Decision, Recheck
from controller.identity import retention
from controller.identity.people_store import PeopleStore
from controller.identity.records import Person
from controller.identity.retention import DAY_S, Retention
from controller.notify.delivery import Delivery, NotificationOutcome
from controller.notify.messages import Message
from controller.notify.outbox import StoreOutbox
from controller.reporting.report_store import ReportStore
from controller.service.purge import HourlyPurge
from controller.store import Screening, open_store

NOW = time.time()
OLD, RECENT = NOW - 400 * DAY_S, NOW - 10 * DAY_S


def _day(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat()


def _fever_case(store, uid: str, t: float) -> int:
    sid = store.record_screening(Screening(uid=uid, gate="north-1", time=t, decision="FEVER", reason="", track=1,
                                           estimate_c=38.2, face_c=36.0, distance_m=0.5, reduced_accuracy=False,
                                           boot=1, sequence=1))
    alarm = store.open_alarm(sid, "north-1", t)
    return CaseStore.beside(store).open_case_for_alarm(alarm).id


def _closed_case(store, uid: str, t: float) -> int:
    cases = CaseStore.beside(store)
    cid = _fever_case(store, uid, t)
    for i, step in enumerate((Acknowledged(), Recheck(n=1, time=t + 120, instrument="mercury", site="axillary",
                                                      value_c=36.6),
                              Decision(outcome="back_in"), Closed())):
        cases.add_step(cid, step, "doc", t + 60 * (i + 1))
    assert cases.case(cid).closed_at is not None
    return cid


def _message(outbox: StoreOutbox, key: str, t: float, outcome: bool | None) -> int:
    """A sent-home notice queued at ``t``: delivered (True), failed (False) or still pending (None)."""
    nid = outbox.add(Delivery(key=key, kind="sent_home", channel="wecom", recipients=("chen",),
                              message=Message("送回家", "李娜 初一(1)班", "", 0),
                              event={"kind": "sent_home", "key": key, "person": "李娜", "class_name": "初一(1)班"}),
                     t)
    if outcome is not None:
        outbox.record(nid, NotificationOutcome(key=key, channel="wecom", recipient="chen", sent_at=t + 5,
                                               ok=outcome, error="" if outcome else "HTTP 500", attempt=1,
                                               final=True, escalation=0))
    return nid


def _statuses(outbox: StoreOutbox) -> list[str]:
    return sorted(n["key"] for n in outbox.by_kind("sent_home"))


def test_the_new_kinds_in_the_retention_table():
    r = retention.from_table({})
    assert (r.cases, r.notifications, r.absences, r.manual_readings) == (1095, 90, 365, 0)
    assert retention.from_table({"cases": 30, "manual_readings": 730}).manual_readings == 730
    with pytest.raises(retention.RetentionError, match="0..36500"):
        retention.from_table({"notifications": -1})


def test_purge_of_cases_notifications_absences_and_readings(store_url):
    with open_store(store_url) as store:
        people, cases, outbox, rs = (PeopleStore.beside(store), CaseStore.beside(store), StoreOutbox.beside(store),
                                     ReportStore.beside(store))
        for pid in ("S1", "S2", "S3"):
            people.put_person(Person(pid, pid, "student", "初一(1)班", False, ""), OLD - DAY_S)
        # Cases: closed long ago (goes, with its steps), closed recently, and one open since long ago (stays).
        gone, recent, still_open = (_closed_case(store, "a", OLD), _closed_case(store, "b", RECENT),
                                    _fever_case(store, "c", OLD))
        # Notifications: delivered long ago (goes), delivered recently, failed and pending long ago (kept).
        _message(outbox, "case-1", OLD, True)
        _message(outbox, "case-2", RECENT, True)
        _message(outbox, "case-3", OLD, False)
        _message(outbox, "case-4", OLD, None)
        # Absences: an old leave (goes); an old sick absence followed up until recently (stays); a recent one.
        rs.mark_absence("S1", _day(OLD), "晨检", "leave", "chen", OLD)
        sick = rs.mark_absence("S2", _day(OLD), "晨检", "sick_with_symptoms", "chen", OLD)
        rs.follow_up(sick.id, _day(RECENT), "recovering", "chen", RECENT)
        rs.mark_absence("S3", _day(RECENT), "晨检", "leave", "chen", RECENT)
        # Hand-held readings: an old one and a recent one.
        rs.add_manual_reading("S1", 36.5, "guard", OLD)
        rs.add_manual_reading("S1", 36.7, "guard", RECENT)

        keep = Retention(cases=100, notifications=100, absences=100, manual_readings=0)
        done = retention.purge(people, keep, NOW, cases=cases, outbox=outbox, reports=rs)
        assert (done["cases"], done["notifications"], done["absences"]) == (1, 1, 1)
        assert "manual_readings" not in done  # 0: kept for ever
        assert cases.case(gone) is None and cases.case(recent) is not None and cases.case(still_open) is not None
        assert store._read("SELECT COUNT(*) AS n FROM case_steps WHERE case_id = ?", (gone,))[0]["n"] == 0
        assert _statuses(outbox) == ["case-2", "case-3", "case-4"]
        assert sorted(a.person_id for a in rs.absences()) == ["S2", "S3"]
        assert [f.status for f in rs.followups(sick.id)][-1] == "recovering"
        assert len(rs.manual_readings()) == 2

        # The controller's hourly purge applies [retention] the same way; a second run finds nothing more.
        class Config:
            retention_days = 30
            retention = Retention(cases=5, notifications=5, absences=5, manual_readings=100)

        HourlyPurge(store).tick(Config, NOW)
        assert cases.case(recent) is None and cases.case(still_open) is not None  # open: never
        assert _statuses(outbox) == ["case-3", "case-4"]  # failed and pending: never
        assert rs.absences() == []  # the sick one too, once its last follow-up is older than that
        assert [m.value_c for m in rs.manual_readings()] == [36.7]
        again = retention.purge(people, Config.retention, NOW, cases=cases, outbox=outbox, reports=rs)
        assert [again[k] for k in ("cases", "notifications", "absences", "manual_readings")] == [0, 0, 0, 0]
