"""The class teacher's role (teacher) in the console, against a real controller service with [report]: a
teacher sees and marks the absentee lists and follow-ups of their own classes, their pupils' names and classes
and the sent-home notices about them, and nothing else: not another class, not the live wall, the history,
the cases, the roster search or anyone's file. ``thermogate user add --role teacher --classes``."""

from __future__ import annotations

import time

from controller.console.user_cli import add_commands
from controller.notify.delivery import Delivery
from controller.notify.messages import Message
from controller.notify.outbox import StoreOutbox
from controller.reporting.report_store import ReportStore
from tests.test_console_api import PASSWORD
from tests.test_console_reports_api import receiver, school, today  # noqa: F401 (fixtures)

CLASS1, CLASS2 = "初一(1)班", "初一(2)班"


def _sent_home(store, case: int, name: str, class_name: str) -> None:
    StoreOutbox.beside(store).add(Delivery(
        key=f"case-{case}", kind="sent_home", channel="wecom", recipients=("teacher",),
        message=Message("送回家", f"{name} {class_name}", "", 0),
        event={"kind": "sent_home", "key": f"case-{case}", "time": time.time(), "class_name": class_name,
               "person": name, "text": "sent_home"}), time.time())


def _teacher(rig, name: str = "chen"):
    """A teacher's client: the login lands on the Reports page."""
    c = rig.client()
    r = c.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/reports", r.text
    c.headers["X-CSRF-Token"] = c.get("/api/me").json()["csrf"]
    return c


def test_a_teacher_sees_and_marks_only_their_classes(school):  # noqa: F811 (the fixture)
    store = school.service.store
    store.add_user("chen", "teacher", PASSWORD)
    assert store.set_user_classes("chen", [CLASS1]) == [CLASS1]
    chen, doctor = _teacher(school), school.client("doc")
    day = today()
    me = chen.get("/api/me").json()
    assert me["role"] == "teacher" and "absences" in me["can"] and "view" not in me["can"]
    assert chen.get("/reports").status_code == 200

    # The absentee list of the ended session: their class only, with their pupils' names and classes.
    got = chen.get("/api/absences", params={"session": "晨检"}).json()
    assert got["classes"] == [CLASS1] and got["my_classes"] == [CLASS1]
    assert sorted(a["person_id"] for a in got["absentees"]) == ["S2026001", "S2026002"]
    assert {a["class"] for a in got["absentees"]} == {CLASS1}
    assert sorted((p["id"], p["class"]) for p in got["pupils"]) == [("S2026001", CLASS1), ("S2026002", CLASS1)]
    assert set(got["pupils"][0]) == {"id", "name", "class"}  # no phone, no credential
    everyone = doctor.get("/api/absences", params={"session": "晨检"}).json()
    assert CLASS2 in everyone["classes"] and "pupils" not in everyone
    r = chen.get("/api/absences", params={"session": "晨检", "class": CLASS2})
    assert r.status_code == 403 and r.json()["error"] == "err_not_your_class"

    # Marks: their pupil yes, another class's no (and nothing stored).
    rs = ReportStore.beside(store)
    mark = {"date": day, "session": "晨检", "reason": "sick_with_symptoms", "note": "发热"}
    r = chen.post("/api/absences", json={**mark, "person_id": "S2026003"})
    assert r.status_code == 403 and r.json()["error"] == "err_not_your_class"
    assert rs.absences() == []
    r = chen.post("/api/absences", json={**mark, "person_id": "S2026002"})
    assert r.status_code == 200, r.text
    mine = r.json()["absence_id"]
    other = doctor.post("/api/absences", json={**mark, "person_id": "S2026003"}).json()["absence_id"]
    # Follow-ups: their pupil's yes, the other class's no; the list shows theirs only.
    r = chen.post(f"/api/absences/{other}/followup", json={"date": day, "status": "recovering"})
    assert r.status_code == 403 and r.json()["error"] == "err_not_your_class"
    assert chen.post(f"/api/absences/{mine}/followup",
                     json={"date": day, "status": "recovering"}).status_code == 200
    follow = chen.get("/api/absences").json()["followups"]
    assert [f["person_id"] for f in follow] == ["S2026002"]
    assert sorted(f["person_id"] for f in doctor.get("/api/absences").json()["followups"]) == ["S2026002",
                                                                                               "S2026003"]
    assert [f.status for f in rs.followups(other)] == ["still_sick"]  # the refused follow-up changed nothing

    # The sent-home notices: about their pupils only.
    _sent_home(store, 1, "李娜", CLASS1)
    _sent_home(store, 2, "王强", CLASS2)
    notices = chen.get("/api/notices").json()["notices"]
    assert [(n["name"], n["class"], n["case"]) for n in notices] == [("李娜", CLASS1, "case-1")]
    assert len(doctor.get("/api/notices").json()["notices"]) == 2
    assert school.client("gus").get("/api/notices").status_code == 403  # a guard does not get them

    # Nothing else: the live wall, the history, alarms and cases, the roster, files, readings, settings.
    for path in ("/api/gates", "/api/alarms", "/api/alarms/active", "/api/screenings", "/api/screenings.csv",
                 "/api/cases", "/api/people?q=S", "/api/reports", "/api/reports/status", "/api/manual_readings",
                 "/api/visitors", "/api/report", "/api/doors", "/api/settings", "/api/audit"):
        r = chen.get(path)
        assert r.status_code == 403 and r.json()["error"] == "err_forbidden", (path, r.status_code)
    for path, body in (("/api/people/S2026002/file", {"reason": "routine"}),
                       ("/api/alarms/1/dispose", {"outcome": "admitted"}), ("/api/alarms/1/ack", {}),
                       ("/api/manual_readings", {"person_id": "S2026002", "value_c": 36.5}),
                       ("/api/cases/1/steps", {"kind": "acknowledged"})):
        r = chen.post(path, json=body)
        assert r.status_code == 403 and r.json()["error"] == "err_forbidden", (path, r.status_code)
    assert chen.get("/").status_code == 403


def test_a_teacher_without_classes_sees_nobody(school):  # noqa: F811 (the fixture)
    school.service.store.add_user("chen", "teacher", PASSWORD)  # no classes yet: sees no list at all
    chen = _teacher(school)
    got = chen.get("/api/absences", params={"session": "晨检"}).json()
    assert got["absentees"] == [] and got["pupils"] == [] and got["my_classes"] == []


def test_user_add_teacher_with_classes(tmp_path, capsys):
    import argparse

    from controller.store import open_store

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    url = str(tmp_path / "t.db")

    def run(*argv: str, stdin: str = "") -> int:
        import io
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            args = parser.parse_args(["user", *argv, "--store", url])
            return args.run(args)
        finally:
            sys.stdin = old

    assert run("add", "chen", "--role", "teacher", "--classes", f"{CLASS1},{CLASS2}", "--password-stdin",
               stdin="chalk-and-slate-9\n") == 0
    assert f"chen added (teacher: {CLASS1}, {CLASS2})" in capsys.readouterr().out
    with open_store(url) as store:
        assert store.user_classes("chen") == [CLASS1, CLASS2]
    for argv, why in ((("add", "wu", "--role", "teacher", "--password-stdin"), "needs --classes"),
                      (("add", "wu", "--role", "guard", "--classes", CLASS1, "--password-stdin"), "for a teacher")):
        try:
            run(*argv, stdin="chalk-and-slate-9\n")
        except ValueError as exc:
            assert why in str(exc)
        else:
            raise AssertionError(f"{argv} was accepted")
    with open_store(url) as store:
        assert [u.name for u in store.users()] == ["chen"]  # nothing refused was added
    assert run("list") == 0
    assert f"classes {CLASS1}, {CLASS2}" in capsys.readouterr().out


def test_the_reports_page_for_a_teacher_in_chromium(school, browser):  # noqa: F811 (the fixture)
    """Logged in, the class teacher lands on the Reports page's absences: their class's list only, no reports
    or warnings tab, no way to the live wall."""
    from tests.console_pages import wait_js

    store = school.service.store
    store.add_user("chen", "teacher", PASSWORD)
    store.set_user_classes("chen", [CLASS1])
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto(school.base + "/login")
        page.fill("#username", "chen")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(school.base + "/reports")
        wait_js(page, "document.querySelectorAll('#absentees tbody tr[data-person]').length === 2")
        rows = page.eval_on_selector_all("#absentees tbody tr[data-person]", "trs => trs.map(t => t.dataset.person)")
        assert sorted(rows) == ["S2026001", "S2026002"]
        classes = page.eval_on_selector_all("#abs-class option", "os => os.map(o => o.value)")
        assert classes == ["", CLASS1]
        assert page.is_visible("#v-absences") and not page.is_visible("#v-reports")
        for sel in ("#rbar a[data-view=reports]", "#rbar a[data-view=warnings]", "#to-console"):
            assert not page.is_visible(sel), sel
        assert not page.is_visible("#manual-card")
    finally:
        page.close()
