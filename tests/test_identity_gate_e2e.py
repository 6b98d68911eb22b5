"""Who is at the gate, end to end: a real mosquitto, virtual gates (the firmware on virtual hardware) whose
people scan QR codes at the gate's scanner 1 s before stepping onto the mark, and the controller with the
school's roster, a visitor's passes and ``[site] require_identity``.

With it on: a known student PASSes and the door opens; an unknown code, no code and a visitor pass outside
its window keep the door shut (RETRY ``register_at_gatehouse``) whatever the temperature; a visitor inside
the window enters; a fever names the person, their class and their class teacher in the alarm and the
result. With it off, a person who scans nothing passes as before. Each tie of a credential to a screening is
checked against the simulator's ground truth: the person standing on the mark is the one who scanned."""

from __future__ import annotations

import time

from controller.cases.case_store import CaseStore
from controller.cases.steps import Acknowledged
from controller.cases.steps import Decision as CaseDecision
from controller.identity.passes import load_pass_key
from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.identity.visitors import register
from controller.protocol.credential import Credential, credential_payload
from controller.protocol.mac import sensor_key
from controller.store import open_store
from controller.store.records import Screening
from sim.pytest_plugin import gate_results, gate_results_until

ROSTER = """id,name,role,class,boarder,guardian_phone,credentials,active
S2026001,张伟,student,初一(1)班,no,138 0013 8000,S2026001,yes
S2026002,王芳,student,初一(2)班,yes,,S2026002,yes
S2026009,刘洋,student,初一(1)班,no,,S2026009,no
S2026003,孙磊,student,初一(1)班,no,,S2026003,yes
""" + "".join(f"F{i:03d},学生{i:02d},student,初二({1 + i % 2})班,no,,FEVER-{i:03d},yes\n" for i in range(12))

CLASSES = """
[classes."初二(1)班"]
teacher = "赵老师"
phone = "139 0000 0001"
"""

GATE, FEVER_GATE = "sim-1", "fever-1"


def _setup_people(tmp_path):
    """The roster imported and two visitor passes signed (one inside its window, one not yet open), in the
    store and site directory the controller will use; the passes' QR texts."""
    store = open_store(str(tmp_path / "thermogate.db"))
    people = PeopleStore.beside(store)
    report = import_roster(people, ROSTER.encode(), time.time())
    assert not [o for o in report.lines if o.outcome == "refused"], report.lines
    key = load_pass_key(tmp_path / "site", create=True)
    now = time.time()
    _v, inside = register(people, key, name="陈静", id_last4="123X", host="李老师", purpose="家长会",
                          valid_from=now - 60, valid_until=now + 3600, issued_by="guard", now=now)
    _v, later = register(people, key, name="周强", id_last4="4567", host="李老师", purpose="送货",
                         valid_from=now + 7200, valid_until=now + 10800, issued_by="guard", now=now)
    # 孙磊 had a fever yesterday and was sent home: held until the school doctor clears him (复课)
    sid = store.record_screening(Screening(uid="yesterday", gate=GATE, time=now - 86400, decision="FEVER",
                                           reason="", track=1, estimate_c=38.6, face_c=35.2, distance_m=0.5,
                                           reduced_accuracy=False, boot=1, sequence=1))
    people.link_screening(sid, person_id="S2026003")
    store.add_user("doc", "doctor", "a long pass phrase")
    cases = CaseStore.beside(store)
    case = cases.open_case_for_alarm(store.open_alarm(sid, GATE, now - 86400))
    cases.add_step(case.id, Acknowledged(), "doc", now - 86300)
    cases.add_step(case.id, CaseDecision(outcome="sent_home"), "doc", now - 86000)
    assert cases.hold_for("S2026003", now) == "see_school_doctor"
    store.close()
    return inside, later


def _standing(gate, sequence: int) -> int | None:
    """The id of the person standing on the mark in the frame a decision was made on (ground truth)."""
    truth = gate.truth.get(sequence)
    if truth is None:
        return None
    standing = [p["id"] for p in truth["people"] if p["phase"] == "standing"]
    return standing[0] if len(standing) == 1 else None


def _tap(hub) -> list:
    """Every live event the service publishes (what the console's WebSocket is sent), frames aside."""
    events: list = []
    publish = hub.publish

    def tapped(event):
        if event.kind != "frame":
            events.append(event)
        publish(event)

    hub.publish = tapped
    return events


def test_require_identity_at_the_gate(tmp_path, controller_service, virtual_gates, mqtt_watch):
    inside, later = _setup_people(tmp_path)
    # person i of the queue shows codes[i % 12] (None: scans nothing); people 2, 6 and 10 wear masks
    codes = {0: "S2026001", 1: "NOBODY-404", 2: "S2026002", 3: inside, 4: later, 5: None, 6: "S2026002",
             7: "S2026003", 8: "NOBODY-404", 9: inside, 10: None, 11: later}
    watch = mqtt_watch(["thermogate/+/result", "thermogate/+/cmd", "thermogate/+/credential"])
    svc = controller_service([GATE, FEVER_GATE], site_extra="require_identity = true", extra=CLASSES)
    events = _tap(svc.live)
    (gate,) = virtual_gates(1, "normal_queue", seed=3, credentials=lambda i: codes[i % 12])
    (fever_gate,) = virtual_gates(1, "fever", seed=0, prefix="fever", credentials=lambda i: f"FEVER-{i % 12:03d}")
    assert (gate.gate_id, fever_gate.gate_id) == (GATE, FEVER_GATE)

    def refusals() -> set[str]:
        return {e.credential for e in events if e.kind == "identity" and e.gate == GATE}

    def seen(results):
        passes = {(r["person"] or {}).get("name") for r in results if r["decision"] == "PASS"}
        held = [r for r in results if r["reason"] == "see_school_doctor"]
        return {"张伟", "陈静"} <= passes and {"none", "unknown", "outside_window"} <= refusals() and held

    results = gate_results_until(watch, GATE, seen, timeout=120)
    assert seen(results), [(r["decision"], r["reason"], r["person"]) for r in results]
    fevers = gate_results_until(watch, FEVER_GATE, lambda rs: any(r["decision"] == "FEVER" for r in rs), timeout=60)
    time.sleep(1.5)  # the last acks
    results = gate_results(watch, GATE)
    scans = {s.person: s.text for s in gate.scenario.scans(0, gate.t + 1)}  # person id -> the code they showed
    visitor_ids = {inside: "visitor-inside", later: "visitor-later"}

    # Every PASS names a known person or a valid visitor, and is the person standing on the mark.
    passed = [r for r in results if r["decision"] == "PASS"]
    assert passed
    for r in passed:
        assert r["person"] is not None, r
        who = _standing(gate, r["sequence"])
        if who is not None:
            shown = scans.get(who)
            expected = {"S2026001": "张伟", "S2026002": "王芳", inside: "陈静"}.get(shown)
            assert r["person"]["name"] == expected, (r, who, visitor_ids.get(shown, shown))
    visitor = next(r for r in passed if r["person"]["name"] == "陈静")
    assert visitor["person"]["visitor"] is True
    student = next(r for r in passed if r["person"]["name"] == "张伟")
    assert student["person"] == {"id": "S2026001", "name": "张伟"}

    # Nobody else passed: no code, an unknown one, the pass outside its window: RETRY, and the door shut.
    refused = [r for r in results if r["reason"] == "register_at_gatehouse"]
    assert all(r["decision"] == "RETRY" and r["estimate_c"] is not None for r in refused)
    for r in refused:
        who = _standing(gate, r["sequence"])
        if who is not None:
            assert scans.get(who) in (None, "NOBODY-404", later), (r, who, scans.get(who))
    assert {"none", "unknown", "outside_window"} <= refusals()
    shut = [e for e in events if e.kind == "identity"]
    assert all(e.reason == "register_at_gatehouse" or (e.reason, e.credential, e.name) == (
        "see_school_doctor", "ok", "孙磊") for e in shut), shut
    store = svc.store
    actions = store.door_actions(gate=GATE)
    opens = [a for a in actions if a.action == "open"]
    assert opens and all(a.ack_ok for a in opens), opens
    assert {a.screening_id for a in opens} <= {r["screening_id"] for r in passed}
    assert not {a.screening_id for a in opens} & {r["screening_id"] for r in refused}
    pulses = [v for _t, v in gate.relay.history if v == 1]
    assert len(pulses) == len(opens)

    # The student sent home yesterday is held at the gate: RETRY see_school_doctor, named, the door shut.
    held = [r for r in results if r["reason"] == "see_school_doctor"]
    assert held and all(r["decision"] == "RETRY" and r["person"] == {"id": "S2026003", "name": "孙磊"} for r in held)
    assert not {a.screening_id for a in opens} & {r["screening_id"] for r in held}

    # The screening rows name the person (their file) and the visitor.
    file = svc.people.person_file("S2026001")
    assert student["screening_id"] in {s.id for s in file.screenings}
    rows = svc.people._read("SELECT visitor_id FROM screenings WHERE id = ?", (visitor["screening_id"],))
    assert rows[0]["visitor_id"] is not None

    # The fever names the person on the result, and the alarm their class and class teacher.
    fever = next(r for r in fevers if r["decision"] == "FEVER")
    assert fever["person"] is not None and fever["person"]["id"].startswith("F"), fever
    alarm = next(e for e in events if e.kind == "alarm" and e.screening_id == fever["screening_id"])
    person = alarm.person
    assert person["name"] == fever["person"]["name"]
    n = int(person["id"][1:])
    assert person["class"] == f"初二({1 + n % 2})班"
    assert person["teacher"] == ({"name": "赵老师", "phone": "139 0000 0001"} if n % 2 == 0 else None)
    # ... and so does the store, for the console after a reload (the screening's person)
    assert svc.people.screening_person(fever["screening_id"]) == {k: person[k] for k in ("id", "name", "class")}
    assert svc.people.screening_person(visitor["screening_id"]) == visitor["person"]
    nobody = next(e.screening_id for e in events if e.kind == "identity" and e.credential in ("none", "unknown"))
    assert svc.people.screening_person(nobody) is None
    assert not [a for a in store.door_actions(gate=FEVER_GATE)
                if a.screening_id == fever["screening_id"] and a.action == "open"]

    # Counted on the gate's summary and in the metrics.
    summary = next(s for s in svc.gate_summaries() if s.gate == GATE)
    assert summary.identity["accepted"] >= 4 and summary.identity["outcomes"].get("ok", 0) >= 2
    assert summary.identity["outcomes"].get("unknown", 0) >= 1

    # Someone else on the gate's topic: a forged read of a student's code and a replayed genuine one are
    # counted and refused; neither is tied to anything nor opens the door.
    from controller.mqtt.link import Broker, close, connect

    genuine = [p for _t, p in watch.messages(f"thermogate/{GATE}/credential")]
    assert genuine
    forged = credential_payload(sensor_key(bytes(32)), Credential(GATE, gate.boot_id, 10**6, "qr", "S2026001", 1))
    refused_before = dict(summary.identity["refused"])
    intruder = connect(Broker(svc.config.mqtt.host, svc.config.mqtt.port), "intruder")
    try:
        intruder.publish(f"thermogate/{GATE}/credential", forged, qos=1).wait_for_publish(5)
        intruder.publish(f"thermogate/{GATE}/credential", genuine[0], qos=1).wait_for_publish(5)
    finally:
        close(intruder)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        refused = next(s for s in svc.gate_summaries() if s.gate == GATE).identity["refused"]
        if refused.get("mac", 0) > refused_before.get("mac", 0) and refused.get("replay", 0) + refused.get(
                "stale", 0) > refused_before.get("replay", 0) + refused_before.get("stale", 0):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the forged and replayed reads were not counted: {refused}")


def test_without_require_identity_a_person_without_a_code_passes(tmp_path, controller_service, virtual_gates,
                                                                  mqtt_watch):
    watch = mqtt_watch("thermogate/+/result")
    controller_service([GATE])
    (gate,) = virtual_gates(1, "normal_queue", seed=3)
    assert gate.scanner is None
    results = gate_results_until(watch, GATE, lambda rs: any(r["decision"] == "PASS" for r in rs), timeout=60)
    passed = [r for r in results if r["decision"] == "PASS"]
    assert passed and all(r["person"] is None for r in passed)
    assert not [r for r in results if r["reason"] == "register_at_gatehouse"]
