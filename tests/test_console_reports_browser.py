"""The Reports page in a real headless Chromium (Debian's, under Playwright) at 1366 x 768, against a real
controller with [report] (a file drop and a local webhook receiver for the bureau), a real mosquitto and a
virtual fever gate whose people scan their QR codes.

The class teacher marks an absence of the morning session sick with symptoms, and its follow-up starts; a
guard enters a hand-held reading for a pupil, listed as manual; the reporter sees today's report pending
while the gate's fever alarm is open, never a zero report; the doctor disposes of it; the reporter sends the
report, the page lists it with a receipt from each recipient, and its PDF downloads as a PDF.
With THERMOGATE_SCREENSHOTS=docs/img the pictures docs/console.md shows are kept there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import httpx
import pytest

from controller.reporting.report_store import ReportStore
from controller.reporting.warning_rules import raise_warnings
from sim.broker import free_port
from tests.console_pages import login, wait
from tests.controller_harness import start_controller
from tests.notify_receivers import HttpReceiver
from tests.test_console_reports_api import CODE, TZ, USERS, report_table, seed_roster

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "reports-test-pw-7"
VIEWPORT = {"width": 1366, "height": 768}
FEVER_PERSON = "S2026004"  # scans at the fever gate in the afternoon session


@pytest.fixture
def receiver():
    r = HttpReceiver("ok", answer={"errcode": 0, "errmsg": "received", "ticket": "JYJ-0002"})
    yield r
    r.close()


@pytest.fixture
def controller(tmp_path, mqtt_broker, receiver):
    seed_roster(tmp_path / "thermogate.db")
    svc = start_controller(tmp_path, mqtt_broker, ["sim-1"], users=USERS, password=PASSWORD, http_port=free_port(),
                           extra=report_table(tmp_path, receiver.url), timezone=TZ.key)
    yield svc
    svc.stop()


def open_reports(page, url: str, user: str, view: str = "reports") -> None:
    login(page, url, user, PASSWORD)
    page.click("#nav-reports")
    page.wait_for_url(url + "/reports")
    wait(lambda: page.evaluate("window.tgReports && window.tgReports.ready"), 10, "the Reports page")
    if view != "reports":
        page.click(f"#rbar a[data-view={view}]")
        page.wait_for_selector(f"#v-{view}:not([hidden])")


def fever_gate(broker):
    """A virtual fever gate whose people all scan FEVER_PERSON's code, stepping until stopped."""
    from sim.runner import GateThread, make_gates
    from sim.scenarios import scenario

    gates = make_gates(1, lambda i: scenario("fever", i, credentials=lambda _: FEVER_PERSON), broker.host,
                       broker.port, prefix="sim")
    return GateThread(gates).start()


def test_absences_a_manual_reading_and_the_report_sent_with_its_receipt(controller, mqtt_broker, receiver, pages,
                                                                        shots):
    svc = controller
    url = f"http://127.0.0.1:{svc.http.port}"
    rs = ReportStore.beside(svc.store)
    day = dt.datetime.now(TZ).date().isoformat()
    gate = fever_gate(mqtt_broker)
    try:
        # The class teacher (a doctor account) opens the absentee list of 晨检, which is over.
        teacher = pages(VIEWPORT, accept_downloads=True)
        open_reports(teacher, url, "doc", "absences")
        teacher.wait_for_selector("#absentees tr[data-person=S2026002]")
        assert teacher.input_value("#abs-session") == "晨检"
        assert teacher.is_hidden("#manual-card") is False  # doctors may enter readings too
        listed = teacher.eval_on_selector_all("#absentees tr[data-person]", "rs => rs.map(r => r.dataset.person)")
        assert set(listed) == {"S2026001", "S2026002", "S2026003", "S2026004", "T0001"}
        # "other" without a note is refused on the page, and nothing is stored.
        row = "#absentees tr[data-person=S2026003]"
        teacher.select_option(f"{row} select[name=reason]", "other")
        teacher.click(f"{row} .mark-btn")
        wait(lambda: "备注" in teacher.inner_text("#abs-msg"), 5, "the refusal")
        assert rs.absences() == []
        # Sick with symptoms, with a note: the mark is stored, and the daily follow-up starts.
        row = "#absentees tr[data-person=S2026002]"
        teacher.select_option(f"{row} select[name=reason]", "sick_with_symptoms")
        teacher.fill(f"{row} input[name=note]", "发热咳嗽")
        teacher.click(f"{row} .mark-btn")
        teacher.wait_for_selector("#absentees tr[data-person=S2026002][data-reason=sick_with_symptoms]")
        [absence] = rs.absences()
        assert (absence.person_id, absence.reason, absence.note, absence.marked_by) == \
            ("S2026002", "sick_with_symptoms", "发热咳嗽", "doc")
        teacher.wait_for_selector(f"#followups tr[data-absence='{absence.id}']")
        # the row's fourth cell lists the follow-up as stored (the form's status options name every status)
        recorded = f"#followups tr[data-absence='{absence.id}'] td:nth-child(4)"
        assert "仍在病中" in teacher.inner_text(recorded)
        form = f"#followups tr[data-absence='{absence.id}'] form"
        teacher.select_option(f"{form} select[name=status]", "recovering")
        teacher.fill(f"{form} input[name=note]", "已退烧")
        teacher.click(f"{form} button")
        wait(lambda: "好转中" in teacher.inner_text(recorded), 5, "the follow-up")
        assert [(f.status, f.note, f.by_user) for f in rs.followups(absence.id)] == [("recovering", "已退烧", "doc")]

        # A guard enters a hand-held reading for a pupil the gate could not screen; it is listed as manual.
        guard = pages(VIEWPORT, accept_downloads=True)
        open_reports(guard, url, "gus", "absences")
        assert guard.is_hidden("#absence-card")  # guards do not see the absentee lists
        guard.fill("#manual-q", "张伟")
        guard.click("#manual-matches button[data-person=S2026001]")
        guard.fill("#manual-value", "36.6")
        guard.select_option("#manual-gate", "sim-1")
        guard.click("#manual-form button[type=submit]")
        guard.wait_for_selector("#manual-list tr[data-person=S2026001]")
        assert "手测" in guard.inner_text("#manual-list tr[data-person=S2026001]")
        [m] = rs.manual_readings()
        assert (m.person_id, m.value_c, m.by_user, m.gate) == ("S2026001", 36.6, "gus", "sim-1")
        teacher.reload()
        teacher.wait_for_selector("#manual-list tr[data-person=S2026001]")
        teacher.evaluate("window.scrollTo(0, 0)")
        teacher.screenshot(path=str(shots / "console-absences-1366x768.png"))

        # The sick absence crosses the class rule (≥ 1 in a day) when the scheduler next looks (once a minute;
        # here at once): the warning and its urgent-report draft are on the page, with the rules as configured.
        r = svc.reports.reporter
        raise_warnings(rs, r.config, dt.date.fromisoformat(day), TZ, r.threshold_c, time.time(), None)
        teacher.click("#rbar a[data-view=warnings]")
        teacher.wait_for_selector("#warnings li[data-warning]")
        text = teacher.inner_text("#warnings")
        assert "初一(1)班" in text and "疫情快报（草稿）" in text and "示范中学（4401060001）" in text
        assert "class:sick_absences>=1/1d" in teacher.inner_text("#rules")
        assert "只读" in teacher.inner_text("#v-warnings")
        teacher.screenshot(path=str(shots / "console-warnings-1366x768.png"))

        # The gate raises a fever alarm for the pupil who scanned; then the gate stops.
        wait(lambda: svc.store.alarms(status="open"), 120, "a fever alarm from the virtual gate")
    finally:
        gate.stop()
    # A decision already on its way may still land: wait until the alarms stay as they are for 2 s.
    seen, steady = -1, time.monotonic()
    while time.monotonic() - steady < 2.0:
        n = len(svc.store.alarms())
        if n != seen:
            seen, steady = n, time.monotonic()
        time.sleep(0.2)
    open_alarms = svc.store.alarms(status="open") + svc.store.alarms(status="acknowledged")
    assert open_alarms

    # The reporter sees today's report pending because of the open alarms: never a zero report.
    reporter = pages(VIEWPORT, accept_downloads=True)
    open_reports(reporter, url, "li")
    reporter.wait_for_selector("#today[data-verdict=pending]")
    assert reporter.get_attribute("#today", "data-open") == str(len(open_alarms))
    assert f"尚有 {len(open_alarms)} 条发热警报未处置" in reporter.inner_text("#today-why")
    assert reporter.is_visible("#send-now")
    assert "晨检" in reporter.inner_text("#today-sessions")
    reporter.screenshot(path=str(shots / "console-reports-pending-1366x768.png"))

    # The doctor disposes of them (re-checked normal, a false alarm).
    doctor = httpx.Client(base_url=url, timeout=10)
    assert doctor.post("/login", data={"username": "doc", "password": PASSWORD}).status_code == 303
    doctor.headers["X-CSRF-Token"] = doctor.get("/api/me").json()["csrf"]
    for a in open_alarms:
        r = doctor.post(f"/api/alarms/{a.id}/dispose", json={"outcome": "false_alarm", "recheck_c": 36.7, "note": ""})
        assert r.status_code == 200, r.text
    doctor.close()

    # The page follows by itself; the reporter sends now: under their name, to both recipients.
    reporter.wait_for_selector("#today[data-verdict=zero]", timeout=15000)
    reporter.click("#send-now")
    reporter.wait_for_selector(f"#reports-table tr[data-day='{day}'][data-status=sent]", timeout=30000)
    assert "li" in reporter.inner_text("#send-msg")
    rec = rs.report(CODE, day)
    assert (rec.status, rec.verdict, rec.signed_by, rec.confirmed_by) == ("sent", "zero", "li", "li")
    row = f"#reports-table tr[data-day='{day}']"
    for name in ("bureau-drop", "bureau-api"):
        reporter.wait_for_selector(f"{row} .receipts li[data-recipient={name}][data-ok='1']")
    assert "JYJ-0002" in reporter.inner_text(f"{row} .receipts li[data-recipient=bureau-api]")
    assert rec.files[f"{CODE}-{day}.pdf"][:12] in reporter.inner_text(f"{row} .receipts")
    assert receiver.wait_for(1, 10)[0].json()["verdict_code"] == "zero"
    reporter.screenshot(path=str(shots / "console-reports-1366x768.png"))

    # The PDF downloads from the list, as stored.
    with reporter.expect_download() as got:
        reporter.click(f"{row} a[data-file='{CODE}-{day}.pdf']")
    pdf = Path(got.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == rec.files[f"{CODE}-{day}.pdf"]

    # The same page in English, one cookie away.
    reporter.context.add_cookies([{"name": "tg_lang", "value": "en", "url": url}])
    reporter.reload()
    reporter.wait_for_selector(f"#reports-table tr[data-day='{day}'] .receipts li[data-ok='1']")
    assert reporter.inner_text("#rbar a[data-view=reports]") == "Daily report"
    assert "Zero report" in reporter.inner_text(f"#reports-table tr[data-day='{day}']")
    assert "delivered" in reporter.inner_text(f"#reports-table tr[data-day='{day}'] .receipts")


def test_warning_rules_edited_on_the_page_and_an_earlier_days_status(controller, pages, shots):
    """An admin adds a warning rule in the form: a bad value is refused in the form with the loader's words and
    nothing is stored; a good one appears as the console's, beside controller.toml's read-only rules; it is
    changed, disabled, enabled and deleted on the page. A guard and a class teacher cannot change rules. The
    reporter looks at yesterday's status through the date picker and back at today's."""
    svc = controller
    url = f"http://127.0.0.1:{svc.http.port}"
    rs = ReportStore.beside(svc.store)

    admin = pages(VIEWPORT)
    admin.on("dialog", lambda d: d.accept())
    open_reports(admin, url, "ada", "warnings")
    admin.wait_for_selector("#rules tr[data-source=toml]")
    toml_rows = admin.eval_on_selector_all("#rules tr[data-source=toml]", "rs => rs.map(r => r.dataset.rule)")
    assert toml_rows == ["class:sick_absences>=1/1d", "school:alarm_rate>=2x7d,min3"]
    assert "controller.toml（只读）" in admin.inner_text("#rules tr[data-source=toml]")
    assert admin.eval_on_selector_all("#rules tr[data-source=toml] button", "bs => bs.length") == 0
    assert admin.is_visible("#rule-form")

    # A bad value: refused in the form, in the words of controller.toml's loader; nothing stored.
    admin.select_option("#rule-form select[name=scope]", "class")
    admin.select_option("#rule-form select[name=what]", "fevers_confirmed")
    admin.fill("#rule-form input[name=threshold]", "0")
    admin.fill("#rule-form input[name=days]", "1")
    admin.click("#rule-save")
    wait(lambda: "rule.threshold = 0.0: must be 1..100000" in admin.inner_text("#rule-msg"), 5, "the refusal")
    assert "规则未通过检查" in admin.inner_text("#rule-msg")
    assert "err" in admin.get_attribute("#rule-msg", "class")
    # alarm_rate is the school's: its own fields show, and a class scope is refused.
    admin.select_option("#rule-form select[name=what]", "alarm_rate")
    assert admin.is_hidden("#rule-form input[name=threshold]") and admin.is_visible("#rule-form input[name=factor]")
    admin.click("#rule-save")
    wait(lambda: "alarm_rate is a school-level rule" in admin.inner_text("#rule-msg"), 5, "the scope refusal")
    assert rs.warning_rules() == []

    # A good rule: it appears as the console's, in use, and the scheduler has it.
    admin.select_option("#rule-form select[name=scope]", "grade")
    admin.select_option("#rule-form select[name=what]", "sick_absences")
    admin.fill("#rule-form input[name=threshold]", "2")
    admin.fill("#rule-form input[name=days]", "3")
    admin.click("#rule-save")
    admin.wait_for_selector("#rules tr[data-source=console]")
    [stored] = rs.warning_rules()
    key = f"console:{stored.id}"
    row = f"#rules tr[data-rule='{key}']"
    assert (stored.rule.spec, stored.enabled, stored.created_by) == ("grade:sick_absences>=2/3d", True, "ada")
    assert "控制台" in admin.inner_text(row) and "生效中" in admin.inner_text(row)
    assert "grade:sick_absences>=2/3d" in admin.inner_text(row)
    assert admin.input_value("#rule-form input[name=threshold]") == "3"  # the form is ready for the next rule
    admin.screenshot(path=str(shots / "console-rules-1366x768.png"))

    # Changed: the same rule (its key), counting something else now.
    admin.click(f"{row} button.edit")
    assert admin.input_value("#rule-form input[name=threshold]") == "2"
    admin.fill("#rule-form input[name=threshold]", "4")
    admin.click("#rule-save")
    wait(lambda: "grade:sick_absences>=4/3d" in admin.inner_text(row), 5, "the changed rule")
    assert rs.warning_rule(stored.id).rule.spec == "grade:sick_absences>=4/3d"
    # Disabled, enabled, deleted (after the confirmation).
    admin.click(f"{row} button.disable")
    admin.wait_for_selector(f"{row}[data-enabled='0']")
    assert rs.warning_rule(stored.id).enabled is False and "已停用" in admin.inner_text(row)
    admin.click(f"{row} button.enable")
    admin.wait_for_selector(f"{row}[data-enabled='1']")
    admin.click(f"{row} button.delete")
    admin.wait_for_selector(row, state="detached")
    assert rs.warning_rules() == []
    actions = [e.action for e in svc.store.audit() if e.action.startswith("warning_rule_")]
    assert actions == ["warning_rule_added", "warning_rule_changed", "warning_rule_disabled", "warning_rule_enabled",
                       "warning_rule_deleted"]

    # A guard sees the rules, not the form nor a button; the server refuses the guard's own request too.
    admin.fill("#rule-form input[name=threshold]", "5")
    admin.click("#rule-save")
    admin.wait_for_selector("#rules tr[data-source=console]")
    guard = pages(VIEWPORT)
    open_reports(guard, url, "gus", "warnings")
    guard.wait_for_selector("#rules tr[data-source=console]")
    assert guard.is_hidden("#rule-form")
    assert guard.eval_on_selector_all("#rules button", "bs => bs.length") == 0
    status = guard.evaluate("""() => fetch('/api/me').then(r => r.json()).then(me => fetch('/api/reports/rules', {
        method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
        body: JSON.stringify({scope: 'school', what: 'fevers_confirmed', threshold: 1})}).then(r => r.status))""")
    assert status == 403
    # A class teacher has no warnings tab, and the API refuses them.
    svc.store.add_user("chen", "teacher", PASSWORD)
    svc.store.set_user_classes("chen", ["初一(1)班"])
    teacher = pages(VIEWPORT)
    teacher.goto(url + "/login")
    teacher.fill("#username", "chen")
    teacher.fill("#password", PASSWORD)
    teacher.click("#login-submit")
    teacher.wait_for_url(url + "/reports")
    wait(lambda: teacher.evaluate("window.tgReports && window.tgReports.ready"), 10, "the teacher's page")
    assert not teacher.is_visible("#rbar a[data-view=warnings]") and not teacher.is_visible("#rule-form")
    status = teacher.evaluate("""() => fetch('/api/me').then(r => r.json()).then(me => fetch('/api/reports/rules', {
        method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
        body: JSON.stringify({scope: 'school', what: 'fevers_confirmed', threshold: 1})}).then(r => r.status))""")
    assert status == 403
    assert len(rs.warning_rules()) == 1

    # An earlier day's status through the date picker, and back to today.
    day = dt.datetime.now(TZ).date()
    yesterday = (day - dt.timedelta(days=1)).isoformat()
    reporter = pages(VIEWPORT)
    open_reports(reporter, url, "li")
    reporter.wait_for_selector(f"#today[data-date='{day.isoformat()}']")
    assert reporter.is_hidden("#status-today")
    reporter.fill("#status-date", yesterday)
    reporter.wait_for_selector(f"#today[data-date='{yesterday}']")
    assert reporter.inner_text("#today-title") == "当日日报"
    assert reporter.get_attribute("#today", "data-verdict") == "no_screening"
    assert reporter.is_visible("#status-today")
    # The page follows by itself every 5 s: after its next look it is still on the day picked.
    with reporter.expect_response(lambda r: "/api/reports/status" in r.url, timeout=15000) as look:
        pass
    assert look.value.url.endswith(f"date={yesterday}")
    reporter.wait_for_timeout(300)  # the answer drawn
    assert reporter.get_attribute("#today", "data-date") == yesterday
    reporter.click("#status-today")
    reporter.wait_for_selector(f"#today[data-date='{day.isoformat()}']")
    assert reporter.inner_text("#today-title") == "今日日报"
