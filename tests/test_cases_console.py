"""The fever case and drills through the console's API, against a real controller service (real store, real
mosquitto, virtual gates running the firmware) and a real local HTTP receiver for the notifications: every FEVER
alarm opens a case and tells the doctor and the leader, each step is checked by the case's state machine,
"let in" sends the signed door command linked to the case, and drills run as live and end restored."""

from __future__ import annotations

import time

import httpx
import pytest

from controller.reports import daily_report
from tests.controller_harness import notify_toml, start_controller
from tests.notify_receivers import HttpReceiver

PASSWORD = "correct-horse-9"


CONTACTS = """
[notify.contacts.teacher-chen]
name = "陈老师"
mobile = "13700003333"
channels = ["ops"]
classes = ["初一(1)班"]

[notify.contacts.dr-zhao]
name = "赵医生"
mobile = "13700004444"
channels = ["ops"]

[notify.contacts.dr-sun]
name = "孙医生"
mobile = "13700005555"
channels = ["ops"]
"""
SENT_HOME = """
[[notify.route]]
event = "sent_home"
to = ["@class_teacher"]
"""


class Rig:
    def __init__(self, tmp_path, broker, receiver_url: str, escalation: str = ""):
        self.service = start_controller(
            tmp_path, broker, ["sim-1", "sim-2"], users=(("ada", "admin"), ("gus", "guard"), ("doc", "doctor")),
            password=PASSWORD, extra=notify_toml(receiver_url, contacts=CONTACTS, escalation=escalation,
                                                 routes=SENT_HOME))
        self.clients: list[httpx.Client] = []

    def client(self, user: str) -> httpx.Client:
        c = httpx.Client(base_url=f"http://127.0.0.1:{self.service.http.port}", timeout=10)
        self.clients.append(c)
        r = c.post("/login", data={"username": user, "password": PASSWORD})
        assert r.status_code == 303, r.text
        c.headers["X-CSRF-Token"] = c.get("/api/me").json()["csrf"]
        return c

    def stop(self):
        for c in self.clients:
            c.close()
        self.service.stop()


@pytest.fixture
def receiver():
    r = HttpReceiver("ok")
    yield r
    r.close()


@pytest.fixture
def rig(tmp_path, mqtt_broker, receiver):
    r = Rig(tmp_path, mqtt_broker, receiver.url)
    assert r.service.dispatcher.connected.wait(10)
    yield r
    r.stop()


def wait_for(predicate, timeout: float = 60.0, what: str = ""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def live(service, gate: str = "sim-1") -> None:
    w = service.workers[gate]
    wait_for(lambda: w.boot_id is not None and w.last_sequence > 0, 60, f"{gate} live")


def step(c: httpx.Client, case_id: int, kind: str, **data) -> httpx.Response:
    return c.post(f"/api/cases/{case_id}/steps", json={"kind": kind, "data": data})


def test_a_fever_opens_a_case_notifies_and_runs_to_return(rig, virtual_gates, receiver):
    svc = rig.service
    seen = []  # every live event the service publishes, as the console's sockets get them
    publish = svc.live.publish
    svc.live.publish = lambda e: (seen.append(e), publish(e))[1]
    virtual_gates(1, "fever", seed=0)
    alarm = wait_for(lambda: next((a for a in svc.store.alarms()), None), 90, "a fever alarm")
    # The case is written right after its alarm (AlarmCases.open_case), before the live event goes out.
    case = wait_for(lambda: svc.alarm_cases.cases.case_for_alarm(alarm.id), 10, "the alarm's case")
    assert case.state == "open" and not case.drill and case.gate == "sim-1"
    # The live event carries the case; the webhook got one message for the doctor and the leader.
    ev = wait_for(lambda: next((e for e in seen if e.kind == "alarm" and e.alarm_id == alarm.id), None), 10,
                  "the alarm event")
    assert ev.case_id == case.id and ev.drill is False
    body = receiver.wait_for(1, 10)[0].json()
    assert body["event"] == "fever" and body["key"] == f"alarm-{alarm.id}" and body["drill"] is False
    assert {r["id"] for r in body["recipients"]} == {"dr-wang", "leader-li"}
    assert not body["text"].startswith("【演练】")

    doc, gus, ada = rig.client("doc"), rig.client("gus"), rig.client("ada")
    listed = doc.get("/api/cases").json()["cases"]
    assert case.id in [c["id"] for c in listed]
    page = doc.get(f"/api/cases/{case.id}").json()
    assert page["allowed"]["acknowledged"] is None
    assert "acknowledge the alarm first" in page["allowed"]["recheck"] and page["why"]["recheck"] == "why_ack_first"
    assert page["why"]["acknowledged"] is None
    assert "doctor role" not in (page["allowed"]["cleared_to_return"] or "")  # refused for the state first
    sent = wait_for(lambda: doc.get(f"/api/cases/{case.id}").json()["notifications"], 10, "outcome recorded")
    assert sent[0]["ok"] and sent[0]["channel"] == "ops"

    # A guard acknowledges (the alarm too), but may not record a re-check.
    assert step(gus, case.id, "acknowledged").status_code == 200
    assert svc.store.alarm(alarm.id).status == "acknowledged"
    r = step(gus, case.id, "recheck", instrument="mercury", site="axillary", value_c=38.3)
    assert r.status_code == 403
    # Bad input is refused with the rule and loses nothing.
    r = step(doc, case.id, "recheck", instrument="mercury", site="axillary", value_c=46)
    assert r.status_code == 400 and "46" in r.json()["detail"]
    r = step(doc, case.id, "closed")
    assert r.status_code == 409 and r.json()["error"] == "err_case_refused"
    assert "record a decision first" in r.json()["detail"]
    assert step(doc, case.id, "escorted", room="临时观察室").status_code == 200
    r = step(doc, case.id, "recheck", instrument="mercury", site="axillary", value_c=38.3)
    assert r.status_code == 200 and r.json()["steps"][-1]["data"]["n"] == 1
    r = step(doc, case.id, "symptoms", checklist=["cough", "headache"], travel=False, contact=False, cluster=True,
             cluster_detail="同寝室一人发热")
    assert r.status_code == 200
    r = step(doc, case.id, "decision", outcome="sent_home")
    assert r.status_code == 200 and r.json()["state"] == "sent_home"
    assert svc.store.alarm(alarm.id).outcome == "sent_home"
    assert "back in" in doc.post(f"/api/cases/{case.id}/let_in", json={"gate": "sim-1"}).json()["detail"]
    for kind, data in (("notified", dict(recipient="parent", by_whom="doc", how="phone")),
                       ("handed_over", dict(to_whom="母亲")), ("disinfected", dict(areas="路线和观察室")),
                       ("reported_upward", dict(to_whom="区教育局", how="phone")),
                       ("follow_up", dict(date="2026-12-04", note="仍发热"))):
        assert step(doc, case.id, kind, **data).status_code == 200, kind
    # 复课 is the doctor's: an admin is refused with the rule, the doctor is not.
    r = step(ada, case.id, "cleared_to_return", certificate_seen=True, issuer="区人民医院",
             certificate_date="2026-12-06")
    assert r.status_code == 409 and "doctor role" in r.json()["detail"]
    page = ada.get(f"/api/cases/{case.id}").json()
    assert "doctor role" in page["allowed"]["cleared_to_return"]
    r = step(doc, case.id, "cleared_to_return", certificate_seen=False, issuer="区人民医院",
             certificate_date="2026-12-06")
    assert r.status_code == 400 and "certificate" in r.json()["detail"]
    assert step(doc, case.id, "cleared_to_return", certificate_seen=True, issuer="区人民医院",
                certificate_date="2026-12-06").status_code == 200
    r = step(doc, case.id, "closed")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert all(v is not None for v in r.json()["allowed"].values())  # nothing more on a closed case
    kinds = [s.kind.value for s in svc.alarm_cases.cases.timeline(case.id)]
    assert kinds == ["acknowledged", "escorted", "recheck", "symptoms", "decision", "notified", "handed_over",
                     "disinfected", "reported_upward", "follow_up", "cleared_to_return", "closed"]
    # Anonymous and cross-site requests are refused.
    assert httpx.get(f"{doc.base_url}/api/cases").status_code == 401
    bare = rig.client("doc")
    del bare.headers["X-CSRF-Token"]
    assert step(bare, case.id, "closed").status_code == 403


def test_let_in_from_a_case_sends_the_signed_door_command_and_links_it(rig, virtual_gates):
    svc = rig.service
    virtual_gates(1, "normal_queue", seed=3)
    live(svc)
    alarm = _fever(svc)
    case = svc.alarm_cases.cases.case_for_alarm(alarm)
    doc, gus = rig.client("doc"), rig.client("gus")
    r = gus.post(f"/api/cases/{case.id}/let_in", json={"gate": "sim-1"})
    assert r.status_code == 409  # not decided back in: no door opens
    assert not [a for a in svc.store.door_actions(gate="sim-1") if a.cause == "manual"]
    # Acknowledged on the wall: the case is acknowledged too, by the guard.
    assert gus.post(f"/api/alarms/{alarm}/ack", json={}).status_code == 200
    first = svc.alarm_cases.cases.timeline(case.id)[0]
    assert (first.kind.value, first.by_user) == ("acknowledged", "gus")
    assert step(gus, case.id, "acknowledged").status_code == 409
    assert step(doc, case.id, "recheck", instrument="electronic", site="oral", value_c=36.9).status_code == 200
    assert step(doc, case.id, "decision", outcome="back_in").status_code == 200
    r = doc.post(f"/api/cases/{case.id}/let_in", json={"gate": "sim-1"})
    assert r.status_code == 200, r.text
    manual = [a for a in svc.store.door_actions(gate="sim-1") if a.cause == "manual"]
    assert len(manual) == 1 and manual[0].action == "open" and manual[0].user == "doc"
    assert f"case {case.id}" in manual[0].reason
    linked = r.json()["step"]["data"]
    assert linked["gate"] == "sim-1" and linked["counter"] == manual[0].counter
    assert linked["door_action_id"] == manual[0].id
    wait_for(lambda: svc.store.door_actions(gate="sim-1")[-1].ack_ok is not None or
             any(a.counter == manual[0].counter and a.ack_ok for a in svc.store.door_actions(gate="sim-1")),
             15, "the gate's ack")
    assert any(a.counter == manual[0].counter and a.ack_ok for a in svc.store.door_actions(gate="sim-1"))


def _fever(svc, gate: str = "sim-1") -> int:
    """A FEVER through the service's own decision path (the gate's pipeline gives it for a febrile person)."""
    from controller.protocol.result import Decision

    w = svc.workers[gate]
    before = {a.id for a in svc.store.alarms()}
    svc.decisions.handle(w, Decision(gate=gate, time_s=1.0, decision="FEVER", reason="", track=777,
                                     estimate_c=38.4, sequence=w.last_sequence), time.monotonic())
    return next(a.id for a in svc.store.alarms() if a.id not in before)


def test_a_simulated_fever_drill_runs_as_live_and_leaves_the_report_untouched(rig, virtual_gates, receiver):
    svc = rig.service
    virtual_gates(1, "normal_queue", seed=5)
    live(svc)
    ada, doc, gus = rig.client("ada"), rig.client("doc"), rig.client("gus")
    assert gus.post("/api/drills", json={"gates": ["sim-1"], "scenario": "simulated_fever"}).status_code == 403
    assert ada.post("/api/drills", json={"gates": ["nope"], "scenario": "simulated_fever"}).status_code == 400
    assert ada.post("/api/drills", json={"gates": ["sim-1"], "scenario": "fire"}).status_code == 400
    r = ada.post("/api/drills", json={"gates": ["sim-2"], "scenario": "simulated_fever"})
    assert r.status_code == 400 and "no frame" in r.json()["detail"]  # sim-2 never came online
    day = time.time()
    import datetime as dt

    date = dt.datetime.fromtimestamp(day, svc.config.tz).date()
    before = daily_report(svc.store, date, svc.config.tz)
    r = ada.post("/api/drills", json={"gates": ["sim-1"], "scenario": "simulated_fever"})
    assert r.status_code == 200, r.text
    drill_id = r.json()["id"]
    assert r.json()["settings_changed"] == {"gates.sim-1.drill_mode": False}
    assert ada.post("/api/drills", json={"gates": ["sim-1"], "scenario": "simulated_fever"}).status_code == 400
    cases = wait_for(lambda: svc.alarm_cases.cases.cases(drill=True), 10, "the drill's case")
    case = cases[0]
    assert case.drill and case.drill_id == drill_id
    alarm = svc.store.alarm(case.alarm_id)
    assert alarm.drill and svc.store.screening(alarm.screening_id).drill
    # Notified like a live alarm, prefixed 【演练】, flagged drill; no door opened.
    body = receiver.wait_for(1, 10)[0].json()
    assert body["drill"] is True and body["text"].startswith("【演练】") and body["title"].startswith("【演练】")
    assert not [a for a in svc.store.door_actions(gate="sim-1") if a.action == "open" and
                a.time >= case.opened_at and a.screening_id == alarm.screening_id]
    # The case runs through the same steps; the drill's record times them from the alarm.
    assert step(doc, case.id, "acknowledged").status_code == 200
    assert step(doc, case.id, "recheck", instrument="mercury", site="axillary", value_c=36.8).status_code == 200
    assert step(doc, case.id, "decision", outcome="back_in").status_code == 200
    record = ada.get(f"/api/drills/{drill_id}").json()
    timed = record["cases"][0]
    assert [s["kind"] for s in timed["steps"]] == ["acknowledged", "recheck", "decision"]
    assert 0 <= timed["steps"][0]["after_alarm_s"] <= timed["decision_after_s"]
    # The official report does not count the drill.
    after = daily_report(svc.store, date, svc.config.tz)
    assert (after.total.fevers, after.total.alarms, after.total.open_alarms, after.total.confirmed_fevers) == \
        (before.total.fevers, before.total.alarms, before.total.open_alarms, before.total.confirmed_fevers)
    # Ending restores what it changed, with the debrief; the gate is no longer in a drill.
    r = ada.post(f"/api/drills/{drill_id}/end", json={"debrief": "3 分钟内到达观察室"})
    assert r.status_code == 200 and r.json()["restored"] == {"gates.sim-1.drill_mode": False}
    assert r.json()["debrief"] == "3 分钟内到达观察室" and r.json()["ended_at"] is not None
    assert svc.drills.mode("sim-1") is None
    assert ada.post(f"/api/drills/{drill_id}/end", json={"debrief": "again"}).status_code == 400


def test_a_heated_target_drill_marks_the_gates_fevers_and_a_restart_keeps_it(rig, virtual_gates):
    svc = rig.service
    virtual_gates(1, "normal_queue", seed=7)
    live(svc)
    ada = rig.client("ada")
    r = ada.post("/api/drills", json={"gates": ["sim-1"], "scenario": "heated_target"})
    assert r.status_code == 200
    assert svc.drills.heated("sim-1") and not svc.alarm_cases.cases.cases(drill=True)  # nothing injected
    # A FEVER the gate decides (the warm target) goes through the normal path as the drill's.
    svc._on_decisions(svc.workers["sim-1"], [_decision(svc, "sim-1")], time.monotonic())
    case = wait_for(lambda: svc.alarm_cases.cases.cases(drill=True), 5, "drill case")[0]
    assert case.drill_id == r.json()["id"]
    assert svc.alarm_cases.cases.hold_for("nobody", time.time()) is None


def _decision(svc, gate):
    from controller.protocol.result import Decision

    w = svc.workers[gate]
    return Decision(gate=gate, time_s=2.0, decision="FEVER", reason="", track=4242, estimate_c=39.0,
                    sequence=w.last_sequence)


def test_a_failed_notification_is_an_alert_to_call_and_is_on_the_case(tmp_path, mqtt_broker, virtual_gates):
    failing = HttpReceiver("fail")
    try:
        r = Rig(tmp_path, mqtt_broker, failing.url)
        try:
            svc = r.service
            virtual_gates(1, "normal_queue", seed=9)
            live(svc)
            alarm = _fever(svc)
            alert = wait_for(lambda: next((a for a in svc.open_alerts() if a["alert"] == "notify_failed"), None),
                             15, "the alert")
            assert alert["gate"] == "sim-1" and alert["detail"].startswith("call 王医生 13800001111")
            assert f"alarm-{alarm}" in alert["detail"]
            case = svc.alarm_cases.cases.case_for_alarm(alarm)
            outcomes = r.client("doc").get(f"/api/cases/{case.id}").json()["notifications"]
            assert len(outcomes) == 2 and not any(o["ok"] for o in outcomes) and outcomes[-1]["final"]
            assert svc.store.alarm(alarm).status == "open"  # the alarm itself is never lost
        finally:
            r.stop()
    finally:
        failing.close()



def test_a_pupil_sent_home_is_told_to_their_class_teacher(rig, receiver):
    from controller.identity.people_store import PeopleStore
    from controller.identity.roster_import import import_roster
    from controller.store import Screening

    svc = rig.service
    roster = ("id,name,role,class,boarder,guardian_phone,credentials,active\n"
              "S2026001,张伟,student,初一(1)班,no,,S1,yes\n")
    import_roster(PeopleStore.beside(svc.store), roster.encode(), time.time())
    sid = svc.store.record_screening(Screening(uid=f"sim-1:t:{time.monotonic_ns()}", gate="sim-1", time=time.time(),
                                               decision="FEVER", reason="", track=1, estimate_c=38.4, face_c=35.5,
                                               distance_m=0.6, reduced_accuracy=False, boot=1, sequence=5))
    svc.people.link_screening(sid, person_id="S2026001")
    case_id = svc.alarm_cases.open_case(svc.store.open_alarm(sid, "sim-1", time.time()))
    assert svc.alarm_cases.cases.case(case_id).person_id == "S2026001"
    doc = rig.client("doc")
    assert step(doc, case_id, "acknowledged").status_code == 200
    assert step(doc, case_id, "recheck", instrument="mercury", site="axillary", value_c=38.1).status_code == 200
    page = doc.get(f"/api/cases/{case_id}").json()
    assert page["person"] == {"id": "S2026001", "name": "张伟", "class_name": "初一(1)班"}
    assert rig.client("gus").get(f"/api/cases/{case_id}").json()["person"] == {"id": "S2026001"}  # no name
    assert [r.action for r in svc.people.reads("S2026001")] == ["case_show"]  # the doctor's read, audited
    assert not receiver.requests  # no message until the decision
    assert step(doc, case_id, "decision", outcome="sent_home", note="家长来接").status_code == 200
    body = receiver.wait_for(1, 10)[0].json()
    assert body["event"] == "sent_home" and body["key"] == f"case-{case_id}" and body["drill"] is False
    assert [r["id"] for r in body["recipients"]] == ["teacher-chen"]
    assert "张伟" in body["text"] and "初一(1)班" in body["text"] and "家长来接" in body["text"]
    sent = wait_for(lambda: doc.get(f"/api/cases/{case_id}").json()["notifications"], 10, "on the case")
    assert sent[0]["ok"] and sent[0]["recipient"] == "teacher-chen"


def test_an_alarm_nobody_acknowledges_escalates_on_time_until_acknowledged(tmp_path, mqtt_broker, virtual_gates,
                                                                            receiver):
    r = Rig(tmp_path, mqtt_broker, receiver.url, 'escalate_after_s = 2\nescalate_to = ["dr-zhao", "dr-sun"]')
    try:
        svc = r.service
        virtual_gates(1, "normal_queue", seed=11)
        live(svc)
        offset = time.time() - time.monotonic()
        alarm_id = _fever(svc)
        alarm = svc.store.alarm(alarm_id)

        def ours() -> list:
            """This alarm's messages: the live virtual gate may give someone a FEVER of its own meanwhile, whose
            alarm messages the same people."""
            return [q for q in list(receiver.requests) if q.json()["key"] == f"alarm-{alarm_id}"]

        first, second = wait_for(lambda: ours()[:2] if len(ours()) >= 2 else None, 10, "the alarm's two messages")
        assert [x["id"] for x in first.json()["recipients"]] == ["dr-wang", "leader-li"]
        assert [x["id"] for x in second.json()["recipients"]] == ["dr-zhao"]
        assert second.json()["escalation"] == 1
        assert 0 <= first.at + offset - alarm.time < 1.0
        assert 1.8 <= second.at - first.at < 3.0, second.at - first.at  # escalate_after_s, checked 4 times a second
        case = svc.alarm_cases.cases.case_for_alarm(alarm_id)
        assert step(r.client("doc"), case.id, "acknowledged").status_code == 200
        time.sleep(3.0)  # dr-sun's turn would have come by now
        assert {q.json()["escalation"] for q in ours()} == {0, 1}  # none to dr-sun (a message sent again on a slow
        # answer would repeat its escalation, not add one)
    finally:
        r.stop()


def test_the_phone_page_names_only_keys_of_the_catalogue():
    import re

    from controller.cases import STATES, StepKind
    from controller.cases.records import SCENARIOS
    from controller.cases.steps import CHANNELS, INSTRUMENTS, OUTCOMES, RECIPIENTS, SITES, SYMPTOMS
    from controller.console.i18n import catalogue
    from tests.controller_harness import REPO

    static = REPO / "controller" / "console" / "static"
    cat = catalogue()
    used = set(re.findall(r"""\bt\("([a-z_A-Z]+)"[,)]""", (static / "cases.js").read_text()))
    used |= set(re.findall(r'data-t="([a-zA-Z_]+)"', (static / "cases.html").read_text()))
    used |= {f"step_{k.value}" for k in StepKind} | {f"case_state_{s}" for s in STATES}
    used |= {f"sym_{s}" for s in SYMPTOMS} | {f"instr_{i}" for i in INSTRUMENTS} | {f"site_{s}" for s in SITES}
    used |= {f"case_out_{o}" for o in OUTCOMES} | {f"rcp_{r}" for r in RECIPIENTS} | {f"how_{c}" for c in CHANNELS}
    used |= {f"drill_scenario_{s}" for s in SCENARIOS} | {f"hist_{h}" for h in ("travel", "contact", "cluster")}
    used |= {"err_case_refused", "alert_notify_failed"}
    from controller.cases.machine import ALLOWED

    used |= {f"why_rule_{k.value}" for k in ALLOWED} | {f"why_{c}" for c in (
        "ack_first", "closed", "return_first", "decision_first", "escorted_once", "doctor_only", "role")}
    assert len(used) > 80
    for lang in ("zh", "en"):
        assert not sorted(k for k in used if k not in cat[lang]), lang
