"""The fever case on SQLite and PostgreSQL: the timeline from the alarm to 复课, the refusals, the hold rule,
old dispositions read as cases, drills."""

from __future__ import annotations

import pytest

from controller.cases import (
    SEE_SCHOOL_DOCTOR,
    Acknowledged,
    CaseError,
    CaseStore,
    ClearedToReturn,
    Closed,
    Decision,
    Disinfected,
    Escorted,
    FollowUp,
    HandedOver,
    Notified,
    Recheck,
    Refused,
    ReportedUpward,
    StepKind,
    Symptoms,
)
from controller.cases.case_store import open_case_store
from controller.identity.people_store import PeopleStore
from controller.identity.records import Person
from controller.store import NotFound, Screening, open_store

T0 = 1_780_000_000.0


@pytest.fixture
def stores(store_url):
    store = open_store(store_url)
    cases = CaseStore.beside(store)
    people = PeopleStore.beside(store)
    for pid, name in (("S1", "张伟"), ("S2", "李娜")):
        people.put_person(Person(pid, name, "student", "初一(1)班", False, "13800138000"), T0 - 86400)
    store.add_user("doc", "doctor", "a long pass phrase")
    store.add_user("guard1", "guard", "a long pass phrase")
    store.add_user("boss", "admin", "a long pass phrase")
    yield store, cases, people
    cases.close()
    store.close()


def _alarm(store, people, uid: str, person: str | None = "S1", t: float = T0, gate: str = "north-1") -> int:
    sid = store.record_screening(Screening(
        uid=uid, gate=gate, time=t, decision="FEVER", reason="", track=1, estimate_c=38.4, face_c=35.0,
        distance_m=0.6, reduced_accuracy=False, boot=1, sequence=1))
    if person is not None:
        people.link_screening(sid, person_id=person)
    return store.open_alarm(sid, gate, t)


def _recheck(n: int, value: float, t: float) -> Recheck:
    return Recheck(n=n, instrument="electronic", site="axillary", value_c=value, time=t)


def test_the_whole_case_from_the_alarm_to_fuke_and_closed(stores):
    store, cases, people = stores
    aid = _alarm(store, people, "a1")
    case = cases.open_case_for_alarm(store.alarm(aid), None, False)
    assert (case.person_id, case.state, case.drill, case.steps) == ("S1", "open", False, ())  # the screening's person
    assert cases.open_case_for_alarm(aid).id == case.id  # one case per alarm
    t = T0 + 10
    cases.add_step(case.id, Acknowledged(), "guard1", t)
    assert store.alarm(aid).status == "acknowledged"  # the console's banner follows the case
    cases.add_step(case.id, Escorted(time_in=t + 60, room="临时观察室"), "doc", t + 60)
    for n, v in ((1, 38.1), (2, 38.3), (3, 38.2)):
        cases.add_step(case.id, _recheck(n, v, t + 100 * n), "doc", t + 100 * n)
    cases.add_step(case.id, Symptoms(checklist=("cough", "fatigue"), contact=True, contact_detail="同桌发热"),
                   "doc", t + 400)
    cases.add_step(case.id, Decision(outcome="sent_home", note="38.2 after three checks"), "doc", t + 420)
    alarm = store.alarm(aid)
    assert (alarm.status, alarm.outcome, alarm.recheck_c, alarm.disposed_by) == ("disposed", "sent_home", 38.2, "doc")
    assert "case" in alarm.note and "sent_home" in alarm.note
    cases.add_step(case.id, Notified(recipient="class_teacher", by_whom="doc", how="phone", when=t + 430), "doc",
                   t + 430)
    cases.add_step(case.id, Notified(recipient="parent", by_whom="王老师", how="phone", when=t + 450), "doc", t + 450)
    cases.add_step(case.id, HandedOver(to_whom="张伟的母亲", when=t + 1800), "doc", t + 1800)
    cases.add_step(case.id, Disinfected(areas="route, observation room"), "guard1", t + 2000)
    cases.add_step(case.id, ReportedUpward(to_whom="区教育局", how="phone"), "boss", t + 2100)
    cases.add_step(case.id, FollowUp(date="2026-05-29", note="37.8 at home, resting"), "guard1", t + 86400)
    cases.add_step(case.id, ClearedToReturn(certificate_seen=True, issuer="区人民医院", certificate_date="2026-05-31"),
                   "doc", t + 3 * 86400)
    cases.add_step(case.id, FollowUp(date="2026-06-01", note="extra check at the gate: 36.5"), "guard1", t + 4 * 86400)
    cases.add_step(case.id, Closed(note="returned"), "doc", t + 4 * 86400 + 60)
    got = cases.case(case.id)
    assert got.state == "closed" and got.decision == "sent_home"
    assert (got.decided_at, got.cleared_at, got.closed_at) == (t + 420, t + 3 * 86400, t + 4 * 86400 + 60)
    kinds = [s.kind.value for s in got.steps]
    assert kinds == ["acknowledged", "escorted", "recheck", "recheck", "recheck", "symptoms", "decision", "notified",
                     "notified", "handed_over", "disinfected", "reported_upward", "follow_up", "cleared_to_return",
                     "follow_up", "closed"]
    sym = got.steps[5].data
    assert sym == Symptoms(checklist=("fatigue", "cough"), contact=True, contact_detail="同桌发热")
    assert [s.data.value_c for s in got.steps if s.kind is StepKind.RECHECK] == [38.1, 38.3, 38.2]
    assert got.steps[0].by_user == "guard1" and got.steps[13].by_user == "doc"
    assert cases.timeline(case.id) == list(got.steps)
    assert [c.id for c in cases.cases(open_only=True)] == []
    assert [c.id for c in cases.cases(person_id="S1")] == [case.id]
    with pytest.raises(Refused, match="the case is closed"):
        cases.add_step(case.id, Disinfected(areas="room"), "doc", t + 5 * 86400)


def test_back_in_after_a_normal_recheck(stores):
    store, cases, people = stores
    case = cases.open_case_for_alarm(_alarm(store, people, "b1"))
    cases.add_step(case.id, Acknowledged(), "guard1", T0 + 5)
    cases.add_step(case.id, _recheck(1, 36.6, T0 + 60), "doc", T0 + 60)
    cases.add_step(case.id, Decision(outcome="back_in"), "doc", T0 + 70)
    assert store.alarm(case.alarm_id).outcome == "admitted"
    cases.add_step(case.id, Closed(), "doc", T0 + 80)
    assert cases.case(case.id).state == "closed"


@pytest.mark.parametrize("steps, bad, reason", [
    ([], Escorted(time_in=T0), "acknowledge the alarm first"),
    ([], Decision(outcome="sent_home"), "acknowledge the alarm first"),
    ([Acknowledged()], Acknowledged(), "acknowledged already"),
    ([Acknowledged()], Closed(), "record a decision first"),
    ([Acknowledged()], Decision(outcome="back_in"), "back in needs a re-check reading first"),
    ([Acknowledged()], _recheck(2, 37.0, T0), "this is re-check 1, not 2"),
    ([Acknowledged()], ClearedToReturn(True, "clinic", "2026-06-01"), "only for a person sent away"),
    ([Acknowledged()], HandedOver(to_whom="mother", when=T0), "only after a decision to send them away"),
    ([Acknowledged()], FollowUp(date="2026-06-01", note="x"), "daily follow-ups"),
    ([Acknowledged(), Escorted(time_in=T0)], Escorted(time_in=T0), "escorted to observation already"),
    ([Acknowledged(), Decision(outcome="sent_home")], Closed(), r"record 复课 \(cleared_to_return\) first"),
    ([Acknowledged(), Decision(outcome="fever_clinic")], Decision(outcome="back_in"), "one decision"),
    ([Acknowledged(), Decision(outcome="ambulance")], _recheck(1, 38.0, T0), "before the decision"),
    ([Acknowledged(), _recheck(1, 36.5, T0), Decision(outcome="back_in")],
     ClearedToReturn(True, "clinic", "2026-06-01"), "only for a person sent away"),
])
def test_forbidden_steps_are_refused_with_the_reason(stores, steps, bad, reason):
    store, cases, people = stores
    case = cases.open_case_for_alarm(_alarm(store, people, "f"))
    for i, s in enumerate(steps):
        cases.add_step(case.id, s, "doc", T0 + i)
    before = cases.case(case.id)
    with pytest.raises(Refused, match=reason) as err:
        cases.add_step(case.id, bad, "doc", T0 + 100)
    assert err.value.kind is bad.kind and err.value.state == before.state
    assert cases.case(case.id) == before  # nothing recorded


def test_fuke_needs_a_doctor_and_the_certificate(stores):
    store, cases, people = stores
    case = cases.open_case_for_alarm(_alarm(store, people, "d"))
    cases.add_step(case.id, Acknowledged(), "guard1", T0)
    cases.add_step(case.id, Decision(outcome="sent_home"), "doc", T0 + 1)
    for user in ("guard1", "boss", "someone-not-a-user"):
        with pytest.raises(Refused, match="doctor role"):
            cases.add_step(case.id, ClearedToReturn(True, "clinic", "2026-06-01"), user, T0 + 86400)
    with pytest.raises(CaseError, match="certificate seen"):
        ClearedToReturn(False, "clinic", "2026-06-01")
    with pytest.raises(CaseError, match="issuer is required"):
        ClearedToReturn(True, " ", "2026-06-01")
    assert cases.case(case.id).state == "sent_home"


def test_bad_step_data_is_refused_by_field():
    for make, message in [
        (lambda: Recheck(1, "laser", "oral", 37.0, T0), "instrument must be one of mercury|electronic|infrared"),
        (lambda: Recheck(1, "mercury", "ear", 37.0, T0), "site must be one of axillary|oral|forehead"),
        (lambda: Recheck(1, "mercury", "oral", 29.9, T0), "outside 30-45"),
        (lambda: Recheck(1, "mercury", "oral", 45.1, T0), "outside 30-45"),
        (lambda: Recheck(1, "mercury", "oral", float("nan"), T0), "value_c must be a temperature"),
        (lambda: Recheck(0, "mercury", "oral", 37.0, T0), "n must be a whole number"),
        (lambda: Recheck(1, "mercury", "oral", 37.0, 1_780_000_000_000), "not a plausible time"),
        (lambda: Symptoms(checklist=("sneezing",)), "checklist item must be one of"),
        (lambda: Symptoms(travel=True), "travel_detail is required when travel is yes"),
        (lambda: Decision(outcome="admitted"), "outcome must be one of back_in|sent_home|fever_clinic|ambulance"),
        (lambda: Notified(recipient="class_teacher", by_whom="", how="phone", when=T0), "by_whom is required"),
        (lambda: Notified(recipient="granny", by_whom="x", how="phone", when=T0), "recipient must be one of"),
        (lambda: FollowUp(date="31/05/2026", note="x"), "date must be a date YYYY-MM-DD"),
    ]:
        with pytest.raises(CaseError, match=message):
            make()


def test_a_new_recheck_names_its_thermometer(stores):
    store, cases, people = stores
    case = cases.open_case_for_alarm(_alarm(store, people, "r"))
    cases.add_step(case.id, Acknowledged(), "guard1", T0)
    with pytest.raises(CaseError, match="name the instrument"):
        cases.add_step(case.id, Recheck(1, None, None, 38.0, T0), "doc", T0 + 1)
    with pytest.raises(NotFound):
        cases.add_step(999_999, Acknowledged(), "doc", T0)


def test_the_hold_rule(stores):
    store, cases, people = stores
    case = cases.open_case_for_alarm(_alarm(store, people, "h1"))
    assert cases.hold_for("S1", T0 + 1) is None  # an alarm alone holds nobody
    cases.add_step(case.id, Acknowledged(), "guard1", T0 + 1)
    cases.add_step(case.id, _recheck(1, 38.5, T0 + 2), "doc", T0 + 2)
    assert cases.hold_for("S1", T0 + 3) is None
    cases.add_step(case.id, Decision(outcome="sent_home"), "doc", T0 + 10)
    assert cases.hold_for("S1", T0 + 9) is None  # not before the decision
    assert cases.hold_for("S1", T0 + 10) == SEE_SCHOOL_DOCTOR
    assert cases.hold_for("S1", T0 + 30 * 86400) == SEE_SCHOOL_DOCTOR  # until 复课, however long
    assert cases.hold_for("S2", T0 + 10) is None and cases.hold_for(None, T0 + 10) is None
    cases.add_step(case.id, ClearedToReturn(True, "区人民医院", "2026-06-01"), "doc", T0 + 86400)
    assert cases.hold_for("S1", T0 + 86400) is None  # released by 复课
    assert cases.hold_for("S1", T0 + 86399) == SEE_SCHOOL_DOCTOR  # and held before it

    # fever clinic holds too; back in never does
    c2 = cases.open_case_for_alarm(_alarm(store, people, "h2", person="S2"))
    cases.add_step(c2.id, Acknowledged(), "guard1", T0 + 5)
    cases.add_step(c2.id, Decision(outcome="fever_clinic"), "doc", T0 + 6)
    assert cases.hold_for("S2", T0 + 7) == SEE_SCHOOL_DOCTOR
    c3 = cases.open_case_for_alarm(_alarm(store, people, "h3", person="S1", t=T0 + 2 * 86400))
    cases.add_step(c3.id, Acknowledged(), "guard1", T0 + 2 * 86400)
    cases.add_step(c3.id, _recheck(1, 36.8, T0 + 2 * 86400), "doc", T0 + 2 * 86400 + 1)
    cases.add_step(c3.id, Decision(outcome="back_in"), "doc", T0 + 2 * 86400 + 2)
    assert cases.hold_for("S1", T0 + 2 * 86400 + 3) is None


def test_a_drill_holds_nobody_and_does_not_count(stores):
    store, cases, people = stores
    store.upsert_gate("north-1")
    aid = _alarm(store, people, "x1")
    with pytest.raises(CaseError, match="no drill is running on gate north-1"):
        cases.open_case_for_alarm(aid, None, True)
    drill = cases.start_drill("boss", ["north-1"], "simulated_fever", {"screening.threshold_c": 37.3}, at=T0 - 60)
    case = cases.open_case_for_alarm(aid, None, True)
    assert case.drill and case.drill_id == drill.id
    assert cases.open_case_for_alarm(aid, None, True) == case
    with pytest.raises(CaseError, match=f"already has case {case.id}, a drill"):
        cases.open_case_for_alarm(aid, None, False)
    cases.add_step(case.id, Acknowledged(), "guard1", T0 + 8)
    cases.add_step(case.id, _recheck(1, 38.0, T0 + 70), "doc", T0 + 70)
    cases.add_step(case.id, Decision(outcome="sent_home"), "doc", T0 + 95)
    assert cases.hold_for("S1", T0 + 100) is None  # a drill never holds anyone
    assert cases.cases() == [] and cases.cases(open_only=True) == []  # nor counts
    assert [c.id for c in cases.cases(drill=True)] == [case.id]
    assert [c.id for c in cases.cases(drill=None)] == [case.id]


def test_drill_start_and_end_give_back_the_settings(stores):
    store, cases, people = stores
    for g in ("north-1", "south-1"):
        store.upsert_gate(g)
    before = {"screening.threshold_c": 37.3, "notify.prefix": "", "gates": {"south-1": {"sound": True}}}
    drill = cases.start_drill("boss", ["south-1", "north-1"], "heated_target", before, at=T0)
    assert drill.running and drill.gates == ("north-1", "south-1") and drill.settings_changed == before
    with pytest.raises(CaseError, match="gate north-1 is already in drill"):
        cases.start_drill("boss", ["north-1"], "simulated_fever", {}, at=T0 + 1)
    for bad, message in [(dict(gates=[]), "one or more gate ids"), (dict(scenario="fire"), "scenario must be one of"),
                         (dict(settings_before={"x": float("nan")}), "plain JSON"),
                         (dict(gates=["east-9"]), "no gate 'east-9'")]:
        kw = dict(user="boss", gates=["east-9"] if "gates" not in bad else bad["gates"], scenario="simulated_fever",
                  settings_before={}, at=T0)
        kw.update(bad)
        with pytest.raises((CaseError, NotFound), match=message):
            cases.start_drill(**kw)
    # a case on the drill, timed from the alarm
    case = cases.open_case_for_alarm(_alarm(store, people, "dr", t=T0 + 100, gate="south-1"), None, True)
    cases.add_step(case.id, Acknowledged(), "guard1", T0 + 112)
    cases.add_step(case.id, Escorted(time_in=T0 + 160), "doc", T0 + 160)
    cases.add_step(case.id, _recheck(1, 36.9, T0 + 200), "doc", T0 + 200)
    cases.add_step(case.id, Decision(outcome="back_in"), "doc", T0 + 215)
    got = cases.drill(drill.id)
    (dc,) = got.cases
    assert [(t.kind.value, t.after_alarm_s) for t in dc.steps] == [
        ("acknowledged", 12.0), ("escorted", 60.0), ("recheck", 100.0), ("decision", 115.0)]
    assert dc.decision_after_s == 115.0
    assert cases.end_drill(drill.id, "slow escort: 48 s from ack to the room", at=T0 + 600) == before
    ended = cases.drill(drill.id)
    assert not ended.running and ended.debrief.startswith("slow escort") and ended.ended_at == T0 + 600
    with pytest.raises(CaseError, match="has ended already"):
        cases.end_drill(drill.id, "again", at=T0 + 700)
    assert cases.drills(running_only=True) == []
    cases.start_drill("boss", ["north-1"], "simulated_fever", {}, at=T0 + 800)  # the gates are free again


def test_old_dispositions_read_as_cases(stores):
    store, cases, people = stores
    made = {}
    for uid, outcome, reading, note in [("o1", "admitted", 36.7, ""), ("o2", "sent_home", 38.6, "mother came"),
                                        ("o3", "false_alarm", None, "hot tea"),
                                        ("o4", "observation_room", 37.9, "rest")]:
        aid = _alarm(store, people, uid)
        store.acknowledge_alarm(aid, "guard1", T0 + 5)
        store.dispose_alarm(aid, recheck_c=reading, outcome=outcome, user="doc", time=T0 + 300, note=note)
        made[outcome] = aid
    open_aid = _alarm(store, people, "o5")

    c = cases.alarm_as_case(made["admitted"])
    assert c.legacy and c.id is None and c.state == "back_in" and c.person_id == "S1"
    assert [(s.kind.value, s.by_user, s.at) for s in c.steps] == [
        ("acknowledged", "guard1", T0 + 5), ("recheck", "doc", T0 + 300), ("decision", "doc", T0 + 300)]
    assert c.steps[1].data == Recheck(1, None, None, 36.7, T0 + 300)
    sent = cases.alarm_as_case(made["sent_home"])
    assert sent.state == "sent_home" and sent.steps[-1].data == Decision("sent_home", "mother came")
    false = cases.alarm_as_case(made["false_alarm"])
    assert [s.kind.value for s in false.steps] == ["acknowledged", "decision"]
    assert false.steps[-1].data == Decision("back_in", "false alarm: hot tea")
    obs = cases.alarm_as_case(made["observation_room"])
    assert obs.state == "observation" and obs.decision is None
    assert obs.steps[-1].data == Escorted(time_in=T0 + 300, note="rest")
    assert cases.alarm_as_case(open_aid).state == "open" and cases.alarm_as_case(open_aid).steps == ()
    assert cases.hold_for("S1", T0 + 400) is None  # an old alarm read as a case holds nobody
    assert cases.cases(drill=None) == []  # and reading stores nothing

    # touched, an old disposition becomes a stored case with the same steps, and goes on from there
    touched = cases.open_case_for_alarm(made["sent_home"])
    assert not touched.legacy and touched.state == "sent_home" and touched.decided_at == T0 + 300
    assert [(s.kind, s.at, s.by_user, s.data) for s in touched.steps] == [
        (s.kind, s.at, s.by_user, s.data) for s in sent.steps]
    assert cases.hold_for("S1", T0 + 400) == SEE_SCHOOL_DOCTOR
    cases.add_step(touched.id, ClearedToReturn(True, "clinic", "2026-06-01"), "doc", T0 + 86400)
    cases.add_step(touched.id, Closed(), "doc", T0 + 86401)
    assert store.alarm(made["sent_home"]).note == "mother came"  # the old disposition is left as it was
    # an old admitted without a reading closes as it is
    adm = cases.open_case_for_alarm(made["false_alarm"])
    cases.add_step(adm.id, Closed(), "doc", T0 + 500)
    # an open alarm gets a case when first touched; an acknowledged one starts acknowledged
    store.acknowledge_alarm(open_aid, "guard1", T0 + 7)
    first = cases.open_case_for_alarm(open_aid)
    assert first.state == "acknowledged" and [s.kind.value for s in first.steps] == ["acknowledged"]
    assert cases.alarm_as_case(open_aid) == first
    with pytest.raises(NotFound):
        cases.alarm_as_case(424242)


def test_a_person_not_on_the_roster_and_cases_without_a_person(stores):
    store, cases, people = stores
    anon = cases.open_case_for_alarm(_alarm(store, people, "n1", person=None))
    assert anon.person_id is None
    cases.add_step(anon.id, Acknowledged(), "guard1", T0)
    cases.add_step(anon.id, Decision(outcome="sent_home"), "doc", T0 + 1)
    assert cases.hold_for("S1", T0 + 2) is None
    with pytest.raises(NotFound, match="no person 'S9'"):
        cases.open_case_for_alarm(_alarm(store, people, "n2", person=None), "S9")


def test_open_case_store_by_url(store_url):
    with open_store(store_url) as store:
        store.upsert_gate("north-1")
    with open_case_store(store_url) as cases:
        assert cases.cases(drill=None) == []
        d = cases.start_drill("boss", "north-1", "simulated_fever", {}, at=T0)
        assert cases.drill(d.id).gates == ("north-1",)


def test_two_decisions_at_once_one_wins(store_url):
    import threading

    with open_store(store_url) as store:
        people = PeopleStore.beside(store)
        people.put_person(Person("S1", "张伟", "student", "初一(1)班", False, ""), T0 - 10)
        store.add_user("doc", "doctor", "a long pass phrase")
        aid = _alarm(store, people, "race")
    stores = [open_case_store(store_url) for _ in range(2)]
    case = stores[0].open_case_for_alarm(aid)
    stores[0].add_step(case.id, Acknowledged(), "doc", T0)
    results: list[object] = []
    start = threading.Barrier(2)

    def decide(cs, outcome):
        start.wait()
        try:
            results.append(cs.add_step(case.id, Decision(outcome=outcome), "doc", T0 + 1).data.outcome)
        except Refused as exc:
            results.append(exc)

    outcomes = ("sent_home", "fever_clinic")
    threads = [threading.Thread(target=decide, args=(cs, o)) for cs, o in zip(stores, outcomes, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, Refused)]
    assert len(won) == 1 and len(lost) == 1 and "one decision" in str(lost[0])
    got = stores[0].case(case.id)
    assert got.decision == won[0] and [s.kind.value for s in got.steps] == ["acknowledged", "decision"]
    for cs in stores:
        cs.close()


def test_retention_leaves_the_case(stores):
    store, cases, people = stores
    people.put_person(Person("OLD", "王五", "student", "初二(2)班", False, "", active=False), T0 - 400 * 86400)
    aid = _alarm(store, people, "ret", person="OLD", t=T0 - 300 * 86400)
    case = cases.open_case_for_alarm(aid)
    cases.add_step(case.id, Acknowledged(), "doc", T0 - 300 * 86400 + 5)
    cases.add_step(case.id, Decision(outcome="fever_clinic"), "doc", T0 - 300 * 86400 + 9)
    assert people.purge_screenings(T0 - 200 * 86400) == 1  # the alarm was disposed by the decision
    assert people.purge_inactive_people(T0 - 365 * 86400) == 1
    got = cases.case(case.id)
    assert (got.alarm_id, got.person_id, got.decision) == (None, None, "fever_clinic")
    assert [s.kind.value for s in got.steps] == ["acknowledged", "decision"]
