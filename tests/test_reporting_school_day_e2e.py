"""A school day at the gates, end to end: a real controller (SQLite) with ``[report]``, a roster with QR codes
and ``[site] require_identity``, and a virtual gate over a real mosquitto whose queue is the roster's pupils.

The day is squeezed into a few minutes of the controller's time zone around now: a morning session (晨检) that
ends at a minute boundary, a noon session (午检) the minute after, the deadline at the noon session's end. Two
pupils never come (one per class); one comes with a fever, and the doctor decides their case "sent home" through
the cases API the console uses; at noon the others come again (the one sent home does not). The counts, the
absentee lists, the warning and the report delivered to a file drop and a local HTTP receiver are checked
against the simulator's ground truth: who stood on the mark, which code they showed, and when."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import time

import pytest

from controller.cases.case_store import CaseStore
from controller.cases.steps import Acknowledged, Decision
from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.reporting.counts import absentees, day_counts
from controller.reporting.report_store import ReportStore
from controller.store import open_store
from sim.runner import GateThread, make_gates
from sim.scenarios import scenario
from tests.controller_harness import midday_zone, start_controller
from tests.reporting_day import report_toml
from tests.test_reporting_day import Receiver

pytestmark = pytest.mark.slow

CODE = "4401060009"
A, B = "初一(1)班", "初一(2)班"
ROSTER = {"S1": ("张一", A), "S2": ("张二", A), "S3": ("张三", A), "S4": ("李四", B), "S5": ("李五", B)}
# The morning queue is the "fever" scenario's (people stand on the mark 4-16 s after the gate starts, the same
# people every 69 s cycle): person 1 is febrile (38.0-39.5 degC core), 0 and 2 are not. The gate is switched off
# after them, before the queue's febrile strangers (persons 4-5) step up. The noon queue is "normal_queue" (no
# fevers): the two pupils left. S3 and S5 never come: the day's two absences; S2 is sent home.
MORNING = {0: "QR-S1", 1: "QR-S2", 2: "QR-S4"}
NOON = {0: "QR-S1", 1: "QR-S4"}
ABSENT = {"S3", "S5"}
GATE = "sim-1"
LO = 30.0  # the morning session ends at the first minute boundary at least LO s after the gate starts
SETUP_S = 5.0  # controller start, roster import (under 1 s on an idle machine)


def _queue(broker, scenario_name: str, codes: dict[int, str], boot_seed: int):
    """A virtual gate GATE whose queue's person i shows ``codes.get(i % 12)``, stepping in the background;
    ``boot_seed`` draws its boot id (a gate switched on again boots with a new one)."""
    [gate] = make_gates(1, lambda _i: scenario(scenario_name, 0, credentials=lambda i: codes.get(i % 12)),
                        broker.host, broker.port, seed=boot_seed)
    return gate, GateThread([gate]).start()


def _hhmm(t: float, tz) -> str:
    return dt.datetime.fromtimestamp(t, tz).strftime("%H:%M")


def test_a_school_day_at_the_gates(tmp_path, mqtt_broker, mqtt_watch):
    tz = midday_zone()  # 12:xx there now: the whole day fits in the hour, far from midnight
    t0 = time.time()
    m1 = math.ceil((t0 + SETUP_S + LO) / 60) * 60.0  # the morning session's end: a minute boundary
    m2 = m1 + 60.0  # the noon session's end and the deadline
    day = dt.datetime.fromtimestamp(m1, tz).date()

    # The roster (codes = credentials), the reporter and the backup, in the store the controller will open.
    db = tmp_path / "thermogate.db"
    store = open_store(str(db))
    csv = "id,name,role,class,boarder,guardian_phone,credentials,active\n" + "".join(
        f"{pid},{name},student,{cls},no,,QR-{pid},yes\n" for pid, (name, cls) in ROSTER.items())
    imported = import_roster(PeopleStore.beside(store), csv.encode(), time.time())
    assert not [o for o in imported.lines if o.outcome == "refused"], imported.lines
    store.add_user("li", "doctor", "pw-li-123456")
    store.add_user("zhao", "admin", "pw-zhao-123456")
    store.close()

    receiver = Receiver()
    drop = tmp_path / "drop"
    extra = report_toml(
        {"school": "实验小学", "school_code": CODE, "reporter": "li", "backup_reporter": "zhao",
         "deadline": _hhmm(m2, tz), "build_before_min": 1, "dir": str(tmp_path / "archive"), "attempts": 2,
         "retry_s": 5, "timeout_s": 5},
        {"晨检": {"start": _hhmm(m1 - 300, tz), "end": _hhmm(m1, tz), "gates": [GATE]},
         "午检": {"start": _hhmm(m1, tz), "end": _hhmm(m2, tz), "gates": [GATE]}},
        warnings=[{"scope": "class", "what": "fevers_confirmed", "threshold": 1, "days": 1}],
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(drop)},
                    {"type": "webhook", "name": "bureau-api", "url": receiver.url}])
    watch = mqtt_watch("thermogate/+/result")
    svc = start_controller(tmp_path, mqtt_broker, [GATE], store=str(db), timezone=tz.key,
                           site_extra="require_identity = true", extra=extra)
    try:
        assert svc.dispatcher.connected.wait(10)
        assert svc.reports is not None
        reporter, rs = svc.reports.reporter, ReportStore.beside(svc.store)
        threshold = svc.config.screening.threshold_c

        assert time.time() <= m1 - LO, "setup took longer than SETUP_S"
        arrived: list[float] = []  # wall time each result was first seen (polled every 0.1 s)

        def results() -> list[dict]:
            out = [json.loads(p) for _t, p in watch.messages(f"thermogate/{GATE}/result")]
            arrived.extend([time.time()] * (len(out) - len(arrived)))
            return out

        def screened(gate, first: int) -> dict[str, tuple[str, float]]:
            """Ground truth of ``gate``'s results from index ``first``: the code shown by the one person standing
            on the mark -> (decision, arrival) of their first PASS or FEVER; each names that code's pupil."""
            scans = {s.person: s.text for s in gate.scenario.scans(0, gate.t + 1)}
            got: dict[str, tuple[str, float]] = {}
            for r, at in list(zip(results(), arrived, strict=True))[first:]:
                if r["decision"] not in ("PASS", "FEVER"):
                    continue
                standing = [p["id"] for p in (gate.truth.get(r["sequence"]) or {"people": []})["people"]
                            if p["phase"] == "standing"]
                assert len(standing) == 1, (r, standing)
                code = scans.get(standing[0])
                assert code is not None and r["person"] == {"id": code[3:], "name": ROSTER[code[3:]][0]}, (r, code)
                got.setdefault(code, (r["decision"], at))
            return got

        def until(done, t_end: float) -> None:
            while not done() and time.time() < t_end:
                time.sleep(0.1)

        # 晨检: the fever comes; before the doctor decides, a build is "pending", never a zero report.
        g0 = time.time()
        (gate, thread) = _queue(mqtt_broker, "fever", MORNING, 0)
        try:
            until(lambda: "QR-S2" in screened(gate, 0), m1 - 1)
            assert screened(gate, 0).get("QR-S2", ("none",))[0] == "FEVER", screened(gate, 0)
            cases = CaseStore.beside(svc.store)
            until(lambda: cases.cases(person_id="S2"), m1 - 1)
            [case] = cases.cases(person_id="S2")
            assert case.alarm_id is not None
            assert reporter.build_now(day, time.time()).verdict == "pending"
            cases.add_step(case.id, Acknowledged(), "li", time.time())
            cases.add_step(case.id, Decision(outcome="sent_home", note="复测腋温 38.4"), "li", time.time())
            assert reporter.build_now(day, time.time()).verdict == "cases"
            until(lambda: set(screened(gate, 0)) == set(MORNING.values()), m1 - 1)
        finally:
            thread.stop()  # before the queue's febrile strangers step up
        time.sleep(0.5)  # the last result in flight
        morning = screened(gate, 0)
        morning_end = len(results())
        assert set(morning) == set(MORNING.values()), f"morning screened only {sorted(morning)} by +{m1 - g0:.0f} s"
        assert all(at < m1 for _d, at in morning.values()), (morning, m1)

        # 午检: the two pupils left come again (the one sent home does not).
        time.sleep(max(0.0, m1 + 0.5 - time.time()))
        (gate, thread) = _queue(mqtt_broker, "normal_queue", NOON, 1)
        try:
            until(lambda: set(screened(gate, morning_end)) == set(NOON.values()), m2 - 1)
        finally:
            thread.stop()
        noon = screened(gate, morning_end)
        assert all(m1 <= at < m2 for _d, at in noon.values()), (noon, m1, m2)

        truth = {"晨检": {c[3:] for c in morning}, "午检": {c[3:] for c in noon}}
        assert truth == {"晨检": {"S1", "S2", "S4"}, "午检": {"S1", "S4"}}, truth  # what the queues were made to do
        assert not ABSENT & (truth["晨检"] | truth["午检"])

        # The report goes out at the deadline (the scheduler looks every 15 s), to both recipients.
        json_file = drop / f"{CODE}-{day}.json"
        wait_until = time.monotonic() + (m2 - time.time()) + 40
        while time.monotonic() < wait_until and not (json_file.exists() and receiver.bodies
                                                     and len(rs.receipts(CODE, day.isoformat())) >= 2):
            time.sleep(0.2)
        receipts = rs.receipts(CODE, day.isoformat())
        assert [(r.recipient, r.ok, r.late) for r in receipts] == [("bureau-drop", True, False),
                                                                     ("bureau-api", True, False)], receipts
        assert all(m2 <= r.at <= m2 + 30 for r in receipts), [(r.at - m2) for r in receipts]
        assert receipts[1].detail == 'HTTP 200: {"receipt": "R-1"}'
        rec = rs.report(CODE, day.isoformat())
        assert rec.status == "sent" and rec.verdict == "cases"

        doc = json.loads(json_file.read_text(encoding="utf-8"))
        [body] = receiver.bodies
        [sent_json] = [f for f in body["files"] if f["name"].endswith(".json")]
        assert json.loads(base64.b64decode(sent_json["content_base64"])) == doc
        assert (body["school_code"], body["date"], body["verdict_code"]) == (CODE, day.isoformat(), "cases")

        _data, counts = day_counts(rs, reporter.config, day, tz, threshold)
        for s, s_doc in zip(counts, doc["sessions"], strict=True):
            assert s.session.name == s_doc["name"]
            for cls in (A, B):
                members = {p for p, (_n, c) in ROSTER.items() if c == cls}
                seen = members & truth[s.session.name]
                want = (len(members), len(seen), len(members - seen))
                [row] = [r for r in s.rows if (r.category, r.group) == ("student", cls)]
                [row_doc] = [r for r in s_doc["rows"] if (r["category"], r["group"]) == ("student", cls)]
                assert (row.expected, row.screened, row.not_screened) == want, (s.session.name, row)
                assert (row_doc["expected"], row_doc["screened"], row_doc["not_screened"]) == want
                assert {a.person_id for a in s.absentees.get(cls, ())} == members - seen
            listed = {a.person_id for a in absentees(rs, reporter.config, day, tz, s.session.name, threshold)}
            assert listed == set(ROSTER) - truth[s.session.name]
        assert listed == ABSENT | {"S2"}  # at noon the pupil sent home is not screened either
        morning_counts = counts[0]
        assert {a.person_id for v in morning_counts.absentees.values() for a in v} == ABSENT
        [fever_row] = [r for r in doc["sessions"][0]["rows"] if (r["category"], r["group"]) == ("student", A)]
        assert (fever_row["fevers_raised"], fever_row["fevers_confirmed"], fever_row["fevers_open"]) == (1, 1, 0)

        # The warning: one confirmed fever in 初一(1)班 crosses the class rule; it is in the report.
        [w] = rs.warnings(day.isoformat())
        assert (w.scope, w.scope_key, w.count) == ("class", A, 1)
        assert [x["scope_key"] for x in doc["warnings"]] == [A]
        assert doc["verdict"]["code"] == "cases" and doc["verdict"]["n"] == 1  # not a zero report
        last_morning, last_noon = (max(at for _d, at in q.values()) for q in (morning, noon))
        print(f"school day: gate on {g0 - t0:.1f} s after the start; morning screened by +{last_morning - g0:.1f} s, "
              f"ended +{m1 - g0:.1f} s; noon screened by +{last_noon - m1:.1f} s after its start; deadline "
              f"+{m2 - g0:.1f} s, delivered {receipts[0].at - m2:.1f} s after it")
    finally:
        svc.stop()
        receiver.close()
