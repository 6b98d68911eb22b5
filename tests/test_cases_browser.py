"""The fever case on the school doctor's phone, in a real headless Chromium (Debian's, under Playwright) at
390 x 844, against a real controller, a real mosquitto and a virtual fever gate running the firmware whose
people scan their QR codes, with the notifications going to a real local HTTP receiver.

A whole case runs from the alarm to 复课 on the phone-sized page; the doctor and the leader are told within
seconds of the alarm; the person sent home is refused at the gate (RETRY see_school_doctor, the door shut)
until the doctor records 复课, then passes again. A drill started from the page runs as live, prefixed 【演练】,
and leaves the official daily report untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.reports import daily_report
from controller.store import open_store
from sim.broker import free_port
from tests.console_pages import login as console_login
from tests.console_pages import wait
from tests.controller_harness import notify_toml, start_controller
from tests.notify_receivers import HttpReceiver

PASSWORD = "phone-test-pw-7"
PERSON = "S2026001"
ROSTER = f"""id,name,role,class,boarder,guardian_phone,credentials,active
{PERSON},张伟,student,初一(1)班,no,138 0013 8000,{PERSON},yes
"""
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("THERMOGATE_CASE_SCREENSHOTS")  # a directory: save the phone page there


@pytest.fixture
def receiver():
    r = HttpReceiver("ok")
    yield r
    r.close()


@pytest.fixture
def controller(tmp_path, mqtt_broker, receiver):
    store = open_store(str(tmp_path / "thermogate.db"))
    import_roster(PeopleStore.beside(store), ROSTER.encode(), time.time())
    store.close()
    svc = start_controller(tmp_path, mqtt_broker, ["sim-1"], users=(("doc", "doctor"), ("ada", "admin")),
                           password=PASSWORD, http_port=free_port(), site_extra="require_identity = true",
                           extra=notify_toml(receiver.url))
    yield svc
    svc.stop()


@pytest.fixture
def phone(pages):
    return pages(PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)


def login(page, url: str, user: str) -> None:
    """``user`` signed in, on the cases page."""
    console_login(page, url, user, PASSWORD)
    page.goto(url + "/cases")
    wait(lambda: page.evaluate("window.tgCases && window.tgCases.ready"), 10, "the page")


def tap_step(page, kind: str) -> None:
    page.tap(f"#steps button[data-kind={kind}]")


def state(page) -> str:
    return page.get_attribute("#case-state", "data-state")


def results(watch) -> list[dict]:
    return [json.loads(p) for _t, p in watch.messages("thermogate/sim-1/result")]


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=False)


def test_a_whole_case_on_the_phone_from_the_alarm_to_return(controller, virtual_gates, mqtt_watch, receiver, phone):
    svc = controller
    url = f"http://127.0.0.1:{svc.http.port}"
    watch = mqtt_watch("thermogate/+/result")
    offset = time.time() - time.monotonic()  # the receiver stamps arrivals on the monotonic clock
    virtual_gates(1, "fever", seed=0, credentials=lambda i: PERSON)
    login(phone, url, "doc")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling

    # The alarm opens a case, linked to the person who scanned; the doctor and the leader are told at once.
    phone.wait_for_selector("#case-list a[data-case]", timeout=90000)
    case_id = int(phone.get_attribute("#case-list li:last-child a", "data-case"))
    case = svc.alarm_cases.cases.case(case_id)
    assert case.person_id == PERSON and not case.drill
    alarm = svc.store.alarm(case.alarm_id)
    first = receiver.wait_for(1, 10)[0]
    body = first.json()
    assert body["key"] == f"alarm-{alarm.id}" and body["event"] == "fever"
    assert {r["id"] for r in body["recipients"]} == {"dr-wang", "leader-li"}
    assert "张伟" not in body["text"]  # a FEVER message names nobody
    delay = first.at + offset - alarm.time
    assert 0 <= delay < 2.0, delay

    # The case page: every step a tap, the ones the state machine refuses greyed with its reason.
    phone.tap(f"#case-list a[data-case='{case_id}']")
    phone.wait_for_selector("#case-state[data-state=open]")
    assert "张伟" in phone.inner_text("#case-person")
    assert phone.is_disabled("#steps button[data-kind=recheck]")
    assert "请先确认警报" in phone.inner_text("#steps button[data-kind=recheck] .why")  # the rule, in Chinese
    wait(lambda: phone.query_selector("#notifications li[data-ok='1']"), 10, "the delivery on the case")
    shot(phone, "cases-phone-390x844.png")
    tap_step(phone, "acknowledged")
    phone.wait_for_selector("#case-state[data-state=acknowledged]")
    assert svc.store.alarm(alarm.id).status == "acknowledged"
    tap_step(phone, "escorted")
    phone.wait_for_selector("#case-state[data-state=observation]")
    assert phone.is_disabled("#steps button[data-kind=escorted]")
    tap_step(phone, "recheck")
    phone.tap("#step-form [data-name=instrument] input[value=mercury] + span")
    phone.tap("#step-form [data-name=site] input[value=axillary] + span")
    phone.fill("#step-form input[name=value_c]", "38.3")
    phone.tap("#step-form .save")
    phone.wait_for_selector("#timeline li[data-kind=recheck]")
    assert "38.3" in phone.inner_text("#timeline li[data-kind=recheck]")
    tap_step(phone, "symptoms")
    phone.tap("#step-form input[value=cough] + span")
    phone.tap("#step-form input[name=cluster] + span")
    phone.fill("#step-form input[name=cluster_detail]", "同寝室一人发热")
    phone.tap("#step-form .save")
    phone.wait_for_selector("#timeline li[data-kind=symptoms]")
    tap_step(phone, "decision")
    phone.tap("#step-form [data-outcome=sent_home]")
    phone.wait_for_selector("#case-state[data-state=sent_home]")
    decided = svc.alarm_cases.cases.case(case_id).decided_at
    assert svc.store.alarm(alarm.id).outcome == "sent_home"
    assert "复课" in phone.inner_text("#steps button[data-kind=closed] .why")
    shot(phone, "cases-phone-sent-home-390x844.png")

    # Sent home: the person is refused at the gate, the door shut, until the doctor records 复课.
    held = wait(lambda: [r for r in results(watch) if r["reason"] == "see_school_doctor"], 90, "a refusal")
    assert all(r["decision"] == "RETRY" and (r["person"] or {}).get("id") == PERSON for r in held)
    refused = {r["screening_id"] for r in held}
    assert not [a for a in svc.store.door_actions(gate="sim-1") if a.action == "open" and a.screening_id in refused]
    assert not [r for r in results(watch) if r["decision"] == "PASS" and r["time"] > _iso(decided)]

    for kind, fill in (("notified", None), ("handed_over", ("to_whom", "母亲")), ("disinfected", None),
                       ("reported_upward", ("to_whom", "区教育局")), ("follow_up", ("note", "仍发热，在家休息"))):
        tap_step(phone, kind)
        if kind not in ("disinfected",):
            if fill is not None:
                phone.fill(f"#step-form [name={fill[0]}]", fill[1])
            phone.tap("#step-form .save")
        phone.wait_for_selector(f"#timeline li[data-kind={kind}]")
    tap_step(phone, "cleared_to_return")
    phone.tap("#step-form input[name=certificate_seen] + span")
    phone.fill("#step-form input[name=issuer]", "区人民医院")
    phone.tap("#step-form .save")
    phone.wait_for_selector("#case-state[data-state=cleared]")
    cleared = svc.alarm_cases.cases.case(case_id).cleared_at

    # Cleared: the next time the person is normal at the gate, the door opens.
    passed = wait(lambda: [r for r in results(watch) if r["decision"] == "PASS" and r["time"] > _iso(cleared)],
                  120, "a PASS after 复课")
    assert (passed[0]["person"] or {}).get("id") == PERSON
    wait(lambda: [a for a in svc.store.door_actions(gate="sim-1") if a.action == "open"
                  and a.screening_id == passed[0]["screening_id"] and a.ack_ok], 10, "the door opened")
    tap_step(phone, "closed")
    phone.wait_for_selector("#case-state[data-state=closed]")
    kinds = [s.kind.value for s in svc.alarm_cases.cases.timeline(case_id)]
    assert kinds == ["acknowledged", "escorted", "recheck", "symptoms", "decision", "notified", "handed_over",
                     "disinfected", "reported_upward", "follow_up", "cleared_to_return", "closed"]
    assert all(s.by_user == "doc" for s in svc.alarm_cases.cases.timeline(case_id))


def _iso(t: float) -> str:
    """A wall time as the result topic writes it (UTC ISO with milliseconds), for comparing as text."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def test_a_drill_from_the_phone_runs_as_live_and_leaves_the_report_alone(controller, virtual_gates, receiver,
                                                                          phone):
    svc = controller
    url = f"http://127.0.0.1:{svc.http.port}"
    virtual_gates(1, "normal_queue", seed=4)
    w = svc.workers["sim-1"]
    wait(lambda: w.boot_id is not None and w.last_sequence > 0, 60, "the gate live")
    date = dt.datetime.now(svc.config.tz).date()
    before = daily_report(svc.store, date, svc.config.tz)
    login(phone, url, "ada")
    phone.tap("#to-drills")
    phone.wait_for_selector("#drill-gates input[value=sim-1]")
    phone.check("#drill-gates input[value=sim-1]")
    phone.select_option("#drill-scenario", "simulated_fever")
    phone.tap("#drill-form button[type=submit]")
    phone.wait_for_selector("#drill-list li form.drill-end")
    assert phone.is_visible("#drill-strip")
    body = receiver.wait_for(1, 10)[0].json()
    assert body["drill"] is True and body["text"].startswith("【演练】")
    phone.tap("#to-list")
    phone.wait_for_selector("#case-list a[data-case] .tag-drill")
    phone.tap("#case-list a[data-case]")
    phone.wait_for_selector("#case-state[data-state=open]")
    assert phone.is_visible("#case-head .tag-drill")
    tap_step(phone, "acknowledged")
    phone.wait_for_selector("#case-state[data-state=acknowledged]")
    phone.tap("#to-drills")
    phone.wait_for_selector("#drill-list .timing")
    assert "确认警报" in phone.inner_text("#drill-list .timing")
    phone.fill("#drill-list textarea[name=debrief]", "2 分钟内到场")
    phone.tap("#drill-list form.drill-end button")
    wait(lambda: "已恢复设置" in phone.inner_text("#drill-msg"), 10, "restored")
    assert svc.drills.mode("sim-1") is None
    drill = svc.alarm_cases.cases.drills()[-1]
    assert drill.debrief == "2 分钟内到场" and drill.ended_at is not None
    after = daily_report(svc.store, date, svc.config.tz)
    t0, t1 = before.total, after.total
    assert (t1.fevers, t1.alarms, t1.open_alarms, t1.confirmed_fevers, t1.dispositions) == \
        (t0.fevers, t0.alarms, t0.open_alarms, t0.confirmed_fevers, t0.dispositions)
    assert svc.alarm_cases.cases.cases(drill=True)  # while the drill's case is on record
