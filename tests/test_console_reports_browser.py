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
        assert "仍在病中" in teacher.inner_text(f"#followups tr[data-absence='{absence.id}']")
        form = f"#followups tr[data-absence='{absence.id}'] form"
        teacher.select_option(f"{form} select[name=status]", "recovering")
        teacher.fill(f"{form} input[name=note]", "已退烧")
        teacher.click(f"{form} button")
        wait(lambda: "好转中" in teacher.inner_text(f"#followups tr[data-absence='{absence.id}']"), 5, "the follow-up")
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
