"""The console's Reports API (controller/console/report_part.py and its four parts) against a real controller
service (real store, real mosquitto, its own report scheduler running), with the roster imported through the
console and the report delivered to a file drop and a local webhook receiver: who may do what, refused input, the class
teacher's marks and a sick absence's follow-up, hand-held readings counted as screened, today's report
pending while an alarm is open, sent by the reporter under their name with its receipts, and its files
served only as stored (PDF, CSV, JSON checked against their SHA-256)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

import pytest

from controller.reporting.report_store import ReportStore
from controller.reporting.warning_rules import raise_warnings, rules_in_force
from tests.controller_harness import midday_zone, write_config
from tests.notify_receivers import HttpReceiver
from tests.reporting_day import report_toml
from tests.test_console_api import PASSWORD, Rig, fever_alarm

TZ = midday_zone()  # the school's [site] timezone: it is about noon there, hours from either midnight
CODE = "4401060001"
ROSTER = """id,name,role,class,boarder,guardian_phone,credentials,active
S2026001,张伟,student,初一(1)班,no,138 0013 8000,S2026001,yes
S2026002,李娜,student,初一(1)班,no,,S2026002,yes
S2026003,王强,student,初一(2)班,no,,S2026003,yes
S2026004,赵敏,student,初一(2)班,no,,S2026004,yes
T0001,王老师,staff,数学组,no,,T0001,yes
"""
USERS = (("ada", "admin"), ("gus", "guard"), ("doc", "doctor"), ("li", "doctor"), ("zhao", "guard"),
         ("ma", "guard"))


def school_clock() -> tuple[str, str]:
    """(the morning session's end, the deadline) as HH:MM for a run starting now, in the school's time: a
    session from 00:00 that ended a minute ago, and a deadline 65 minutes ahead. The school's day is placed
    in a zone where it is now about noon (TZ), so both fit in today whatever the wall clock says: no wait."""
    now = dt.datetime.now(TZ)
    assert dt.time(11) <= now.time() <= dt.time(22, 50), f"the school's time {now} is not around noon"
    end = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    deadline = (now + dt.timedelta(minutes=65)).strftime("%H:%M")
    return end, deadline


def report_table(tmp_path, webhook_url: str) -> str:
    """A [report] whose 晨检 ended a minute ago and whose 午检 runs until 23:59; the deadline is ahead, so the
    controller's scheduler builds and sends nothing by itself during the test."""
    end, deadline = school_clock()
    h, m = map(int, end.split(":"))
    noon_start = (dt.datetime(2000, 1, 1, h, m) + dt.timedelta(minutes=1)).strftime("%H:%M")
    return report_toml(
        {"school": "示范中学", "school_code": CODE, "reporter": "li", "backup_reporter": "zhao", "deadline": deadline,
         "build_before_min": 1, "dir": str(tmp_path / "reports"), "attempts": 1},
        {"晨检": {"start": "00:00", "end": end}, "午检": {"start": noon_start, "end": "23:59"}},
        warnings=[{"scope": "class", "what": "sick_absences", "threshold": 1, "days": 1},
                  {"scope": "school", "what": "alarm_rate", "factor": 2.0, "min_alarms": 3}],
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(tmp_path / "drop")},
                    {"type": "webhook", "name": "bureau-api", "url": webhook_url}])


class SchoolRig(Rig):
    """The console rig with [report] in its controller.toml."""

    def __init__(self, tmp_path, broker, extra: str):
        super().__init__(tmp_path, broker)
        self.config_path = write_config(tmp_path, broker, ["sim-1", "sim-2"], extra=extra, timezone=TZ.key)


@pytest.fixture
def receiver():
    r = HttpReceiver("ok", answer={"errcode": 0, "errmsg": "received", "ticket": "JYJ-0001"})
    yield r
    r.close()


@pytest.fixture
def school(tmp_path, mqtt_broker, receiver):
    rig = SchoolRig(tmp_path, mqtt_broker, report_table(tmp_path, receiver.url))
    seed_roster(tmp_path / "thermogate.db")
    svc = rig.start()
    for name, role in USERS:
        svc.store.add_user(name, role, PASSWORD)
    yield rig
    rig.stop()


def seed_roster(db) -> None:
    """The roster as it stood since midnight (the school's roster was there before the morning check; a roster
    imported after a session counts from the next one, docs/reports.md)."""
    from controller.identity.people_store import PeopleStore
    from controller.identity.roster_import import import_roster
    from controller.store import open_store

    midnight = dt.datetime.combine(dt.datetime.now(TZ).date(), dt.time(), TZ).timestamp()
    with open_store(str(db)) as store:
        report = import_roster(PeopleStore.beside(store), ROSTER.encode(), midnight)
        assert report.count("added") == 5, report.summary()


def today() -> str:
    return dt.datetime.now(TZ).date().isoformat()


def named_fever(rig, person: str) -> int:
    """A FEVER screening and its alarm as the controller writes them, the screening named by a QR read."""
    from controller.identity.people_store import PeopleStore

    sid, aid = fever_alarm(rig.service.store)
    PeopleStore.beside(rig.service.store).link_screening(sid, person_id=person)
    return aid


def test_who_may_do_what(school):
    guard, doctor, admin = school.client("gus"), school.client("doc"), school.client("ada")
    reporter, backup, other = school.client("li"), school.client("zhao"), school.client("ma")
    day = today()
    # Every role sees the reports, today's status, the warnings and the rules.
    for c in (guard, doctor, admin):
        for path in ("/api/reports", "/api/reports/status", "/api/reports/warnings"):
            assert c.get(path).status_code == 200, (path, c)
        assert c.get("/reports").status_code == 200
    # The absentee lists with names, the marks and the follow-ups: doctors (the class teacher's account) and admins.
    r = guard.get("/api/absences", params={"session": "晨检"})
    assert r.status_code == 403 and r.json()["error"] == "err_forbidden"
    mark = {"person_id": "S2026002", "date": day, "session": "晨检", "reason": "leave"}
    assert guard.post("/api/absences", json=mark).status_code == 403
    assert guard.post("/api/absences/1/followup", json={"status": "back"}).status_code == 403
    assert doctor.get("/api/absences", params={"session": "晨检"}).status_code == 200
    # Hand-held readings: guards, doctors, admins.
    for c in (guard, doctor, admin):
        assert c.get("/api/manual_readings").status_code == 200
    # Sending and building: the reporter and the backup named in [report] (any role), and admins; by name.
    assert guard.get("/api/reports").json()["can_send"] is False
    assert other.get("/api/reports").json()["can_send"] is False
    assert backup.get("/api/reports").json()["can_send"] is True  # a guard, but the backup reporter
    assert reporter.get("/api/reports/status").json()["can_send"] is True
    for c in (guard, doctor, other):
        for action in ("send", "build"):
            r = c.post(f"/api/reports/{day}/{action}", json={})
            assert r.status_code == 403 and r.json()["error"] == "err_forbidden", (action, r.text)
    assert ReportStore.beside(school.service.store).report(CODE, day) is None  # nothing refused was done
    assert admin.post(f"/api/reports/{day}/build", json={}).status_code == 200
    # CSRF on every new POST.
    bare = school.client("ada")
    bare.headers.pop("X-CSRF-Token")
    for path, body in (("/api/absences", mark), (f"/api/reports/{day}/send", {}), (f"/api/reports/{day}/build", {}),
                       ("/api/manual_readings", {"person_id": "S2026001", "value_c": 36.5}),
                       ("/api/absences/1/followup", {"status": "back"})):
        r = bare.post(path, json=body)
        assert r.status_code == 403 and r.json()["error"] == "err_csrf", path
    # Nothing refused reached the store.
    rs = ReportStore.beside(school.service.store)
    assert rs.absences() == [] and rs.manual_readings() == [] and rs.receipts(CODE, day) == []


def test_refused_input_gets_a_4xx_and_changes_nothing(school):
    doctor, guard, reporter = school.client("doc"), school.client("gus"), school.client("li")
    day = today()
    rs = ReportStore.beside(school.service.store)
    assert guard.post("/api/manual_readings", json={"person_id": "S2026001", "value_c": 36.6,
                                                    "at": "00:01"}).status_code == 201
    bad_marks = [
        ({"person_id": "S2026002", "session": "晨检", "reason": "ill"}, 400, "err_absence_reason"),
        ({"person_id": "S2026002", "session": "晨检"}, 400, "err_absence_reason"),
        ({"person_id": "S2026002", "session": "晨检", "reason": "other"}, 400, "err_absence_note"),
        ({"person_id": "S2026002", "session": "早操", "reason": "leave"}, 400, "err_invalid"),
        ({"person_id": "S2026002", "reason": "leave"}, 400, "err_invalid"),
        ({"session": "晨检", "reason": "leave"}, 400, "err_invalid"),
        ({"person_id": "S2026002", "session": "晨检", "reason": "leave", "date": "03/02/2026"}, 400, "err_invalid"),
        ({"person_id": "S2026002", "session": "晨检", "reason": "leave", "date": 20260302}, 400, "err_invalid"),
        ({"person_id": "S2026002", "session": "晨检", "reason": "leave", "note": "x" * 501}, 400, "err_invalid"),
        # screened by hand in 晨检: not on its absentee list
        ({"person_id": "S2026001", "session": "晨检", "reason": "leave"}, 409, "err_not_absent"),
        ({"person_id": "NOBODY", "session": "晨检", "reason": "leave"}, 409, "err_not_absent"),
        # 午检 runs until 23:59: its list is made when it ends
        ({"person_id": "S2026002", "session": "午检", "reason": "leave"}, 409, "err_session_open"),
    ]
    for body, status, key in bad_marks:
        r = doctor.post("/api/absences", json=body)
        assert (r.status_code, r.json()["error"]) == (status, key), (body, r.text)
    r = doctor.post("/api/absences", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "err_invalid"
    r = doctor.post("/api/absences", content=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert doctor.get("/api/absences", params={"date": "2026-13-01"}).status_code == 400
    assert doctor.get("/api/absences", params={"session": "早操"}).status_code == 400
    assert rs.absences() == []
    # Follow-ups: a number, a known status, a sick absence that exists.
    leave = doctor.post("/api/absences", json={"person_id": "S2026003", "session": "晨检", "reason": "leave"}).json()
    for path, body, status in (("/api/absences/abc/followup", {"status": "back"}, 400),
                               ("/api/absences/999/followup", {"status": "back"}, 404),
                               (f"/api/absences/{leave['absence_id']}/followup", {"status": "back"}, 400),
                               (f"/api/absences/{leave['absence_id']}/followup", {"status": "fine"}, 400)):
        r = doctor.post(path, json=body)
        assert r.status_code == status, (path, body, r.text)
    assert rs.followups(leave["absence_id"]) == []
    # Hand-held readings: a person on the roster, 30-45 degC, a known gate, not in the future.
    before = len(rs.manual_readings())
    for body, status in (({"person_id": "S2026002", "value_c": 50}, 400),
                         ({"person_id": "S2026002", "value_c": "hot"}, 400),
                         ({"person_id": "S2026002", "value_c": True}, 400), ({"person_id": "S2026002"}, 400),
                         ({"value_c": 36.5}, 400), ({"person_id": "NOBODY", "value_c": 36.5}, 404),
                         ({"person_id": "S2026002", "value_c": 36.5, "gate": "gate-9"}, 400),
                         ({"person_id": "S2026002", "value_c": 36.5, "at": "2999-01-01T08:00"}, 400),
                         ({"person_id": "S2026002", "value_c": 36.5, "at": "half past seven"}, 400)):
        r = guard.post("/api/manual_readings", json=body)
        assert r.status_code == status, (body, r.text)
    assert len(rs.manual_readings()) == before
    # Report files: only the names the stored report lists.
    assert reporter.get(f"/api/reports/{day}/files/{CODE}-{day}.pdf").status_code == 404  # not built yet
    assert reporter.post(f"/api/reports/{day}/build", json={}).status_code == 200
    for name in ("..%2Fcontroller.toml", "x.pdf", f"{CODE}-{day}.pdf.tmp"):
        assert reporter.get(f"/api/reports/{day}/files/{name}").status_code == 404, name
    assert reporter.post("/api/reports/2026-02-30/send", json={}).status_code == 400
    assert reporter.post(f"/api/reports/{day}/send", content=b"nope",
                         headers={"Content-Type": "application/json"}).status_code == 400
    assert rs.receipts(CODE, day) == []


def test_a_school_day_from_the_absences_to_the_receipt(school, receiver):
    guard, doctor, reporter = school.client("gus"), school.client("doc"), school.client("li")
    day = today()
    rs = ReportStore.beside(school.service.store)

    # The guard enters a hand-held reading for a pupil the gate could not screen: counted as screened, manual.
    r = guard.post("/api/manual_readings", json={"person_id": "S2026001", "value_c": 36.6, "gate": "sim-1",
                                                 "note": "门口测温枪", "at": "00:01"})
    assert r.status_code == 201, r.text
    assert r.json()["manual"] is True and r.json()["fever"] is False and r.json()["by"] == "gus"
    [m] = guard.get("/api/manual_readings").json()["readings"]
    assert (m["person_id"], m["name"], m["value_c"], m["by"], m["manual"]) == ("S2026001", "张伟", 36.6, "gus", True)

    # The class teacher's view of 晨检, which is over: everyone on the roster but the pupil read by hand.
    view = doctor.get("/api/absences", params={"session": "晨检"}).json()
    assert [s["name"] for s in view["sessions"]] == ["晨检", "午检"]
    assert [s["ended"] for s in view["sessions"]] == [True, False]
    assert view["classes"] == ["初一(1)班", "初一(2)班", "数学组"]
    assert {a["person_id"] for a in view["absentees"]} == {"S2026002", "S2026003", "S2026004", "T0001"}
    assert all(a["reason"] is None for a in view["absentees"])
    one = doctor.get("/api/absences", params={"session": "晨检", "class": "初一(1)班"}).json()["absentees"]
    assert [(a["person_id"], a["name"]) for a in one] == [("S2026002", "李娜")]
    # 午检 is not over: no list yet ("not screened" would only mean "not yet").
    noon = doctor.get("/api/absences", params={"session": "午检"}).json()
    assert noon["session"] == {"name": "午检", "ended": False} and noon["absentees"] == []

    # Marks: sick with symptoms (starts the follow-up), leave, other with its note; marking again changes it.
    sick = doctor.post("/api/absences", json={"person_id": "S2026002", "session": "晨检",
                                              "reason": "sick_with_symptoms", "note": "发热咳嗽"})
    assert sick.status_code == 200, sick.text
    sick = sick.json()
    assert sick["marked_by"] == "doc" and [f["status"] for f in sick["followups"]] == ["still_sick"]
    assert doctor.post("/api/absences", json={"person_id": "S2026003", "session": "晨检", "reason": "other",
                                              "note": "外出比赛"}).status_code == 200
    assert doctor.post("/api/absences", json={"person_id": "S2026004", "session": "晨检", "reason": "other",
                                              "note": "未知"}).status_code == 200
    assert doctor.post("/api/absences", json={"person_id": "S2026004", "session": "晨检",
                                              "reason": "leave"}).status_code == 200
    marks = {a["person_id"]: a for a in doctor.get("/api/absences", params={"session": "晨检"}).json()["absentees"]}
    assert (marks["S2026002"]["reason"], marks["S2026003"]["reason"], marks["S2026004"]["reason"],
            marks["T0001"]["reason"]) == ("sick_with_symptoms", "other", "leave", None)
    assert marks["S2026003"]["note"] == "外出比赛" and marks["S2026002"]["followups"][0]["status"] == "still_sick"
    # The daily follow-up: today's record is there (the mark's), and the next one replaces it.
    [fu] = doctor.get("/api/absences").json()["followups"]
    assert (fu["absence_id"], fu["name"], fu["due"]) == (sick["absence_id"], "李娜", False)
    r = doctor.post(f"/api/absences/{sick['absence_id']}/followup", json={"status": "recovering", "note": "退烧"})
    assert r.status_code == 200 and r.json()["by"] == "doc"
    [fu] = doctor.get("/api/absences").json()["followups"]
    assert [(f["status"], f["note"]) for f in fu["followups"]] == [("recovering", "退烧")]
    # Tomorrow, the call is due again.
    tomorrow = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    [fu] = doctor.get("/api/absences", params={"date": tomorrow}).json()["followups"]
    assert fu["due"] is True
    # The person's file shows the same absence with its follow-up.
    f = doctor.post("/api/people/S2026002/file", json={"reason_kind": "routine"}).json()
    assert [(a["reason"], [x["status"] for x in a["followups"]]) for a in f["absences"]] == \
        [("sick_with_symptoms", ["recovering"])]

    # A sick absence crosses the class rule: the warning and its urgent-report draft are listed, with the rules.
    svc = school.service
    reporter_obj = svc.reports.reporter
    raise_warnings(rs, reporter_obj.config, dt.date.fromisoformat(day), TZ, reporter_obj.threshold_c, time.time(),
                   None)
    w = guard.get("/api/reports/warnings").json()
    assert [r["key"] for r in w["rules"]] == ["class:sick_absences>=1/1d", "school:alarm_rate>=2x7d,min3"]
    [warning] = w["warnings"]
    assert (warning["scope_key"], warning["count"]) == ("初一(1)班", 1)
    assert warning["draft"]["title"] == "疫情快报（草稿）" and "示范中学" in warning["draft"]["text"]

    # An open alarm: today's report is pending, never a zero report, and the reporter can see why.
    aid = named_fever(school, "T0001")
    status = reporter.get("/api/reports/status").json()
    assert status["verdict"]["code"] == "pending" and status["open_alarms"] == 1
    assert status["built"] is False and status["past_deadline"] is False and status["can_send"] is True
    assert status["signer"] == "zhao" and status["confirmed"] is False  # not confirmed yet: the backup's name
    morning = next(s for s in status["sessions_today"] if s["session"] == "晨检")
    assert (morning["expected"], morning["screened"], morning["manual"], morning["not_screened"]) == (5, 1, 1, 4)
    assert (morning["absent_sick"], morning["absent_leave"], morning["absent_other"],
            morning["absent_unmarked"]) == (1, 1, 1, 1)

    # The doctor disposes of it (a false alarm); the reporter sends now: it goes out under their name.
    r = doctor.post(f"/api/alarms/{aid}/dispose", json={"outcome": "false_alarm", "recheck_c": 36.8, "note": ""})
    assert r.status_code == 200, r.text
    assert reporter.get("/api/reports/status").json()["verdict"]["code"] == "zero"
    r = reporter.post(f"/api/reports/{day}/send", json={})
    assert r.status_code == 200, r.text
    sent = r.json()["report"]
    assert (sent["status"], sent["verdict"], sent["signed_by"], sent["confirmed_by"]) == ("sent", "zero", "li", "li")
    assert len(r.json()["sent"]) == 2
    body = receiver.wait_for(1, 10)[0].json()
    assert body["verdict_code"] == "zero" and body["reporter"] == "li" and body["confirmed"] is True

    # The Reports page's list: the report with its receipts (recipient, time, outcome, the files' hashes).
    listed = guard.get("/api/reports").json()
    assert listed["configured"] and listed["school_code"] == CODE and listed["reporter"] == "li"
    [rep] = listed["reports"]
    assert rep["day"] == day and rep["verdict"] == "zero"
    receipts = {x["recipient"]: x for x in rep["receipts"]}
    assert set(receipts) == {"bureau-drop", "bureau-api"}
    assert all(x["ok"] and x["sent_by"] == "li" and x["at_local"].startswith(day) for x in receipts.values())
    assert receipts["bureau-api"]["kind"] == "webhook" and "JYJ-0001" in receipts["bureau-api"]["detail"]
    names = {f["name"] for f in rep["files"]}
    assert names == {f"{CODE}-{day}.pdf", f"{CODE}-{day}.csv", f"{CODE}-{day}.json"}
    assert receipts["bureau-drop"]["files"] == {f["name"]: f["sha256"] for f in rep["files"]}

    # The files, as stored: a PDF, the CSV with a byte-order mark, the JSON with the verdict.
    for f in rep["files"]:
        r = guard.get(f["url"])
        assert r.status_code == 200, f
        assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
        assert f["name"] in r.headers["content-disposition"]
    pdf = guard.get(f"/api/reports/{day}/files/{CODE}-{day}.pdf")
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    assert guard.get(f"/api/reports/{day}/files/{CODE}-{day}.csv").content.startswith(b"\xef\xbb\xbf")
    assert json.loads(guard.get(f"/api/reports/{day}/files/{CODE}-{day}.json").content)["verdict"]["code"] == "zero"
    # A file changed on disk after it was sent is refused, not served as the report.
    path = reporter_obj.out_dir(dt.date.fromisoformat(day)) / f"{CODE}-{day}.csv"
    path.write_bytes(path.read_bytes() + b"tampered\r\n")
    r = guard.get(f"/api/reports/{day}/files/{CODE}-{day}.csv")
    assert r.status_code == 409 and r.json()["error"] == "err_report_file_changed"

    # Everything is in the audit trail under the console user who did it.
    actions = [(e.user, e.action) for e in svc.store.audit()]
    for entry in (("gus", "manual_reading"), ("doc", "absence_marked"), ("doc", "absence_followup"),
                  ("li", "report_sent")):
        assert entry in actions, entry


def _teacher(rig, name: str = "chen"):
    """A class teacher's client (their login lands on the Reports page)."""
    rig.service.store.add_user(name, "teacher", PASSWORD)
    rig.service.store.set_user_classes(name, ["初一(1)班"])
    c = rig.client()
    r = c.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/reports", r.text
    c.headers["X-CSRF-Token"] = c.get("/api/me").json()["csrf"]
    return c


def test_warning_rules_in_the_console(school):
    """The console's warning rules: who may change them (admins, the reporter and the backup, as for sending),
    CSRF, each refusal with nothing stored, add, change, disable, enable, delete, each audited; controller.toml's
    rules listed read-only beside them; the scheduler's rules in force follow the store at once."""
    admin, reporter, backup = school.client("ada"), school.client("li"), school.client("zhao")
    guard, doctor, other = school.client("gus"), school.client("doc"), school.client("ma")
    teacher = _teacher(school)
    svc = school.service
    rs = ReportStore.beside(svc.store)
    r_obj = svc.reports.reporter
    good = {"scope": "school", "what": "sick_absences", "threshold": 2, "days": 1}

    # Everyone with view lists the rules; controller.toml's come first, read-only, marked as such.
    listed = guard.get("/api/reports/warnings").json()
    assert [(x["key"], x["source"], x["id"], x["enabled"], x["in_force"]) for x in listed["rules"]] == [
        ("class:sick_absences>=1/1d", "toml", None, True, True), ("school:alarm_rate>=2x7d,min3", "toml", None, True,
                                                                 True)]
    assert listed["can_edit_rules"] is False
    for c, can in ((guard, False), (doctor, False), (other, False), (admin, True), (reporter, True), (backup, True)):
        assert c.get("/api/reports/warnings").json()["can_edit_rules"] is can
    assert teacher.get("/api/reports/warnings").status_code == 403

    # Refused: a role or a name that does not manage the report, a missing CSRF token.
    for c in (guard, doctor, other, teacher):
        for path, body in (("/api/reports/rules", good), ("/api/reports/rules/1", good),
                           ("/api/reports/rules/1/enabled", {"enabled": False}), ("/api/reports/rules/1/delete", {})):
            r = c.post(path, json=body)
            assert r.status_code == 403 and r.json()["error"] == "err_forbidden", (path, r.text)
    bare = school.client("ada")
    bare.headers.pop("X-CSRF-Token")
    for path in ("/api/reports/rules", "/api/reports/rules/1", "/api/reports/rules/1/enabled",
                 "/api/reports/rules/1/delete"):
        r = bare.post(path, json=good)
        assert r.status_code == 403 and r.json()["error"] == "err_csrf", path
    # Refused values, in the words of controller.toml's loader; a twin of a toml rule.
    bad = [
        ({**good, "threshold": 0}, 400, "err_warning_rule", "rule.threshold = 0.0: must be 1..100000"),
        ({**good, "threshold": "2"}, 400, "err_warning_rule", "rule.threshold must be int or float, got '2'"),
        ({**good, "threshold": None}, 400, "err_warning_rule", "rule.threshold must be int or float"),
        ({**good, "days": 0}, 400, "err_warning_rule", "rule.days = 0: must be 1..60"),
        ({**good, "scope": "district"}, 400, "err_warning_rule", "rule.scope = 'district': must be class, grade"),
        ({**good, "what": "coughs"}, 400, "err_warning_rule", "rule.what = 'coughs'"),
        ({"scope": "class", "what": "alarm_rate"}, 400, "err_warning_rule", "alarm_rate is a school-level rule"),
        ({"what": "sick_absences"}, 400, "err_warning_rule", "scope and what are required"),
        ({**good, "colour": "red"}, 400, "err_warning_rule", "unknown key(s) in [rule]: colour"),
        ({**good, "enabled": "yes"}, 400, "err_invalid", "enabled must be true or false"),
        ({"scope": "class", "what": "sick_absences", "threshold": 1, "days": 1}, 409, "err_rule_exists",
         "controller.toml already has the rule class:sick_absences>=1/1d"),
    ]
    for body, status, key, detail in bad:
        r = admin.post("/api/reports/rules", json=body)
        assert (r.status_code, r.json()["error"]) == (status, key), (body, r.text)
        assert detail in r.json()["detail"], (body, r.text)
    r = admin.post("/api/reports/rules", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "err_invalid"
    assert rs.warning_rules() == []

    # Added by an admin: listed as the console's, in force for the scheduler at once.
    r = admin.post("/api/reports/rules", json=good)
    assert r.status_code == 201, r.text
    one = r.json()["rule"]
    assert (one["source"], one["spec"], one["enabled"], one["in_force"], one["created_by"]) == (
        "console", "school:sick_absences>=2/1d", True, True, "ada")
    assert one["key"] == f"console:{one['id']}"
    assert one["key"] in [w.key for w in rules_in_force(rs, r_obj.config)]
    # The reporter adds a second; the same again is a twin of it.
    two = reporter.post("/api/reports/rules", json={"scope": "grade", "what": "fevers_confirmed", "threshold": 2,
                                                    "days": 3}).json()["rule"]
    assert two["created_by"] == "li"
    r = admin.post("/api/reports/rules", json={"scope": "grade", "what": "fevers_confirmed", "threshold": 2,
                                               "days": 3})
    assert (r.status_code, r.json()["error"]) == (409, "err_rule_exists")
    listed = guard.get("/api/reports/warnings").json()["rules"]
    assert [x["key"] for x in listed] == ["class:sick_absences>=1/1d", "school:alarm_rate>=2x7d,min3", one["key"],
                                          two["key"]]

    # Changed by the backup reporter: the same number and key, what it counts now; a refused change leaves it.
    r = backup.post(f"/api/reports/rules/{one['id']}", json={**good, "threshold": 3})
    assert r.status_code == 200, r.text
    changed = r.json()["rule"]
    assert (changed["key"], changed["spec"], changed["updated_by"], changed["created_by"]) == (
        one["key"], "school:sick_absences>=3/1d", "zhao", "ada")
    r = backup.post(f"/api/reports/rules/{one['id']}", json={**good, "scope": "class", "what": "alarm_rate"})
    assert (r.status_code, r.json()["error"]) == (400, "err_warning_rule")
    r = admin.post(f"/api/reports/rules/{one['id']}", json={"scope": "grade", "what": "fevers_confirmed",
                                                           "threshold": 2, "days": 3})
    assert (r.status_code, r.json()["error"]) == (409, "err_rule_exists")
    for path, status in (("/api/reports/rules/abc", 400), ("/api/reports/rules/99999", 404)):
        assert admin.post(path, json=good).status_code == status, path
    assert rs.warning_rule(one["id"]).rule.spec == "school:sick_absences>=3/1d"

    # Disabled and enabled again.
    r = admin.post(f"/api/reports/rules/{one['id']}/enabled", json={"enabled": False})
    assert r.status_code == 200 and (r.json()["rule"]["enabled"], r.json()["rule"]["in_force"]) == (False, False)
    assert one["key"] not in [w.key for w in rules_in_force(rs, r_obj.config)]
    assert admin.post(f"/api/reports/rules/{one['id']}/enabled", json={"enabled": "no"}).status_code == 400
    assert admin.post("/api/reports/rules/99999/enabled", json={"enabled": True}).status_code == 404
    r = admin.post(f"/api/reports/rules/{one['id']}/enabled", json={"enabled": True})
    assert r.json()["rule"]["enabled"] is True and one["key"] in [w.key for w in rules_in_force(rs, r_obj.config)]

    # Deleted by the reporter; a second time is a 404.
    r = reporter.post(f"/api/reports/rules/{two['id']}/delete", json={})
    assert r.status_code == 200 and r.json() == {"deleted": two["key"]}
    assert reporter.post(f"/api/reports/rules/{two['id']}/delete", json={}).status_code == 404
    assert [c.id for c in rs.warning_rules()] == [one["id"]]

    # The audit trail: who, when, what.
    trail = [(e.user, e.action, e.detail) for e in svc.store.audit() if e.action.startswith("warning_rule_")]
    assert trail == [
        ("ada", "warning_rule_added", {"rule": one["key"], "spec": "school:sick_absences>=2/1d", "enabled": True}),
        ("li", "warning_rule_added", {"rule": two["key"], "spec": "grade:fevers_confirmed>=2/3d", "enabled": True}),
        ("zhao", "warning_rule_changed", {"rule": one["key"], "before": "school:sick_absences>=2/1d",
                                          "after": "school:sick_absences>=3/1d"}),
        ("ada", "warning_rule_disabled", {"rule": one["key"], "spec": "school:sick_absences>=3/1d"}),
        ("ada", "warning_rule_enabled", {"rule": one["key"], "spec": "school:sick_absences>=3/1d"}),
        ("li", "warning_rule_deleted", {"rule": two["key"], "spec": "grade:fevers_confirmed>=2/3d",
                                        "enabled": True})]
    assert all(e.time > 0 for e in svc.store.audit() if e.action.startswith("warning_rule_"))


def test_an_earlier_days_status(school):
    """The status of any day, not only today's: an earlier day with no report, then with one built."""
    admin, guard = school.client("ada"), school.client("gus")
    yesterday = (dt.date.fromisoformat(today()) - dt.timedelta(days=1)).isoformat()
    st = guard.get("/api/reports/status", params={"date": yesterday}).json()
    assert (st["date"], st["built"], st["past_deadline"], st["report"]) == (yesterday, False, True, None)
    assert st["school_day"] is True  # no [report] days: a report is due every day
    assert st["verdict"]["code"] == "no_screening"
    assert st["deadline_local"].startswith(yesterday)
    assert admin.post(f"/api/reports/{yesterday}/build", json={}).status_code == 200
    st = guard.get("/api/reports/status", params={"date": yesterday}).json()
    assert st["built"] is True and st["report"]["day"] == yesterday
    assert guard.get("/api/reports/status").json()["date"] == today()
    for bad in ("2026-13-01", "yesterday", "1900-01-01"):
        assert guard.get("/api/reports/status", params={"date": bad}).status_code == 400, bad


def test_without_a_report_table(tmp_path, mqtt_broker):
    rig = Rig(tmp_path, mqtt_broker)
    svc = rig.start()
    try:
        svc.store.add_user("ada", "admin", PASSWORD)
        admin = rig.client("ada")
        r = admin.get("/api/reports").json()
        assert r == {"configured": False, "can_send": False, "reports": []}
        assert admin.get("/api/reports/status").json()["configured"] is False
        school_today = dt.datetime.now(svc.config.tz).date().isoformat()  # this rig's zone, not TZ
        assert admin.get("/api/reports/warnings").json() == {"configured": False, "date": school_today, "rules": [],
                                                              "can_edit_rules": False, "warnings": []}
        for method, path in (("POST", f"/api/reports/{today()}/send"), ("POST", f"/api/reports/{today()}/build"),
                             ("GET", "/api/absences"), ("POST", "/api/absences"), ("POST", "/api/reports/rules"),
                             ("POST", "/api/reports/rules/1"), ("POST", "/api/reports/rules/1/delete")):
            r = admin.request(method, path, json={"person_id": "x", "session": "晨检", "reason": "leave"})
            assert r.status_code == 409 and r.json()["error"] == "err_no_report", (method, path)
    finally:
        rig.stop()


def test_the_reports_page_names_only_keys_of_the_catalogue():
    import re

    from controller.console.i18n import catalogue
    from controller.reporting.records import ABSENCE_REASONS, FOLLOWUP_STATUSES
    from tests.test_console_api import CONSOLE

    cat = catalogue()["zh"]
    js = (CONSOLE / "static" / "reports.js").read_text()
    used = set(re.findall(r"""\bt\("([a-z_A-Z]+)"[,)]""", js))
    used |= set(re.findall(r'data-t="([a-zA-Z_]+)"', (CONSOLE / "static" / "reports.html").read_text()))
    for part in ("report_part.py", "reports_api.py", "report_rules_api.py", "absences_api.py",
                 "manual_readings_api.py"):  # the Reports page's API, in its parts
        used |= set(re.findall(r"""["'](err_[a-z_]+)["']""", (CONSOLE / part).read_text()))
    used |= {f"absence_{r}" for r in ABSENCE_REASONS} | {f"followup_{s}" for s in FOLLOWUP_STATUSES}
    used |= {f"verdict_{v}" for v in ("zero", "pending", "cases", "no_screening")}
    used |= {f"rstatus_{s}" for s in ("built", "sent", "failed")}
    used |= {f"audit_{a}" for a in ("absence_marked", "absence_followup", "manual_reading", "report_sent",
                                    "report_built", "warning_rule_added", "warning_rule_changed",
                                    "warning_rule_enabled", "warning_rule_disabled", "warning_rule_deleted")}
    used |= set(re.findall(r"""\bb\("([a-z_]+)",""", js))  # the rules' buttons, labelled through b(key, ...)
    used |= {f"rpt_rule_done_{a}" for a in ("enable", "disable", "delete")}
    assert {"rpt_rule_edit_btn", "rpt_rule_delete"} <= used
    missing = sorted(k for k in used if k not in cat)
    assert not missing, missing
